#include "core/messages.hpp"

#include "test/fixtures.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <boost/test/unit_test.hpp>

using namespace herald;
using namespace std::chrono_literals;

namespace {

/// Serializes `x` and reads it back, as a message crossing nodes would be.
template <class T>
T round_trip(caf::actor_system& sys, T x) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  BOOST_REQUIRE(!sink(x));
  T result;
  caf::binary_deserializer source{sys, buf};
  BOOST_REQUIRE(!source(result));
  return result;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(messages_suite, test::threaded_fixture)

BOOST_AUTO_TEST_CASE(dependency_status_round_trips) {
  dependency_status x{"redis", false, "connection refused", 1500us};
  auto y = round_trip(sys, x);
  BOOST_TEST(y.name == x.name);
  BOOST_TEST(y.up == x.up);
  BOOST_TEST(y.error == x.error);
  BOOST_TEST(y.latency.count() == x.latency.count());
}

BOOST_AUTO_TEST_CASE(health_report_round_trips) {
  health_report x;
  x.dependencies.push_back({"mysql", true, "", 1ms});
  x.dependencies.push_back({"redis", false, "down", 2ms});
  x.checked_at = caf::make_timestamp();
  auto y = round_trip(sys, x);
  BOOST_REQUIRE(y.dependencies.size() == 2u);
  BOOST_TEST(y.dependencies[1].error == "down");
  BOOST_TEST(y.checked_at.time_since_epoch().count()
             == x.checked_at.time_since_epoch().count());
  BOOST_TEST(!y.healthy());
}

BOOST_AUTO_TEST_CASE(message_types_are_registered_by_name) {
  BOOST_TEST(sys.types().portable_name(
               caf::make_rtti_pair<health_report>())
             == "herald.health_report");
  BOOST_TEST(sys.types().portable_name(
               caf::make_rtti_pair<std::vector<received_message>>())
             == "std::vector<herald.received_message>");
  BOOST_TEST(sys.types().portable_name(
               caf::make_rtti_pair<std::vector<bool>>())
             == "std::vector<bool>");
}

BOOST_AUTO_TEST_CASE(a_batch_of_received_messages_round_trips) {
  received_message x;
  x.id = std::string(15, '\0') + '\x07';
  x.sender_hash = std::string(32, 'h');
  x.sender_masked = "+49****78";
  x.key_id = 3;
  x.nonce = std::string(12, 'n');
  x.ciphertext = "sealed";
  x.created_ms = 1767225600123;
  x.attempt = 2;
  auto y = round_trip(sys, std::vector<received_message>{x, x});
  BOOST_REQUIRE(y.size() == 2u);
  BOOST_TEST(y[1].id == x.id);
  BOOST_TEST(y[1].sender_hash == x.sender_hash);
  BOOST_TEST(y[1].sender_masked == x.sender_masked);
  BOOST_TEST(y[1].key_id == x.key_id);
  BOOST_TEST(y[1].nonce == x.nonce);
  BOOST_TEST(y[1].ciphertext == x.ciphertext);
  BOOST_TEST(y[1].created_ms == x.created_ms);
  BOOST_TEST(y[1].attempt == x.attempt);
}

BOOST_AUTO_TEST_CASE(receiver_store_flags_round_trip) {
  std::vector<bool> x{true, false, false, true, true, false, true, false,
                      true};
  BOOST_TEST((round_trip(sys, x) == x));
}

BOOST_AUTO_TEST_CASE(work_round_trips) {
  work x{{"0190f5c2-7a1e-7c3d-9b2a-4f1e2d3c4b5a", "second"}};
  auto y = round_trip(sys, x);
  BOOST_TEST((y.ids == x.ids));
  BOOST_TEST(round_trip(sys, work{}).ids.empty());
}

BOOST_AUTO_TEST_CASE(schedule_retry_round_trips) {
  schedule_retry x{{"a", "b", "c"}, 1767225630123};
  auto y = round_trip(sys, x);
  BOOST_TEST((y.ids == x.ids));
  BOOST_TEST(y.due_ms == x.due_ms);
}

BOOST_AUTO_TEST_CASE(retry_page_round_trips) {
  retry_page x{{1767225630000, 1767225630500, 1767225691000},
               1767225691000,
               false};
  auto y = round_trip(sys, x);
  BOOST_TEST((y.due_ms == x.due_ms));
  BOOST_TEST(y.scanned_to_ms == x.scanned_to_ms);
  BOOST_TEST(y.complete == x.complete);
}

BOOST_AUTO_TEST_CASE(delivery_message_types_are_registered_by_name) {
  BOOST_TEST(sys.types().portable_name(caf::make_rtti_pair<work>())
             == "herald.work");
  BOOST_TEST(sys.types().portable_name(caf::make_rtti_pair<schedule_retry>())
             == "herald.schedule_retry");
  BOOST_TEST(sys.types().portable_name(caf::make_rtti_pair<retry_page>())
             == "herald.retry_page");
}

BOOST_AUTO_TEST_SUITE_END()
