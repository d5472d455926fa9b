#include "node/systemd_notify.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace herald::node;
using namespace std::chrono_literals;

namespace {

/// A unix datagram socket standing in for systemd's notification socket,
/// bound to a path or (with a leading '@') an abstract name.
struct fake_notify_socket {
  std::string address;
  int fd = -1;

  explicit fake_notify_socket(std::string addr) : address(std::move(addr)) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(fd >= 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, address.data(), address.size());
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path)
                                      + address.size());
    if (address[0] == '@')
      sa.sun_path[0] = '\0';
    else
      len += 1;
    if (address[0] == '/')
      ::unlink(address.c_str());
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) == 0);
    ::setenv("NOTIFY_SOCKET", address.c_str(), 1);
  }

  ~fake_notify_socket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd);
    if (address[0] == '/')
      ::unlink(address.c_str());
  }

  /// The next datagram, or nothing within `timeout`.
  std::optional<std::string> receive(std::chrono::milliseconds timeout) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1)
      return std::nullopt;
    char buf[4096];
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0)
      return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }
};

std::string temp_socket_path() {
  return "/tmp/herald-notify-test-" + std::to_string(::getpid()) + ".sock";
}

/// Restores the watchdog variables after a test.
struct watchdog_env {
  ~watchdog_env() {
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(systemd_notify_suite)

BOOST_AUTO_TEST_CASE(without_notify_socket_nothing_is_sent) {
  ::unsetenv("NOTIFY_SOCKET");
  BOOST_TEST(!notify_service_manager("READY=1"));
  ::setenv("NOTIFY_SOCKET", "", 1);
  BOOST_TEST(!notify_service_manager("READY=1"));
  ::unsetenv("NOTIFY_SOCKET");
}

BOOST_AUTO_TEST_CASE(a_path_socket_gets_the_state) {
  fake_notify_socket sock{temp_socket_path()};
  BOOST_TEST(notify_service_manager("READY=1\nSTATUS=serving"));
  auto got = sock.receive(1000ms);
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST(*got == "READY=1\nSTATUS=serving");
}

BOOST_AUTO_TEST_CASE(an_abstract_socket_gets_the_state) {
  fake_notify_socket sock{"@herald-notify-test-" + std::to_string(::getpid())};
  BOOST_TEST(notify_service_manager("STOPPING=1"));
  auto got = sock.receive(1000ms);
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST(*got == "STOPPING=1");
}

BOOST_AUTO_TEST_CASE(bad_or_absent_addresses_fail_quietly) {
  BOOST_TEST(!notify_socket("relative/path", "READY=1"));
  BOOST_TEST(!notify_socket("@", "READY=1"));
  BOOST_TEST(!notify_socket(std::string(200, '/'), "READY=1"));
  BOOST_TEST(!notify_socket("/nonexistent/herald/notify.sock", "READY=1"));
}

BOOST_AUTO_TEST_CASE(watchdog_timeout_follows_the_environment) {
  watchdog_env restore;
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  BOOST_TEST(watchdog_timeout().count() == 0);
  ::setenv("WATCHDOG_USEC", "1000000", 1);
  BOOST_TEST(watchdog_timeout().count() == 1000000);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  BOOST_TEST(watchdog_timeout().count() == 1000000);
  // Meant for another process (e.g. a wrapper that started us).
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  BOOST_TEST(watchdog_timeout().count() == 0);
  ::unsetenv("WATCHDOG_PID");
  ::setenv("WATCHDOG_USEC", "30s", 1);
  BOOST_TEST(watchdog_timeout().count() == 0);
  ::setenv("WATCHDOG_USEC", "0", 1);
  BOOST_TEST(watchdog_timeout().count() == 0);
}

BOOST_AUTO_TEST_CASE(the_watchdog_pings_every_half_timeout_while_alive) {
  fake_notify_socket sock{temp_socket_path()};
  std::atomic<int> probes{0};
  {
    service_watchdog dog{200ms, [&probes]() -> std::optional<std::string> {
                           ++probes;
                           return std::string{"serving"};
                         }};
    auto first = sock.receive(1000ms);
    BOOST_REQUIRE(first.has_value());
    // The status goes along with the first keep-alive only.
    BOOST_TEST(*first == "WATCHDOG=1\nSTATUS=serving");
    auto second = sock.receive(1000ms);
    BOOST_REQUIRE(second.has_value());
    BOOST_TEST(*second == "WATCHDOG=1");
    BOOST_TEST(sock.receive(1000ms).has_value());
  }
  // Stopped: no more keep-alives.
  auto after = probes.load();
  while (sock.receive(0ms)) {
    // drain what was sent before the stop
  }
  std::this_thread::sleep_for(300ms);
  BOOST_TEST(!sock.receive(0ms).has_value());
  BOOST_TEST(probes.load() == after);
}

BOOST_AUTO_TEST_CASE(the_watchdog_is_silent_while_the_node_hangs) {
  fake_notify_socket sock{temp_socket_path()};
  std::atomic<bool> alive{false};
  service_watchdog dog{200ms, [&alive]() -> std::optional<std::string> {
                         if (!alive)
                           return std::nullopt;
                         return std::string{"serving"};
                       }};
  BOOST_TEST(!sock.receive(500ms).has_value());
  alive = true;
  auto got = sock.receive(1000ms);
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST(*got == "WATCHDOG=1\nSTATUS=serving");
}

BOOST_AUTO_TEST_SUITE_END()
