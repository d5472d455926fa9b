#pragma once

#include "actors/actors.hpp"
#include "persistence/crypto.hpp"
#include "web/actor_bridge.hpp"
#include "web/router.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <string>
#include <vector>

namespace herald {
class metrics;
} // namespace herald

namespace herald::web {

/// What the receiver route needs.
struct receiver_context {
  std::shared_ptr<const actor_bridge> bridge;
  /// Gathers deliveries into group commits.
  receiver_actor receiver;
  persistence::key_ring keys;
  std::string pepper;
  /// Fingerprints of the node certificates that may deliver (receiver.
  /// callers); empty: every node certificate.
  std::vector<std::string> callers;
  metrics* stats = nullptr;
};

/// Adds POST /internal/v1/deliver, the receiver role (the downstream "main
/// server"): validates the delivery, stores it encrypted under this node's
/// keys, once per message id. 200 {"status":"received"} for a new message,
/// 200 {"status":"duplicate"} for a repeat (at-least-once delivery), 503
/// when it cannot be stored (the sender retries). Only nodes may call it:
/// a caller without a node certificate gets 403 not-a-node, a node missing
/// from a non-empty `callers` list 403 caller-not-allowed, both before the
/// body is looked at.
void add_receiver_route(router& r,
                        std::shared_ptr<const receiver_context> ctx);

} // namespace herald::web
