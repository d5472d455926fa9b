#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "persistence/mysql.hpp"
#include "persistence/redis.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/timespan.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace herald {

namespace net {
class cluster_links;
} // namespace net

struct cluster_transport;

/// What the inspector of a node needs.
struct inspector_config {
  std::string node;
  config::mysql_config mysql;
  config::redis_config redis;
  /// The cluster's links, for the members' TLS identities; null on a node
  /// that runs alone.
  std::shared_ptr<cluster_transport> transport;
  /// How often the counters are sampled: the window of the rates.
  caf::timespan sample_every = std::chrono::seconds{1};
};

/// Checks `cfg`; errors name the setting.
caf::error validate(const inspector_config& cfg);

struct inspector_state {
  static inline const char* name = "inspector";
  inspector_config cfg;
  std::optional<persistence::mysql_connection> db;
  std::optional<persistence::redis_connection> redis;
  /// Messages handled per actor id at the last sample, and the rate since
  /// the sample before.
  std::map<uint64_t, uint64_t> handled;
  std::map<uint64_t, double> rates;
  std::chrono::steady_clock::time_point sampled_at;
};

/// Answers the console (see inspector_actor). Its queue and trace answers
/// block on Redis and MySQL: spawn it only through spawn_inspector.
inspector_actor::behavior_type
inspector(inspector_actor::stateful_pointer<inspector_state> self,
          inspector_config cfg);

/// Spawns the inspector on `sys`'s scheduler, not detached: `sys` must be
/// an actor system of its own whose scheduler thread is the inspector's
/// (node/console_system.hpp), so that a blocking answer stalls the console
/// alone.
inspector_actor spawn_inspector(caf::actor_system& sys, inspector_config cfg);

} // namespace herald
