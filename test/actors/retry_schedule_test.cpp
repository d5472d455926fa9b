// The Redis side of the retry-timer and the queue's push, against the
// throwaway Redis of ops/test. Redis database 9 keeps the schedule tests
// apart from the other suites (database 0) that run at the same time.

#include "actors/queue.hpp"
#include "core/message_id.hpp"
#include "persistence/message_queue.hpp"
#include "test/fixtures.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>
#include <set>
#include <thread>

using namespace herald;
using namespace herald::persistence;

namespace {

redis_connection private_db() {
  auto redis = redis_connection::connect(test::test_redis());
  BOOST_REQUIRE_MESSAGE(redis, test::why(redis));
  BOOST_REQUIRE(redis->command({"SELECT", "9"}));
  return std::move(*redis);
}

struct pushed_state {
  static inline const char* name = "pushed";
};

delivery_actor::behavior_type
pushed(delivery_actor::stateful_pointer<pushed_state>,
       std::shared_ptr<std::vector<std::string>> got) {
  return {
    [got](work& x) -> uint64_t {
      got->insert(got->end(), x.ids.begin(), x.ids.end());
      return 0;
    },
    [](tick_atom) {
      // nop
    },
    [](poll_atom, uint64_t) {
      // nop
    },
  };
}

} // namespace

BOOST_AUTO_TEST_SUITE(retry_schedule_suite)

// Nodes promote from one schedule at once: the Lua step moves each id
// exactly once.
BOOST_AUTO_TEST_CASE(concurrent_promotions_move_each_id_once) {
  auto setup = private_db();
  BOOST_REQUIRE(setup.command({"FLUSHDB"}));
  const int n = 3000;
  std::vector<std::string> zadd{"ZADD", queue_keys::retry};
  for (int i = 0; i < n; ++i) {
    zadd.push_back(std::to_string(1000 + i));
    zadd.push_back("id-" + std::to_string(i));
  }
  BOOST_REQUIRE(setup.command(zadd));
  std::vector<std::string> moved[3];
  std::vector<std::thread> nodes;
  for (auto& out : moved)
    nodes.emplace_back([&out] {
      auto redis = private_db();
      for (;;) {
        auto ids = promote_due_ids(redis, 1'000'000, 100);
        if (!ids || ids->empty())
          return;
        out.insert(out.end(), ids->begin(), ids->end());
      }
    });
  for (auto& t : nodes)
    t.join();
  std::multiset<std::string> all;
  for (auto& xs : moved)
    all.insert(xs.begin(), xs.end());
  BOOST_TEST(all.size() == static_cast<size_t>(n));
  BOOST_TEST(std::set<std::string>(all.begin(), all.end()).size()
             == static_cast<size_t>(n));
  auto len = setup.command({"LLEN", queue_keys::pending});
  BOOST_REQUIRE(len);
  BOOST_TEST(len->integer == n);
  auto left = retry_count(setup);
  BOOST_REQUIRE(left);
  BOOST_TEST(*left == 0);
  BOOST_REQUIRE(setup.command({"FLUSHDB"}));
}

BOOST_AUTO_TEST_CASE(promotion_takes_only_what_is_due) {
  auto redis = private_db();
  BOOST_REQUIRE(redis.command({"FLUSHDB"}));
  BOOST_REQUIRE(redis.command(
    {"ZADD", queue_keys::retry, "100", "a", "200", "b", "300", "c"}));
  auto ids = promote_due_ids(redis, 200, 1000);
  BOOST_REQUIRE(ids);
  BOOST_TEST((*ids == std::vector<std::string>{"a", "b"}));
  auto left = retry_count(redis);
  BOOST_REQUIRE(left);
  BOOST_TEST(*left == 1);
  BOOST_REQUIRE(redis.command({"FLUSHDB"}));
}

// The retry-timer pages due times in: distinct, ascending, and a page cut
// at its limit says where to read on.
BOOST_AUTO_TEST_CASE(pages_list_distinct_due_times) {
  auto redis = private_db();
  BOOST_REQUIRE(redis.command({"FLUSHDB"}));
  BOOST_REQUIRE(redis.command({"ZADD", queue_keys::retry, "1767225630000",
                               "a", "1767225630000", "b", "1767225630500",
                               "c", "1767225690000", "d", "1767225999000",
                               "e"}));
  auto all = retry_due_times(redis, 0, 1767225700000, 100);
  BOOST_REQUIRE(all);
  BOOST_TEST((all->due_ms
              == std::vector<int64_t>{1767225630000, 1767225630500,
                                      1767225690000}));
  BOOST_TEST(all->complete);
  BOOST_TEST(all->scanned_to_ms == 1767225700000);
  auto cut = retry_due_times(redis, 0, 1767225700000, 3);
  BOOST_REQUIRE(cut);
  BOOST_TEST((cut->due_ms
              == std::vector<int64_t>{1767225630000, 1767225630500}));
  BOOST_TEST(!cut->complete);
  BOOST_TEST(cut->scanned_to_ms == 1767225630500);
  auto rest = retry_due_times(redis, cut->scanned_to_ms, 1767225700000, 3);
  BOOST_REQUIRE(rest);
  BOOST_TEST((rest->due_ms == std::vector<int64_t>{1767225690000}));
  BOOST_TEST(rest->complete);
  BOOST_REQUIRE(redis.command({"FLUSHDB"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(work_queue_suite, test::deterministic_fixture)

// The queue pushes ids as work once the store reports their batch
// committed (the writers put them in Redis first).
BOOST_AUTO_TEST_CASE(committed_ids_reach_the_delivery_actors_as_work) {
  auto got = std::make_shared<std::vector<std::string>>();
  auto queue = spawn(work_queue);
  self->send(queue, caf::join_atom::value, spawn(pushed, got));
  run();
  std::vector<std::string> ids{message_id::text_of(message_id::make_v7().raw()),
                               message_id::text_of(
                                 message_id::make_v7().raw())};
  BOOST_TEST(got->empty());
  self->send(queue, commit_atom::value, ids);
  run();
  BOOST_TEST((*got == ids));
}

BOOST_AUTO_TEST_SUITE_END()
