#include "net/router.hpp"

#include "core/metrics.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

using namespace herald;

namespace {

/// Dispatches synchronously-answering routes and returns the response.
net::http_response call(const net::router& r, std::string method,
                        std::string target) {
  net::http_request req;
  req.method = std::move(method);
  req.target = std::move(target);
  return test::dispatch(r, std::move(req));
}

rapidjson::Document json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  BOOST_REQUIRE(!doc.HasParseError());
  return doc;
}

} // namespace

BOOST_AUTO_TEST_SUITE(router_suite)

BOOST_AUTO_TEST_CASE(placeholders_capture_segments) {
  net::router r{nullptr};
  r.add("GET", "/api/v1/messages/{id}",
        [](const net::http_request&, const net::route_params& params,
           net::responder respond) {
          respond({200, "text/plain", params.at("id"), {}});
        });
  auto resp = call(r, "GET", "/api/v1/messages/abc?x=1");
  BOOST_TEST(resp.status == 200u);
  BOOST_TEST(resp.body == "abc");
  BOOST_TEST(call(r, "GET", "/api/v1/messages").status == 404u);
  BOOST_TEST(call(r, "GET", "/api/v1/messages/abc/extra").status == 404u);
}

BOOST_AUTO_TEST_CASE(unknown_paths_and_methods_get_problem_json) {
  net::router r{nullptr};
  auto ok = [](const net::http_request&, const net::route_params&,
               net::responder respond) { respond({}); };
  r.add("GET", "/api/v1/health", ok);
  r.add("HEAD", "/api/v1/health", ok);
  auto missing = call(r, "GET", "/nope");
  BOOST_TEST(missing.status == 404u);
  BOOST_TEST(missing.content_type == "application/problem+json");
  auto doc = json(missing.body);
  BOOST_TEST(doc["type"].GetString() == std::string{"urn:herald:problem:not-found"});
  BOOST_TEST(doc["status"].GetInt() == 404);
  auto wrong = call(r, "DELETE", "/api/v1/health");
  BOOST_TEST(wrong.status == 405u);
  BOOST_REQUIRE(wrong.headers.size() == 1u);
  BOOST_TEST(wrong.headers[0].first == "Allow");
  BOOST_TEST(wrong.headers[0].second == "GET, HEAD");
}

BOOST_AUTO_TEST_CASE(answers_are_counted_by_route_and_code) {
  metrics m{"test"};
  net::router r{&m};
  r.add("GET", "/a", [](const net::http_request&, const net::route_params&,
                        net::responder respond) { respond({201, "", "", {}}); });
  call(r, "GET", "/a");
  call(r, "GET", "/a");
  call(r, "GET", "/b");
  auto& ok = m.http_requests.Add({{"route", "GET /a"}, {"code", "201"}});
  auto& missing = m.http_requests.Add({{"route", "unmatched"}, {"code", "404"}});
  BOOST_TEST(ok.Value() == 2.0);
  BOOST_TEST(missing.Value() == 1.0);
  BOOST_TEST(r.routes() == std::vector<std::string>{"GET /a"});
}

BOOST_AUTO_TEST_CASE(error_answers_stay_valid_json_whatever_the_path) {
  net::router r{nullptr};
  r.add("GET", "/a", [](const net::http_request&, const net::route_params&,
                        net::responder respond) { respond({200, "", "", {}}); });
  // Found by the HTTP fuzz target: the raw path went into the JSON answer,
  // invalid UTF-8 and control characters included.
  auto missing = call(r, "GET", "/x\xff\xfe\n\"y");
  BOOST_TEST(missing.status == 404u);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(missing.body.c_str());
  BOOST_REQUIRE(!doc.HasParseError());
  BOOST_TEST(doc["detail"].GetString()
             == std::string{"There is no resource at /x%FF%FE%0A\"y."});
  auto wrong = call(r, "P\xc3\x28T", "/a");
  BOOST_TEST(wrong.status == 405u);
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(wrong.body.c_str());
  BOOST_TEST(!doc.HasParseError());
}

BOOST_AUTO_TEST_CASE(the_gate_runs_before_every_route) {
  metrics m{"test"};
  net::router r{&m};
  int handled = 0;
  r.add("GET", "/a", [&handled](const net::http_request&,
                                const net::route_params&,
                                net::responder respond) {
    ++handled;
    respond({200, "", "", {}});
  });
  r.set_gate([](const net::http_request& req) -> std::optional<net::http_response> {
    if (req.client_fingerprint == "good")
      return std::nullopt;
    return net::http_response{403, "application/problem+json", "{}", {}};
  });
  net::http_request req;
  req.method = "GET";
  req.target = "/a";
  req.client_fingerprint = "bad";
  BOOST_TEST(test::dispatch(r, req).status == 403u);
  // Unknown paths too: nothing answers an unknown certificate but the gate.
  req.target = "/nowhere";
  BOOST_TEST(test::dispatch(r, req).status == 403u);
  BOOST_TEST(handled == 0);
  req.target = "/a";
  req.client_fingerprint = "good";
  BOOST_TEST(test::dispatch(r, req).status == 200u);
  BOOST_TEST(handled == 1);
  BOOST_TEST(m.http_requests.Add({{"route", "gate"}, {"code", "403"}}).Value()
             == 2.0);
}

BOOST_AUTO_TEST_SUITE_END()
