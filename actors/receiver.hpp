#pragma once

#include "actors/actors.hpp"
#include "actors/group_commit.hpp"
#include "config/settings.hpp"

#include <caf/actor_clock.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <vector>

namespace herald {

class metrics;

/// Deliveries waiting for or in a batch. One whose batch has not started
/// by its start_by (step_timeout after arrival) is refused: with the write
/// of its batch, every delivery is answered within 2 x step_timeout.
using receiver_queue = group_commit<received_message, bool>;

struct receiver_state {
  static inline const char* name = "receiver";
  config::receiver_config cfg;
  /// Deadline of the write of a batch, and of the wait for a writer.
  caf::timespan step_timeout;
  std::vector<receiver_store_actor> writers;
  /// Optional; tests run without.
  metrics* stats = nullptr;
  receiver_queue waiting;
  bool flush_scheduled = false;
};

/// Group commit of the receiver role: gathers deliveries for at most
/// batch_delay or batch_size messages (longer while every writer is busy,
/// up to step_timeout), has one writer store the batch in one transaction,
/// then answers each delivery. A failure answers the whole batch with the
/// error (503 for the sender, which retries; a retry of a message that was
/// stored after all is a duplicate).
receiver_actor::behavior_type
receiver(receiver_actor::stateful_pointer<receiver_state> self,
         config::receiver_config cfg, caf::timespan step_timeout,
         std::vector<receiver_store_actor> writers, metrics* stats);

/// Spawns the receiver in front of `writers`.
receiver_actor spawn_receiver(caf::actor_system& sys,
                              config::receiver_config cfg,
                              caf::timespan step_timeout,
                              std::vector<receiver_store_actor> writers,
                              metrics* stats);

} // namespace herald
