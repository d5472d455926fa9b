// Fuzzes the receiver's parser of POST /internal/v1/deliver:
// parse_delivery, which checks the JSON body a delivering node sends
// (message_id, sender_number, message_body, created_at, attempt).
//
// Input: the request body, e.g.
//   {"message_id":"0190...","sender_number":"+4915112345678",
//    "message_body":"hi","created_at":"2026-01-31T12:34:56.789Z","attempt":1}

#include "test/fuzz/fuzz_check.hpp"
#include "actors/validator.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

using namespace herald;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  net::http_request req;
  req.method = "POST";
  req.target = "/internal/v1/deliver";
  req.headers.emplace_back("content-type", "application/json");
  req.body.assign(reinterpret_cast<const char*>(data), size);
  req.client_is_node = true;
  req.client_fingerprint = std::string(64, 'a');
  auto parsed = parse_delivery(req, 1600);
  if (auto resp = std::get_if<net::http_response>(&parsed)) {
    fuzz::check_response(*resp);
    fuzz::check(resp->status >= 400 && resp->status < 500,
                "parse_delivery rejected with a status that is no 4xx");
    return 0;
  }
  // What it accepts, the receiver seals and stores: every field valid.
  const auto& input = std::get<delivery_input>(parsed);
  fuzz::check(input.id.size() == 16, "accepted an id that is no UUID");
  fuzz::check(is_e164(input.sender_number),
              "accepted a sender number that is not E.164");
  fuzz::check(message_body_problem(input.message_body, 1600).empty(),
              "accepted an invalid message body");
  fuzz::check(fuzz::is_utf8(input.message_body),
              "accepted a message body that is not UTF-8");
  fuzz::check(input.created_ms >= 0 && input.attempt > 0,
              "accepted a time before 1970 or attempt 0");
  return 0;
}
