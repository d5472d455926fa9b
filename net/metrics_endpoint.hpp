#pragma once

#include "config/settings.hpp"

#include <caf/expected.hpp>

#include <memory>

namespace herald {
class metrics;
} // namespace herald

namespace prometheus {
class Exposer;
} // namespace prometheus

namespace herald::net {

/// Serves /metrics over plain HTTP (prometheus-cpp's exposer, own thread).
/// Bind it to loopback or a management network only.
class metrics_endpoint {
public:
  static caf::expected<std::unique_ptr<metrics_endpoint>>
  start(const config::metrics_config& cfg, const metrics& m);

  ~metrics_endpoint();

private:
  explicit metrics_endpoint(std::unique_ptr<prometheus::Exposer> exposer);

  std::unique_ptr<prometheus::Exposer> exposer_;
};

} // namespace herald::net
