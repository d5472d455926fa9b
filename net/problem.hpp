#pragma once

#include "net/http_types.hpp"

#include <string>
#include <utility>
#include <vector>

namespace herald::net {

/// One rejected field of a request (RFC 9457 extension member).
struct invalid_param {
  std::string name;
  std::string reason;
};

/// Builds an RFC 9457 application/problem+json response. `slug` names the
/// problem type; its URI "urn:herald:problem:<slug>" is stable API and
/// listed in docs/api.
http_response problem(unsigned status, std::string_view slug,
                      std::string_view title, std::string_view detail,
                      const std::vector<invalid_param>& params = {});

/// The URI of problem type `slug`.
std::string problem_type(std::string_view slug);

} // namespace herald::net
