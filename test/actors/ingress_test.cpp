#include "actors/ingress.hpp"

#include "net/problem.hpp"
#include "test/fixtures.hpp"

#include <caf/sec.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <string>

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

/// GET /double/{x}: asks the doubler through the ingress and answers its
/// result, 500 on an error, 504 on a timeout.
struct ingress_fixture : test::deterministic_fixture {
  test::test_ingress in{*this};
  doubler_actor dest = spawn(doubler, 2);

  ingress_fixture() {
    auto calls = in.calls;
    auto dest_handle = dest;
    in.routes->add(
      "GET", "/double/{x}",
      [calls, dest_handle](const net::http_request&,
                           const net::route_params& params,
                           net::responder respond) {
        calls->ask(
          dest_handle, 1s,
          [respond](int y) { respond({200, "text/plain", std::to_string(y), {}}); },
          [respond](caf::error& err) {
            respond({err == caf::sec::request_timeout ? 504u : 500u,
                     "text/plain", caf::to_string(err), {}});
          },
          std::stoi(params.at("x")));
      });
  }

  /// The ingress's answer to a drain, if it came.
  std::optional<uint64_t> drain_answer() {
    std::optional<uint64_t> result;
    self->receive([&](uint64_t n) { result = n; },
                  caf::after(std::chrono::seconds{0}) >> [] {});
    return result;
  }

  static net::http_request get(const std::string& target) {
    net::http_request req;
    req.method = "GET";
    req.target = target;
    return req;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(ingress_suite, ingress_fixture)

BOOST_AUTO_TEST_CASE(an_answer_reaches_the_waiting_connection) {
  auto resp = in.exchange(get("/double/21"));
  BOOST_TEST(resp.status == 200u);
  BOOST_TEST(resp.body == "42");
  BOOST_TEST(in.waiting->size() == 0u);
}

BOOST_AUTO_TEST_CASE(each_answer_goes_to_its_own_connection) {
  auto a = in.send(get("/double/1"));
  auto b = in.send(get("/double/2"));
  auto c = in.send(get("/nowhere"));
  BOOST_TEST(a != b);
  BOOST_TEST(in.waiting->size() == 3u);
  run();
  BOOST_TEST(in.answers[a].body == "2");
  BOOST_TEST(in.answers[b].body == "4");
  BOOST_TEST(in.answers[c].status == 404u);
  BOOST_TEST(in.waiting->size() == 0u);
}

BOOST_AUTO_TEST_CASE(an_error_reaches_on_error) {
  BOOST_TEST(in.exchange(get("/double/0")).status == 500u);
}

BOOST_AUTO_TEST_CASE(a_missing_answer_times_out_once) {
  auto id = in.send(get("/double/-1"));
  run();
  BOOST_TEST(in.answers.count(id) == 0u);
  // The deadline (1 s) passes; the next check fails the ask.
  for (int i = 0; i < 5; ++i) {
    sched.advance_time(250ms);
    run();
  }
  BOOST_REQUIRE(in.answers.count(id) == 1u);
  BOOST_TEST(in.answers[id].status == 504u);
  BOOST_TEST(in.waiting->size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_drain_answers_once_no_request_waits) {
  // Nothing waits: answered at once.
  self->send(in.handle, drain_atom::value, caf::timespan{5s});
  run();
  BOOST_TEST(drain_answer().value_or(99) == 0u);
  // A request whose ask never gets an answer holds the drain until the
  // ask's deadline fails it.
  auto id = in.send(get("/double/-1"));
  self->send(in.handle, drain_atom::value, caf::timespan{5s});
  run();
  BOOST_TEST(!drain_answer().has_value());
  for (int i = 0; i < 5; ++i) {
    sched.advance_time(250ms);
    run();
  }
  BOOST_TEST(in.answers[id].status == 504u);
  BOOST_TEST(drain_answer().value_or(99) == 0u);
}

BOOST_AUTO_TEST_CASE(a_drain_gives_up_at_its_timeout) {
  in.send(get("/double/-1"));
  self->send(in.handle, drain_atom::value, caf::timespan{500ms});
  run();
  sched.advance_time(250ms);
  run();
  BOOST_TEST(!drain_answer().has_value());
  sched.advance_time(250ms);
  run();
  // The request is still open: its ask has a 1 s deadline.
  BOOST_TEST(drain_answer().value_or(99) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
