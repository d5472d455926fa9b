#include "core/actor_stats.hpp"

#include "actors/detail/instrument.hpp"
#include "core/errc.hpp"
#include "test/fixtures.hpp"

#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>

using namespace herald;
using namespace std::chrono_literals;

namespace {

using counter_actor = caf::typed_actor<
  caf::replies_to<caf::get_atom, int32_t>::with<int32_t>,
  caf::replies_to<caf::put_atom>::with<int32_t>,
  caf::reacts_to<caf::ok_atom>>;

struct counter_state {
  static inline const char* name = "counter";
  int32_t sum = 0;
};

/// An actor of three handlers, instrumented like the graph's.
counter_actor::behavior_type
counter(counter_actor::stateful_pointer<counter_state> self) {
  return instrumented(self,
    [self](caf::get_atom, int32_t x) { return self->state.sum += x; },
    [](caf::put_atom) -> caf::result<int32_t> {
      return make_error(errc::invalid_input, "no puts here");
    },
    [](caf::ok_atom) {
      // nop
    });
}

std::optional<actor_entry> entry_of(uint64_t id) {
  for (auto& x : actor_catalog::process().entries())
    if (x.id == id)
      return x;
  return std::nullopt;
}

} // namespace

BOOST_AUTO_TEST_SUITE(actor_stats_suite)

BOOST_AUTO_TEST_CASE(processing_times_fall_in_power_of_two_buckets) {
  BOOST_TEST(actor_stats::bucket_of(0ns) == 0u);
  BOOST_TEST(actor_stats::bucket_of(999ns) == 0u);
  BOOST_TEST(actor_stats::bucket_of(1us) == 1u);
  BOOST_TEST(actor_stats::bucket_of(3us) == 2u);
  BOOST_TEST(actor_stats::bucket_of(1ms) == 10u);
  BOOST_TEST(actor_stats::bucket_of(1h) == actor_stats::buckets - 1);
}

BOOST_AUTO_TEST_CASE(p99_is_the_bound_below_which_99_percent_fall) {
  actor_stats stats;
  for (int i = 0; i < 99; ++i)
    stats.handled(5us, 1);
  stats.handled(3ms, 4);
  auto x = stats.read();
  BOOST_TEST(x.handled == 100u);
  BOOST_TEST(x.p99_ns == actor_stats::bucket_bound_ns(3)); // below 8 µs
  BOOST_TEST(x.mailbox == 4u);
  BOOST_TEST(x.mailbox_max == 4u);
  BOOST_TEST(x.total_ns == 99u * 5000 + 3'000'000);
  stats.handled(5us, 0);
  BOOST_TEST(stats.read().mailbox_max == 4u);
}

BOOST_AUTO_TEST_CASE(the_catalog_names_actors_and_counts_restarts) {
  actor_catalog catalog;
  catalog.enroll(10, "delivery", 1);
  catalog.enroll(11, "delivery", 2);
  catalog.failed(11, "timeout", 3);
  catalog.exited(10, "user_shutdown", 4);
  catalog.enroll(12, "delivery", 5);
  auto xs = catalog.entries();
  BOOST_REQUIRE(xs.size() == 3u);
  // Running ones first, by id, then the exited one.
  BOOST_TEST(xs[0].name == "delivery-2");
  BOOST_TEST(xs[0].stats->read().last_error == "timeout");
  BOOST_TEST(xs[1].name == "delivery-3");
  BOOST_TEST(xs[1].restarts == 1u);
  BOOST_TEST(xs[2].id == 10u);
  BOOST_TEST(xs[2].exit_reason == "user_shutdown");
  BOOST_TEST(xs[2].exited_ms == 4);
}

BOOST_AUTO_TEST_CASE(exited_actors_are_kept_up_to_a_bound) {
  actor_catalog catalog;
  for (uint64_t id = 1; id <= actor_catalog::kept_exited + 5; ++id) {
    catalog.enroll(id, "x", 0);
    catalog.exited(id, "normal", 0);
  }
  BOOST_TEST(catalog.entries().size() == actor_catalog::kept_exited);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(instrument_suite, test::deterministic_fixture)

BOOST_AUTO_TEST_CASE(an_instrumented_actor_counts_its_messages) {
  auto x = spawn(counter);
  self->send(x, caf::get_atom::value, int32_t{2});
  self->send(x, caf::get_atom::value, int32_t{3});
  self->send(x, caf::ok_atom::value);
  run();
  auto entry = entry_of(x.id());
  BOOST_REQUIRE(entry);
  BOOST_TEST(entry->type == "counter");
  auto counters = entry->stats->read();
  BOOST_TEST(counters.handled == 3u);
  // The first one saw the other two waiting.
  BOOST_TEST(counters.mailbox_max == 2u);
  BOOST_TEST(counters.last_error.empty());
}

BOOST_AUTO_TEST_CASE(an_error_answer_is_the_last_error) {
  auto x = spawn(counter);
  self->send(x, caf::put_atom::value);
  run();
  auto entry = entry_of(x.id());
  BOOST_REQUIRE(entry);
  BOOST_TEST(entry->stats->read().last_error.find("no puts here")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_exit_leaves_the_reason_in_the_catalog) {
  auto x = spawn(counter);
  run();
  auto id = x.id();
  self->send_exit(x, caf::exit_reason::user_shutdown);
  run();
  auto entry = entry_of(id);
  BOOST_REQUIRE(entry);
  BOOST_TEST(entry->exited_ms > 0);
  BOOST_TEST(entry->exit_reason.find("user_shutdown") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
