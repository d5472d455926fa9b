#include "net/metrics_endpoint.hpp"

#include "core/errc.hpp"
#include "core/metrics.hpp"

#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>

namespace herald::net {

caf::expected<std::unique_ptr<metrics_endpoint>>
metrics_endpoint::start(const config::metrics_config& cfg, const metrics& m) {
  auto bind = cfg.address + ":" + std::to_string(cfg.port);
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(bind, 1);
  } catch (const std::exception& ex) {
    return make_error(errc::network_failure,
                      "metrics.port: cannot listen on " + bind + ": "
                        + ex.what());
  }
  for (const auto& c : m.collectables())
    exposer->RegisterCollectable(c);
  spdlog::info("metrics: serving http://{}/metrics", bind);
  return std::unique_ptr<metrics_endpoint>{
    new metrics_endpoint(std::move(exposer))};
}

metrics_endpoint::metrics_endpoint(std::unique_ptr<prometheus::Exposer> e)
  : exposer_(std::move(e)) {
  // nop
}

metrics_endpoint::~metrics_endpoint() = default;

} // namespace herald::net
