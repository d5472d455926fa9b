#include "actors/validator.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "persistence/delivery_store.hpp"
#include "test/fixtures.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include <rapidjson/document.h>

using namespace herald;

namespace {

net::http_request post(std::string body,
                       std::string content_type = "application/json") {
  net::http_request req;
  req.method = "POST";
  req.target = "/api/v1/messages";
  if (!content_type.empty())
    req.headers.emplace_back("content-type", std::move(content_type));
  req.body = std::move(body);
  return req;
}

/// The response parse_submission gives for `req`; fails if it accepts.
net::http_response rejected(const net::http_request& req) {
  auto result = parse_submission(req, 1600);
  auto resp = std::get_if<net::http_response>(&result);
  BOOST_REQUIRE_MESSAGE(resp != nullptr, "expected a rejection");
  return *resp;
}

/// The names in invalid_params.
std::vector<std::string> bad_fields(const net::http_response& resp) {
  rapidjson::Document doc;
  doc.Parse(resp.body.c_str());
  BOOST_REQUIRE(!doc.HasParseError());
  std::vector<std::string> result;
  if (doc.HasMember("invalid_params"))
    for (auto& p : doc["invalid_params"].GetArray())
      result.emplace_back(p["name"].GetString());
  return result;
}

std::string type_of(const net::http_response& resp) {
  rapidjson::Document doc;
  doc.Parse(resp.body.c_str());
  return doc["type"].GetString();
}

std::string repeat(const std::string& x, size_t n) {
  std::string result;
  for (size_t i = 0; i < n; ++i)
    result += x;
  return result;
}

} // namespace

BOOST_AUTO_TEST_SUITE(submission_suite)

BOOST_AUTO_TEST_CASE(a_valid_submission_is_accepted) {
  auto result = parse_submission(
    post(R"({"sender_number":"+4915112345678","message_body":"Hi ☃"})",
         "application/json; charset=UTF-8"),
    1600);
  auto input = std::get_if<submission_input>(&result);
  BOOST_REQUIRE(input != nullptr);
  BOOST_TEST(input->sender_number == "+4915112345678");
  BOOST_TEST(input->message_body == "Hi ☃");
}

BOOST_AUTO_TEST_CASE(wrong_content_types_get_415) {
  auto body = R"({"sender_number":"+4915112345678","message_body":"x"})";
  BOOST_TEST(rejected(post(body, "text/plain")).status == 415u);
  BOOST_TEST(rejected(post(body, "")).status == 415u);
  BOOST_TEST(rejected(post(body, "application/json; charset=latin1")).status
             == 415u);
  BOOST_TEST(type_of(rejected(post(body, "text/plain")))
             == "urn:herald:problem:unsupported-media-type");
}

BOOST_AUTO_TEST_CASE(malformed_json_and_bad_utf8_get_400) {
  BOOST_TEST(rejected(post("{\"sender_number\":")).status == 400u);
  BOOST_TEST(rejected(post("")).status == 400u);
  auto bad_utf8 = std::string{"{\"sender_number\":\"+4915112345678\","
                              "\"message_body\":\"\xff\xfe\"}"};
  auto resp = rejected(post(bad_utf8));
  BOOST_TEST(resp.status == 400u);
  BOOST_TEST(type_of(resp) == "urn:herald:problem:malformed-json");
}

BOOST_AUTO_TEST_CASE(lone_surrogate_escapes_get_400) {
  // Before, RapidJSON let "\udc00" through as bytes that are no UTF-8, and
  // the message was accepted (202) and forwarded.
  for (auto escape : {R"(\udc00)", R"(ab\udfffcd)", R"(\ud800)",
                      R"(\ud800\u0041)"}) {
    auto resp = rejected(post(R"({"sender_number":"+4915112345678",)"
                              R"("message_body":")"
                              + std::string{escape} + "\"}"));
    BOOST_TEST(resp.status == 400u, escape);
    BOOST_TEST(type_of(resp) == "urn:herald:problem:malformed-json");
  }
  // A proper pair is a character (U+1F600).
  auto pair = post(R"({"sender_number":"+4915112345678",)"
                   R"("message_body":"\ud83d\ude00"})");
  auto result = parse_submission(pair, 1600);
  auto input = std::get_if<submission_input>(&result);
  BOOST_REQUIRE(input != nullptr);
  BOOST_TEST(input->message_body == "\xf0\x9f\x98\x80");
}

BOOST_AUTO_TEST_CASE(deep_nesting_gets_400_without_recursion) {
  // 100,000 levels would overflow the stack of a recursive parser.
  for (auto open : {"[", "{\"a\":"}) {
    auto resp = rejected(post(repeat(open, 100000)));
    BOOST_TEST(resp.status == 400u);
    BOOST_TEST(resp.body.find("nested deeper than") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(invalid_fields_get_422_naming_each_field) {
  auto resp = rejected(post(R"({"sender_number":"4915112345678",)"
                            R"("message_body":""})"));
  BOOST_TEST(resp.status == 422u);
  BOOST_TEST(type_of(resp) == "urn:herald:problem:invalid-message");
  BOOST_TEST(bad_fields(resp)
             == (std::vector<std::string>{"sender_number", "message_body"}));
  resp = rejected(post(R"({"sender_number":15112345678,"message_body":["x"]})"));
  BOOST_TEST(bad_fields(resp)
             == (std::vector<std::string>{"sender_number", "message_body"}));
  resp = rejected(post(R"({"message_body":"x","extra":1})"));
  BOOST_TEST(bad_fields(resp)
             == (std::vector<std::string>{"extra", "sender_number"}));
  resp = rejected(post(R"([1,2])"));
  BOOST_TEST(resp.status == 422u);
  resp = rejected(post(R"({"sender_number":"+4915112345678",)"
                       R"("sender_number":"+4915112345678","message_body":"x"})"));
  BOOST_TEST(bad_fields(resp) == std::vector<std::string>{"sender_number"});
}

BOOST_AUTO_TEST_CASE(bodies_are_limited_in_code_points_not_bytes) {
  // 1600 snowmen are 4800 bytes but 1600 characters.
  auto ok = post(R"({"sender_number":"+4915112345678","message_body":")"
                 + repeat("☃", 1600) + "\"}");
  BOOST_TEST(std::holds_alternative<submission_input>(
    parse_submission(ok, 1600)));
  auto too_long = post(R"({"sender_number":"+4915112345678","message_body":")"
                       + repeat("a", 1601) + "\"}");
  auto resp = rejected(too_long);
  BOOST_TEST(resp.status == 422u);
  BOOST_TEST(resp.body.find("at most 1600 characters, has 1601")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(e164_numbers_are_checked_exactly) {
  BOOST_TEST(is_e164("+4915112345678"));
  BOOST_TEST(is_e164("+12345678"));        // 8 digits
  BOOST_TEST(is_e164("+123456789012345")); // 15 digits
  BOOST_TEST(!is_e164("+1234567"));        // 7 digits
  BOOST_TEST(!is_e164("+1234567890123456"));
  BOOST_TEST(!is_e164("+0123456789"));
  BOOST_TEST(!is_e164("4915112345678"));
  BOOST_TEST(!is_e164("+49 151 1234567"));
  BOOST_TEST(!is_e164("+49151-1234567"));
  BOOST_TEST(!is_e164(""));
}

BOOST_AUTO_TEST_CASE(idempotency_keys_are_visible_ascii_up_to_64) {
  BOOST_TEST(is_valid_idempotency_key("a"));
  BOOST_TEST(is_valid_idempotency_key(repeat("k", 64)));
  BOOST_TEST(!is_valid_idempotency_key(""));
  BOOST_TEST(!is_valid_idempotency_key(repeat("k", 65)));
  BOOST_TEST(!is_valid_idempotency_key("has space"));
  BOOST_TEST(!is_valid_idempotency_key("tab\t"));
  BOOST_TEST(!is_valid_idempotency_key("caf\xc3\xa9"));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

/// A store that records what reaches it and answers `outcome`, or fails
/// with `errc::overloaded` when `fail` is set.
struct fake_store_state {
  static inline const char* name = "fake-store";
  std::vector<stored_message> got;
};

store_actor::behavior_type
fake_store(store_actor::stateful_pointer<fake_store_state> self,
           submit_outcome outcome, bool fail) {
  return {
    [self, outcome, fail](submit_atom,
                          stored_message& msg) -> caf::result<submit_result> {
      self->state.got.push_back(msg);
      if (fail)
        return make_error(errc::overloaded, "full");
      return submit_result{outcome, msg.id};
    },
    [](flush_atom) {},
  };
}

/// A validator with a fresh key ring in front of a fake store.
struct validator_fixture : test::deterministic_fixture {
  std::string keys_path
    = (std::filesystem::temp_directory_path()
       / ("herald-validator-keys-" + std::to_string(::getpid())))
        .string();
  std::shared_ptr<persistence::live_key_ring> keys;

  validator_fixture() {
    std::filesystem::remove(keys_path);
    BOOST_REQUIRE(persistence::key_ring::rotate(keys_path));
    auto live = persistence::live_key_ring::load(keys_path);
    BOOST_REQUIRE_MESSAGE(live, test::why(live));
    keys = *live;
  }

  ~validator_fixture() {
    std::filesystem::remove(keys_path);
    std::filesystem::remove(keys_path + ".lock");
  }

  validator_actor make(store_actor store) {
    validator_config cfg;
    cfg.keys = keys;
    cfg.pepper = "pepper";
    cfg.store = store;
    return spawn(validator, std::move(cfg));
  }

  /// Asks `v` to take `req` of client 7; returns the answer.
  http_response submit(const validator_actor& v, http_request req) {
    std::optional<http_response> result;
    self->send(v, submit_atom::value, uint64_t{7}, std::move(req));
    run();
    self->receive([&](http_response& resp) { result = std::move(resp); },
                  caf::after(std::chrono::seconds{0}) >> [] {});
    BOOST_REQUIRE_MESSAGE(result, "the validator did not answer");
    return *result;
  }

  template <class Handle>
  fake_store_state& state_of(const Handle& h) {
    auto ptr = caf::actor_cast<caf::abstract_actor*>(h);
    return static_cast<store_actor::stateful_pointer<fake_store_state>>(ptr)
      ->state;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(validator_suite, validator_fixture)

BOOST_AUTO_TEST_CASE(a_valid_submission_reaches_the_store_sealed) {
  auto store = spawn(fake_store, submit_outcome::accepted, false);
  auto v = make(store);
  auto req = post(R"({"sender_number":"+4915112345678",)"
                  R"("message_body":"hello"})");
  req.headers.emplace_back("idempotency-key", "k-1");
  auto resp = submit(v, req);
  BOOST_TEST(resp.status == 202u);
  auto& got = state_of(store).got;
  BOOST_REQUIRE(got.size() == 1u);
  const auto& msg = got.front();
  BOOST_TEST(msg.client_id == 7u);
  BOOST_TEST(msg.idempotency_key == "k-1");
  BOOST_TEST(msg.sender_masked == "+49****78");
  BOOST_TEST(msg.sender_hash.size() == 32u);
  // Sealed: neither the number nor the body travels in the clear.
  BOOST_TEST(msg.ciphertext.find("hello") == std::string::npos);
  BOOST_TEST(msg.ciphertext.find("4915112345678") == std::string::npos);
  auto opened = persistence::open_payload(
    *keys->current(), {msg.key_id, msg.nonce, msg.ciphertext}, msg.id);
  BOOST_REQUIRE(opened);
  BOOST_TEST(opened->first == "+4915112345678");
  BOOST_TEST(opened->second == "hello");
  // The answer names the id the store kept.
  auto text = message_id::text_of(msg.id);
  BOOST_TEST(resp.body.find(text) != std::string::npos);
  auto location = std::find_if(resp.headers.begin(), resp.headers.end(),
                               [](const auto& h) {
                                 return h.first == "Location";
                               });
  BOOST_REQUIRE(location != resp.headers.end());
  BOOST_TEST(location->second == "/api/v1/messages/" + text);
}

BOOST_AUTO_TEST_CASE(an_invalid_submission_never_reaches_the_store) {
  auto store = spawn(fake_store, submit_outcome::accepted, false);
  auto v = make(store);
  BOOST_TEST(submit(v, post(R"({"sender_number":"123","message_body":""})"))
               .status
             == 422u);
  auto bad_key = post(R"({"sender_number":"+4915112345678",)"
                      R"("message_body":"x"})");
  bad_key.headers.emplace_back("idempotency-key", std::string(65, 'k'));
  BOOST_TEST(submit(v, bad_key).status == 400u);
  BOOST_TEST(state_of(store).got.empty());
}

BOOST_AUTO_TEST_CASE(store_outcomes_become_http_answers) {
  auto body = R"({"sender_number":"+4915112345678","message_body":"x"})";
  auto in_progress = make(spawn(fake_store, submit_outcome::in_progress,
                                false));
  auto resp = submit(in_progress, post(body));
  BOOST_TEST(resp.status == 409u);
  BOOST_TEST(type_of(resp) == "urn:herald:problem:idempotency-in-progress");
  auto reused = make(spawn(fake_store, submit_outcome::key_reused, false));
  BOOST_TEST(type_of(submit(reused, post(body)))
             == "urn:herald:problem:idempotency-key-reused");
  auto full = make(spawn(fake_store, submit_outcome::accepted, true));
  resp = submit(full, post(body));
  BOOST_TEST(resp.status == 503u);
  BOOST_TEST(resp.body.find("waiting to be stored") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
