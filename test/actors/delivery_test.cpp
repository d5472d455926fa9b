#include "actors/delivery.hpp"

#include "actors/retry_timer.hpp"
#include "core/message_id.hpp"
#include "test/fixtures.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <unistd.h>

using namespace herald;
using namespace std::chrono_literals;
using persistence::attempt_outcome;
using persistence::attempt_record;
using persistence::delivery_job;

namespace {

attempt_outcome outcome_of(unsigned status, std::string error = "") {
  return classify(net::http_result{status, std::move(error), "", {}});
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
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
  BOOST_TEST(describe_failure({422, "", echo, {}}) == "HTTP 422");
  // A multi-byte character across byte 200: before, the 200-byte cut split
  // it, the insert failed and the whole batch was sent again every second.
  auto body = std::string(199, 'a') + "\xe2\x98\x83" + "tail";
  BOOST_TEST(describe_failure({503, "", body, {}}) == "HTTP 503");
  // Transport errors are Herald's own words.
  BOOST_TEST(describe_failure({0, "timeout", "", {}}) == "timeout");
}

BOOST_AUTO_TEST_CASE(other_client_errors_are_permanent) {
  BOOST_TEST((outcome_of(400) == attempt_outcome::failed));
  BOOST_TEST((outcome_of(404) == attempt_outcome::failed));
  BOOST_TEST((outcome_of(422) == attempt_outcome::failed));
  BOOST_TEST((outcome_of(301) == attempt_outcome::failed));
}

// The retry/expiry/outcome decision is a pure function of the job, the
// result, the due time and the settings.
BOOST_AUTO_TEST_CASE(a_retry_is_due_at_the_time_given) {
  config::delivery_config cfg;
  delivery_job job;
  job.id = "raw-id";
  job.attempts = 2;
  job.created_ms = 1'000'000;
  auto rec = decide(job, {503, "", "", 15ms}, 1'030'000, cfg);
  BOOST_TEST((rec.outcome == attempt_outcome::retry));
  BOOST_TEST(rec.attempt == 3u);
  BOOST_TEST(rec.next_attempt_ms == 1'030'000);
  BOOST_TEST(rec.http_status == 503u);
  BOOST_TEST(rec.latency_ms == 15u);
  BOOST_TEST(rec.error == "HTTP 503");
  auto ok = decide(job, {200, "", "", {}}, 1'030'000, cfg);
  BOOST_TEST((ok.outcome == attempt_outcome::delivered));
  BOOST_TEST(ok.error.empty());
  BOOST_TEST(ok.next_attempt_ms == 0);
  auto bad = decide(job, {404, "", "", {}}, 1'030'000, cfg);
  BOOST_TEST((bad.outcome == attempt_outcome::failed));
  BOOST_TEST(bad.next_attempt_ms == 0);
}

BOOST_AUTO_TEST_CASE(a_retry_past_the_limits_expires) {
  config::delivery_config cfg;
  cfg.max_attempts = 3;
  cfg.max_age = 1h;
  delivery_job job;
  job.created_ms = 0;
  job.attempts = 2; // this is attempt 3, the last
  auto rec = decide(job, {0, "timeout", "", {}}, 1000, cfg);
  BOOST_TEST((rec.outcome == attempt_outcome::expired));
  BOOST_TEST(rec.error == "expired: timeout");
  job.attempts = 0;
  // Due after max-age from creation.
  auto late = decide(job, {500, "", "", {}}, 3'600'001, cfg);
  BOOST_TEST((late.outcome == attempt_outcome::expired));
  auto in_time = decide(job, {500, "", "", {}}, 3'600'000, cfg);
  BOOST_TEST((in_time.outcome == attempt_outcome::retry));
}

BOOST_AUTO_TEST_CASE(an_expired_job_is_not_attempted) {
  config::delivery_config cfg;
  cfg.max_attempts = 5;
  cfg.max_age = 24h;
  delivery_job job;
  job.created_ms = 0;
  job.attempts = 4;
  BOOST_TEST(!expire_before_attempt(job, 1000, cfg));
  job.attempts = 5;
  auto out = expire_before_attempt(job, 1000, cfg);
  BOOST_REQUIRE(out);
  BOOST_TEST((out->outcome == attempt_outcome::expired));
  BOOST_TEST(out->attempt == 6u);
  job.attempts = 0;
  BOOST_TEST(!expire_before_attempt(job, 86'400'000, cfg));
  BOOST_TEST(expire_before_attempt(job, 86'400'001, cfg).has_value());
  cfg.max_attempts = 0; // unlimited
  job.attempts = 1000;
  BOOST_TEST(!expire_before_attempt(job, 1000, cfg));
}

// heraldctl message requeue: max-attempts and max-age count again from the
// requeue; attempt numbers go on.
BOOST_AUTO_TEST_CASE(a_requeued_job_gets_its_attempts_and_age_again) {
  config::delivery_config cfg;
  cfg.max_attempts = 3;
  cfg.max_age = 1h;
  delivery_job job;
  job.created_ms = 0;
  job.attempts = 3; // out of attempts
  auto later = int64_t{10} * 3'600'000; // and 10 h old
  BOOST_TEST(expire_before_attempt(job, later, cfg).has_value());
  job.requeued_ms = later - 1000;
  job.requeued_attempts = 3;
  BOOST_TEST(!expire_before_attempt(job, later, cfg));
  // Attempts 4 and 5 may retry; attempt 6 is the third since the requeue.
  for (uint32_t made : {3u, 4u}) {
    job.attempts = made;
    auto rec = decide(job, {503, "", "", {}}, later + 30'000, cfg);
    BOOST_TEST((rec.outcome == attempt_outcome::retry));
    BOOST_TEST(rec.attempt == made + 1);
  }
  job.attempts = 5;
  auto last = decide(job, {503, "", "", {}}, later + 30'000, cfg);
  BOOST_TEST((last.outcome == attempt_outcome::expired));
  BOOST_TEST(last.attempt == 6u);
  job.attempts = 6;
  BOOST_TEST(expire_before_attempt(job, later, cfg).has_value());
  // max-age from the requeue: a retry due an hour after it expires.
  job.attempts = 3;
  auto in_time = decide(job, {500, "", "", {}}, job.requeued_ms + 3'600'000,
                        cfg);
  BOOST_TEST((in_time.outcome == attempt_outcome::retry));
  auto late = decide(job, {500, "", "", {}}, job.requeued_ms + 3'600'001, cfg);
  BOOST_TEST((late.outcome == attempt_outcome::expired));
  BOOST_TEST(!expire_before_attempt(job, job.requeued_ms + 3'600'000, cfg));
  BOOST_TEST(
    expire_before_attempt(job, job.requeued_ms + 3'600'001, cfg).has_value());
  // A permanent failure stays one, requeued or not.
  auto refused = decide(job, {400, "", "", {}}, later, cfg);
  BOOST_TEST((refused.outcome == attempt_outcome::failed));
}

BOOST_AUTO_TEST_SUITE_END()

// -- the delivery actor with a fake I/O -----------------------------------------

namespace {

/// Redis, MySQL and the downstream in memory.
struct fake_io : delivery_io {
  std::deque<std::string> pending; // taken from the back
  std::vector<std::string> processing;
  std::map<std::string, delivery_job> rows; // by raw id
  /// Status the downstream answers, by text id; 200 when not listed.
  std::map<std::string, unsigned> answers;
  std::vector<std::string> posted;
  std::vector<attempt_record> recorded;
  std::vector<std::string> finished;
  std::vector<std::string> released;
  std::vector<std::pair<std::string, int64_t>> direct_retries;
  int takes = 0;
  // spawn_delivery opens the pool before the actor exists.
  void warm_up() override {
    // nop
  }

  caf::expected<std::vector<std::string>> take(size_t max,
                                               caf::timespan) override {
    ++takes;
    std::vector<std::string> result;
    while (!pending.empty() && result.size() < max) {
      result.push_back(pending.back());
      processing.push_back(pending.back());
      pending.pop_back();
    }
    return result;
  }

  caf::expected<std::vector<delivery_job>>
  claim(const std::vector<std::string>& raw_ids) override {
    std::vector<delivery_job> result;
    for (const auto& id : raw_ids) {
      auto i = rows.find(id);
      if (i == rows.end())
        continue;
      result.push_back(i->second);
      if (i->second.status == "queued")
        i->second.status = "delivering";
    }
    return result;
  }

  std::vector<net::http_result>
  post_all(const std::vector<net::http_post>& requests) override {
    std::vector<net::http_result> result;
    for (const auto& req : requests) {
      std::string id;
      for (const auto& [name, value] : req.headers)
        if (name == "Idempotency-Key")
          id = value;
      posted.push_back(id);
      auto i = answers.find(id);
      result.push_back({i == answers.end() ? 200u : i->second, "", "", {}});
    }
    return result;
  }

  caf::error record(const std::vector<attempt_record>& records) override {
    recorded.insert(recorded.end(), records.begin(), records.end());
    return caf::none;
  }

  void off_processing(const std::vector<std::string>& ids) {
    for (const auto& id : ids)
      processing.erase(std::remove(processing.begin(), processing.end(), id),
                       processing.end());
  }

  caf::error finish(const std::vector<std::string>& ids) override {
    off_processing(ids);
    finished.insert(finished.end(), ids.begin(), ids.end());
    return caf::none;
  }

  caf::error release(const std::vector<std::string>& ids) override {
    off_processing(ids);
    for (const auto& id : ids)
      pending.push_back(id); // the head: taken next
    released.insert(released.end(), ids.begin(), ids.end());
    return caf::none;
  }

  caf::error schedule_retry(const std::vector<std::string>& ids,
                            int64_t due_ms) override {
    off_processing(ids);
    for (const auto& id : ids)
      direct_retries.emplace_back(id, due_ms);
    return caf::none;
  }
};

/// What a fake retry-timer got.
struct timer_log {
  std::vector<schedule_retry> requests;
  std::vector<caf::actor> joined;
  bool answer = true;
};

struct fake_timer_state {
  static inline const char* name = "fake-timer";
};

retry_timer_actor::behavior_type
fake_timer(retry_timer_actor::stateful_pointer<fake_timer_state> self,
           std::shared_ptr<timer_log> log) {
  return {
    [self, log](schedule_retry& x) -> caf::result<caf::ok_atom> {
      log->requests.push_back(x);
      if (log->answer)
        return caf::ok_atom::value;
      // Never answers: the requester's timeout fires.
      return self->make_response_promise<caf::ok_atom>();
    },
    [log](caf::join_atom, delivery_actor& x) {
      log->joined.push_back(caf::actor_cast<caf::actor>(x));
    },
    [](fire_atom, int64_t) {
      // nop
    },
    [](tick_atom) {
      // nop
    },
  };
}

struct delivery_fixture : test::deterministic_fixture {
  std::shared_ptr<fake_io> io = std::make_shared<fake_io>();
  std::shared_ptr<timer_log> log = std::make_shared<timer_log>();
  std::string key_file = (std::filesystem::temp_directory_path()
                          / ("herald-delivery-keys-"
                             + std::to_string(::getpid())))
                           .string();
  std::shared_ptr<persistence::live_key_ring> keys;
  delivery_actor_config cfg;

  delivery_fixture() {
    std::filesystem::remove(key_file);
    BOOST_REQUIRE(persistence::key_ring::rotate(key_file));
    auto ring = persistence::live_key_ring::load(key_file);
    BOOST_REQUIRE_MESSAGE(ring, test::why(ring));
    keys = *ring;
    cfg.node = "n1";
    cfg.keys = keys;
    cfg.delivery.batch = 4;
    cfg.idle_poll = 2s;
  }

  ~delivery_fixture() {
    std::filesystem::remove(key_file);
    std::filesystem::remove(key_file + ".lock");
  }

  /// A queued message in MySQL whose id is in Redis pending; returns its
  /// text id.
  std::string queue_message(const std::string& status = "queued") {
    auto id = message_id::make_v7();
    delivery_job job;
    job.id = id.raw();
    job.status = status;
    job.created_ms = wall_ms();
    auto sealed = persistence::seal_payload(keys->current()->active(),
                                            "+4915112345678", "hi", job.id);
    BOOST_REQUIRE(sealed);
    job.payload = *sealed;
    io->rows[job.id] = job;
    io->pending.push_front(message_id::text_of(job.id));
    return message_id::text_of(job.id);
  }

  retry_timer_actor timer() {
    return spawn(fake_timer, log);
  }

  delivery_actor start(retry_timer_actor t) {
    return spawn(delivery, cfg, std::static_pointer_cast<delivery_io>(io),
                 std::move(t), nullptr);
  }

  void advance(caf::timespan x) {
    sched.advance_time(x);
    run();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(delivery_actor_suite, delivery_fixture)

BOOST_AUTO_TEST_CASE(work_reaches_it_by_message_and_is_delivered) {
  auto worker = start(timer());
  run(); // the first look finds nothing
  BOOST_TEST(io->takes == 1);
  auto a = queue_message();
  auto b = queue_message();
  self->send(worker, work{{a, b}});
  run();
  BOOST_TEST(io->takes == 2); // by message, not by the 2 s poll
  BOOST_TEST((io->posted == std::vector<std::string>{a, b}));
  BOOST_TEST((io->finished == std::vector<std::string>{a, b}));
  BOOST_REQUIRE(io->recorded.size() == 2u);
  BOOST_TEST((io->recorded[0].outcome == attempt_outcome::delivered));
  BOOST_TEST(io->processing.empty());
}

BOOST_AUTO_TEST_CASE(a_lost_work_message_loses_nothing) {
  auto worker = start(timer());
  run();
  auto a = queue_message(); // queued, but its `work` never arrives
  BOOST_TEST(io->posted.empty());
  advance(1s);
  BOOST_TEST(io->posted.empty());
  advance(1s); // the idle poll
  BOOST_TEST((io->posted == std::vector<std::string>{a}));
  BOOST_TEST((io->finished == std::vector<std::string>{a}));
}

BOOST_AUTO_TEST_CASE(a_full_batch_is_followed_at_once_by_the_next) {
  auto worker = start(timer());
  run();
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i)
    ids.push_back(queue_message());
  self->send(worker, work{ids});
  run();
  // Three steps (4 + 4 + 2), each one message; no time passed.
  BOOST_TEST(io->posted.size() == 10u);
  BOOST_TEST(io->pending.empty());
}

BOOST_AUTO_TEST_CASE(a_failed_attempt_goes_to_the_retry_timer) {
  auto worker = start(timer());
  run();
  auto a = queue_message();
  auto b = queue_message();
  io->answers[a] = 503;
  auto before = wall_ms();
  self->send(worker, work{{a, b}});
  run();
  BOOST_TEST((io->finished == std::vector<std::string>{b}));
  BOOST_REQUIRE(log->requests.size() == 1u);
  const auto& req = log->requests[0];
  BOOST_TEST((req.ids == std::vector<std::string>{a}));
  BOOST_TEST(req.due_ms >= before + 30'000);
  BOOST_TEST(req.due_ms <= wall_ms() + 30'000);
  BOOST_TEST(io->direct_retries.empty());
  BOOST_REQUIRE(io->recorded.size() == 2u);
  BOOST_TEST((io->recorded[0].outcome == attempt_outcome::retry));
  BOOST_TEST(io->recorded[0].next_attempt_ms == req.due_ms);
}

BOOST_AUTO_TEST_CASE(without_an_answer_it_schedules_the_retry_itself) {
  log->answer = false;
  auto worker = start(timer());
  run();
  auto a = queue_message();
  io->answers[a] = 0;
  self->send(worker, work{{a}});
  run();
  BOOST_TEST(log->requests.size() == 1u);
  BOOST_TEST(io->direct_retries.empty());
  advance(5s); // the request times out
  BOOST_REQUIRE(io->direct_retries.size() == 1u);
  BOOST_TEST(io->direct_retries[0].first == a);
  BOOST_TEST(io->direct_retries[0].second == log->requests[0].due_ms);
  BOOST_TEST(io->processing.empty());
}

BOOST_AUTO_TEST_CASE(the_exit_path_puts_back_what_was_not_attempted) {
  auto worker = start(timer());
  run();
  // Queued in Redis a moment before its commit: carried, not attempted.
  auto a = queue_message("accepting");
  self->send(worker, work{{a}});
  run();
  BOOST_TEST(io->posted.empty());
  BOOST_TEST((io->processing == std::vector<std::string>{a}));
  self->send_exit(worker, caf::exit_reason::user_shutdown);
  run();
  BOOST_TEST((io->released == std::vector<std::string>{a}));
  BOOST_TEST((io->pending.back() == a)); // the head: taken next
  BOOST_TEST(io->processing.empty());
  // It has quit: further work and polls are not handled.
  auto takes = io->takes;
  self->send(worker, work{{a}});
  advance(10s);
  BOOST_TEST(io->takes == takes);
}

BOOST_AUTO_TEST_CASE(a_commit_that_lands_later_is_delivered) {
  auto worker = start(timer());
  run();
  auto a = queue_message("accepting");
  auto raw = message_id::parse(a)->raw();
  self->send(worker, work{{a}});
  run();
  BOOST_TEST(io->posted.empty());
  io->rows[raw].status = "queued"; // the store's commit step
  advance(2ms);
  BOOST_TEST((io->posted == std::vector<std::string>{a}));
  BOOST_TEST((io->finished == std::vector<std::string>{a}));
}

BOOST_AUTO_TEST_SUITE_END()

// -- the retry-timer with a fake schedule ---------------------------------------

namespace {

/// The durable schedule in memory, in the retry-timer's virtual time: ids
/// by due time (Unix ms), and when each was moved back to the queue.
struct virtual_schedule {
  std::multimap<int64_t, std::string> due;
  std::map<std::string, int64_t> due_of;
  /// id -> times at which it was promoted.
  std::map<std::string, std::vector<int64_t>> promoted;
  int ticks = 0;
  int pages = 0;
  size_t page_size = 5000;

  void add(const std::string& id, int64_t due_ms) {
    due.emplace(due_ms, id);
    due_of[id] = due_ms;
  }
};

struct fake_schedule_state {
  static inline const char* name = "fake-schedule";
};

schedule_actor::behavior_type
fake_schedule(schedule_actor::stateful_pointer<fake_schedule_state>,
              std::shared_ptr<virtual_schedule> vs) {
  return {
    [vs](schedule_retry& x) {
      for (auto& id : x.ids)
        vs->add(id, x.due_ms);
      return caf::ok_atom::value;
    },
    [vs](promote_atom, int64_t now_ms) {
      std::vector<std::string> ids;
      while (!vs->due.empty() && vs->due.begin()->first <= now_ms
             && ids.size() < promote_batch) {
        ids.push_back(vs->due.begin()->second);
        vs->promoted[ids.back()].push_back(now_ms);
        vs->due.erase(vs->due.begin());
      }
      return ids;
    },
    [vs](page_atom, int64_t after, int64_t until) {
      ++vs->pages;
      retry_page page;
      page.scanned_to_ms = until;
      size_t seen = 0;
      for (auto i = vs->due.upper_bound(after);
           i != vs->due.end() && i->first <= until; ++i) {
        if (seen == vs->page_size) {
          page.complete = false;
          page.scanned_to_ms = page.due_ms.back();
          break;
        }
        ++seen;
        if (page.due_ms.empty() || page.due_ms.back() != i->first)
          page.due_ms.push_back(i->first);
      }
      // As Redis does: a page that read exactly its limit is incomplete.
      if (page.complete && seen == vs->page_size && seen > 0) {
        page.complete = false;
        page.scanned_to_ms = page.due_ms.back();
      }
      return page;
    },
    [vs](tick_atom) {
      ++vs->ticks;
      return static_cast<int64_t>(vs->due.size());
    },
  };
}

/// What a fake delivery actor got as `work`: id -> arrival (virtual ms).
struct work_log {
  std::map<std::string, int> arrivals;
  size_t messages = 0;
};

struct fake_delivery_state {
  static inline const char* name = "fake-delivery";
};

delivery_actor::behavior_type
fake_delivery(delivery_actor::stateful_pointer<fake_delivery_state>,
              std::shared_ptr<work_log> log) {
  return {
    [log](work& x) -> uint64_t {
      ++log->messages;
      for (auto& id : x.ids)
        ++log->arrivals[id];
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

constexpr int64_t t0 = 1'767'225'600'000; // virtual Unix ms at spawn

struct timer_fixture : test::deterministic_fixture {
  std::shared_ptr<virtual_schedule> vs = std::make_shared<virtual_schedule>();
  std::shared_ptr<work_log> got = std::make_shared<work_log>();
  retry_timer_config cfg;
  caf::actor_clock::time_point origin;

  timer_fixture() {
    cfg.start_ms = t0;
    origin = sched.clock().now();
  }

  /// Virtual Unix ms now.
  int64_t now_ms() {
    return t0
           + std::chrono::duration_cast<std::chrono::milliseconds>(
               sched.clock().now() - origin)
               .count();
  }

  retry_timer_actor start() {
    auto timer = spawn(retry_timer, cfg, spawn(fake_schedule, vs), nullptr);
    self->send(timer, caf::join_atom::value, spawn(fake_delivery, got));
    run();
    return timer;
  }

  /// Moves the clock to `t` (virtual Unix ms), stopping at every delayed
  /// message on the way, so that each is handled at its own time.
  void advance_to(int64_t t) {
    auto& clock = sched.clock();
    auto target = origin + std::chrono::milliseconds{t - t0};
    while (clock.has_pending_timeout()
           && clock.schedule().begin()->first <= target) {
      clock.trigger_timeout();
      run();
    }
    if (clock.now() < target)
      sched.advance_time(target - clock.now());
    run();
  }

  /// How late (ms) `id` was promoted; -1 when it was not, or twice.
  int64_t lateness(const std::string& id) {
    auto i = vs->promoted.find(id);
    if (i == vs->promoted.end() || i->second.size() != 1)
      return -1;
    return i->second[0] - vs->due_of[id];
  }

  /// Delayed messages (not request timeouts) waiting in the clock.
  size_t armed() {
    size_t n = 0;
    for (const auto& [when, event] : sched.clock().schedule())
      if (event->subtype == caf::detail::simple_actor_clock::actor_msg_type)
        ++n;
    return n;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(retry_timer_suite, timer_fixture)

// The 30-second retry as scheduled actor messages: each due retry is moved
// back exactly once, at its due time, and its id reaches the delivery
// actor as `work`; no sleeping in the test.
BOOST_AUTO_TEST_CASE(each_due_retry_fires_once_at_its_due_time) {
  vs->add("a", t0 + 30'000);
  vs->add("b", t0 + 30'000);
  vs->add("c", t0 + 30'500);
  start();
  for (int second = 1; second < 30; ++second) {
    advance_to(t0 + second * 1000);
    BOOST_TEST_REQUIRE(vs->promoted.empty(), "promoted early, at " << second);
  }
  advance_to(t0 + 30'000);
  BOOST_TEST(lateness("a") == 0);
  BOOST_TEST(lateness("b") == 0);
  BOOST_TEST(vs->promoted.count("c") == 0u);
  advance_to(t0 + 30'499);
  BOOST_TEST(vs->promoted.count("c") == 0u);
  advance_to(t0 + 30'500);
  BOOST_TEST(lateness("c") == 0);
  advance_to(t0 + 90'000);
  for (auto id : {"a", "b", "c"}) {
    BOOST_TEST(lateness(id) == 0);
    BOOST_TEST(got->arrivals[id] == 1);
  }
}

// A failed attempt is a schedule_retry message; the timer records it and
// arms a delayed message for its due time (the once-a-second tick alone
// would be 750 ms late here).
BOOST_AUTO_TEST_CASE(a_schedule_retry_is_recorded_and_fires_at_its_time) {
  auto timer = start();
  advance_to(t0 + 1000);
  self->send(timer, schedule_retry{{"x", "y"}, t0 + 31'250});
  run();
  BOOST_TEST(vs->due.size() == 2u); // durable before anything else
  advance_to(t0 + 31'249);
  BOOST_TEST(vs->promoted.empty());
  advance_to(t0 + 31'250);
  BOOST_TEST(lateness("x") == 0);
  BOOST_TEST(lateness("y") == 0);
  BOOST_TEST(got->arrivals["x"] == 1);
  BOOST_TEST(got->arrivals["y"] == 1);
}

// After a restart the timer arms again from the durable schedule: what is
// overdue fires at once, the rest at its time.
BOOST_AUTO_TEST_CASE(a_restart_re_arms_from_the_durable_schedule) {
  vs->add("overdue", t0 - 5000);
  vs->add("later", t0 + 45'000);
  vs->add("far", t0 + 200'000); // beyond the first window
  start();
  BOOST_TEST(vs->promoted["overdue"].size() == 1u);
  BOOST_TEST(got->arrivals["overdue"] == 1);
  advance_to(t0 + 45'000);
  BOOST_TEST(lateness("later") == 0);
  BOOST_TEST(vs->promoted.count("far") == 0u);
  advance_to(t0 + 200'000);
  BOOST_TEST(lateness("far") == 0);
}

// Memory stays bounded: with many retries waiting, only a bounded number of
// due times is armed at any moment, the rest is paged in as time advances,
// and every retry still fires on time.
BOOST_AUTO_TEST_CASE(armed_wake_ups_stay_bounded) {
  cfg.max_armed = 200;
  cfg.window = 60s;
  vs->page_size = 150;
  const int n = 6000;
  for (int i = 0; i < n; ++i) // one every 30 ms over 180 s, 3 per due time
    vs->add("m" + std::to_string(i), t0 + 1000 + (i / 3) * 90);
  start();
  size_t most = 0;
  for (int64_t t = t0; t <= t0 + 200'000; t += 250) {
    advance_to(t);
    most = std::max(most, armed());
  }
  // The armed due times, the tick and a request timeout or two.
  BOOST_TEST(most <= cfg.max_armed + 4);
  int64_t worst = 0;
  for (int i = 0; i < n; ++i) {
    auto late = lateness("m" + std::to_string(i));
    BOOST_TEST_REQUIRE(late >= 0, "m" << i << " promoted " << late);
    worst = std::max(worst, late);
  }
  BOOST_TEST(worst <= 1000);
  BOOST_TEST(got->arrivals.size() == static_cast<size_t>(n));
}

// Several nodes share the schedule: a retry one node's timer armed may be
// promoted by another first; each id is moved once.
BOOST_AUTO_TEST_CASE(two_timers_on_one_schedule_move_each_id_once) {
  vs->add("p", t0 + 2000);
  vs->add("q", t0 + 2500);
  start();
  start();
  advance_to(t0 + 10'000);
  BOOST_TEST(lateness("p") == 0);
  BOOST_TEST(lateness("q") == 0);
  BOOST_TEST(got->arrivals["p"] == 1);
  BOOST_TEST(got->arrivals["q"] == 1);
}

BOOST_AUTO_TEST_CASE(the_lease_is_refreshed_every_second) {
  start();
  BOOST_TEST(vs->ticks == 1);
  for (int i = 1; i <= 10; ++i)
    advance_to(t0 + i * 1000);
  BOOST_TEST(vs->ticks == 11);
}

BOOST_AUTO_TEST_SUITE_END()
