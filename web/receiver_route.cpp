#include "web/receiver_route.hpp"

#include "core/metrics.hpp"
#include "net/problem.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

namespace herald::web {

namespace {

/// The 403 for a caller that may not deliver, if `req` comes from one.
std::optional<net::http_response> refuse(const receiver_context& ctx,
                                         const net::http_request& req) {
  std::optional<net::http_response> result;
  auto who = ctx.registry != nullptr
               ? ctx.registry->find(req.client_fingerprint)
               : std::nullopt;
  if (!req.client_is_node || !who || !who->active || who->kind != "server")
    result = net::problem(403, "not-a-node", "Not a node",
                          "Only Herald nodes may deliver here; present an "
                          "active node certificate issued with heraldctl "
                          "cert server (or registered with heraldctl cert "
                          "register).");
  else if (!ctx.callers.empty()
           && std::find(ctx.callers.begin(), ctx.callers.end(),
                        req.client_fingerprint)
                == ctx.callers.end())
    result = net::problem(403, "caller-not-allowed", "Caller not allowed",
                          "This node certificate is not in receiver.callers "
                          "of the receiving node; add its SHA-256 "
                          "fingerprint there.");
  if (result && ctx.stats != nullptr)
    ctx.stats->received.Add({{"result", "forbidden"}}).Increment();
  return result;
}

void receive(const std::shared_ptr<receiver_context>& ctx,
             net::http_request req, net::responder respond) {
  if (auto resp = refuse(*ctx, req))
    return respond(std::move(*resp));
  const auto& validator = ctx->validators[ctx->next_validator++
                                          % ctx->validators.size()];
  ctx->calls->ask(
    validator, std::chrono::seconds{10},
    [respond](http_response& resp) { respond(std::move(resp)); },
    [respond](caf::error&) {
      auto resp = net::problem(503, "unavailable", "Service unavailable",
                               "The message could not be stored; retry.");
      resp.headers.emplace_back("Retry-After", "1");
      respond(std::move(resp));
    },
    receive_atom::value, std::move(req));
}

} // namespace

void add_receiver_route(net::router& r,
                        std::shared_ptr<receiver_context> ctx) {
  r.add("POST", "/internal/v1/deliver",
        [ctx](net::http_request req, const net::route_params&,
              net::responder respond) {
          receive(ctx, std::move(req), std::move(respond));
        });
}

} // namespace herald::web
