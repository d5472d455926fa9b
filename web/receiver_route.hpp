#pragma once

#include "actors/actors.hpp"
#include "persistence/crypto.hpp"
#include "web/actor_bridge.hpp"
#include "web/client_registry.hpp"
#include "web/router.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace herald {
class metrics;
} // namespace herald

namespace herald::web {

/// A delivery that passed validation.
struct delivery_input {
  /// 16 raw bytes.
  std::string id;
  std::string sender_number;
  std::string message_body;
  /// Unix milliseconds, 1970 to 9999.
  int64_t created_ms = 0;
  uint32_t attempt = 0;
};

/// Validates the body of POST /internal/v1/deliver: a JSON object with
/// exactly message_id (UUID), sender_number (E.164), message_body (as a
/// submission's), created_at (RFC 3339 UTC, 1970 to 9999) and attempt
/// (a positive 32-bit integer). Returns the input, or the problem+json
/// response (400 or 422, naming every bad field).
std::variant<delivery_input, net::http_response>
parse_delivery(const net::http_request& req, size_t max_message_chars);

/// What the receiver route needs.
struct receiver_context {
  std::shared_ptr<const actor_bridge> bridge;
  /// Node certificates must be registered (kind server) and active.
  const client_registry* registry = nullptr;
  size_t max_message_chars = 1600;
  /// Gathers deliveries into group commits.
  receiver_actor receiver;
  std::shared_ptr<persistence::live_key_ring> keys;
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
/// a caller whose certificate lacks serverAuth or is not registered as an
/// active node certificate (heraldctl cert server or cert register) gets
/// 403 not-a-node, a node missing from a non-empty `callers` list 403
/// caller-not-allowed, both before the body is looked at.
void add_receiver_route(router& r,
                        std::shared_ptr<const receiver_context> ctx);

} // namespace herald::web
