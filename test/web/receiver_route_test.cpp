#include "web/receiver_route.hpp"

#include "core/metrics.hpp"
#include "test/fixtures.hpp"
#include "web/router.hpp"

#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <vector>

using namespace herald;

namespace {

const std::string node_a(64, 'a');
const std::string node_b(64, 'b');

/// A receiver route without an actor system: the tests only reach the
/// answers given before a delivery is handed to the receiver actor.
struct route_fixture {
  metrics stats{"test"};

  /// POSTs `body` to the route from a caller with `fingerprint`; returns
  /// the synchronous answer.
  net::http_response deliver(std::vector<std::string> callers,
                             std::string fingerprint, bool is_node,
                             std::string body = "not json") {
    auto ctx = std::make_shared<web::receiver_context>();
    ctx->callers = std::move(callers);
    ctx->stats = &stats;
    web::router r{nullptr};
    web::add_receiver_route(r, std::move(ctx));
    net::http_request req;
    req.method = "POST";
    req.target = "/internal/v1/deliver";
    req.headers.emplace_back("content-type", "application/json");
    req.body = std::move(body);
    req.client_fingerprint = std::move(fingerprint);
    req.client_is_node = is_node;
    return test::dispatch(r, std::move(req));
  }

  double refused() {
    return stats.received.Add({{"result", "forbidden"}}).Value();
  }
};

std::string type_of(const net::http_response& resp) {
  rapidjson::Document doc;
  doc.Parse(resp.body.c_str());
  BOOST_REQUIRE(!doc.HasParseError() && doc.HasMember("type"));
  return doc["type"].GetString();
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(receiver_route_suite, route_fixture)

BOOST_AUTO_TEST_CASE(client_certificates_are_refused_before_the_body) {
  // A valid-looking body changes nothing: the caller is checked first.
  auto body = R"({"message_id":"01890a5d-ac96-774b-bcce-b302099a8057",)"
              R"("sender_number":"+4915112345678","message_body":"x",)"
              R"("created_at":"2026-01-31T12:34:56.789Z","attempt":1})";
  auto resp = deliver({}, node_a, false, body);
  BOOST_TEST(resp.status == 403u);
  BOOST_TEST(resp.content_type == "application/problem+json");
  BOOST_TEST(type_of(resp) == "urn:herald:problem:not-a-node");
  BOOST_TEST(resp.body.find("heraldctl cert server") != std::string::npos);
  // Not even a listed fingerprint makes a client certificate a node.
  BOOST_TEST(type_of(deliver({node_a}, node_a, false))
             == "urn:herald:problem:not-a-node");
  // Nor does a missing certificate (plain HTTP).
  BOOST_TEST(deliver({}, "", false).status == 403u);
  BOOST_TEST(refused() == 3.0);
}

BOOST_AUTO_TEST_CASE(any_node_may_deliver_without_a_caller_list) {
  // 400: past the caller check, the body is parsed.
  auto resp = deliver({}, node_b, true);
  BOOST_TEST(resp.status == 400u);
  BOOST_TEST(type_of(resp) == "urn:herald:problem:malformed-json");
  BOOST_TEST(refused() == 0.0);
}

BOOST_AUTO_TEST_CASE(a_caller_list_admits_only_its_nodes) {
  auto resp = deliver({node_a}, node_b, true);
  BOOST_TEST(resp.status == 403u);
  BOOST_TEST(type_of(resp) == "urn:herald:problem:caller-not-allowed");
  BOOST_TEST(resp.body.find("receiver.callers") != std::string::npos);
  BOOST_TEST(deliver({node_b, node_a}, node_a, true).status == 400u);
  BOOST_TEST(refused() == 1.0);
}

BOOST_AUTO_TEST_SUITE_END()
