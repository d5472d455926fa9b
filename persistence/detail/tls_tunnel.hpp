#pragma once

#include "config/settings.hpp"

#include <caf/expected.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace herald::persistence::detail {

/// A verified TLS connection for a client library that only speaks plain
/// sockets (Debian 12's hiredis 0.14 has no TLS): the library gets one end
/// of a socket pair, and a thread relays between the other end and the TLS
/// stream. Closing the library's end, or the server closing, ends the
/// relay.
class tls_tunnel {
public:
  /// Connects to `host`:`port` within `timeout`, does the TLS handshake
  /// under Herald's policy, checks the server's certificate against
  /// `tls.ca` and `host`, and presents `tls.certificate` when set. Errors
  /// name `prefix` settings.
  static caf::expected<std::unique_ptr<tls_tunnel>>
  open(const std::string& host, uint16_t port, const config::tls_files& tls,
       caf::timespan timeout, const std::string& prefix);

  ~tls_tunnel();

  tls_tunnel(const tls_tunnel&) = delete;
  tls_tunnel& operator=(const tls_tunnel&) = delete;

  /// The plain end for the client library; it takes ownership.
  int release_fd();

  struct state;

private:
  explicit tls_tunnel(std::shared_ptr<state> st);

  std::shared_ptr<state> state_;
  std::thread relay_;
};

} // namespace herald::persistence::detail
