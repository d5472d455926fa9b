#pragma once

#include "actors/actors.hpp"
#include "actors/ingress.hpp"
#include "net/client_registry.hpp"
#include "net/router.hpp"

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
  std::shared_ptr<const ingress_calls> calls;
  /// Validate, seal and store deliveries; taken in turn.
  std::vector<validator_actor> validators;
  size_t next_validator = 0;
  /// Node certificates must be registered (kind server) and active.
  const net::client_registry* registry = nullptr;
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
/// a caller whose certificate lacks serverAuth or is not registered as an
/// active node certificate (heraldctl cert server or cert register) gets
/// 403 not-a-node, a node missing from a non-empty `callers` list 403
/// caller-not-allowed, both before the body is looked at.
void add_receiver_route(net::router& r,
                        std::shared_ptr<receiver_context> ctx);

} // namespace herald::web
