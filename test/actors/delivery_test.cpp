#include "actors/delivery.hpp"

#include "test/fixtures.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>

using namespace herald;
using namespace std::chrono_literals;
using persistence::attempt_outcome;

namespace {

attempt_outcome outcome_of(unsigned status, std::string error = "") {
  return classify(net::http_result{status, std::move(error), ""});
}

} // namespace

BOOST_AUTO_TEST_SUITE(delivery_suite)

BOOST_AUTO_TEST_CASE(success_is_any_2xx) {
  BOOST_TEST((outcome_of(200) == attempt_outcome::delivered));
  BOOST_TEST((outcome_of(202) == attempt_outcome::delivered));
  BOOST_TEST((outcome_of(299) == attempt_outcome::delivered));
}

BOOST_AUTO_TEST_CASE(transient_failures_are_retried) {
  BOOST_TEST((outcome_of(0, "timeout") == attempt_outcome::retry));
  BOOST_TEST((outcome_of(0, "connect: Connection refused")
              == attempt_outcome::retry));
  BOOST_TEST((outcome_of(408) == attempt_outcome::retry));
  BOOST_TEST((outcome_of(429) == attempt_outcome::retry));
  BOOST_TEST((outcome_of(500) == attempt_outcome::retry));
  BOOST_TEST((outcome_of(503) == attempt_outcome::retry));
}

BOOST_AUTO_TEST_CASE(failures_never_keep_what_the_downstream_said) {
  // A downstream that echoes its input, as FastAPI's 422 does.
  auto echo = R"({"detail":[{"input":{"sender_number":"+4915112345678",)"
              R"("message_body":"secret text"}}]})";
  BOOST_TEST(describe_failure({422, "", echo}) == "HTTP 422");
  // A multi-byte character across byte 200: before, the 200-byte cut split
  // it, the insert failed and the whole batch was sent again every second.
  auto body = std::string(199, 'a') + "\xe2\x98\x83" + "tail";
  BOOST_TEST(describe_failure({503, "", body}) == "HTTP 503");
  // Transport errors are Herald's own words.
  BOOST_TEST(describe_failure({0, "timeout", ""}) == "timeout");
}

BOOST_AUTO_TEST_CASE(other_client_errors_are_permanent) {
  BOOST_TEST((outcome_of(400) == attempt_outcome::failed));
  BOOST_TEST((outcome_of(404) == attempt_outcome::failed));
  BOOST_TEST((outcome_of(422) == attempt_outcome::failed));
  BOOST_TEST((outcome_of(301) == attempt_outcome::failed));
}

// The limits that turn a message into "expired": at most max_attempts
// attempts (the worker asks for attempt job.attempts + 1 before sending,
// and for the next one before scheduling a retry), and none past max_age.
BOOST_AUTO_TEST_CASE(max_attempts_and_max_age_bound_the_attempts) {
  config::delivery_config d;
  d.max_attempts = 3;
  d.max_age = 1h;
  const int64_t created = 1767225600000;
  BOOST_TEST(within_limits(d, 1, created, created));
  BOOST_TEST(within_limits(d, 3, created, created));
  BOOST_TEST(!within_limits(d, 4, created, created));
  // The age limit holds up to its last millisecond.
  BOOST_TEST(within_limits(d, 1, created, created + 3600000));
  BOOST_TEST(!within_limits(d, 1, created, created + 3600001));
  // 0: no attempt limit, the age limit still holds.
  d.max_attempts = 0;
  BOOST_TEST(within_limits(d, 1000000, created, created + 1000));
  BOOST_TEST(!within_limits(d, 1, created, created + 3600001));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

/// A retry schedule in virtual time: ids with due times in ms, and how
/// often each was moved back to the queue.
struct virtual_schedule {
  int64_t now_ms = 0;
  std::multimap<int64_t, std::string> due;
  std::map<std::string, int> promoted;
  int asked = 0;
};

struct fake_schedule_state {
  static inline const char* name = "fake-schedule";
};

schedule_actor::behavior_type
fake_schedule(schedule_actor::stateful_pointer<fake_schedule_state>,
              std::shared_ptr<virtual_schedule> vs) {
  return {
    [vs](promote_atom) {
      ++vs->asked;
      schedule_status status;
      while (!vs->due.empty() && vs->due.begin()->first <= vs->now_ms) {
        ++vs->promoted[vs->due.begin()->second];
        vs->due.erase(vs->due.begin());
        ++status.moved;
      }
      if (!vs->due.empty())
        status.next_due_in_ms = vs->due.begin()->first - vs->now_ms;
      status.size = static_cast<int64_t>(vs->due.size());
      return status;
    },
  };
}

struct timer_fixture : test::deterministic_fixture {
  std::shared_ptr<virtual_schedule> vs = std::make_shared<virtual_schedule>();

  /// Moves the scheduler clock and the schedule's clock together.
  void advance(caf::timespan x) {
    vs->now_ms += std::chrono::duration_cast<std::chrono::milliseconds>(x)
                    .count();
    sched.advance_time(x);
    run();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(retry_timer_suite, timer_fixture)

// The 30-second retry as scheduled actor messages: the timer holds only its
// next wake-up, and each due message is moved back exactly once, within a
// second of its due time, with no sleeping in the test.
BOOST_AUTO_TEST_CASE(each_due_retry_fires_once_within_a_second) {
  vs->due.emplace(30'000, "a");
  vs->due.emplace(30'000, "b");
  vs->due.emplace(30'500, "c");
  spawn(retry_timer, spawn(fake_schedule, vs), nullptr);
  run();
  BOOST_TEST(vs->asked == 1);
  for (int second = 1; second < 30; ++second) {
    advance(1s);
    BOOST_TEST_REQUIRE(vs->promoted.empty(), "promoted early, at " << second);
  }
  advance(1s); // 30 s: a and b are due
  BOOST_TEST(vs->promoted["a"] == 1);
  BOOST_TEST(vs->promoted["b"] == 1);
  BOOST_TEST(vs->promoted.count("c") == 0u);
  // The timer sleeps only until c is due, not a whole second.
  advance(500ms);
  BOOST_TEST(vs->promoted["c"] == 1);
  for (int i = 0; i < 60; ++i)
    advance(1s);
  BOOST_TEST(vs->promoted["a"] == 1);
  BOOST_TEST(vs->promoted["b"] == 1);
  BOOST_TEST(vs->promoted["c"] == 1);
}

BOOST_AUTO_TEST_CASE(an_empty_schedule_is_checked_once_a_second) {
  spawn(retry_timer, spawn(fake_schedule, vs), nullptr);
  run();
  advance(10s);
  // A single advance fires only the one pending wake-up.
  BOOST_TEST(vs->asked == 2);
  for (int i = 0; i < 10; ++i)
    advance(1s);
  BOOST_TEST(vs->asked == 12);
}

BOOST_AUTO_TEST_SUITE_END()
