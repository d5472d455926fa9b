#include "web/health_route.hpp"

#include "core/time.hpp"
#include "core/version.hpp"
#include "net/problem.hpp"

#include <caf/actor_system.hpp>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace herald::web {

std::string iso8601(caf::timestamp t) {
  return iso8601_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                      t.time_since_epoch())
                      .count());
}

net::http_response render_health(const health_report& report,
                                 const std::string& node) {
  bool probed = !report.dependencies.empty();
  bool healthy = report.healthy();
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  auto str = [&w](const std::string& x) {
    w.String(x.data(), static_cast<rapidjson::SizeType>(x.size()));
  };
  w.StartObject();
  w.Key("status");
  w.String(healthy ? "ok" : (probed ? "degraded" : "starting"));
  w.Key("node");
  str(node);
  w.Key("version");
  w.String(herald::version);
  if (probed) {
    w.Key("checked_at");
    str(iso8601(report.checked_at));
  }
  w.Key("checks");
  w.StartObject();
  for (const auto& dep : report.dependencies) {
    w.Key(dep.name.c_str());
    w.StartObject();
    w.Key("status");
    w.String(dep.up ? "up" : "down");
    w.Key("latency_ms");
    w.Double(std::chrono::duration<double, std::milli>(dep.latency).count());
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  net::http_response resp{healthy ? 200u : 503u, "application/json",
                          buf.GetString(), {}};
  resp.headers.emplace_back("Cache-Control", "no-store");
  if (!healthy)
    resp.headers.emplace_back("Retry-After", "1");
  return resp;
}

void add_health_route(net::router& r,
                      std::shared_ptr<const ingress_calls> calls,
                      health_actor health, std::string node) {
  r.add("GET", "/api/v1/health",
        [calls, health, node](const net::http_request&,
                              const net::route_params&,
                              net::responder respond) {
          calls->ask(
            health, std::chrono::seconds{2},
            [respond, node](health_report report) {
              respond(render_health(report, node));
            },
            [respond](caf::error&) {
              respond(net::problem(503, "health-unavailable",
                                   "Health unavailable",
                                   "The node did not report its health in "
                                   "time; retry shortly."));
            },
            caf::get_atom::value);
        });
}

} // namespace herald::web
