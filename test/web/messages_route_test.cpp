#include "web/messages_route.hpp"

#include <boost/test/unit_test.hpp>

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
  auto result = web::parse_submission(req, 1600);
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
  auto result = web::parse_submission(
    post(R"({"sender_number":"+4915112345678","message_body":"Hi ☃"})",
         "application/json; charset=UTF-8"),
    1600);
  auto input = std::get_if<web::submission_input>(&result);
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
  auto result = web::parse_submission(pair, 1600);
  auto input = std::get_if<web::submission_input>(&result);
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
  BOOST_TEST(std::holds_alternative<web::submission_input>(
    web::parse_submission(ok, 1600)));
  auto too_long = post(R"({"sender_number":"+4915112345678","message_body":")"
                       + repeat("a", 1601) + "\"}");
  auto resp = rejected(too_long);
  BOOST_TEST(resp.status == 422u);
  BOOST_TEST(resp.body.find("at most 1600 characters, has 1601")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(e164_numbers_are_checked_exactly) {
  BOOST_TEST(web::is_e164("+4915112345678"));
  BOOST_TEST(web::is_e164("+12345678"));        // 8 digits
  BOOST_TEST(web::is_e164("+123456789012345")); // 15 digits
  BOOST_TEST(!web::is_e164("+1234567"));        // 7 digits
  BOOST_TEST(!web::is_e164("+1234567890123456"));
  BOOST_TEST(!web::is_e164("+0123456789"));
  BOOST_TEST(!web::is_e164("4915112345678"));
  BOOST_TEST(!web::is_e164("+49 151 1234567"));
  BOOST_TEST(!web::is_e164("+49151-1234567"));
  BOOST_TEST(!web::is_e164(""));
}

BOOST_AUTO_TEST_CASE(idempotency_keys_are_visible_ascii_up_to_64) {
  BOOST_TEST(web::is_valid_idempotency_key("a"));
  BOOST_TEST(web::is_valid_idempotency_key(repeat("k", 64)));
  BOOST_TEST(!web::is_valid_idempotency_key(""));
  BOOST_TEST(!web::is_valid_idempotency_key(repeat("k", 65)));
  BOOST_TEST(!web::is_valid_idempotency_key("has space"));
  BOOST_TEST(!web::is_valid_idempotency_key("tab\t"));
  BOOST_TEST(!web::is_valid_idempotency_key("caf\xc3\xa9"));
}

BOOST_AUTO_TEST_SUITE_END()
