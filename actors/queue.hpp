#pragma once

#include "actors/actors.hpp"
#include "actors/detail/work_targets.hpp"
#include "config/settings.hpp"
#include "persistence/redis.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <optional>

namespace herald {

struct queue_state {
  static inline const char* name = "queue";
  config::redis_config cfg;
  /// Opened on first use, dropped after a failure.
  std::optional<persistence::redis_connection> redis;
  /// Where queued ids go as `work`.
  detail::work_targets delivery;
};

/// Queues ids durably (Redis pending list and live set, one pipelined
/// transaction); once the store reports their submissions committed, sends
/// them as `work` to the delivery actors that joined, so a message reaches
/// them by message rather than by a poll, and claims at the first look.
/// Redis has the ids before any `work`: a lost one loses nothing. Spawn
/// detached only (spawn_work_queue does).
work_queue_actor::behavior_type
work_queue(work_queue_actor::stateful_pointer<queue_state> self,
           config::redis_config cfg);

/// Spawns the queue on a thread of its own.
work_queue_actor spawn_work_queue(caf::actor_system& sys,
                                  config::redis_config cfg);

} // namespace herald
