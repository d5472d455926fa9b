#include "persistence/detail/tls_tunnel.hpp"

#include "core/errc.hpp"
#include "core/tls_policy.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

namespace herald::persistence::detail {

struct tls_tunnel::state {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  int tcp = -1;
  /// Our end of the socket pair, and the library's until released.
  int local = -1;
  int library = -1;
  /// Wakes the relay when the tunnel is destroyed.
  int stop[2] = {-1, -1};

  ~state() {
    if (ssl != nullptr)
      SSL_free(ssl);
    if (ctx != nullptr)
      SSL_CTX_free(ctx);
    for (int fd : {tcp, local, library, stop[0], stop[1]})
      if (fd >= 0)
        ::close(fd);
  }

  /// Relays until either side closes or fails, or the tunnel is destroyed.
  /// Both sockets are non-blocking: a TLS record without data (a session
  /// ticket) never blocks the other direction, and replies wait in
  /// `to_local` while the library is still writing a long pipeline.
  void run() {
    constexpr size_t max_buffered = 1 << 20;
    char buf[16384];
    std::string to_local;
    for (;;) {
      bool read_tls = to_local.size() < max_buffered;
      pollfd fds[3] = {
        {local,
         static_cast<short>(POLLIN | (to_local.empty() ? 0 : POLLOUT)), 0},
        {tcp, static_cast<short>(read_tls ? POLLIN : 0), 0},
        {stop[0], POLLIN, 0}};
      // Decrypted bytes OpenSSL holds already do not show on the socket.
      bool pending = read_tls && SSL_pending(ssl) > 0;
      if (::poll(fds, 3, pending ? 0 : -1) < 0 && errno != EINTR)
        return;
      if (fds[2].revents != 0)
        return;
      if (pending || (fds[1].revents != 0 && read_tls)) {
        for (;;) {
          int n = SSL_read(ssl, buf, sizeof(buf));
          if (n > 0) {
            to_local.append(buf, static_cast<size_t>(n));
            if (to_local.size() >= max_buffered)
              break;
            continue;
          }
          if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ)
            return;
          break;
        }
      }
      if (!to_local.empty()) {
        auto n = ::send(local, to_local.data(), to_local.size(),
                        MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
          return;
        if (n > 0)
          to_local.erase(0, static_cast<size_t>(n));
      }
      if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        auto n = ::read(local, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
          return;
        if (n > 0 && !write_tls(buf, static_cast<int>(n)))
          return;
      }
    }
  }

  /// Writes all of `data` to the TLS stream, waiting while the socket is
  /// full; false when it fails or the tunnel is destroyed meanwhile.
  bool write_tls(const char* data, int size) {
    for (;;) {
      int n = SSL_write(ssl, data, size);
      if (n > 0)
        return true;
      auto err = SSL_get_error(ssl, n);
      if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ)
        return false;
      pollfd fds[2] = {
        {tcp, static_cast<short>(err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN),
         0},
        {stop[0], POLLIN, 0}};
      if ((::poll(fds, 2, -1) < 0 && errno != EINTR) || fds[1].revents != 0)
        return false;
    }
  }
};

namespace {

/// A TCP connection to `host`:`port` within `timeout`, or -1.
int connect_tcp(const std::string& host, uint16_t port, int timeout_ms,
                std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
      rc != 0) {
    why = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (auto* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0)
      continue;
    // Non-blocking for the connect deadline, blocking afterwards.
    auto flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = ETIMEDOUT;
      socklen_t len = sizeof(err);
      if (::poll(&p, 1, timeout_ms) == 1)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc != 0) {
      why = std::strerror(errno);
      ::close(fd);
      fd = -1;
      continue;
    }
    fcntl(fd, F_SETFL, flags);
  }
  freeaddrinfo(found);
  return fd;
}

} // namespace

caf::expected<std::unique_ptr<tls_tunnel>>
tls_tunnel::open(const std::string& host, uint16_t port,
                 const config::tls_files& tls, caf::timespan timeout,
                 const std::string& prefix) {
  auto st = std::make_shared<state>();
  auto fail = [&](const std::string& why) {
    return make_error(errc::redis_failure, prefix + ": TLS to " + host + ":"
                                             + std::to_string(port) + ": "
                                             + why);
  };
  st->ctx = SSL_CTX_new(TLS_client_method());
  if (st->ctx == nullptr)
    return fail("out of memory");
  if (auto err = apply_tls_policy(st->ctx))
    return err;
  if (SSL_CTX_load_verify_locations(st->ctx, tls.ca.c_str(), nullptr) != 1)
    return fail("cannot load " + prefix + ".tls-ca '" + tls.ca
                + "': " + openssl_error());
  if (!tls.certificate.empty()
      && (SSL_CTX_use_certificate_chain_file(st->ctx, tls.certificate.c_str())
            != 1
          || SSL_CTX_use_PrivateKey_file(st->ctx, tls.key.c_str(),
                                         SSL_FILETYPE_PEM)
               != 1))
    return fail("cannot load " + prefix + ".tls-certificate or tls-key: "
                + openssl_error());
  SSL_CTX_set_verify(st->ctx, SSL_VERIFY_PEER, nullptr);
  auto ms = static_cast<int>(
    std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  std::string why;
  st->tcp = connect_tcp(host, port, ms, why);
  if (st->tcp < 0)
    return fail("cannot connect: " + why);
  // The handshake gets the deadline; the relay then runs non-blocking.
  timeval tv{static_cast<time_t>(ms / 1000),
             static_cast<suseconds_t>((ms % 1000) * 1000)};
  setsockopt(st->tcp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(st->tcp, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  st->ssl = SSL_new(st->ctx);
  if (st->ssl == nullptr || SSL_set_fd(st->ssl, st->tcp) != 1)
    return fail("out of memory");
  auto* param = SSL_get0_param(st->ssl);
  in6_addr addr6;
  in_addr addr4;
  bool is_ip = inet_pton(AF_INET, host.c_str(), &addr4) == 1
               || inet_pton(AF_INET6, host.c_str(), &addr6) == 1;
  bool named = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1
                     : SSL_set_tlsext_host_name(st->ssl, host.c_str()) == 1
                         && X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0)
                              == 1;
  if (!named)
    return fail("cannot set the expected host name");
  if (SSL_connect(st->ssl) != 1) {
    auto verify = SSL_get_verify_result(st->ssl);
    return fail(verify != X509_V_OK
                  ? std::string{"certificate verify failed: "}
                      + X509_verify_cert_error_string(verify)
                  : "handshake failed: " + openssl_error());
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0
      || ::pipe2(st->stop, O_CLOEXEC) != 0)
    return fail(std::string{"cannot make a socket pair: "}
                + std::strerror(errno));
  st->local = pair[0];
  st->library = pair[1];
  for (int fd : {st->tcp, st->local})
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<tls_tunnel>{new tls_tunnel(std::move(st))};
}

tls_tunnel::tls_tunnel(std::shared_ptr<state> st)
  : state_(std::move(st)), relay_([st = state_] { st->run(); }) {
  // nop
}

tls_tunnel::~tls_tunnel() {
  char wake = 0;
  [[maybe_unused]] auto n = ::write(state_->stop[1], &wake, 1);
  relay_.join();
}

int tls_tunnel::release_fd() {
  auto fd = state_->library;
  state_->library = -1;
  return fd;
}

} // namespace herald::persistence::detail
