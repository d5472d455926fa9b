#include "web/receiver_route.hpp"

#include "core/errc.hpp"
#include "core/metrics.hpp"
#include "net/problem.hpp"
#include "persistence/delivery_store.hpp"
#include "web/actor_bridge.hpp"
#include "web/messages_route.hpp"

#include <caf/actor_system.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>

namespace herald::web {

namespace {

/// Parses "2026-01-31T12:34:56.789Z" (milliseconds optional) to Unix ms.
std::optional<int64_t> parse_time(const std::string& text) {
  std::tm tm{};
  auto rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr)
    return std::nullopt;
  int64_t ms = 0;
  if (*rest == '.') {
    int digits = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, ++digits)
      if (digits < 3)
        ms = ms * 10 + (*rest - '0');
    for (; digits < 3; ++digits)
      ms *= 10;
  }
  if (std::string{rest} != "Z")
    return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

/// The 403 for a caller that may not deliver, if `req` comes from one.
std::optional<net::http_response> refuse(const receiver_context& ctx,
                                         const net::http_request& req) {
  std::optional<net::http_response> result;
  if (!req.client_is_node)
    result = net::problem(403, "not-a-node", "Not a node",
                          "Only Herald nodes may deliver here; present a node "
                          "certificate issued with heraldctl cert server.");
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

void receive(const std::shared_ptr<const receiver_context>& ctx,
             const net::http_request& req, net::responder respond) {
  if (auto resp = refuse(*ctx, req))
    return respond(std::move(*resp));
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(req.body.data(),
                                                   req.body.size());
  if (doc.HasParseError() || !doc.IsObject())
    return respond(net::problem(400, "malformed-json", "Malformed JSON",
                                "The body is not a JSON object in UTF-8."));
  std::vector<net::invalid_param> problems;
  auto text = [&](const char* name) -> std::string {
    auto it = doc.FindMember(name);
    if (it == doc.MemberEnd() || !it->value.IsString()) {
      problems.push_back({name, "must be a string"});
      return {};
    }
    return {it->value.GetString(), it->value.GetStringLength()};
  };
  auto id_text = text("message_id");
  auto sender = text("sender_number");
  auto body = text("message_body");
  auto created = text("created_at");
  auto id = persistence::uuid::parse(id_text);
  if (!id_text.empty() && !id)
    problems.push_back({"message_id", "must be a UUID"});
  if (!sender.empty() && !is_e164(sender))
    problems.push_back({"sender_number", "must be an E.164 number"});
  auto created_ms = parse_time(created);
  if (!created.empty() && !created_ms)
    problems.push_back({"created_at", "must be an RFC 3339 UTC time"});
  auto attempt = doc.FindMember("attempt");
  if (attempt == doc.MemberEnd() || !attempt->value.IsUint()
      || attempt->value.GetUint() == 0)
    problems.push_back({"attempt", "must be a positive integer"});
  if (!problems.empty())
    return respond(net::problem(422, "invalid-delivery", "Invalid delivery",
                                "One or more fields are invalid.", problems));
  received_message msg;
  msg.id = id->raw();
  auto sealed = persistence::seal_payload(ctx->keys.active(), sender, body,
                                          msg.id);
  if (!sealed)
    return respond(net::problem(503, "unavailable", "Service unavailable",
                                "The message could not be encrypted."));
  msg.sender_hash = persistence::hmac_sha256(ctx->pepper, sender);
  msg.sender_masked = persistence::mask_e164(sender);
  msg.key_id = sealed->key_id;
  msg.nonce = std::move(sealed->nonce);
  msg.ciphertext = std::move(sealed->ciphertext);
  msg.created_ms = *created_ms;
  msg.attempt = attempt->value.GetUint();
  ctx->bridge->ask(
    ctx->receiver, std::chrono::seconds{10},
    [ctx, respond](bool fresh) {
      if (ctx->stats != nullptr)
        ctx->stats->received.Add({{"result", fresh ? "stored" : "duplicate"}})
          .Increment();
      respond({200, "application/json",
               fresh ? R"({"status":"received"})"
                     : R"({"status":"duplicate"})",
               {}});
    },
    [respond](caf::error&) {
      auto resp = net::problem(503, "unavailable", "Service unavailable",
                               "The message could not be stored; retry.");
      resp.headers.emplace_back("Retry-After", "1");
      respond(std::move(resp));
    },
    receive_atom::value, std::move(msg));
}

} // namespace

void add_receiver_route(router& r,
                        std::shared_ptr<const receiver_context> ctx) {
  r.add("POST", "/internal/v1/deliver",
        [ctx](const net::http_request& req, const route_params&,
              net::responder respond) { receive(ctx, req, std::move(respond)); });
}

} // namespace herald::web
