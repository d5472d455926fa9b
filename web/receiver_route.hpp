#pragma once

#include "actors/actors.hpp"
#include "persistence/crypto.hpp"
#include "web/router.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <string>

namespace herald {
class metrics;
} // namespace herald

namespace herald::web {

/// What the receiver route needs.
struct receiver_context {
  caf::actor_system* sys = nullptr;
  /// Gathers deliveries into group commits.
  receiver_actor receiver;
  persistence::key_ring keys;
  std::string pepper;
  metrics* stats = nullptr;
};

/// Adds POST /internal/v1/deliver, the receiver role (the downstream "main
/// server"): validates the delivery, stores it encrypted under this node's
/// keys, once per message id. 200 {"status":"received"} for a new message,
/// 200 {"status":"duplicate"} for a repeat (at-least-once delivery), 503
/// when it cannot be stored (the sender retries).
void add_receiver_route(router& r,
                        std::shared_ptr<const receiver_context> ctx);

} // namespace herald::web
