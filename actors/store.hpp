#pragma once

#include "actors/actors.hpp"
#include "actors/group_commit.hpp"
#include "config/settings.hpp"

#include <caf/actor_clock.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <utility>
#include <vector>

namespace herald {

class metrics;

/// Submissions waiting for or in a batch. One whose batch has not started
/// by its start_by (step_timeout after arrival) is refused: with the write
/// and, when it fails, the reject, every submission is answered within
/// 3 x step_timeout.
using store_queue = group_commit<stored_message, submit_result>;

struct store_state {
  static inline const char* name = "store";
  config::store_config cfg;
  /// Deadline of each MySQL or Redis step of a batch, and of the wait for
  /// a batch.
  caf::timespan step_timeout;
  std::vector<store_writer_actor> writers;
  queue_actor queue;
  /// Optional; tests run without.
  metrics* stats = nullptr;
  store_queue waiting;
  bool flush_scheduled = false;
};

/// Group commit: gathers submissions for at most batch_delay or batch_size
/// messages (longer while every writer is busy, up to step_timeout), then
/// per batch: insert ("accepting") -> enqueue in Redis ->
/// mark queued -> answer everyone. A failure at any step answers the whole
/// batch with the error (503 for clients) and rejects the written rows, so
/// nothing a client was refused is ever delivered.
store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self, config::store_config cfg,
      caf::timespan step_timeout, std::vector<store_writer_actor> writers,
      queue_actor queue, metrics* stats);

/// Spawns the store in front of `writers` and `queue`.
store_actor spawn_store(caf::actor_system& sys, config::store_config cfg,
                        caf::timespan step_timeout,
                        std::vector<store_writer_actor> writers,
                        queue_actor queue, metrics* stats);

} // namespace herald
