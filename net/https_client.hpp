#pragma once

#include "config/settings.hpp"

#include <caf/expected.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace herald::net {

/// What an attempt got back.
struct http_result {
  /// HTTP status; 0 when no response arrived.
  unsigned status = 0;
  /// Why no response arrived (timeout, refused, TLS); empty otherwise.
  std::string error;
  std::string body;
};

/// A blocking HTTPS client for one downstream URL with mutual TLS: verifies
/// the server against `tls.ca` and its host name (or IP), presents
/// `tls.certificate`, TLS 1.2+. Keeps one connection alive between calls
/// and reconnects when it breaks. Every call is bounded by `timeout`
/// (connect, handshake, request and response together). One client per
/// thread; use it from detached actors only.
class https_client {
public:
  /// Parses `url` ("https://host[:port]/path") and loads the TLS files;
  /// errors name `prefix` settings.
  static caf::expected<std::unique_ptr<https_client>>
  make(const std::string& url, const config::tls_files& tls,
       caf::timespan timeout, const std::string& prefix);

  ~https_client();

  /// POSTs `body` as application/json with extra `headers`.
  http_result
  post(const std::string& body,
       const std::vector<std::pair<std::string, std::string>>& headers);

  struct impl;

private:
  explicit https_client(std::unique_ptr<impl> ptr);

  std::unique_ptr<impl> impl_;
};

} // namespace herald::net
