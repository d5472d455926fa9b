#pragma once

#include "config/settings.hpp"
#include "net/http_types.hpp"

#include <caf/expected.hpp>

#include <memory>

namespace herald {
class metrics;
} // namespace herald

namespace herald::net {

class crl_store;

/// The HTTPS listener (Boost.Beast over OpenSSL) with mutual TLS. Runs its
/// own I/O threads; each complete request goes to the handler, whose
/// responder may be called from any thread. Enforces the limits of
/// ingress_config: connection count, header and body size, handshake and
/// request deadlines (so a slowloris client is cut off), idle keep-alive.
/// Transport-level errors (malformed request, body or headers too large)
/// are answered here with problem+json and the connection is closed.
class https_server {
public:
  /// Binds, loads the TLS files and starts the I/O threads. With `crl`,
  /// revoked client certificates fail the handshake; the store is reloaded
  /// elsewhere (pki_monitor) while the server runs.
  static caf::expected<std::unique_ptr<https_server>>
  start(const config::ingress_config& cfg, request_handler handler,
        metrics* metrics, std::shared_ptr<crl_store> crl = nullptr);

  ~https_server();

  https_server(const https_server&) = delete;
  https_server& operator=(const https_server&) = delete;

  /// Stops accepting connections; open ones get their answers, each closing
  /// its connection (the drain before a shutdown).
  void stop_accepting();

  /// Stops accepting, drops every connection and joins the I/O threads.
  void stop();

  /// The bound port.
  uint16_t port() const;

  struct impl;

  /// The I/O context, owned apart from `impl`: pending handlers hold
  /// `impl` (and every session) alive, so the context must be destroyed
  /// last to release them.
  struct io;

private:
  https_server(std::unique_ptr<io> io, std::shared_ptr<impl> ptr);

  std::unique_ptr<io> io_;
  std::shared_ptr<impl> impl_;
};

} // namespace herald::net
