#include "web/actor_bridge.hpp"

#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <future>
#include <thread>

using namespace herald;
using namespace std::chrono_literals;

namespace {

/// Doubles positive numbers, fails on 0, never answers negative ones.
using doubler_actor = caf::typed_actor<caf::replies_to<int>::with<int>>;

// An argument, because CAF 0.17.6 binds a reference to a null pointer when
// it spawns an actor without arguments (UndefinedBehaviorSanitizer).
doubler_actor::behavior_type doubler(doubler_actor::pointer self, int factor) {
  return {
    [self, factor](int x) -> caf::result<int> {
      if (x == 0)
        return caf::make_error(caf::sec::invalid_argument);
      if (x < 0)
        return self->make_response_promise<int>(); // dropped: no answer
      return factor * x;
    },
  };
}

/// What an ask ended with: the answer, or the error's code.
struct outcome {
  int value = 0;
  caf::error error;
};

struct bridge_fixture : test::threaded_fixture {
  doubler_actor dest = sys.spawn(doubler, 2);
  web::actor_bridge bridge{sys, 2};

  ~bridge_fixture() {
    caf::anon_send_exit(dest, caf::exit_reason::user_shutdown);
  }

  /// Asks from this (non-actor) thread, as the HTTPS threads do.
  std::future<outcome> ask(int x, caf::timespan timeout = 5s) {
    auto done = std::make_shared<std::promise<outcome>>();
    bridge.ask(
      dest, timeout, [done](int y) { done->set_value({y, {}}); },
      [done](caf::error& err) { done->set_value({0, err}); }, x);
    return done->get_future();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(actor_bridge_suite, bridge_fixture)

BOOST_AUTO_TEST_CASE(an_answer_reaches_on_result) {
  auto result = ask(21);
  BOOST_REQUIRE(result.wait_for(2s) == std::future_status::ready);
  auto x = result.get();
  BOOST_TEST(x.value == 42);
  BOOST_TEST(!x.error);
}

BOOST_AUTO_TEST_CASE(an_error_reaches_on_error) {
  auto result = ask(0);
  BOOST_REQUIRE(result.wait_for(2s) == std::future_status::ready);
  BOOST_TEST(result.get().error == caf::make_error(caf::sec::invalid_argument));
}

BOOST_AUTO_TEST_CASE(a_missing_answer_times_out_once) {
  auto before = std::chrono::steady_clock::now();
  auto result = ask(-1, 300ms);
  BOOST_REQUIRE(result.wait_for(2s) == std::future_status::ready);
  auto took = std::chrono::steady_clock::now() - before;
  BOOST_TEST(result.get().error == caf::make_error(caf::sec::request_timeout));
  // Deadlines are checked every 250 ms.
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took);
  BOOST_TEST(ms.count() >= 300);
  BOOST_TEST(ms.count() < 900);
}

BOOST_AUTO_TEST_CASE(many_concurrent_asks_each_get_their_own_answer) {
  std::vector<std::future<outcome>> results;
  for (int i = 1; i <= 1000; ++i)
    results.push_back(ask(i));
  for (int i = 1; i <= 1000; ++i) {
    BOOST_REQUIRE(results[i - 1].wait_for(5s) == std::future_status::ready);
    BOOST_TEST(results[i - 1].get().value == 2 * i);
  }
}

BOOST_AUTO_TEST_SUITE_END()
