#include "actors/store.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "test/fixtures.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <memory>

using namespace herald;
using namespace std::chrono_literals;

namespace {

/// What the fake writer and queue saw and how they behave.
struct script {
  std::vector<size_t> batches;
  /// Ids the writer stored and queued (it accepted them).
  std::vector<std::string> stored;
  std::vector<std::string> rejected;
  /// What the queue heard had committed (so it pushes them as work).
  std::vector<std::string> deliverable;
  /// Fails writes, like MySQL or Redis down (the batch rolled back).
  bool fail_write = false;
  /// Never answers writes, like a writer stuck on a dead database.
  bool silent_write = false;
};

struct fake_state {
  static inline const char* name = "fake";
  std::vector<caf::typed_response_promise<std::vector<submit_result>>> stuck;
};

store_writer_actor::behavior_type
fake_writer(store_writer_actor::stateful_pointer<fake_state> self,
            std::shared_ptr<script> s) {
  return {
    [self, s](write_atom, const std::vector<stored_message>& batch)
      -> caf::typed_response_promise<std::vector<submit_result>> {
      auto promise = self->make_response_promise<std::vector<submit_result>>();
      if (s->silent_write) {
        self->state.stuck.push_back(promise);
        return promise;
      }
      if (s->fail_write) {
        promise.deliver(make_error(errc::database_failure, "down"));
        return promise;
      }
      s->batches.push_back(batch.size());
      std::vector<submit_result> results;
      for (const auto& m : batch) {
        auto replay = m.idempotency_key == "dup";
        results.push_back(
          {replay ? submit_outcome::replayed : submit_outcome::accepted, m.id});
        if (!replay)
          s->stored.push_back(message_id::text_of(m.id));
      }
      promise.deliver(std::move(results));
      return promise;
    },
    [s](reject_atom, const std::vector<std::string>& ids) {
      s->rejected.insert(s->rejected.end(), ids.begin(), ids.end());
      return true;
    },
    [](caf::get_atom, uint64_t, const std::string&)
      -> caf::result<message_status> {
      return make_error(errc::not_found, "");
    },
  };
}

queue_actor::behavior_type
fake_queue(queue_actor::stateful_pointer<fake_state>,
           std::shared_ptr<script> s) {
  return {
    [s](commit_atom, const std::vector<std::string>& ids) {
      s->deliverable.insert(s->deliverable.end(), ids.begin(), ids.end());
    },
  };
}

stored_message message(int i, std::string key = "") {
  stored_message m;
  m.id = std::string(15, '\0') + static_cast<char>(i);
  m.idempotency_key = std::move(key);
  return m;
}

struct store_fixture : test::deterministic_fixture {
  std::shared_ptr<script> s = std::make_shared<script>();
  config::store_config cfg{4, 2ms, 1, 8};

  store_actor spawn_store_actor() {
    std::vector<store_writer_actor> writers{spawn(fake_writer, s)};
    return spawn(store, cfg, 1s, writers, spawn(fake_queue, s), nullptr);
  }

  /// Submits message `i` and returns nothing; answers arrive in `self`.
  void submit(const store_actor& st, stored_message m) {
    self->send(st, submit_atom::value, std::move(m));
  }

  /// Counts the answers waiting in `self`: results and errors.
  std::pair<int, int> answers() {
    int ok = 0;
    int failed = 0;
    bool more = true;
    while (more) {
      self->receive([&](const submit_result&) { ++ok; },
                    [&](const caf::error&) { ++failed; },
                    caf::after(std::chrono::seconds(0)) >> [&] { more = false; });
    }
    return {ok, failed};
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(store_suite, store_fixture)

BOOST_AUTO_TEST_CASE(submissions_wait_for_the_batch_delay_then_commit_together) {
  auto st = spawn_store_actor();
  submit(st, message(1));
  submit(st, message(2));
  submit(st, message(3));
  run();
  BOOST_TEST(s->batches.empty());
  BOOST_TEST((answers() == std::make_pair(0, 0)));
  sched.advance_time(2ms);
  run();
  BOOST_TEST(s->batches == std::vector<size_t>{3});
  BOOST_TEST(s->stored.size() == 3u);
  // What the writer committed becomes work for the delivery actors.
  BOOST_TEST((s->deliverable == s->stored));
  BOOST_TEST((answers() == std::make_pair(3, 0)));
}

BOOST_AUTO_TEST_CASE(a_full_batch_is_written_without_waiting) {
  auto st = spawn_store_actor();
  for (int i = 0; i < 4; ++i)
    submit(st, message(i));
  run();
  BOOST_TEST(s->batches == std::vector<size_t>{4});
  BOOST_TEST((answers() == std::make_pair(4, 0)));
}

BOOST_AUTO_TEST_CASE(submissions_gather_while_the_writer_is_busy) {
  auto st = spawn_store_actor();
  // The first fills a batch; the next three arrive while it is written and
  // follow as one batch when the writer is free, without the delay.
  for (int i = 0; i < 7; ++i)
    submit(st, message(i));
  run();
  BOOST_TEST(s->batches == (std::vector<size_t>{4, 3}));
  BOOST_TEST((answers() == std::make_pair(7, 0)));
}

BOOST_AUTO_TEST_CASE(replays_are_not_queued_again) {
  auto st = spawn_store_actor();
  submit(st, message(1));
  submit(st, message(2, "dup"));
  run();
  sched.advance_time(2ms);
  run();
  BOOST_TEST(s->stored.size() == 1u);
  BOOST_TEST((s->deliverable == s->stored));
  BOOST_TEST((answers() == std::make_pair(2, 0)));
}

BOOST_AUTO_TEST_CASE(a_failed_write_refuses_and_rejects_the_whole_batch) {
  s->fail_write = true;
  auto st = spawn_store_actor();
  submit(st, message(1));
  submit(st, message(2));
  run();
  sched.advance_time(2ms);
  run();
  BOOST_TEST(s->deliverable.empty());
  // The write rolled back; the reject is for a commit that landed anyway.
  BOOST_TEST(s->rejected.size() == 2u);
  BOOST_TEST((answers() == std::make_pair(0, 2)));
}

BOOST_AUTO_TEST_CASE(a_stuck_writer_gets_every_submission_refused_in_time) {
  s->silent_write = true;
  auto st = spawn_store_actor();
  for (int i = 0; i < 5; ++i)
    submit(st, message(i));
  run();
  // Four wait on the stuck write, one waits for a writer.
  BOOST_TEST((answers() == std::make_pair(0, 0)));
  sched.advance_time(1s);
  run();
  // The write timed out: its rows are rejected, the batch refused, and the
  // fifth, whose wait ran out meanwhile, too.
  BOOST_TEST(s->rejected.size() == 4u);
  BOOST_TEST((answers() == std::make_pair(0, 5)));
}

BOOST_AUTO_TEST_CASE(too_many_waiting_submissions_are_refused_at_once) {
  cfg.batch_size = 100;
  cfg.max_pending = 100;
  auto st = spawn_store_actor();
  for (int i = 0; i < 101; ++i)
    submit(st, message(i));
  run();
  // The 100th fills the batch; the 101st finds 100 in flight.
  BOOST_TEST(s->batches == std::vector<size_t>{100});
  BOOST_TEST((answers() == std::make_pair(100, 1)));
}

BOOST_AUTO_TEST_SUITE_END()
