#include "persistence/message_stats.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald;

BOOST_AUTO_TEST_SUITE(message_stats_suite)

BOOST_AUTO_TEST_CASE(counts_land_in_their_minute_and_gaps_are_zero) {
  auto buckets = persistence::bucket_per_minute({{0, 3}, {59, 1}, {7, 2}}, 60);
  BOOST_REQUIRE(buckets.size() == 60u);
  BOOST_TEST(buckets[0] == 3);
  BOOST_TEST(buckets[7] == 2);
  BOOST_TEST(buckets[59] == 1);
  BOOST_TEST(buckets[1] == 0);
  BOOST_TEST(buckets[58] == 0);
}

BOOST_AUTO_TEST_CASE(minutes_outside_the_window_are_dropped) {
  // A clock that moved between the bound and the query: -1 and 60.
  auto buckets = persistence::bucket_per_minute({{-1, 5}, {60, 4}, {3, 1}}, 60);
  int64_t total = 0;
  for (auto n : buckets)
    total += n;
  BOOST_TEST(total == 1);
  BOOST_TEST(buckets[3] == 1);
  BOOST_TEST(persistence::bucket_per_minute({{0, 1}}, 0).empty());
}

BOOST_AUTO_TEST_CASE(a_minute_given_twice_adds_up) {
  auto buckets = persistence::bucket_per_minute({{4, 1}, {4, 2}}, 5);
  BOOST_TEST(buckets[4] == 3);
}

BOOST_AUTO_TEST_SUITE_END()
