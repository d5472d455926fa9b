// Fuzzes the HTTP request path: raw bytes through Boost.Beast's request
// parser with the limits the HTTPS server uses (net/http_server.cpp), the
// conversion to net::http_request, then net::router::dispatch over a router
// with literal, placeholder and multi-method routes and the real submission
// parser behind POST /api/v1/messages. Checks that the responder is called
// exactly once and that every answer is well-formed.
//
// Input: an HTTP/1.1 request as sent on the wire, e.g.
//   GET /api/v1/messages/abc HTTP/1.1\r\nHost: x\r\n\r\n
// An input starting with a 0 byte instead builds the net::http_request
// field by field (method, target, headers, body), so values that Beast
// would refuse reach the router too.

#include "config/settings.hpp"
#include "core/metrics.hpp"
#include "test/fuzz/fuzz_check.hpp"
#include "actors/validator.hpp"
#include "net/router.hpp"

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <fuzzer/FuzzedDataProvider.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

using namespace herald;
namespace http = boost::beast::http;

namespace {

net::route_handler answer(unsigned status) {
  return [status](const net::http_request&, const net::route_params&,
                  net::responder respond) { respond({status, "text/plain", "", {}}); };
}

const net::router& the_router() {
  static metrics stats{"fuzz"};
  static auto r = [] {
    auto result = std::make_unique<net::router>(&stats);
    result->add("GET", "/api/v1/health", answer(200));
    result->add("HEAD", "/api/v1/health", answer(200));
    result->add("POST", "/api/v1/messages",
                [](const net::http_request& req, const net::route_params&,
                   net::responder respond) {
                  auto parsed = parse_submission(req, 1600);
                  if (auto resp = std::get_if<net::http_response>(&parsed))
                    return respond(std::move(*resp));
                  respond({202, "application/json", "{}", {}});
                });
    result->add("GET", "/api/v1/messages/{id}",
                [](const net::http_request&, const net::route_params& params,
                   net::responder respond) {
                  fuzz::check(params.size() == 1 && params.count("id") == 1,
                              "placeholder route without its parameter");
                  fuzz::check(params.at("id").find('/') == std::string::npos,
                              "a placeholder captured a slash");
                  respond({200, "text/plain", params.at("id"), {}});
                });
    result->add("POST", "/internal/v1/deliver", answer(200));
    result->add("DELETE", "/api/v1/things/{a}/parts/{b}", answer(204));
    return result;
  }();
  return *r;
}

void dispatch(net::http_request req) {
  int calls = 0;
  net::http_response last;
  the_router().dispatch(std::move(req), [&](net::http_response resp) {
    ++calls;
    last = std::move(resp);
  });
  fuzz::check(calls == 1, "the responder was not called exactly once");
  fuzz::check_response(last);
  if (last.status == 405) {
    bool has_allow = false;
    for (const auto& [name, value] : last.headers)
      has_allow |= name == "Allow" && !value.empty();
    fuzz::check(has_allow, "405 without an Allow header");
  }
}

/// Raw bytes, as http_server.cpp reads and converts them.
void from_wire(const uint8_t* data, size_t size) {
  static const config::ingress_config limits{};
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  parser.eager(true);
  boost::beast::error_code ec;
  auto used = parser.put(boost::asio::buffer(data, size), ec);
  fuzz::check(used <= size, "the parser used more bytes than it got");
  if (!ec && !parser.is_done())
    parser.put_eof(ec);
  if (ec || !parser.is_done())
    return; // the server answers 400, 413 or 431 and closes
  auto msg = parser.release();
  net::http_request req;
  req.method = std::string{msg.method_string()};
  req.target = std::string{msg.target()};
  for (const auto& field : msg) {
    std::string name{field.name_string()};
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), std::string{field.value()});
  }
  req.body = std::move(msg.body());
  fuzz::check(req.body.size() <= limits.max_body_bytes,
              "a body above the limit got through");
  dispatch(std::move(req));
}

/// Any method, target, headers and body, field by field.
void structured(const uint8_t* data, size_t size) {
  FuzzedDataProvider in{data, size};
  net::http_request req;
  req.method = in.ConsumeRandomLengthString(16);
  req.target = in.ConsumeRandomLengthString(256);
  auto count = in.ConsumeIntegralInRange<int>(0, 8);
  for (int i = 0; i < count; ++i) {
    auto name = in.ConsumeRandomLengthString(32);
    req.headers.emplace_back(std::move(name), in.ConsumeRandomLengthString(64));
  }
  req.client_is_node = in.ConsumeBool();
  req.body = in.ConsumeRemainingBytesAsString();
  dispatch(std::move(req));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 0 && data[0] == 0)
    structured(data + 1, size - 1);
  else
    from_wire(data, size);
  return 0;
}
