#include "core/message_id.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <vector>

using namespace herald;

BOOST_AUTO_TEST_SUITE(message_id_suite)

BOOST_AUTO_TEST_CASE(v7_ids_are_time_ordered_and_round_trip) {
  auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  std::vector<message_id> ids;
  for (int i = 0; i < 10000; ++i)
    ids.push_back(message_id::make_v7());
  for (size_t i = 1; i < ids.size(); ++i)
    BOOST_REQUIRE(ids[i - 1].bytes < ids[i].bytes);
  const auto& id = ids.front();
  BOOST_TEST((id.bytes[6] >> 4) == 7);      // version
  BOOST_TEST((id.bytes[8] >> 6) == 2);      // variant
  BOOST_TEST(id.unix_ms() >= before);
  BOOST_TEST(id.unix_ms() - before < 5000);
  auto text = id.to_string();
  BOOST_TEST(text.size() == 36u);
  auto parsed = message_id::parse(text);
  BOOST_REQUIRE(parsed);
  BOOST_TEST((*parsed == id));
  BOOST_TEST(!message_id::parse("not-a-uuid"));
  BOOST_TEST(!message_id::parse("0189Xa5d-ac96-774b-bcce-b302099a8057"));
}

BOOST_AUTO_TEST_CASE(the_raw_form_round_trips_and_other_lengths_are_refused) {
  auto id = message_id::make_v7();
  auto back = message_id::from_raw(id.raw());
  BOOST_REQUIRE(back);
  BOOST_TEST((*back == id));
  BOOST_TEST(message_id::text_of(id.raw()) == id.to_string());
  BOOST_TEST(!message_id::from_raw(id.raw() + "x"));
  BOOST_TEST(!message_id::from_raw(""));
  BOOST_TEST(message_id::text_of(std::string(17, 'a')).empty());
}

BOOST_AUTO_TEST_SUITE_END()
