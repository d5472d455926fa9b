#pragma once

#include "config/settings.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace herald::net {

class crl_store;

/// One request of a batch.
struct http_post {
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// What an attempt got back.
struct http_result {
  /// HTTP status; 0 when no response arrived.
  unsigned status = 0;
  /// Why no response arrived (timeout, refused, TLS); empty otherwise.
  std::string error;
  std::string body;
  /// From taking the request to its outcome (a resend included).
  std::chrono::steady_clock::duration elapsed{};
};

/// A blocking HTTPS client for one downstream URL with mutual TLS: verifies
/// the server against `tls.ca` and its host name (or IP), presents
/// `tls.certificate`, TLS 1.2+. Keeps a pool of connections alive between
/// calls and reconnects the ones that break. Each attempt (connect, TLS,
/// request, response) is bounded by `timeout`. One client per thread; use
/// it from detached actors only.
class https_client {
public:
  /// Parses `url` ("https://host[:port]/path") and loads the TLS files;
  /// errors name `prefix` settings. At most `connections` requests are in
  /// flight at once. Speaks Herald's TLS policy (apply_tls_policy),
  /// checks the server's name and, with `crl`, that its certificate is not
  /// revoked.
  static caf::expected<std::unique_ptr<https_client>>
  make(const std::string& url, const config::tls_files& tls,
       caf::timespan timeout, size_t connections, const std::string& prefix,
       std::shared_ptr<crl_store> crl = nullptr);

  ~https_client();

  /// Opens every connection of the pool that is not open, at once, within
  /// a second (or `timeout` if shorter); returns how many are open. Spares
  /// the first batches the TLS handshakes; the rest open when needed.
  size_t connect_all();

  /// POSTs every request as application/json, spread over the pool, and
  /// returns when all have an outcome: one result per request, in order.
  /// A request that fails on a kept-alive connection the server may have
  /// closed meanwhile is sent once more on a new connection. Requests not
  /// started within `timeout` of the call are not sent (error "not sent"),
  /// so a call takes at most 2 x `timeout`.
  std::vector<http_result> post_all(const std::vector<http_post>& requests);

  struct impl;

private:
  explicit https_client(std::unique_ptr<impl> ptr);

  std::unique_ptr<impl> impl_;
};

} // namespace herald::net
