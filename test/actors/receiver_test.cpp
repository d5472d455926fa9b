#include "actors/receiver.hpp"

#include "core/errc.hpp"
#include "test/fixtures.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <memory>
#include <set>
#include <utility>

using namespace herald;
using namespace std::chrono_literals;

namespace {

/// What the fake stores saw and how they behave.
struct script {
  /// Size of every batch a store got, in order.
  std::vector<size_t> batches;
  /// Ids stored so far, across stores.
  std::set<std::string> stored;
  bool fail = false;
  /// Keep the answers until a tick, like a store busy with a long commit.
  bool hold = false;
};

/// A receiver store whose answers a test can hold back and release.
using fake_store_actor
  = receiver_store_actor::extend<caf::reacts_to<tick_atom>>;

struct fake_state {
  static inline const char* name = "fake-receiver-store";
  std::vector<std::pair<caf::typed_response_promise<std::vector<bool>>,
                        std::vector<bool>>>
    held;
};

fake_store_actor::behavior_type
fake_store(fake_store_actor::stateful_pointer<fake_state> self,
           std::shared_ptr<script> s) {
  return {
    [self, s](receive_atom, const std::vector<received_message>& batch)
      -> caf::typed_response_promise<std::vector<bool>> {
      auto promise = self->make_response_promise<std::vector<bool>>();
      s->batches.push_back(batch.size());
      if (s->fail) {
        promise.deliver(make_error(errc::database_failure, "down"));
        return promise;
      }
      std::vector<bool> fresh;
      for (const auto& m : batch)
        fresh.push_back(s->stored.insert(m.id).second);
      if (s->hold)
        self->state.held.emplace_back(promise, std::move(fresh));
      else
        promise.deliver(std::move(fresh));
      return promise;
    },
    [self](tick_atom) {
      for (auto& [promise, fresh] : self->state.held)
        promise.deliver(std::move(fresh));
      self->state.held.clear();
    },
  };
}

received_message message(int i) {
  received_message m;
  m.id = std::string(15, '\0') + static_cast<char>(i);
  m.attempt = 1;
  return m;
}

/// The answers a test got, in arrival order.
struct answers_seen {
  std::vector<bool> flags;
  std::vector<caf::error> errors;

  size_t count(errc code) const {
    return static_cast<size_t>(
      std::count_if(errors.begin(), errors.end(),
                    [code](const caf::error& x) { return x == code; }));
  }
};

struct receiver_fixture : test::deterministic_fixture {
  std::shared_ptr<script> s = std::make_shared<script>();
  /// Batches of 4 after 2 ms; at most 8 waiting or in flight.
  config::receiver_config cfg{4, 2ms, 1, 8, {}};
  std::vector<fake_store_actor> stores;

  receiver_actor spawn_receiver_actor(size_t writers = 1) {
    std::vector<receiver_store_actor> handles;
    for (size_t i = 0; i < writers; ++i) {
      stores.push_back(spawn(fake_store, s));
      handles.push_back(stores.back());
    }
    return spawn(receiver, cfg, 1s, handles, nullptr);
  }

  /// Sends message `i`; its answer arrives in `self`.
  void receive(const receiver_actor& r, int i) {
    self->send(r, receive_atom::value, message(i));
  }

  /// Lets every fake store answer what it holds.
  void release() {
    for (const auto& x : stores)
      self->send(x, tick_atom::value);
    run();
  }

  /// Takes the answers waiting in `self`.
  answers_seen answers() {
    answers_seen result;
    bool more = true;
    while (more) {
      self->receive([&](bool fresh) { result.flags.push_back(fresh); },
                    [&](const caf::error& err) {
                      result.errors.push_back(err);
                    },
                    caf::after(std::chrono::seconds(0)) >> [&] {
                      more = false;
                    });
    }
    return result;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(receiver_suite, receiver_fixture)

BOOST_AUTO_TEST_CASE(deliveries_wait_for_the_batch_delay_then_commit_together) {
  auto r = spawn_receiver_actor();
  for (int i = 1; i <= 3; ++i)
    receive(r, i);
  run();
  BOOST_TEST(s->batches.empty());
  BOOST_TEST(answers().flags.empty());
  sched.advance_time(2ms);
  run();
  BOOST_TEST(s->batches == std::vector<size_t>{3});
  auto seen = answers();
  BOOST_TEST((seen.flags == std::vector<bool>{true, true, true}));
  BOOST_TEST(seen.errors.empty());
}

BOOST_AUTO_TEST_CASE(a_full_batch_is_written_without_waiting) {
  auto r = spawn_receiver_actor();
  for (int i = 1; i <= 4; ++i)
    receive(r, i);
  run();
  BOOST_TEST(s->batches == std::vector<size_t>{4});
  BOOST_TEST(answers().flags.size() == 4u);
}

BOOST_AUTO_TEST_CASE(each_delivery_gets_its_own_flag_in_order) {
  auto r = spawn_receiver_actor();
  receive(r, 1);
  receive(r, 2);
  run();
  sched.advance_time(2ms);
  run();
  // 2 was stored before; 3 twice in one batch: its second copy is a
  // duplicate.
  for (int i : {2, 3, 3, 4})
    receive(r, i);
  run();
  BOOST_TEST(s->batches == (std::vector<size_t>{2, 4}));
  BOOST_TEST((answers().flags
              == std::vector<bool>{true, true, false, true, false, true}));
}

BOOST_AUTO_TEST_CASE(a_batch_starts_only_on_an_idle_writer) {
  s->hold = true;
  auto r = spawn_receiver_actor();
  receive(r, 1);
  run();
  sched.advance_time(2ms);
  run();
  BOOST_TEST(s->batches == std::vector<size_t>{1});
  // The only writer is busy: neither a full batch nor the delay starts
  // another one; deliveries gather.
  for (int i = 2; i <= 6; ++i)
    receive(r, i);
  run();
  sched.advance_time(2ms);
  run();
  BOOST_TEST(s->batches == std::vector<size_t>{1});
  BOOST_TEST(answers().flags.empty());
  // Once free, the writer takes a full batch at once, then the rest.
  release();
  BOOST_TEST(s->batches == (std::vector<size_t>{1, 4}));
  BOOST_TEST(answers().flags.size() == 1u);
  release();
  BOOST_TEST(s->batches == (std::vector<size_t>{1, 4, 1}));
  release();
  auto seen = answers();
  BOOST_TEST(seen.flags.size() == 5u);
  BOOST_TEST(seen.errors.empty());
}

BOOST_AUTO_TEST_CASE(a_second_writer_takes_the_next_batch) {
  s->hold = true;
  auto r = spawn_receiver_actor(2);
  for (int i = 1; i <= 6; ++i)
    receive(r, i);
  run();
  sched.advance_time(2ms);
  run();
  BOOST_TEST(s->batches == (std::vector<size_t>{4, 2}));
  release();
  BOOST_TEST(answers().flags.size() == 6u);
}

BOOST_AUTO_TEST_CASE(a_writer_error_answers_the_whole_batch_with_it) {
  s->fail = true;
  auto r = spawn_receiver_actor();
  for (int i = 1; i <= 3; ++i)
    receive(r, i);
  run();
  sched.advance_time(2ms);
  run();
  auto seen = answers();
  BOOST_TEST(seen.flags.empty());
  BOOST_TEST(seen.errors.size() == 3u);
  BOOST_TEST(seen.count(errc::database_failure) == 3u);
  // The writer is free again for the next batch.
  s->fail = false;
  receive(r, 4);
  run();
  sched.advance_time(2ms);
  run();
  BOOST_TEST(s->batches == (std::vector<size_t>{3, 1}));
  BOOST_TEST((answers().flags == std::vector<bool>{true}));
}

BOOST_AUTO_TEST_CASE(a_stuck_writer_gets_every_delivery_refused_in_time) {
  s->hold = true;
  auto r = spawn_receiver_actor();
  for (int i = 1; i <= 5; ++i)
    receive(r, i);
  run();
  // Four wait on the stuck write, one waits for a writer.
  BOOST_TEST(answers().errors.empty());
  sched.advance_time(1s);
  run();
  // The write timed out and the fifth's wait ran out meanwhile.
  auto seen = answers();
  BOOST_TEST(seen.flags.empty());
  BOOST_TEST(seen.errors.size() == 5u);
  BOOST_TEST(seen.count(errc::overloaded) == 1u);
}

BOOST_AUTO_TEST_CASE(too_many_waiting_deliveries_are_refused_at_once) {
  s->hold = true;
  auto r = spawn_receiver_actor();
  for (int i = 1; i <= 9; ++i)
    receive(r, i);
  run();
  // Four in flight and four waiting make max_pending: the ninth is refused
  // without waiting.
  BOOST_TEST(s->batches == std::vector<size_t>{4});
  auto seen = answers();
  BOOST_TEST(seen.flags.empty());
  BOOST_TEST(seen.errors.size() == 1u);
  BOOST_TEST(seen.count(errc::overloaded) == 1u);
  release();
  release();
  seen = answers();
  BOOST_TEST(s->batches == (std::vector<size_t>{4, 4}));
  BOOST_TEST(seen.flags.size() == 8u);
  BOOST_TEST(seen.errors.empty());
}

BOOST_AUTO_TEST_SUITE_END()
