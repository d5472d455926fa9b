#include "actors/validator.hpp"
#include "actors/detail/instrument.hpp"

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/message_id.hpp"
#include "core/metrics.hpp"
#include "core/time.hpp"
#include "net/problem.hpp"
#include "persistence/delivery_store.hpp"
#include "persistence/limits.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>
#include <set>

namespace herald {

namespace {

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

void count_rejection(const validator_config& cfg, const char* reason) {
  if (cfg.stats != nullptr)
    cfg.stats->rejections.Add({{"reason", reason}}).Increment();
}

http_response accepted_response(const std::string& raw_id) {
  auto id = message_id::from_raw(raw_id);
  auto text = id->to_string();
  http_response resp{202, "application/json",
                          json_object({{"message_id", text},
                                       {"status", "queued"},
                                       {"created_at", iso8601_ms(id->unix_ms())}}),
                          {}};
  resp.headers.emplace_back("Location", "/api/v1/messages/" + text);
  return resp;
}

http_response unavailable(const std::string& detail) {
  auto resp = net::problem(503, "unavailable", "Service unavailable", detail);
  resp.headers.emplace_back("Retry-After", "1");
  return resp;
}

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

/// The HTTP answer to a stored submission.
http_response submission_answer(const validator_config& cfg,
                                const submit_result& result) {
  switch (result.outcome) {
    case submit_outcome::accepted:
    case submit_outcome::replayed:
      return accepted_response(result.message_id);
    case submit_outcome::in_progress: {
      count_rejection(cfg, "idempotency_in_progress");
      auto resp = net::problem(
        409, "idempotency-in-progress", "Request in progress",
        "A request with this Idempotency-Key is still being stored.");
      resp.headers.emplace_back("Retry-After", "1");
      return resp;
    }
    case submit_outcome::key_reused:
      break;
  }
  count_rejection(cfg, "idempotency_key_reused");
  return net::problem(422, "idempotency-key-reused", "Idempotency-Key reused",
                      "This Idempotency-Key was used with a different message "
                      "in the last 24 hours; use a new key for a new message.");
}

/// Validates and seals a submission; the message to store, or the problem.
std::variant<stored_message, http_response>
seal_submission(const validator_config& cfg, uint64_t client_id,
                const http_request& req) {
  auto parsed = parse_submission(req, cfg.max_message_chars);
  if (auto resp = std::get_if<http_response>(&parsed)) {
    count_rejection(cfg, "invalid");
    return std::move(*resp);
  }
  auto& input = std::get<submission_input>(parsed);
  stored_message msg;
  if (auto key = req.header("idempotency-key")) {
    if (!is_valid_idempotency_key(*key)) {
      count_rejection(cfg, "invalid");
      return net::problem(
        400, "invalid-idempotency-key", "Invalid Idempotency-Key",
        "Idempotency-Key must have 1 to 64 visible ASCII characters.");
    }
    msg.idempotency_key = *key;
  }
  msg.id = message_id::make_v7().raw();
  auto sealed = persistence::seal_payload(cfg.keys->current()->active(),
                                          input.sender_number,
                                          input.message_body, msg.id);
  if (!sealed)
    return unavailable("The message could not be encrypted.");
  msg.client_id = client_id;
  msg.sender_hash = persistence::hmac_sha256(cfg.pepper, input.sender_number);
  msg.sender_masked = persistence::mask_e164(input.sender_number);
  msg.key_id = sealed->key_id;
  msg.nonce = std::move(sealed->nonce);
  msg.ciphertext = std::move(sealed->ciphertext);
  msg.request_hash = persistence::request_hash(cfg.pepper, input.sender_number,
                                               input.message_body);
  return msg;
}

/// Validates and seals a delivery; the message to store, or the problem.
std::variant<received_message, http_response>
seal_delivery(const validator_config& cfg, const http_request& req) {
  auto parsed = parse_delivery(req, persistence::max_message_chars);
  if (auto resp = std::get_if<http_response>(&parsed))
    return std::move(*resp);
  auto& input = std::get<delivery_input>(parsed);
  received_message msg;
  msg.id = input.id;
  auto sealed = persistence::seal_payload(cfg.keys->current()->active(),
                                          input.sender_number,
                                          input.message_body, msg.id);
  if (!sealed)
    return net::problem(503, "unavailable", "Service unavailable",
                        "The message could not be encrypted.");
  msg.sender_hash = persistence::hmac_sha256(cfg.pepper, input.sender_number);
  msg.sender_masked = persistence::mask_e164(input.sender_number);
  msg.key_id = sealed->key_id;
  msg.nonce = std::move(sealed->nonce);
  msg.ciphertext = std::move(sealed->ciphertext);
  msg.created_ms = input.created_ms;
  msg.attempt = input.attempt;
  return msg;
}

void count_received(const validator_config& cfg, const char* result) {
  if (cfg.stats != nullptr)
    cfg.stats->received.Add({{"result", result}}).Increment();
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

std::variant<submission_input, http_response>
parse_submission(const http_request& req, size_t max_message_chars) {
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

std::variant<delivery_input, http_response>
parse_delivery(const http_request& req, size_t max_message_chars) {
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

validator_actor::behavior_type
validator(validator_actor::stateful_pointer<validator_state> self,
          validator_config cfg) {
  self->state.cfg = std::move(cfg);
  return instrumented(self,
    [self](submit_atom, uint64_t client_id,
           const http_request& req) -> caf::result<http_response> {
      const auto& cfg = self->state.cfg;
      auto sealed = seal_submission(cfg, client_id, req);
      if (auto resp = std::get_if<http_response>(&sealed))
        return std::move(*resp);
      if (cfg.stats != nullptr)
        cfg.stats->stages.validator.Increment();
      auto start = std::chrono::steady_clock::now();
      auto rp = self->make_response_promise<http_response>();
      // No CAF timeout: the store answers within its own deadline and the
      // ingress keeps the request's; a timeout here armed CAF's clock once
      // per request (its thread went from 4% to 8% of the node's CPU).
      self
        ->request(cfg.store, caf::infinite, submit_atom::value,
                  std::move(std::get<stored_message>(sealed)))
        .then(
          [self, rp, start](submit_result& result) mutable {
            const auto& cfg = self->state.cfg;
            if (cfg.stats != nullptr
                && result.outcome != submit_outcome::in_progress
                && result.outcome != submit_outcome::key_reused)
              cfg.stats->accept_duration.Observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now()
                                              - start)
                  .count());
            rp.deliver(submission_answer(cfg, result));
          },
          [self, rp](caf::error& err) mutable {
            count_rejection(self->state.cfg, "unavailable");
            rp.deliver(unavailable(
              err == errc::overloaded
                ? "Too many messages are waiting to be stored."
                : "The message could not be stored; nothing was accepted."));
          });
      return rp;
    },
    [self](receive_atom,
           const http_request& req) -> caf::result<http_response> {
      const auto& cfg = self->state.cfg;
      auto sealed = seal_delivery(cfg, req);
      if (auto resp = std::get_if<http_response>(&sealed))
        return std::move(*resp);
      auto rp = self->make_response_promise<http_response>();
      self
        ->request(cfg.receiver, caf::infinite, receive_atom::value,
                  std::move(std::get<received_message>(sealed)))
        .then(
          [self, rp](bool fresh) mutable {
            const auto& cfg = self->state.cfg;
            count_received(cfg, fresh ? "stored" : "duplicate");
            // The last stage of a message's path: the receiver stored it.
            if (fresh && cfg.stats != nullptr)
              cfg.stats->stages.receiver.Increment();
            rp.deliver(http_response{200, "application/json",
                                     fresh ? R"({"status":"received"})"
                                           : R"({"status":"duplicate"})",
                                     {}});
          },
          [rp](caf::error&) mutable {
            auto resp = net::problem(503, "unavailable", "Service unavailable",
                                     "The message could not be stored; "
                                     "retry.");
            resp.headers.emplace_back("Retry-After", "1");
            rp.deliver(std::move(resp));
          });
      return rp;
    }
  );
}

validator_actor spawn_validator(caf::actor_system& sys, validator_config cfg) {
  return sys.spawn(validator, std::move(cfg));
}

} // namespace herald
