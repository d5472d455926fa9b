#include "net/problem.hpp"

#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

using namespace herald;

BOOST_AUTO_TEST_SUITE(problem_suite)

BOOST_AUTO_TEST_CASE(problems_follow_rfc_9457) {
  auto resp = net::problem(422, "invalid-message", "Invalid message",
                           "Fix the fields \"below\".",
                           {{"sender_number", "not E.164"}});
  BOOST_TEST(resp.status == 422u);
  BOOST_TEST(resp.content_type == "application/problem+json");
  rapidjson::Document doc;
  doc.Parse(resp.body.c_str());
  BOOST_REQUIRE(!doc.HasParseError());
  BOOST_TEST(doc["type"].GetString()
             == std::string{"urn:herald:problem:invalid-message"});
  BOOST_TEST(doc["title"].GetString() == std::string{"Invalid message"});
  BOOST_TEST(doc["status"].GetInt() == 422);
  BOOST_TEST(doc["detail"].GetString()
             == std::string{"Fix the fields \"below\"."});
  BOOST_REQUIRE(doc["invalid_params"].IsArray());
  BOOST_TEST(doc["invalid_params"][0]["name"].GetString()
             == std::string{"sender_number"});
}

BOOST_AUTO_TEST_CASE(invalid_params_are_omitted_when_empty) {
  auto resp = net::problem(404, "not-found", "Not found", "nothing here");
  rapidjson::Document doc;
  doc.Parse(resp.body.c_str());
  BOOST_TEST(!doc.HasMember("invalid_params"));
}

BOOST_AUTO_TEST_SUITE_END()
