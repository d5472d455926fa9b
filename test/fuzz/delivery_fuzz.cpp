// Fuzzes the receiver's parser of POST /internal/v1/deliver:
// web::parse_delivery, which checks the JSON body a delivering node sends
// (message_id, sender_number, message_body, created_at, attempt).
//
// Input: the request body, e.g.
//   {"message_id":"0190...","sender_number":"+4915112345678",
//    "message_body":"hi","created_at":"2026-01-31T12:34:56.789Z","attempt":1}
//
// Built only when web/receiver_route.hpp declares parse_delivery (see
// test/fuzz/CMakeLists.txt).

#include "test/fuzz/fuzz_check.hpp"
#include "web/receiver_route.hpp"

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
  auto parsed = web::parse_delivery(req);
  if (auto resp = std::get_if<net::http_response>(&parsed)) {
    fuzz::check_response(*resp);
    fuzz::check(resp->status >= 400 && resp->status < 500,
                "parse_delivery rejected with a status that is no 4xx");
  }
  return 0;
}
