#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "persistence/mysql.hpp"
#include "persistence/redis.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <optional>

namespace herald {

/// What the probe checks and how long one check may take.
struct dependency_probe_config {
  config::mysql_config mysql;
  config::redis_config redis;
};

/// Builds the probe config from node settings: every network call of a
/// probe is bounded by health.probe-timeout.
dependency_probe_config make_probe_config(const config::settings& cfg);

struct dependency_probe_state {
  static inline const char* name = "dependency-probe";
  dependency_probe_config cfg;
  /// Connections are kept between probes and dropped when they fail.
  std::optional<persistence::mysql_connection> mysql;
  std::optional<persistence::redis_connection> redis;
};

/// Blocking behaviour: spawn it detached only (spawn_dependency_probe does).
dependency_probe_actor::behavior_type dependency_probe(
  dependency_probe_actor::stateful_pointer<dependency_probe_state> self,
  dependency_probe_config cfg);

/// Spawns the probe on a thread of its own.
dependency_probe_actor spawn_dependency_probe(caf::actor_system& sys,
                                             dependency_probe_config cfg);

} // namespace herald
