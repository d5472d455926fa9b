#include "actors/audit.hpp"

#include "actors/recovery.hpp"
#include "core/errc.hpp"
#include "core/metrics.hpp"
#include "test/fixtures.hpp"

#include <caf/scoped_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <memory>
#include <thread>
#include <string>
#include <vector>

using namespace herald;
using namespace std::chrono_literals;

namespace {

/// What the fake writer saw and how it behaves.
struct script {
  /// Every batch written, in order, as the targets of its events.
  std::vector<std::vector<std::string>> batches;
  /// Every attempt, failed ones included.
  size_t attempts = 0;
  bool fail = false;

  /// The targets of every event written, in chain order.
  std::vector<std::string> chain() const {
    std::vector<std::string> result;
    for (const auto& batch : batches)
      result.insert(result.end(), batch.begin(), batch.end());
    return result;
  }
};

audit_writer fake_writer(std::shared_ptr<script> s) {
  return [s](const std::vector<audit_event>& batch) -> caf::error {
    ++s->attempts;
    if (s->fail)
      return make_error(errc::database_failure, "mysql: gone away");
    std::vector<std::string> targets;
    for (const auto& x : batch)
      targets.push_back(x.target);
    s->batches.push_back(std::move(targets));
    return caf::none;
  };
}

audit_event event(int i, std::string action = "test.event") {
  audit_event x;
  x.actor = "alice";
  x.action = std::move(action);
  x.target = std::to_string(i);
  return x;
}

std::vector<std::string> targets(int from, int to) {
  std::vector<std::string> result;
  for (int i = from; i <= to; ++i)
    result.push_back(std::to_string(i));
  return result;
}

struct audit_fixture : test::deterministic_fixture {
  std::shared_ptr<script> s = std::make_shared<script>();
  metrics m{"test-node"};
  audit_config cfg;

  audit_fixture() {
    cfg.source = "heraldd@test-node";
    cfg.batch_size = 4;
    cfg.batch_delay = 200ms;
    cfg.max_pending = 10;
    cfg.retry_interval = 5s;
  }

  // The actors' exit handlers count into `m`: stop them while it lives
  // (the base class would, after `m` is gone).
  ~audit_fixture() {
    for (auto& x : spawned)
      self->send_exit(x, caf::exit_reason::user_shutdown);
    run();
  }

  audit_actor spawn_audit_actor(bool with_writer = true) {
    return spawn(audit, cfg, with_writer ? fake_writer(s) : audit_writer{},
                 &m);
  }

  void send(const audit_actor& a, int from, int to) {
    for (int i = from; i <= to; ++i)
      self->send(a, event(i));
    run();
  }

  /// Moves the clock on by `x` and runs what it triggered.
  void wait(caf::timespan x) {
    sched.advance_time(x);
    run();
  }

  uint64_t drain(const audit_actor& a) {
    uint64_t result = 999;
    // The answer is in self's mailbox once run() returns.
    auto answer = self->request(a, caf::infinite, drain_atom::value);
    run();
    answer.receive([&](uint64_t left) { result = left; },
                   [&](const caf::error& err) {
                     BOOST_FAIL("drain failed: " + caf::to_string(err));
                   });
    return result;
  }

  double dropped(const char* reason) {
    return m.audit_events_dropped.Add({{"reason", reason}}).Value();
  }

  double written(const char* action = "test.event") {
    return m.audit_events.Add({{"action", action}}).Value();
  }
};

/// Audit actors of a cluster on real threads: a member waits for the
/// lead's answer in a blocking request, which the deterministic scheduler
/// cannot run.
struct cluster_fixture : test::threaded_fixture {
  audit_config cfg;
  std::vector<caf::actor> members;

  cluster_fixture() {
    cfg.source = "heraldd@n2";
    cfg.batch_size = 4;
    cfg.batch_delay = 50ms;
    cfg.max_pending = 100;
    cfg.retry_interval = 100ms;
    cfg.clustered = true;
  }

  ~cluster_fixture() {
    for (auto& x : members)
      self->send_exit(x, caf::exit_reason::user_shutdown);
    for (auto& x : members)
      self->wait_for(x);
  }

  audit_actor member(std::shared_ptr<script> s, metrics* m) {
    auto a = sys.spawn<caf::detached>(audit, cfg, fake_writer(std::move(s)),
                                      m);
    members.push_back(caf::actor_cast<caf::actor>(a));
    return a;
  }

  /// Names `lead` to `a` and waits until `a` took it in (its mailbox is
  /// in order: the drain comes after).
  void follow(const audit_actor& a, const audit_actor& lead) {
    self->send(a, lead_atom::value, caf::actor_cast<caf::actor>(lead));
    drain(a);
  }

  uint64_t drain(const audit_actor& a) {
    uint64_t result = 999;
    self->request(a, 10s, drain_atom::value)
      .receive([&](uint64_t left) { result = left; },
               [&](const caf::error& err) {
                 BOOST_FAIL("drain failed: " + caf::to_string(err));
               });
    return result;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(audit_actor_suite)

BOOST_AUTO_TEST_CASE(the_buffer_hands_out_batches_oldest_first) {
  audit_buffer buf{2, 3};
  BOOST_TEST(buf.add(event(1)));
  BOOST_TEST(!buf.has_batch());
  BOOST_TEST(buf.add(event(2)));
  BOOST_TEST(buf.has_batch());
  BOOST_TEST(buf.add(event(3)));
  // A batch stays queued until it is written.
  BOOST_TEST(buf.peek().size() == 2u);
  BOOST_TEST(buf.peek().front().target == "1");
  BOOST_TEST(buf.size() == 3u);
  buf.commit(2, event(0, "audit.dropped"));
  BOOST_TEST(buf.size() == 1u);
  BOOST_TEST(buf.peek().front().target == "3");
}

BOOST_AUTO_TEST_CASE(a_full_buffer_drops_and_then_marks_the_gap) {
  audit_buffer buf{2, 3};
  for (int i = 1; i <= 3; ++i)
    BOOST_TEST(buf.add(event(i)));
  BOOST_TEST(!buf.add(event(4)));
  BOOST_TEST(!buf.add(event(5)));
  BOOST_TEST(buf.dropped() == 2u);
  auto marker = event(0, "audit.dropped");
  marker.detail = "events dropped";
  buf.commit(2, marker);
  BOOST_TEST(buf.dropped() == 0u);
  BOOST_TEST(buf.add(event(6)));
  // Kept events, then the gap, then what came after it.
  auto rest = buf.peek();
  BOOST_REQUIRE(rest.size() == 2u);
  BOOST_TEST(rest[0].target == "3");
  BOOST_TEST(rest[1].action == "audit.dropped");
  BOOST_TEST(rest[1].detail == "2 events dropped");
  buf.commit(2, marker);
  BOOST_TEST(buf.peek().front().target == "6");
}

BOOST_FIXTURE_TEST_CASE(events_gather_for_the_batch_delay, audit_fixture) {
  auto a = spawn_audit_actor();
  send(a, 1, 3);
  BOOST_TEST(s->attempts == 0u);
  wait(199ms);
  BOOST_TEST(s->attempts == 0u);
  wait(1ms);
  BOOST_REQUIRE(s->batches.size() == 1u);
  BOOST_TEST(s->batches[0] == targets(1, 3));
  BOOST_TEST(written() == 3);
  BOOST_TEST(m.audit_pending.Value() == 0);
}

BOOST_FIXTURE_TEST_CASE(whole_batches_are_written_in_order_at_once,
                        audit_fixture) {
  auto a = spawn_audit_actor();
  send(a, 1, 9);
  // Whole batches did not wait for the delay; the rest did.
  BOOST_TEST(s->chain() == targets(1, 8));
  wait(200ms);
  BOOST_TEST(s->chain() == targets(1, 9));
  for (const auto& batch : s->batches)
    BOOST_TEST(batch.size() <= 4u);
  BOOST_TEST(written() == 9);
}

BOOST_FIXTURE_TEST_CASE(events_are_stamped_with_the_node_and_time,
                        audit_fixture) {
  std::vector<audit_event> seen;
  auto a = spawn(audit, cfg,
                 audit_writer{[&seen](const std::vector<audit_event>& batch) {
                   seen.insert(seen.end(), batch.begin(), batch.end());
                   return caf::error{};
                 }},
                 &m);
  auto own = event(2);
  own.source = "portal@test-node";
  own.at_ms = 1767225600123;
  self->send(a, event(1));
  self->send(a, own);
  auto bad = event(3);
  bad.outcome = "maybe";
  self->send(a, bad);
  run();
  wait(200ms);
  BOOST_REQUIRE(seen.size() == 2u);
  BOOST_TEST(seen[0].source == "heraldd@test-node");
  BOOST_TEST(seen[0].at_ms > 0);
  BOOST_TEST(seen[1].source == "portal@test-node");
  BOOST_TEST(seen[1].at_ms == 1767225600123);
  // An event that can never be written is refused, counted, not retried.
  BOOST_TEST(dropped("invalid") == 1);
}

BOOST_FIXTURE_TEST_CASE(a_failed_write_keeps_the_events_and_retries_later,
                        audit_fixture) {
  auto a = spawn_audit_actor();
  s->fail = true;
  send(a, 1, 2);
  wait(200ms);
  BOOST_TEST(s->attempts == 1u);
  // New events, even a whole batch, wait for the retry timer.
  send(a, 3, 6);
  BOOST_TEST(s->attempts == 1u);
  BOOST_TEST(m.audit_pending.Value() == 6);
  wait(4s);
  BOOST_TEST(s->attempts == 1u);
  wait(1s);
  BOOST_TEST(s->attempts == 2u);
  s->fail = false;
  wait(5s);
  // A whole batch at once, the rest after the batch delay.
  BOOST_TEST(s->chain() == targets(1, 4));
  wait(200ms);
  BOOST_TEST(s->chain() == targets(1, 6));
  BOOST_TEST(m.audit_pending.Value() == 0);
  BOOST_TEST(dropped("buffer_full") == 0);
}

BOOST_FIXTURE_TEST_CASE(a_full_buffer_drops_counts_and_records_the_gap,
                        audit_fixture) {
  auto a = spawn_audit_actor();
  s->fail = true;
  send(a, 1, 13);
  BOOST_TEST(dropped("buffer_full") == 3);
  BOOST_TEST(m.audit_pending.Value() == 10);
  s->fail = false;
  wait(200ms);
  wait(5s);
  auto chain = s->chain();
  // 1..10, the marker in place of 11..13, nothing after.
  BOOST_REQUIRE(chain.size() == 11u);
  BOOST_TEST((std::vector<std::string>(chain.begin(), chain.begin() + 10))
             == targets(1, 10));
  BOOST_TEST(chain[10] == "heraldd@test-node");
  BOOST_TEST(written("audit.dropped") == 1);
}

BOOST_FIXTURE_TEST_CASE(drain_writes_everything_now, audit_fixture) {
  auto a = spawn_audit_actor();
  send(a, 1, 6);
  BOOST_TEST(drain(a) == 0u);
  BOOST_TEST(s->chain() == targets(1, 6));
  // The flush that was on its way finds nothing.
  wait(200ms);
  BOOST_TEST(s->chain() == targets(1, 6));
  s->fail = true;
  send(a, 7, 7);
  BOOST_TEST(drain(a) == 1u);
}

BOOST_FIXTURE_TEST_CASE(an_exit_writes_what_waits, audit_fixture) {
  auto a = spawn_audit_actor();
  send(a, 1, 2);
  self->send_exit(a, caf::exit_reason::user_shutdown);
  run();
  BOOST_TEST(s->chain() == targets(1, 2));
  BOOST_TEST(dropped("shutdown") == 0);
}

BOOST_FIXTURE_TEST_CASE(an_exit_counts_what_it_could_not_write,
                        audit_fixture) {
  auto a = spawn_audit_actor();
  s->fail = true;
  send(a, 1, 2);
  wait(200ms);
  BOOST_TEST(s->attempts == 1u);
  self->send_exit(a, caf::exit_reason::user_shutdown);
  run();
  // After a failure it does not wait for the database again.
  BOOST_TEST(s->attempts == 1u);
  BOOST_TEST(dropped("shutdown") == 2);
}

BOOST_FIXTURE_TEST_CASE(without_a_key_every_event_is_counted,
                        audit_fixture) {
  auto a = spawn_audit_actor(false);
  send(a, 1, 3);
  wait(200ms);
  BOOST_TEST(dropped("no_key") == 3);
}

BOOST_AUTO_TEST_CASE(the_client_directory_audits_what_changed) {
  using persistence::client_identity;
  persistence::client_map before{
    {"aa", client_identity{1, "acme", true, "client"}},
    {"bb", client_identity{2, "globex", true, "client"}},
    {"cc", client_identity{0, "", true, "server"}},
    {"dd", client_identity{3, "initech", false, "client"}},
  };
  auto after = before;
  after["bb"].active = false;
  after.erase("cc");
  after["dd"].active = true;
  after["ee"] = client_identity{1, "acme", true, "client"};
  BOOST_TEST(registry_changes(before, before).empty());
  auto events = registry_changes(before, after);
  BOOST_REQUIRE(events.size() == 4u);
  BOOST_TEST(events[0].action == "registry.disable");
  BOOST_TEST(events[0].target == "globex");
  BOOST_TEST(events[0].detail.find("certificate bb") != std::string::npos);
  BOOST_TEST(events[1].action == "registry.remove");
  BOOST_TEST(events[1].target == "(node certificate)");
  BOOST_TEST(events[2].action == "registry.enable");
  BOOST_TEST(events[3].action == "registry.add");
  BOOST_TEST(events[3].actor == "heraldd");
  // A bulk change is summed up after the limit.
  events = registry_changes({}, after, 2);
  BOOST_REQUIRE(events.size() == 3u);
  BOOST_TEST(events[2].target == "2 more certificates");
}

BOOST_FIXTURE_TEST_CASE(members_send_their_events_to_the_lead,
                        cluster_fixture) {
  auto at_lead = std::make_shared<script>();
  auto at_member = std::make_shared<script>();
  metrics lead_metrics{"n1"};
  metrics member_metrics{"n2"};
  auto lead = member(at_lead, &lead_metrics);
  auto other = member(at_member, &member_metrics);
  follow(lead, lead);
  follow(other, lead);
  for (int i = 1; i <= 6; ++i)
    self->send(other, event(i));
  BOOST_TEST(drain(other) == 0u);
  // drain answered after the lead's: what it wrote is visible here.
  BOOST_TEST(at_lead->chain() == targets(1, 6));
  BOOST_TEST(at_member->attempts == 0u);
  BOOST_TEST(lead_metrics.audit_peer_events.Value() == 6);
  BOOST_TEST(member_metrics.audit_events.Add({{"action", "test.event"}}).Value()
             == 6);
}

BOOST_FIXTURE_TEST_CASE(without_a_lead_events_wait_until_one_is_named,
                        cluster_fixture) {
  auto at_lead = std::make_shared<script>();
  auto at_member = std::make_shared<script>();
  metrics member_metrics{"n2"};
  auto lead = member(at_lead, nullptr);
  auto other = member(at_member, &member_metrics);
  for (int i = 1; i <= 3; ++i)
    self->send(other, event(i));
  // Several batch delays and retries pass: a member never writes itself
  // while it runs.
  std::this_thread::sleep_for(400ms);
  BOOST_TEST(member_metrics.audit_pending.Value() == 3);
  follow(lead, lead);
  follow(other, lead);
  BOOST_TEST(at_lead->chain() == targets(1, 3));
  BOOST_TEST(at_member->attempts == 0u);
  BOOST_TEST(member_metrics.audit_pending.Value() == 0);
}

BOOST_FIXTURE_TEST_CASE(a_lead_that_lost_the_lease_refuses_and_nothing_is_lost,
                        cluster_fixture) {
  auto at_old = std::make_shared<script>();
  auto at_new = std::make_shared<script>();
  auto at_member = std::make_shared<script>();
  metrics member_metrics{"n2"};
  auto old_lead = member(at_old, nullptr);
  auto new_lead = member(at_new, nullptr);
  auto other = member(at_member, &member_metrics);
  follow(new_lead, new_lead);
  follow(old_lead, new_lead);
  // The member still follows the old lead, which refuses the batch.
  self->send(other, lead_atom::value, caf::actor_cast<caf::actor>(old_lead));
  for (int i = 1; i <= 2; ++i)
    self->send(other, event(i));
  std::this_thread::sleep_for(300ms);
  BOOST_TEST(member_metrics.audit_pending.Value() == 2);
  follow(other, new_lead);
  BOOST_TEST(at_new->chain() == targets(1, 2));
  BOOST_TEST(at_old->attempts == 0u);
  BOOST_TEST(at_member->attempts == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_member_without_a_lead_writes_itself_at_shutdown,
                        cluster_fixture) {
  auto at_member = std::make_shared<script>();
  auto other = member(at_member, nullptr);
  for (int i = 1; i <= 2; ++i)
    self->send(other, event(i));
  // The node's drain before it stops: the last chance.
  BOOST_TEST(drain(other) == 0u);
  BOOST_TEST(at_member->chain() == targets(1, 2));
}

BOOST_AUTO_TEST_SUITE_END()
