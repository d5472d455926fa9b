#include "node/systemd_notify.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace herald::node {

bool notify_socket(const std::string& address, std::string_view state) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // A path needs room for its terminating zero; an abstract name does not
  // have one and its length counts exactly.
  if (address.size() < 2 || (address[0] != '/' && address[0] != '@')
      || address.size() >= sizeof(addr.sun_path))
    return false;
  std::memcpy(addr.sun_path, address.data(), address.size());
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path)
                                    + address.size());
  if (address[0] == '@')
    addr.sun_path[0] = '\0';
  else
    len += 1;
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  auto sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&addr), len);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

bool notify_service_manager(std::string_view state) {
  const char* address = std::getenv("NOTIFY_SOCKET");
  if (address == nullptr || *address == '\0')
    return false;
  return notify_socket(address, state);
}

std::chrono::microseconds watchdog_timeout() {
  using std::chrono::microseconds;
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr || *usec == '\0')
    return microseconds{0};
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid && *pid) {
    char* end = nullptr;
    auto value = std::strtoll(pid, &end, 10);
    if (*end != '\0' || value != static_cast<long long>(::getpid()))
      return microseconds{0};
  }
  char* end = nullptr;
  auto value = std::strtoull(usec, &end, 10);
  if (*end != '\0' || value == 0)
    return microseconds{0};
  return microseconds{value};
}

struct service_watchdog::impl {
  std::chrono::microseconds period;
  probe alive;
  std::mutex mtx;
  std::condition_variable cv;
  bool stop = false;
  std::thread thread;

  void run() {
    std::string last_status;
    bool vouched = true;
    std::unique_lock<std::mutex> guard{mtx};
    while (!stop) {
      guard.unlock();
      auto status = alive();
      if (status) {
        std::string state = "WATCHDOG=1";
        if (*status != last_status) {
          state += "\nSTATUS=" + *status;
          last_status = *status;
        }
        notify_service_manager(state);
        if (!vouched)
          spdlog::info("watchdog: the node responds again");
        vouched = true;
      } else if (vouched) {
        spdlog::warn("watchdog: the node does not respond (health is not "
                     "fresh); no keep-alive for the service manager");
        vouched = false;
      }
      guard.lock();
      cv.wait_for(guard, period, [this] { return stop; });
    }
  }
};

service_watchdog::service_watchdog(std::chrono::microseconds timeout,
                                   probe alive)
  : impl_(std::make_unique<impl>()) {
  impl_->period = timeout / 2;
  impl_->alive = std::move(alive);
  impl_->thread = std::thread{[state = impl_.get()] { state->run(); }};
}

service_watchdog::~service_watchdog() {
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  impl_->thread.join();
}

} // namespace herald::node
