#pragma once

#include "net/http_types.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald {
class metrics;
} // namespace herald

namespace herald::net {

/// Values of the {placeholders} of a matched route pattern.
using route_params = std::map<std::string, std::string, std::less<>>;

/// Handles one matched request (its own copy: a handler may move it on to
/// an actor); must call the responder exactly once.
using route_handler = std::function<void(
  http_request, const route_params&, responder)>;

/// Maps method + path pattern to handlers. Patterns are literal segments
/// and {name} placeholders ("/api/v1/messages/{id}"). Unknown paths get 404,
/// known paths with another method 405 with an Allow header, both as
/// problem+json. Counts every answer in herald_http_requests_total and
/// herald_http_request_duration_seconds, labelled with the route pattern.
class router {
public:
  explicit router(metrics* m) : metrics_(m) {
    // nop
  }

  void add(std::string method, std::string pattern, route_handler handler);

  /// Runs `gate` before any route: a response it returns is sent instead
  /// (counted under the route label "gate").
  void set_gate(
    std::function<std::optional<http_response>(const http_request&)>
      gate) {
    gate_ = std::move(gate);
  }

  /// Answers unknown paths with `page` instead of problem+json (the
  /// portal shows browsers an HTML page).
  void set_not_found(std::function<http_response(const http_request&)> page) {
    not_found_ = std::move(page);
  }

  /// Routes `req`; suitable as the https_server's request_handler.
  void dispatch(http_request req, responder respond) const;

  /// The registered "METHOD pattern" pairs, for the OpenAPI check.
  std::vector<std::string> routes() const;

private:
  struct route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    route_handler handler;
  };

  static bool match(const route& r, std::string_view path,
                    route_params& params);

  responder instrument(std::string label, responder respond) const;

  metrics* metrics_;
  std::function<std::optional<http_response>(const http_request&)>
    gate_;
  std::function<http_response(const http_request&)> not_found_;
  std::vector<route> routes_;
};

} // namespace herald::net
