#include "web/receiver_route.hpp"

#include "actors/validator.hpp"

#include "core/metrics.hpp"
#include "test/fixtures.hpp"
#include "net/router.hpp"

#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <vector>

using namespace herald;

namespace {

const std::string node_a(64, 'a');
const std::string node_b(64, 'b');
/// Registered as a node certificate, but revoked.
const std::string node_revoked(64, 'r');
/// A node certificate nobody registered.
const std::string node_unknown(64, 'u');
/// A client's certificate, in the registry as such.
const std::string client_c(64, 'c');

/// A delivery every field of which is valid.
const std::string valid_body
  = R"({"message_id":"01890a5d-ac96-774b-bcce-b302099a8057",)"
    R"("sender_number":"+4915112345678","message_body":"x",)"
    R"("created_at":"2026-01-31T12:34:56.789Z","attempt":1})";

/// A receiver route in an ingress, with a validator that has no receiver
/// behind it: the tests reach the answers given before a delivery would be
/// stored.
struct route_fixture : test::deterministic_fixture {
  metrics stats{"test"};
  net::client_registry registry;
  validator_actor validator = spawn(herald::validator, validator_config{});

  route_fixture() {
    persistence::client_map known;
    known[node_a] = {0, "", true, "server"};
    known[node_b] = {0, "", true, "server"};
    known[node_revoked] = {0, "", false, "server"};
    known[client_c] = {7, "acme", true, "client"};
    registry.replace(std::move(known));
  }

  /// POSTs `body` to the route from a caller with `fingerprint`; returns
  /// the answer.
  net::http_response deliver(std::vector<std::string> callers,
                             std::string fingerprint, bool is_node,
                             std::string body = "not json") {
    test::test_ingress in{*this};
    auto ctx = std::make_shared<web::receiver_context>();
    ctx->calls = in.calls;
    ctx->validators = {validator};
    ctx->callers = std::move(callers);
    ctx->registry = &registry;
    ctx->stats = &stats;
    web::add_receiver_route(*in.routes, std::move(ctx));
    net::http_request req;
    req.method = "POST";
    req.target = "/internal/v1/deliver";
    req.headers.emplace_back("content-type", "application/json");
    req.body = std::move(body);
    req.client_fingerprint = std::move(fingerprint);
    req.client_is_node = is_node;
    return in.exchange(std::move(req));
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
  auto resp = deliver({}, node_a, false, valid_body);
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

BOOST_AUTO_TEST_CASE(node_certificates_must_be_registered_and_active) {
  // Before, any serverAuth certificate of the CA could deliver: the
  // registry was never asked, so revoking a node certificate did not stop
  // it on a kept-alive connection.
  for (const auto& who : {node_revoked, node_unknown, client_c}) {
    auto resp = deliver({}, who, true, valid_body);
    BOOST_TEST(resp.status == 403u);
    BOOST_TEST(type_of(resp) == "urn:herald:problem:not-a-node");
  }
  BOOST_TEST(refused() == 3.0);
  // Also when a caller list names the revoked one.
  BOOST_TEST(deliver({node_revoked}, node_revoked, true).status == 403u);
}

BOOST_AUTO_TEST_CASE(empty_and_pre_1970_fields_get_422) {
  // Before, empty strings passed validation and reached an empty optional.
  auto resp = deliver({}, node_a, true,
                      R"({"message_id":"","sender_number":"",)"
                      R"("message_body":"x","created_at":"","attempt":1})");
  BOOST_TEST(resp.status == 422u);
  BOOST_TEST(type_of(resp) == "urn:herald:problem:invalid-delivery");
  for (auto field : {"message_id", "sender_number", "created_at"})
    BOOST_TEST(resp.body.find(std::string{"\"name\":\""} + field + "\"")
                 != std::string::npos,
               field << " is not named: " << resp.body);
  auto with = [](std::string from, std::string to) {
    auto body = valid_body;
    body.replace(body.find(from), from.size(), to);
    return body;
  };
  // Before, these made invalid SQL and failed a whole receiver batch.
  for (auto time : {"1969-12-31T23:59:59Z", "0000-01-01T00:00:00Z",
                    "2026-01-31T12:34:56.Z", "2026-01-31 12:34:56Z",
                    "2026-01-31T12:34:56+01:00"})
    BOOST_TEST(deliver({}, node_a, true,
                       with("2026-01-31T12:34:56.789Z", time))
                   .status
                 == 422u,
               time);
  BOOST_TEST(deliver({}, node_a, true, with(R"("x")", R"("")")).status
             == 422u);
  BOOST_TEST(deliver({}, node_a, true, with(R"("attempt":1)", R"("attempt":0)"))
               .status
             == 422u);
  BOOST_TEST(deliver({}, node_a, true,
                     with(R"("attempt":1)", R"("attempt":1,"extra":1)"))
               .status
             == 422u);
  BOOST_TEST(deliver({}, node_a, true, R"({"attempt":1})").status == 422u);
  BOOST_TEST(deliver({}, node_a, true, "[]").status == 400u);
  BOOST_TEST(deliver({}, node_a, true, with("x", R"(\udc00)")).status
             == 400u);
}

BOOST_AUTO_TEST_CASE(a_valid_delivery_parses_to_its_fields) {
  net::http_request req;
  req.body = valid_body;
  auto parsed = parse_delivery(req, 1600);
  BOOST_REQUIRE(std::holds_alternative<delivery_input>(parsed));
  const auto& input = std::get<delivery_input>(parsed);
  BOOST_TEST(input.id.size() == 16u);
  BOOST_TEST(input.sender_number == "+4915112345678");
  BOOST_TEST(input.message_body == "x");
  BOOST_TEST(input.created_ms == 1769862896789);
  BOOST_TEST(input.attempt == 1u);
}

BOOST_AUTO_TEST_CASE(any_node_may_deliver_without_a_caller_list) {
  // 400: past the caller check, the validator parses the body.
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
