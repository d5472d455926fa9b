#include "web/messages_route.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "core/metrics.hpp"
#include "net/problem.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cmath>

namespace herald::web {

namespace {

void count_rejection(const messages_context& ctx, const char* reason) {
  if (ctx.stats != nullptr)
    ctx.stats->rejections.Add({{"reason", reason}}).Increment();
}

net::http_response unavailable(const std::string& detail) {
  auto resp = net::problem(503, "unavailable", "Service unavailable", detail);
  resp.headers.emplace_back("Retry-After", "1");
  return resp;
}

/// The client behind the request's certificate, or the 403 to send.
std::variant<persistence::client_identity, net::http_response>
identify(const messages_context& ctx, const net::http_request& req) {
  auto client = ctx.clients->find(req.client_fingerprint);
  if (client && client->active && client->kind == "client")
    return *client;
  count_rejection(ctx, "forbidden");
  return net::problem(403, "client-forbidden", "Client not allowed",
                      !client ? "This certificate is not registered for a "
                                "client; ask an administrator to register it."
                      : client->kind != "client"
                        ? "This is a node certificate; submit with a client "
                          "certificate."
                        : "This client or its certificate is disabled.");
}

void submit(const std::shared_ptr<messages_context>& ctx,
            net::http_request req, net::responder respond) {
  auto who = identify(*ctx, req);
  if (auto resp = std::get_if<net::http_response>(&who))
    return respond(std::move(*resp));
  auto client = std::get<persistence::client_identity>(who);
  if (auto wait = ctx->limiter->acquire(client.id); wait > 0) {
    count_rejection(*ctx, "rate_limited");
    auto resp = net::problem(429, "rate-limited", "Too many requests",
                             "This client exceeds its submission rate.");
    resp.headers.emplace_back("Retry-After",
                              std::to_string(static_cast<int>(std::ceil(wait))));
    return respond(std::move(resp));
  }
  if (ctx->stats != nullptr)
    ctx->stats->stages.ingress.Increment();
  const auto& validator = ctx->validators[ctx->next_validator++
                                          % ctx->validators.size()];
  ctx->calls->ask(
    validator, ctx->accept_timeout + std::chrono::seconds{2},
    [respond](http_response& resp) { respond(std::move(resp)); },
    [ctx, respond](caf::error&) {
      count_rejection(*ctx, "unavailable");
      respond(unavailable("The message could not be stored; nothing was "
                          "accepted."));
    },
    submit_atom::value, client.id, std::move(req));
}

void status(const std::shared_ptr<messages_context>& ctx,
            const net::http_request& req, const net::route_params& params,
            net::responder respond) {
  auto who = identify(*ctx, req);
  if (auto resp = std::get_if<net::http_response>(&who))
    return respond(std::move(*resp));
  auto client = std::get<persistence::client_identity>(who);
  auto not_found = [] {
    return net::problem(404, "message-not-found", "Message not found",
                        "This client has no message with that id.");
  };
  auto id = message_id::parse(params.at("id"));
  if (!id)
    return respond(not_found());
  ctx->calls->ask(
    ctx->reader, ctx->accept_timeout,
    [respond](message_status& st) {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w{buf};
      auto field = [&w](const char* key, const std::string& value) {
        w.Key(key);
        if (value.empty())
          w.Null();
        else
          w.String(value.data(),
                   static_cast<rapidjson::SizeType>(value.size()));
      };
      w.StartObject();
      field("message_id", st.message_id);
      field("status", st.status);
      w.Key("attempts");
      w.Uint(st.attempts);
      field("created_at", st.created_at);
      field("updated_at", st.updated_at);
      field("next_attempt_at", st.next_attempt_at);
      field("delivered_at", st.delivered_at);
      field("last_error", st.last_error);
      w.EndObject();
      respond({200, "application/json", buf.GetString(), {}});
    },
    [respond, not_found](caf::error& err) {
      if (err == errc::not_found)
        respond(not_found());
      else
        respond(unavailable("The message status could not be read."));
    },
    caf::get_atom::value, client.id, id->raw());
}

} // namespace

void add_message_routes(net::router& r, std::shared_ptr<messages_context> ctx) {
  r.add("POST", "/api/v1/messages",
        [ctx](net::http_request req, const net::route_params&,
              net::responder respond) {
          submit(ctx, std::move(req), std::move(respond));
        });
  r.add("GET", "/api/v1/messages/{id}",
        [ctx](const net::http_request& req, const net::route_params& params,
              net::responder respond) {
          status(ctx, req, params, std::move(respond));
        });
}

} // namespace herald::web
