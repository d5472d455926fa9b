#include "core/actor_stats.hpp"

#include "actors/detail/instrument.hpp"
#include "config/herald_config.hpp"
#include "core/errc.hpp"
#include "test/fixtures.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <optional>
#include <thread>

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

/// Asks `x` to add `n` and waits for the sum.
int32_t add(caf::actor_system& sys, const counter_actor& x, int32_t n) {
  int32_t result = -1;
  caf::scoped_actor self{sys};
  self->request(x, 5s, caf::get_atom::value, n)
    .receive([&](int32_t sum) { result = sum; },
             [&](const caf::error&) {
               // nop: -1
             });
  return result;
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
  // Stand-ins for the actors' control blocks.
  int a = 0;
  int b = 0;
  int c = 0;
  catalog.enroll(&a, "delivery", 1);
  catalog.enroll(&b, "delivery", 2);
  catalog.failed(&b, "timeout", 3);
  catalog.exited(&a, "user_shutdown", 4);
  catalog.enroll(&c, "delivery", 5);
  BOOST_TEST(catalog.id_of(&a) == 0u);
  BOOST_TEST(catalog.id_of(&b) == 2u);
  BOOST_TEST(catalog.id_of(&c) == 3u);
  auto xs = catalog.entries();
  BOOST_REQUIRE(xs.size() == 3u);
  // Running ones first, by id, then the exited one.
  BOOST_TEST(xs[0].name == "delivery-2");
  BOOST_TEST(xs[0].stats->read().last_error == "timeout");
  BOOST_TEST(xs[1].name == "delivery-3");
  BOOST_TEST(xs[1].restarts == 1u);
  BOOST_TEST(xs[2].id == 1u);
  BOOST_TEST(xs[2].exit_reason == "user_shutdown");
  BOOST_TEST(xs[2].exited_ms == 4);
}

BOOST_AUTO_TEST_CASE(exited_actors_are_kept_up_to_a_bound) {
  actor_catalog catalog;
  int key = 0;
  for (size_t i = 0; i < actor_catalog::kept_exited + 5; ++i) {
    catalog.enroll(&key, "x", 0);
    catalog.exited(&key, "normal", 0);
  }
  auto xs = catalog.entries();
  BOOST_TEST(xs.size() == actor_catalog::kept_exited);
  // Ids are never reused: the oldest five were dropped.
  BOOST_TEST(xs.front().id == 6u);
}

BOOST_AUTO_TEST_CASE(actors_of_two_actor_systems_keep_their_own_entries) {
  // A clustered node runs two actor systems (node/console_system.hpp), and
  // CAF counts actor ids in each from 1: one id, two actors.
  config::herald_config cfg_a;
  config::herald_config cfg_b;
  caf::actor_system sys_a{cfg_a};
  caf::actor_system sys_b{cfg_b};
  auto x = sys_a.spawn(counter);
  auto y = sys_b.spawn(counter);
  BOOST_REQUIRE_MESSAGE(x.id() == y.id(), "CAF ids " << x.id() << " and "
                                                     << y.id());
  BOOST_TEST(add(sys_a, x, 2) == 2);
  BOOST_TEST(add(sys_b, y, 5) == 5);
  BOOST_TEST(add(sys_b, y, 5) == 10);
  auto id_x = catalog_id(x);
  auto id_y = catalog_id(y);
  BOOST_TEST(id_x != 0u);
  BOOST_TEST(id_y != 0u);
  BOOST_TEST(id_x != id_y);
  auto ex = entry_of(id_x);
  auto ey = entry_of(id_y);
  BOOST_REQUIRE(ex);
  BOOST_REQUIRE(ey);
  BOOST_TEST(ex->stats->read().handled == 1u);
  BOOST_TEST(ey->stats->read().handled == 2u);
  // One's exit leaves the other running.
  {
    caf::scoped_actor self{sys_a};
    self->send_exit(x, caf::exit_reason::user_shutdown);
    self->wait_for(x);
  }
  // The down message may come before the catalog's functor ran.
  auto exited = [&] { return entry_of(id_x)->exited_ms > 0; };
  for (int i = 0; i < 1000 && !exited(); ++i)
    std::this_thread::sleep_for(1ms);
  BOOST_TEST(exited());
  BOOST_TEST(entry_of(id_y)->exited_ms == 0);
  BOOST_TEST(catalog_id(y) == id_y);
  caf::anon_send_exit(y, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(instrument_suite, test::deterministic_fixture)

BOOST_AUTO_TEST_CASE(an_instrumented_actor_counts_its_messages) {
  auto x = spawn(counter);
  self->send(x, caf::get_atom::value, int32_t{2});
  self->send(x, caf::get_atom::value, int32_t{3});
  self->send(x, caf::ok_atom::value);
  run();
  auto entry = entry_of(catalog_id(x));
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
  auto entry = entry_of(catalog_id(x));
  BOOST_REQUIRE(entry);
  BOOST_TEST(entry->stats->read().last_error.find("no puts here")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_exit_leaves_the_reason_in_the_catalog) {
  auto x = spawn(counter);
  run();
  auto id = catalog_id(x);
  BOOST_REQUIRE(id != 0u);
  self->send_exit(x, caf::exit_reason::user_shutdown);
  run();
  auto entry = entry_of(id);
  BOOST_REQUIRE(entry);
  BOOST_TEST(entry->exited_ms > 0);
  BOOST_TEST(entry->exit_reason.find("user_shutdown") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
