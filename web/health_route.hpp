#pragma once

#include "actors/actors.hpp"
#include "actors/ingress.hpp"
#include "net/http_types.hpp"
#include "net/router.hpp"

#include <caf/fwd.hpp>
#include <caf/timestamp.hpp>

#include <string>

namespace herald::web {

/// Formats `t` as RFC 3339 UTC with milliseconds ("2026-01-02T03:04:05.678Z").
std::string iso8601(caf::timestamp t);

/// Renders `report` as the body of GET /api/v1/health: 200 when every
/// dependency is up, else 503 (also before the first probe).
net::http_response render_health(const health_report& report,
                                 const std::string& node);

/// Adds GET /api/v1/health, answered from the health actor's latest report.
void add_health_route(net::router& r,
                      std::shared_ptr<const ingress_calls> calls,
                      health_actor health, std::string node);

} // namespace herald::web
