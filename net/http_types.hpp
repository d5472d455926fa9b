#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::net {

/// A complete HTTP request as the routes see it, without any Beast types.
struct http_request {
  std::string method;
  /// Path plus optional query, as sent.
  std::string target;
  /// Header fields in arrival order; names in lower case.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// SHA-256 fingerprint (lower-case hex) of the verified client
  /// certificate; empty on plain-HTTP listeners.
  std::string client_fingerprint;
  /// Whether that certificate is a node's (extended key usage serverAuth).
  bool client_is_node = false;
  /// Peer address, for logs and the audit trail.
  std::string remote_address;

  /// Returns the first value of header `name` (lower case), or nullptr.
  const std::string* header(std::string_view name) const {
    for (const auto& [key, value] : headers)
      if (key == name)
        return &value;
    return nullptr;
  }

  /// The target without its query string.
  std::string_view path() const {
    std::string_view result{target};
    return result.substr(0, result.find('?'));
  }
};

/// A response; the server adds Content-Length, Date-free framing, and
/// keep-alive handling.
struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Sends the response of one request. Call exactly once, from any thread.
using responder = std::function<void(http_response)>;

/// Handles one request; may answer later, from another thread.
using request_handler = std::function<void(http_request, responder)>;

} // namespace herald::net
