#pragma once

#include "actors/actors.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/timespan.hpp>

namespace herald {

class metrics;

/// How often the health actor probes, and how long it waits.
struct health_actor_config {
  caf::timespan interval;
  caf::timespan probe_timeout;
};

struct health_state {
  static inline const char* name = "health";
  health_actor_config cfg;
  dependency_probe_actor probe;
  /// Optional; tests run without.
  metrics* stats = nullptr;
  health_report report;
};

/// Probes on a timer (the first probe at once) and keeps the latest report.
/// A probe that does not answer within probe_timeout marks every dependency
/// down.
health_actor::behavior_type
health(health_actor::stateful_pointer<health_state> self,
       dependency_probe_actor probe, health_actor_config cfg,
       metrics* metrics);

/// Spawns the health actor for `probe`.
health_actor spawn_health(caf::actor_system& sys, dependency_probe_actor probe,
                          health_actor_config cfg, metrics* metrics);

} // namespace herald
