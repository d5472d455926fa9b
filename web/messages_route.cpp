#include "web/messages_route.hpp"

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/message_id.hpp"
#include "core/metrics.hpp"
#include "net/problem.hpp"
#include "persistence/delivery_store.hpp"
#include "web/actor_bridge.hpp"
#include "web/health_route.hpp"

#include <caf/actor_system.hpp>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cmath>
#include <set>

namespace herald::web {

namespace {

using clock_type = std::chrono::steady_clock;

std::string lower(std::string_view x) {
  std::string result{x};
  for (auto& c : result)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

std::string_view trim(std::string_view x) {
  while (!x.empty() && (x.front() == ' ' || x.front() == '\t'))
    x.remove_prefix(1);
  while (!x.empty() && (x.back() == ' ' || x.back() == '\t'))
    x.remove_suffix(1);
  return x;
}

/// application/json, optionally with charset=utf-8.
bool is_json(const std::string* content_type) {
  if (content_type == nullptr)
    return false;
  std::string_view value{*content_type};
  auto semi = value.find(';');
  if (lower(trim(value.substr(0, semi))) != "application/json")
    return false;
  while (semi != std::string_view::npos) {
    value.remove_prefix(semi + 1);
    semi = value.find(';');
    auto param = lower(trim(value.substr(0, semi)));
    if (param.rfind("charset=", 0) == 0 && param != "charset=utf-8"
        && param != "charset=\"utf-8\"")
      return false;
  }
  return true;
}

size_t code_points(std::string_view utf8) {
  size_t result = 0;
  for (auto c : utf8)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80)
      ++result;
  return result;
}

std::string json_object(
  const std::vector<std::pair<const char*, std::string>>& fields) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  for (const auto& [key, value] : fields) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  }
  w.EndObject();
  return buf.GetString();
}

void count_rejection(const messages_context& ctx, const char* reason) {
  if (ctx.stats != nullptr)
    ctx.stats->rejections.Add({{"reason", reason}}).Increment();
}

net::http_response accepted_response(const std::string& raw_id) {
  auto id = message_id::from_raw(raw_id);
  auto text = id->to_string();
  caf::timestamp created{std::chrono::milliseconds{id->unix_ms()}};
  net::http_response resp{202, "application/json",
                          json_object({{"message_id", text},
                                       {"status", "queued"},
                                       {"created_at", iso8601(created)}}),
                          {}};
  resp.headers.emplace_back("Location", "/api/v1/messages/" + text);
  return resp;
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

void submit(const std::shared_ptr<const messages_context>& ctx,
            const net::http_request& req, net::responder respond) {
  auto start = clock_type::now();
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
  auto parsed = parse_submission(req, ctx->max_message_chars);
  if (auto resp = std::get_if<net::http_response>(&parsed)) {
    count_rejection(*ctx, "invalid");
    return respond(std::move(*resp));
  }
  auto& input = std::get<submission_input>(parsed);
  stored_message msg;
  if (auto key = req.header("idempotency-key")) {
    if (!is_valid_idempotency_key(*key)) {
      count_rejection(*ctx, "invalid");
      return respond(net::problem(
        400, "invalid-idempotency-key", "Invalid Idempotency-Key",
        "Idempotency-Key must have 1 to 64 visible ASCII characters."));
    }
    msg.idempotency_key = *key;
  }
  auto id = message_id::make_v7();
  msg.id = id.raw();
  auto sealed = persistence::seal_payload(
    ctx->keys->current()->active(), input.sender_number, input.message_body, msg.id);
  if (!sealed)
    return respond(unavailable("The message could not be encrypted."));
  msg.client_id = client.id;
  msg.sender_hash = persistence::hmac_sha256(ctx->pepper,
                                             input.sender_number);
  msg.sender_masked = persistence::mask_e164(input.sender_number);
  msg.key_id = sealed->key_id;
  msg.nonce = std::move(sealed->nonce);
  msg.ciphertext = std::move(sealed->ciphertext);
  msg.request_hash = persistence::request_hash(ctx->pepper,
                                               input.sender_number,
                                               input.message_body);
  ctx->bridge->ask(
    ctx->store, ctx->accept_timeout + std::chrono::seconds{2},
    [ctx, respond, start](submit_result& result) {
      switch (result.outcome) {
        case submit_outcome::accepted:
        case submit_outcome::replayed:
          if (ctx->stats != nullptr)
            ctx->stats->accept_duration.Observe(
              std::chrono::duration<double>(clock_type::now() - start)
                .count());
          respond(accepted_response(result.message_id));
          return;
        case submit_outcome::in_progress: {
          count_rejection(*ctx, "idempotency_in_progress");
          auto resp = net::problem(
            409, "idempotency-in-progress", "Request in progress",
            "A request with this Idempotency-Key is still being stored.");
          resp.headers.emplace_back("Retry-After", "1");
          respond(std::move(resp));
          return;
        }
        case submit_outcome::key_reused:
          count_rejection(*ctx, "idempotency_key_reused");
          respond(net::problem(
            422, "idempotency-key-reused", "Idempotency-Key reused",
            "This Idempotency-Key was used with a different message in the "
            "last 24 hours; use a new key for a new message."));
          return;
      }
    },
    [ctx, respond](caf::error& err) {
      count_rejection(*ctx, "unavailable");
      respond(unavailable(err == errc::overloaded
                            ? "Too many messages are waiting to be stored."
                            : "The message could not be stored; nothing "
                              "was accepted."));
    },
    submit_atom::value, std::move(msg));
}

void status(const std::shared_ptr<const messages_context>& ctx,
            const net::http_request& req, const route_params& params,
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
  ctx->bridge->ask(
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

bool is_e164(std::string_view number) {
  if (number.size() < 9 || number.size() > 16 || number[0] != '+')
    return false;
  if (number[1] < '1' || number[1] > '9')
    return false;
  return std::all_of(number.begin() + 1, number.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

bool is_valid_idempotency_key(std::string_view key) {
  return !key.empty() && key.size() <= 64
         && std::all_of(key.begin(), key.end(),
                        [](char c) { return c >= 0x21 && c <= 0x7e; });
}

std::string message_body_problem(std::string_view body, size_t max_chars) {
  auto chars = code_points(body);
  if (chars == 0)
    return "must not be empty";
  if (chars > max_chars)
    return "must have at most " + std::to_string(max_chars)
           + " characters, has " + std::to_string(chars);
  return {};
}

std::variant<submission_input, net::http_response>
parse_submission(const net::http_request& req, size_t max_message_chars) {
  if (!is_json(req.header("content-type")))
    return net::problem(415, "unsupported-media-type",
                        "Unsupported media type",
                        "Send the message as application/json.");
  rapidjson::Document doc;
  if (auto why = json::parse(req.body, doc); !why.empty())
    return net::problem(400, "malformed-json", "Malformed JSON",
                        "The body is not valid JSON in UTF-8: " + why + ".");
  if (!doc.IsObject())
    return net::problem(422, "invalid-message", "Invalid message",
                        "The body must be a JSON object.");
  std::vector<net::invalid_param> problems;
  std::set<std::string> seen;
  submission_input result;
  bool has_sender = false;
  bool has_body = false;
  for (auto& member : doc.GetObject()) {
    std::string name{member.name.GetString(), member.name.GetStringLength()};
    if (!seen.insert(name).second) {
      problems.push_back({name, "appears more than once"});
      continue;
    }
    bool is_sender = name == "sender_number";
    bool is_body = name == "message_body";
    if (!is_sender && !is_body) {
      problems.push_back({name, "unknown field"});
      continue;
    }
    has_sender |= is_sender;
    has_body |= is_body;
    if (!member.value.IsString()) {
      problems.push_back({name, "must be a string"});
      continue;
    }
    std::string value{member.value.GetString(),
                      member.value.GetStringLength()};
    if (is_sender) {
      if (!is_e164(value))
        problems.push_back({name, "must be an E.164 number: + then 8 to 15 "
                                  "digits, the first one 1 to 9"});
      result.sender_number = std::move(value);
    } else {
      if (auto why = message_body_problem(value, max_message_chars);
          !why.empty())
        problems.push_back({name, std::move(why)});
      result.message_body = std::move(value);
    }
  }
  if (!has_sender)
    problems.push_back({"sender_number", "is required"});
  if (!has_body)
    problems.push_back({"message_body", "is required"});
  if (!problems.empty())
    return net::problem(422, "invalid-message", "Invalid message",
                        "One or more fields are invalid.", problems);
  return result;
}

void add_message_routes(router& r,
                        std::shared_ptr<const messages_context> ctx) {
  r.add("POST", "/api/v1/messages",
        [ctx](const net::http_request& req, const route_params&,
              net::responder respond) { submit(ctx, req, std::move(respond)); });
  r.add("GET", "/api/v1/messages/{id}",
        [ctx](const net::http_request& req, const route_params& params,
              net::responder respond) {
          status(ctx, req, params, std::move(respond));
        });
}

} // namespace herald::web
