// Fuzzes the submission parser and validator of POST /api/v1/messages:
// parse_submission, is_e164 and is_valid_idempotency_key.
//
// Input: the Content-Type value, a newline, then the request body, e.g.
//   application/json
//   {"sender_number":"+4915112345678","message_body":"hi"}

#include "test/fuzz/fuzz_check.hpp"
#include "actors/validator.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace herald;

namespace {

size_t code_points(std::string_view utf8) {
  size_t result = 0;
  for (auto c : utf8)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80)
      ++result;
  return result;
}

void parse(const net::http_request& req, size_t max_chars) {
  auto parsed = parse_submission(req, max_chars);
  if (auto resp = std::get_if<net::http_response>(&parsed)) {
    fuzz::check_response(*resp);
    fuzz::check(resp->status == 400 || resp->status == 415
                  || resp->status == 422,
                "parse_submission answered neither 400, 415 nor 422");
    // Member names come from a body that passed UTF-8 validation.
    fuzz::check(fuzz::is_json(resp->body, true),
                "a submission problem is not valid UTF-8 JSON");
    return;
  }
  auto& input = std::get<submission_input>(parsed);
  fuzz::check(is_e164(input.sender_number),
              "accepted a sender number that is not E.164");
  auto chars = code_points(input.message_body);
  fuzz::check(chars > 0 && chars <= max_chars,
              "accepted a message body of the wrong length");
  // Delivery writes the body into JSON that the receiver validates.
  fuzz::check(fuzz::is_utf8(input.message_body),
              "accepted a message body that is not UTF-8");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  auto newline = text.find('\n');
  net::http_request req;
  req.method = "POST";
  req.target = "/api/v1/messages";
  if (newline != std::string_view::npos) {
    req.headers.emplace_back("content-type",
                             std::string{text.substr(0, newline)});
    req.body = std::string{text.substr(newline + 1)};
  } else {
    req.body = std::string{text};
  }
  parse(req, 1600);
  parse(req, 4);
  // The same bytes as a sender number and as an Idempotency-Key.
  if (is_e164(text)) {
    fuzz::check(text.size() >= 9 && text.size() <= 16 && text[0] == '+',
                "is_e164 accepted a wrong length or prefix");
  }
  if (is_valid_idempotency_key(text)) {
    fuzz::check(!text.empty() && text.size() <= 64,
                "is_valid_idempotency_key accepted a wrong length");
  }
  return 0;
}
