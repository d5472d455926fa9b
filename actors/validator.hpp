#pragma once

#include "actors/actors.hpp"
#include "persistence/crypto.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/timespan.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <variant>

namespace herald {

class metrics;

/// A submission that passed validation.
struct submission_input {
  std::string sender_number;
  std::string message_body;
};

/// Validates a POST /api/v1/messages request: content type, JSON, UTF-8,
/// fields. Returns the input, or the problem+json response that explains
/// what is wrong (400, 415 or 422, naming every bad field). Unknown fields
/// are rejected, so a misspelt field never goes unnoticed.
std::variant<submission_input, http_response>
parse_submission(const http_request& req, size_t max_message_chars);

/// A delivery to the receiver role that passed validation.
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
std::variant<delivery_input, http_response>
parse_delivery(const http_request& req, size_t max_message_chars);

/// `+`, then 8 to 15 digits, the first one 1 to 9.
bool is_e164(std::string_view number);

/// 1 to 64 visible ASCII characters.
bool is_valid_idempotency_key(std::string_view key);

/// Why `body` (UTF-8) is no valid message body: empty, or longer than
/// `max_chars` code points; empty when it is valid.
std::string message_body_problem(std::string_view body, size_t max_chars);

/// What a validator needs; the same for every validator of a node.
struct validator_config {
  std::shared_ptr<persistence::live_key_ring> keys;
  std::string pepper;
  /// Limit of a submission's body; deliveries always allow
  /// persistence::max_message_chars, whatever the sending node allowed.
  size_t max_message_chars = 1600;
  /// Stores submissions (ingress role); null without that role.
  store_actor store;
  /// Stores deliveries (receiver role); null without that role.
  receiver_actor receiver;
  metrics* stats = nullptr;
};

struct validator_state {
  static inline const char* name = "validator";
  validator_config cfg;
};

/// Stateless apart from its settings: validates, seals (AES-256-GCM) and
/// hashes (keyed SHA-256), then hands the sealed message to the store or
/// the receiver and turns their answer into the HTTP response.
validator_actor::behavior_type
validator(validator_actor::stateful_pointer<validator_state> self,
          validator_config cfg);

/// Spawns a validator on the scheduler: its work is CPU only.
validator_actor spawn_validator(caf::actor_system& sys, validator_config cfg);

} // namespace herald
