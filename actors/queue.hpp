#pragma once

#include "actors/actors.hpp"
#include "actors/detail/work_targets.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

namespace herald {

struct queue_state {
  static inline const char* name = "queue";
  /// Where queued ids go as `work`.
  detail::work_targets delivery;
};

/// Once the store reports a batch stored and queued (the store writers put
/// the ids in Redis inside the batch's transaction), sends the ids as
/// `work` to the delivery actors that joined, so a message reaches them by
/// message rather than by a poll, and claims at the first look. Redis has
/// the ids before any `work`: a lost one loses nothing.
work_queue_actor::behavior_type
work_queue(work_queue_actor::stateful_pointer<queue_state> self);

/// Spawns the queue (it blocks on nothing: on the scheduler).
work_queue_actor spawn_work_queue(caf::actor_system& sys);

} // namespace herald
