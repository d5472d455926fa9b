#pragma once

#include "actors/actors.hpp"
#include "net/http_types.hpp"
#include "persistence/crypto.hpp"
#include "web/actor_bridge.hpp"
#include "web/client_registry.hpp"
#include "web/rate_limiter.hpp"
#include "web/router.hpp"

#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include <memory>
#include <string>
#include <variant>

namespace herald {
class metrics;
} // namespace herald

namespace herald::web {

/// A submission that passed validation.
struct submission_input {
  std::string sender_number;
  std::string message_body;
};

/// Validates POST /api/v1/messages: content type, JSON, UTF-8, fields.
/// Returns the input, or the problem+json response that explains what is
/// wrong (400, 415 or 422, naming every bad field). Unknown fields are
/// rejected, so a misspelt field never goes unnoticed.
std::variant<submission_input, net::http_response>
parse_submission(const net::http_request& req, size_t max_message_chars);

/// `+`, then 8 to 15 digits, the first one 1 to 9.
bool is_e164(std::string_view number);

/// 1 to 64 visible ASCII characters.
bool is_valid_idempotency_key(std::string_view key);

/// Why `body` (UTF-8) is no valid message body: empty, or longer than
/// `max_chars` code points; empty when it is valid.
std::string message_body_problem(std::string_view body, size_t max_chars);

/// Everything the message routes use, shared by all requests.
struct messages_context {
  std::shared_ptr<const actor_bridge> bridge;
  store_actor store;
  /// Answers status queries, apart from the batch writers.
  store_writer_actor reader;
  client_registry* clients = nullptr;
  rate_limiter* limiter = nullptr;
  std::shared_ptr<persistence::live_key_ring> keys;
  std::string pepper;
  size_t max_message_chars = 1600;
  /// The store answers within this; the route waits a little longer.
  caf::timespan accept_timeout;
  metrics* stats = nullptr;
};

/// Adds POST /api/v1/messages and GET /api/v1/messages/{id}.
void add_message_routes(router& r, std::shared_ptr<const messages_context> ctx);

} // namespace herald::web
