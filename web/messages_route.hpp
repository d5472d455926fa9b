#pragma once

#include "actors/actors.hpp"
#include "actors/ingress.hpp"
#include "net/http_types.hpp"
#include "net/router.hpp"
#include "net/client_registry.hpp"
#include "web/rate_limiter.hpp"

#include <caf/timespan.hpp>

#include <memory>
#include <vector>

namespace herald {
class metrics;
} // namespace herald

namespace herald::web {

/// Everything the message routes use, shared by all requests. The routes
/// run inside the ingress actor, one request at a time.
struct messages_context {
  std::shared_ptr<const ingress_calls> calls;
  /// Validate, seal and store submissions; taken in turn.
  std::vector<validator_actor> validators;
  size_t next_validator = 0;
  /// Answers status queries, apart from the batch writers.
  store_writer_actor reader;
  net::client_registry* clients = nullptr;
  rate_limiter* limiter = nullptr;
  /// The store answers within this; the route waits a little longer.
  caf::timespan accept_timeout;
  metrics* stats = nullptr;
};

/// Adds POST /api/v1/messages (the client's certificate names the client;
/// its rate limit applies; a validator does the rest) and
/// GET /api/v1/messages/{id}.
void add_message_routes(net::router& r, std::shared_ptr<messages_context> ctx);

} // namespace herald::web
