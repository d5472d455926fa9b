#include "persistence/dead_letters.hpp"

#include "actors/delivery.hpp"
#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "persistence/audit.hpp"
#include "persistence/clients.hpp"
#include "persistence/crypto.hpp"
#include "persistence/delivery_store.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/message_store.hpp"
#include "persistence/migrations.hpp"
#include "test/fixtures.hpp"
#include "test/persistence/redis_db.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace herald;
using namespace herald::persistence;
using namespace std::chrono_literals;

namespace {

const std::string number = "+4915112345678";
const std::string audit_key(64, 'k');

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string text_id(const std::string& raw) {
  return message_id::text_of(raw);
}

struct dead_letters_fixture {
  std::string database = test::create_test_database("herald_dead_letters");
  mysql_connection db = connect();
  redis_connection redis = fresh_redis();
  key_ring keys = *key_ring::parse("1 " + std::string(64, 'd'), "test");
  uint64_t alice = add_client_named("alice");
  uint64_t bob = add_client_named("bob");
  audit_event who{"operator", "", "", "ok", "heraldctl@test", "", 0};

  mysql_connection connect() {
    auto conn = mysql_connection::connect(test::test_mysql(database), true);
    BOOST_REQUIRE_MESSAGE(conn, test::why(conn));
    BOOST_REQUIRE(migrate(*conn, nullptr));
    return std::move(*conn);
  }

  static redis_connection fresh_redis() {
    auto redis = test::connect_redis_db(test::dead_letters_redis_db);
    BOOST_REQUIRE(redis.command({"FLUSHDB"}));
    return redis;
  }

  uint64_t add_client_named(const std::string& name) {
    certificate_record cert{std::string(64, name[0]), "01", "CN=" + name, 0,
                            4102444800};
    auto id = add_client(db, name, "", cert);
    BOOST_REQUIRE_MESSAGE(id, test::why(id));
    return *id;
  }

  /// A message of `client`, queued as a submission leaves it; returns its
  /// raw id.
  std::string queued(uint64_t client) {
    stored_message m;
    m.id = message_id::make_v7().raw();
    m.client_id = client;
    m.sender_hash = hmac_sha256("pepper-pepper-pepper", number);
    m.sender_masked = mask_e164(number);
    auto sealed = seal_payload(keys.active(), number, "body", m.id);
    BOOST_REQUIRE(sealed);
    m.key_id = sealed->key_id;
    m.nonce = sealed->nonce;
    m.ciphertext = sealed->ciphertext;
    auto results = insert_batch(db, {m});
    BOOST_REQUIRE_MESSAGE(results, test::why(results));
    return m.id;
  }

  /// A message that delivery ended with `outcome` after `attempts`
  /// attempts, the last one `seconds_ago` seconds ago.
  std::string ended(uint64_t client, uint32_t attempts,
                    attempt_outcome outcome, const std::string& error,
                    int seconds_ago = 0) {
    auto id = queued(client);
    std::vector<attempt_record> records;
    for (uint32_t i = 1; i <= attempts; ++i) {
      attempt_record r;
      r.id = id;
      r.attempt = i;
      r.outcome = i < attempts ? attempt_outcome::retry : outcome;
      r.http_status = 503;
      r.error = i < attempts ? "HTTP 503" : error;
      r.latency_ms = 5;
      r.next_attempt_ms = now_ms();
      records.push_back(r);
      BOOST_REQUIRE(!record_attempts(db, "n1", {r}));
    }
    if (seconds_ago > 0) {
      auto n = db.execute("UPDATE messages SET updated_at = NOW(6) - "
                          "INTERVAL ? SECOND WHERE id = ?",
                          {static_cast<int64_t>(seconds_ago), id});
      BOOST_REQUIRE_MESSAGE(n, test::why(n));
    }
    return id;
  }

  std::string failed(uint64_t client, int seconds_ago = 0) {
    return ended(client, 1, attempt_outcome::failed, "HTTP 400",
                 seconds_ago);
  }

  std::string status_of(const std::string& id) {
    auto m = show_message(db, id);
    BOOST_REQUIRE_MESSAGE(m, test::why(m));
    return m->status;
  }

  std::vector<std::string> ids_of(const std::vector<message_record>& xs) {
    std::vector<std::string> result;
    for (const auto& x : xs)
      result.push_back(x.id);
    return result;
  }

  std::vector<std::string> list(message_filter f) {
    auto found = list_messages(db, f);
    BOOST_REQUIRE_MESSAGE(found, test::why(found));
    return ids_of(*found);
  }

  int64_t audit_rows(const std::string& target) {
    auto n = db.query("SELECT COUNT(*) FROM audit_log WHERE action = "
                      "'message.requeue' AND target = ?",
                      {target});
    BOOST_REQUIRE_MESSAGE(n, test::why(n));
    return std::stoll(*n->front()[0]);
  }

  int64_t all_audit_rows() {
    auto n = db.query_int("SELECT COUNT(*) FROM audit_log");
    BOOST_REQUIRE_MESSAGE(n, test::why(n));
    return n->value_or(0);
  }

  size_t pending_count(const std::string& text) {
    auto xs = test::redis_list(redis, queue_keys::pending);
    return static_cast<size_t>(std::count(xs.begin(), xs.end(), text));
  }

  requeue_report requeue(const std::vector<std::string>& ids) {
    auto report = requeue_batch(db, &redis, audit_key, who, ids);
    BOOST_REQUIRE_MESSAGE(report, test::why(report));
    BOOST_REQUIRE_MESSAGE(!report->audit_error,
                          caf::to_string(report->audit_error));
    return std::move(*report);
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(dead_letters_suite, dead_letters_fixture)

BOOST_AUTO_TEST_CASE(a_list_filters_by_status_since_client_and_limit) {
  auto old_alice = failed(alice, 7200);
  auto alice_1 = failed(alice, 60);
  auto bob_1 = failed(bob, 30);
  auto done = ended(alice, 1, attempt_outcome::delivered, "");
  auto waiting = queued(bob);
  message_filter f;
  f.status = "failed";
  // Newest change first.
  BOOST_TEST((list(f) == std::vector<std::string>{bob_1, alice_1, old_alice}));
  f.since_ms = now_ms() - 3600 * 1000;
  BOOST_TEST((list(f) == std::vector<std::string>{bob_1, alice_1}));
  f.client = "alice";
  BOOST_TEST((list(f) == std::vector<std::string>{alice_1}));
  f.since_ms = 0;
  BOOST_TEST((list(f) == std::vector<std::string>{alice_1, old_alice}));
  f.limit = 1;
  BOOST_TEST((list(f) == std::vector<std::string>{alice_1}));
  f = message_filter{};
  f.status = "delivered";
  BOOST_TEST((list(f) == std::vector<std::string>{done}));
  f.status = "queued";
  BOOST_TEST((list(f) == std::vector<std::string>{waiting}));
  f.status = "rejected";
  BOOST_TEST(list(f).empty());
  // Inputs out of range say so.
  f.status = "expired"; // an attempt outcome, not a message status
  auto bad = list_messages(db, f);
  BOOST_REQUIRE(!bad);
  BOOST_TEST((bad.error() == errc::invalid_input));
  f.status = "failed";
  for (size_t limit : {size_t{0}, max_list_limit + 1}) {
    f.limit = limit;
    auto out_of_range = list_messages(db, f);
    BOOST_REQUIRE(!out_of_range);
    BOOST_TEST((out_of_range.error() == errc::invalid_input));
  }
  f.limit = max_list_limit;
  f.client = "carol";
  auto nobody = list_messages(db, f);
  BOOST_REQUIRE(!nobody);
  BOOST_TEST((nobody.error() == errc::not_found));
  f.client = std::string(65, 'x');
  BOOST_TEST(!list_messages(db, f));
}

BOOST_AUTO_TEST_CASE(show_has_what_operators_need_and_no_number) {
  auto id = ended(bob, 3, attempt_outcome::expired, "expired: HTTP 503");
  auto m = show_message(db, id);
  BOOST_REQUIRE_MESSAGE(m, test::why(m));
  BOOST_TEST(m->id == id);
  BOOST_TEST(m->client == "bob");
  BOOST_TEST(m->status == "failed");
  BOOST_TEST(m->attempts == 3u);
  BOOST_TEST(m->last_error == "expired: HTTP 503");
  BOOST_TEST(m->sender_masked == mask_e164(number));
  BOOST_TEST(m->sender_masked != number);
  BOOST_TEST(m->created_ms > now_ms() - 60000);
  BOOST_TEST(m->updated_ms >= m->created_ms);
  BOOST_TEST(m->next_attempt_ms == 0);
  BOOST_TEST(m->delivered_ms == 0);
  BOOST_TEST(m->requeued_ms == 0);
  auto attempts = message_attempts(db, id);
  BOOST_REQUIRE_MESSAGE(attempts, test::why(attempts));
  BOOST_REQUIRE(attempts->size() == 3u);
  BOOST_TEST(attempts->front().attempt == 1u);
  BOOST_TEST(attempts->front().outcome == "retry");
  BOOST_TEST(attempts->back().outcome == "expired");
  BOOST_TEST(attempts->back().http_status == 503u);
  BOOST_TEST(attempts->back().node == "n1");
  auto unknown = show_message(db, message_id::make_v7().raw());
  BOOST_REQUIRE(!unknown);
  BOOST_TEST((unknown.error() == errc::not_found));
}

BOOST_AUTO_TEST_CASE(a_requeue_queues_a_failed_message_once_and_audits_it) {
  auto id = ended(alice, 3, attempt_outcome::expired, "expired: HTTP 503");
  auto before = all_audit_rows();
  auto report = requeue({id});
  BOOST_REQUIRE(report.requeued.size() == 1u);
  BOOST_TEST(report.requeued.front().status == "failed"); // as it was
  BOOST_TEST(report.skipped == 0u);
  BOOST_TEST(report.pushed == 1u);
  BOOST_TEST(!report.redis_error);
  // MySQL: queued, due now, the attempts kept and marked as before the
  // requeue.
  auto m = show_message(db, id);
  BOOST_REQUIRE(m);
  BOOST_TEST(m->status == "queued");
  BOOST_TEST(m->attempts == 3u);
  BOOST_TEST(m->requeued_attempts == 3u);
  BOOST_TEST(m->requeued_ms > now_ms() - 60000);
  BOOST_TEST(m->next_attempt_ms > 0);
  // Redis: pending once, live.
  BOOST_TEST(pending_count(text_id(id)) == 1u);
  auto live = are_live(redis, {text_id(id)});
  BOOST_REQUIRE(live);
  BOOST_TEST(live->front());
  // Audit: one row, and the chain verifies.
  BOOST_TEST(audit_rows(text_id(id)) == 1);
  BOOST_TEST(all_audit_rows() == before + 1);
  auto chain = verify_audit(db, audit_key);
  BOOST_REQUIRE(chain);
  BOOST_TEST(chain->first_broken == 0u);
  auto detail = db.query("SELECT actor, source, detail FROM audit_log "
                         "WHERE target = ?",
                         {text_id(id)});
  BOOST_REQUIRE(detail);
  BOOST_TEST(*detail->front()[0] == "operator");
  BOOST_TEST(*detail->front()[1] == "heraldctl@test");
  BOOST_TEST(detail->front()[2]->find("expired: HTTP 503")
             != std::string::npos);
  // A second requeue finds it queued: nothing changes, nothing is pushed
  // or audited again.
  auto again = requeue({id});
  BOOST_TEST(again.requeued.empty());
  BOOST_TEST(again.skipped == 1u);
  BOOST_TEST(pending_count(text_id(id)) == 1u);
  BOOST_TEST(audit_rows(text_id(id)) == 1);
}

BOOST_AUTO_TEST_CASE(a_requeue_refuses_messages_that_are_not_failed) {
  auto done = ended(alice, 1, attempt_outcome::delivered, "");
  auto waiting = queued(alice);
  auto gone = failed(bob);
  auto before = all_audit_rows();
  auto report = requeue({done, waiting, gone});
  BOOST_REQUIRE(report.requeued.size() == 1u);
  BOOST_TEST(report.requeued.front().id == gone);
  BOOST_TEST(report.skipped == 2u);
  BOOST_TEST(status_of(done) == "delivered");
  BOOST_TEST(status_of(waiting) == "queued");
  BOOST_TEST(status_of(gone) == "queued");
  BOOST_TEST(pending_count(text_id(done)) == 0u);
  BOOST_TEST(pending_count(text_id(waiting)) == 0u);
  BOOST_TEST(audit_rows(text_id(done)) == 0);
  BOOST_TEST(all_audit_rows() == before + 1);
  // A delivered message alone: nothing at all.
  auto none = requeue({done});
  BOOST_TEST(none.requeued.empty());
  BOOST_TEST(all_audit_rows() == before + 1);
  BOOST_TEST(test::redis_list(redis, queue_keys::pending).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_dry_run_changes_nothing) {
  auto gone = failed(alice);
  auto done = ended(alice, 1, attempt_outcome::delivered, "");
  auto before = show_message(db, gone);
  BOOST_REQUIRE(before);
  auto audit_before = all_audit_rows();
  auto found = failed_among(db, {gone, done});
  BOOST_REQUIRE_MESSAGE(found, test::why(found));
  BOOST_TEST((ids_of(*found) == std::vector<std::string>{gone}));
  auto after = show_message(db, gone);
  BOOST_REQUIRE(after);
  BOOST_TEST(after->status == "failed");
  BOOST_TEST(after->updated_ms == before->updated_ms);
  BOOST_TEST(after->requeued_ms == 0);
  BOOST_TEST(all_audit_rows() == audit_before);
  BOOST_TEST(test::redis_list(redis, queue_keys::pending).empty());
}

BOOST_AUTO_TEST_CASE(without_redis_the_recovery_sweep_finds_them_queued) {
  auto id = failed(alice);
  auto report = requeue_batch(db, nullptr, audit_key, who, {id});
  BOOST_REQUIRE_MESSAGE(report, test::why(report));
  BOOST_TEST(report->requeued.size() == 1u);
  BOOST_TEST(report->pushed == 0u);
  BOOST_TEST(report->redis_error);
  BOOST_TEST(!report->audit_error);
  BOOST_TEST(status_of(id) == "queued");
  // What the sweep (actors/recovery.cpp requeue_lost) reads.
  auto sweep = queued_ids(db, "", 1000);
  BOOST_REQUIRE(sweep);
  BOOST_TEST((*sweep == std::vector<std::string>{id}));
  // An id the live set holds already (the sweep came first) is not pushed
  // a second time.
  BOOST_REQUIRE(enqueue(redis, {text_id(id)}));
  auto pushed = enqueue_requeued(redis, {text_id(id)});
  BOOST_REQUIRE(pushed);
  BOOST_TEST(*pushed == 0u);
  BOOST_TEST(pending_count(text_id(id)) == 1u);
}

BOOST_AUTO_TEST_CASE(all_failed_pages_by_id_with_since_and_client) {
  std::vector<std::string> alices;
  for (int i = 0; i < 5; ++i)
    alices.push_back(failed(alice));
  auto old_alice = failed(alice, 7200);
  auto bobs = failed(bob);
  ended(alice, 1, attempt_outcome::delivered, "");
  auto since = now_ms() - 3600 * 1000;
  std::vector<std::string> seen;
  std::string after;
  for (;;) {
    auto page = failed_ids(db, since, "alice", after, 2);
    BOOST_REQUIRE_MESSAGE(page, test::why(page));
    if (page->empty())
      break;
    BOOST_TEST(page->size() <= 2u);
    after = page->back();
    auto report = requeue(*page);
    BOOST_TEST(report.requeued.size() == page->size());
    seen.insert(seen.end(), page->begin(), page->end());
  }
  BOOST_TEST(seen == alices); // UUIDv7: id order is creation order
  BOOST_TEST(status_of(old_alice) == "failed");
  BOOST_TEST(status_of(bobs) == "failed");
  BOOST_TEST(test::redis_list(redis, queue_keys::pending).size() == 5u);
  auto too_many = requeue_batch(db, &redis, audit_key, who,
                                std::vector<std::string>(
                                  max_requeue_batch + 1, alices.front()));
  BOOST_REQUIRE(!too_many);
  BOOST_TEST((too_many.error() == errc::invalid_input));
}

// The store and the decision together: a message that ran out of attempts
// and was requeued is claimed with its requeue, and delivery attempts it
// again, up to max-attempts more; its attempt numbers go on.
BOOST_AUTO_TEST_CASE(a_requeued_message_gets_its_attempts_again) {
  config::delivery_config cfg;
  cfg.max_attempts = 3;
  cfg.max_age = 1h;
  auto id = ended(alice, 3, attempt_outcome::expired, "expired: HTTP 503");
  requeue({id});
  auto jobs = claim_jobs(db, {id});
  BOOST_REQUIRE_MESSAGE(jobs, test::why(jobs));
  BOOST_REQUIRE(jobs->size() == 1u);
  auto job = jobs->front();
  BOOST_TEST(job.status == "queued");
  BOOST_TEST(job.attempts == 3u);
  BOOST_TEST(job.requeued_attempts == 3u);
  BOOST_TEST(job.requeued_ms >= job.created_ms);
  BOOST_TEST(!expire_before_attempt(job, now_ms(), cfg));
  auto rec = decide(job, {503, "", "", 5ms}, now_ms() + 1000, cfg);
  BOOST_TEST((rec.outcome == attempt_outcome::retry));
  BOOST_TEST(rec.attempt == 4u);
  BOOST_REQUIRE(!record_attempts(db, "n1", {rec}));
  auto log = message_attempts(db, id);
  BOOST_REQUIRE(log);
  BOOST_TEST(log->size() == 4u); // the history stays, numbered on
  // A late record of an attempt from before the requeue (a node whose
  // lease lapsed) changes nothing.
  attempt_record stale;
  stale.id = id;
  stale.attempt = 3;
  stale.outcome = attempt_outcome::failed;
  stale.error = "HTTP 400";
  BOOST_REQUIRE(!record_attempts(db, "slow", {stale}));
  auto m = show_message(db, id);
  BOOST_REQUIRE(m);
  BOOST_TEST(m->status == "queued");
  BOOST_TEST(m->last_error == "HTTP 503");
  // Without the requeue it would have expired at once.
  job.requeued_attempts = 0;
  job.requeued_ms = 0;
  BOOST_TEST(expire_before_attempt(job, now_ms(), cfg).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
