#include "web/receiver_route.hpp"

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/message_id.hpp"
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
#include <set>

namespace herald::web {

namespace {

/// Parses "2026-01-31T12:34:56.789Z" (milliseconds optional) to Unix ms;
/// only years 1970 to 9999, which the DATETIME columns hold.
std::optional<int64_t> parse_time(const std::string& text) {
  if (text.size() < 20 || text.size() > 30)
    return std::nullopt;
  std::tm tm{};
  auto rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr || rest != text.c_str() + 19 || tm.tm_year < 70
      || tm.tm_year > 9999 - 1900)
    return std::nullopt;
  int64_t ms = 0;
  if (*rest == '.') {
    int digits = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, ++digits)
      if (digits < 3)
        ms = ms * 10 + (*rest - '0');
    if (digits == 0)
      return std::nullopt;
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

void receive(const std::shared_ptr<const receiver_context>& ctx,
             const net::http_request& req, net::responder respond) {
  if (auto resp = refuse(*ctx, req))
    return respond(std::move(*resp));
  auto parsed = parse_delivery(req, ctx->max_message_chars);
  if (auto resp = std::get_if<net::http_response>(&parsed))
    return respond(std::move(*resp));
  auto& input = std::get<delivery_input>(parsed);
  received_message msg;
  msg.id = input.id;
  auto sealed = persistence::seal_payload(ctx->keys->current()->active(),
                                          input.sender_number,
                                          input.message_body, msg.id);
  if (!sealed)
    return respond(net::problem(503, "unavailable", "Service unavailable",
                                "The message could not be encrypted."));
  msg.sender_hash = persistence::hmac_sha256(ctx->pepper, input.sender_number);
  msg.sender_masked = persistence::mask_e164(input.sender_number);
  msg.key_id = sealed->key_id;
  msg.nonce = std::move(sealed->nonce);
  msg.ciphertext = std::move(sealed->ciphertext);
  msg.created_ms = input.created_ms;
  msg.attempt = input.attempt;
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

std::variant<delivery_input, net::http_response>
parse_delivery(const net::http_request& req, size_t max_message_chars) {
  rapidjson::Document doc;
  if (auto why = json::parse(req.body, doc); !why.empty())
    return net::problem(400, "malformed-json", "Malformed JSON",
                        "The body is not valid JSON in UTF-8: " + why + ".");
  if (!doc.IsObject())
    return net::problem(400, "malformed-json", "Malformed JSON",
                        "The body must be a JSON object.");
  static const std::set<std::string> fields{
    "message_id", "sender_number", "message_body", "created_at", "attempt"};
  std::vector<net::invalid_param> problems;
  std::set<std::string> seen;
  for (auto& member : doc.GetObject()) {
    std::string name{member.name.GetString(), member.name.GetStringLength()};
    if (fields.count(name) == 0)
      problems.push_back({name, "unknown field"});
    else if (!seen.insert(name).second)
      problems.push_back({name, "appears more than once"});
  }
  // Each field is checked whatever it holds: an empty or missing value is
  // a problem, never a default.
  auto text = [&](const char* name) -> std::optional<std::string> {
    auto it = doc.FindMember(name);
    if (it == doc.MemberEnd() || !it->value.IsString()) {
      problems.push_back({name, "is required and must be a string"});
      return std::nullopt;
    }
    return std::string{it->value.GetString(), it->value.GetStringLength()};
  };
  delivery_input result;
  if (auto id_text = text("message_id")) {
    if (auto id = message_id::parse(*id_text))
      result.id = id->raw();
    else
      problems.push_back({"message_id", "must be a UUID"});
  }
  if (auto sender = text("sender_number")) {
    if (is_e164(*sender))
      result.sender_number = std::move(*sender);
    else
      problems.push_back({"sender_number", "must be an E.164 number"});
  }
  if (auto body = text("message_body")) {
    if (auto why = message_body_problem(*body, max_message_chars);
        !why.empty())
      problems.push_back({"message_body", std::move(why)});
    result.message_body = std::move(*body);
  }
  if (auto created = text("created_at")) {
    if (auto ms = parse_time(*created))
      result.created_ms = *ms;
    else
      problems.push_back({"created_at",
                          "must be an RFC 3339 UTC time from 1970 to 9999"});
  }
  auto attempt = doc.FindMember("attempt");
  if (attempt == doc.MemberEnd() || !attempt->value.IsUint()
      || attempt->value.GetUint() == 0)
    problems.push_back({"attempt", "must be a positive integer"});
  else
    result.attempt = attempt->value.GetUint();
  if (!problems.empty())
    return net::problem(422, "invalid-delivery", "Invalid delivery",
                        "One or more fields are invalid.", problems);
  return result;
}

void add_receiver_route(router& r,
                        std::shared_ptr<const receiver_context> ctx) {
  r.add("POST", "/internal/v1/deliver",
        [ctx](const net::http_request& req, const route_params&,
              net::responder respond) { receive(ctx, req, std::move(respond)); });
}

} // namespace herald::web
