#include "persistence/message_store.hpp"

#include "actors/recovery.hpp"
#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "core/metrics.hpp"
#include "persistence/clients.hpp"
#include "persistence/crypto.hpp"
#include "persistence/delivery_store.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/migrations.hpp"
#include "test/fixtures.hpp"
#include "test/persistence/redis_db.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald;
using namespace herald::persistence;
using namespace std::chrono_literals;

namespace {

const std::string number = "+4915112345678";
const std::string body = "the plaintext body 7f3a";

struct store_fixture {
  std::string database = test::create_test_database("herald_store");
  mysql_connection db = connect();
  key_ring keys = *key_ring::parse("1 " + std::string(64, 'c'), "test");
  uint64_t alice = add("alice");
  uint64_t bob = add("bob");

  mysql_connection connect() {
    auto conn = mysql_connection::connect(test::test_mysql(database), true);
    BOOST_REQUIRE_MESSAGE(conn, test::why(conn));
    BOOST_REQUIRE(migrate(*conn, nullptr));
    return std::move(*conn);
  }

  uint64_t add(const std::string& name) {
    certificate_record cert{std::string(64, name[0]), "01", "CN=" + name, 0,
                            4102444800};
    auto id = add_client(db, name, "", cert);
    BOOST_REQUIRE_MESSAGE(id, test::why(id));
    return *id;
  }

  stored_message make(uint64_t client, const std::string& key = "",
                      const std::string& text = body) {
    stored_message m;
    m.id = message_id::make_v7().raw();
    m.client_id = client;
    m.sender_hash = hmac_sha256("pepper-pepper-pepper", number);
    m.sender_masked = mask_e164(number);
    auto sealed = seal_payload(keys.active(), number, text, m.id);
    BOOST_REQUIRE(sealed);
    m.key_id = sealed->key_id;
    m.nonce = sealed->nonce;
    m.ciphertext = sealed->ciphertext;
    m.idempotency_key = key;
    m.request_hash = request_hash("pepper-pepper-pepper", number, text);
    return m;
  }

  std::vector<submit_result> store(const std::vector<stored_message>& batch) {
    auto results = insert_batch(db, batch);
    BOOST_REQUIRE_MESSAGE(results, test::why(results));
    return *results;
  }

  std::string status_of(const std::string& id) {
    auto rows = db.query("SELECT status FROM messages WHERE id = ?", {id});
    BOOST_REQUIRE(rows);
    return rows->empty() ? "missing" : *rows->front()[0];
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(message_store_suite, store_fixture)

BOOST_AUTO_TEST_CASE(a_batch_is_stored_encrypted_and_readable_by_its_client) {
  auto a = make(alice);
  auto b = make(alice);
  auto results = store({a, b});
  BOOST_TEST(results[0].outcome == submit_outcome::accepted);
  BOOST_TEST(results[1].message_id == b.id);
  BOOST_TEST(status_of(a.id) == "queued");
  auto st = find_message(db, alice, a.id);
  BOOST_REQUIRE_MESSAGE(st, test::why(st));
  BOOST_TEST(st->status == "queued");
  BOOST_TEST(st->attempts == 0u);
  BOOST_TEST(st->created_at.size() == 24u);
  // Another client sees nothing.
  auto other = find_message(db, bob, a.id);
  BOOST_REQUIRE(!other);
  BOOST_TEST((other.error() == errc::not_found));
  // The stored body decrypts with the message id, and nothing is plain.
  auto rows = db.query("SELECT body_key_id, body_nonce, body_ciphertext, "
                       "sender_hash, sender_masked FROM messages WHERE id = ?",
                       {a.id});
  BOOST_REQUIRE(rows && rows->size() == 1u);
  auto& row = rows->front();
  sealed_body sealed{static_cast<uint32_t>(std::stoul(*row[0])), *row[1],
                     *row[2]};
  auto plain = open_payload(keys, sealed, a.id);
  BOOST_REQUIRE(plain);
  BOOST_TEST(plain->first == number);
  BOOST_TEST(plain->second == body);
  BOOST_TEST(row[2]->find("plaintext") == std::string::npos);
  BOOST_TEST(row[3]->find(number) == std::string::npos);
  BOOST_TEST(*row[4] == "+49****78");
}

BOOST_AUTO_TEST_CASE(a_replayed_key_returns_the_original_message) {
  auto first = make(alice, "order-42");
  store({first});
  auto again = make(alice, "order-42");
  auto results = store({again});
  BOOST_TEST(results[0].outcome == submit_outcome::replayed);
  BOOST_TEST(results[0].message_id == first.id);
  BOOST_TEST(status_of(again.id) == "missing");
  // The same key of another client is another message.
  auto bobs = make(bob, "order-42");
  BOOST_TEST(store({bobs})[0].outcome == submit_outcome::accepted);
}

BOOST_AUTO_TEST_CASE(a_reused_key_with_another_payload_is_refused) {
  store({make(alice, "k1")});
  auto results = store({make(alice, "k1", "a different body")});
  BOOST_TEST(results[0].outcome == submit_outcome::key_reused);
}

BOOST_AUTO_TEST_CASE(duplicates_within_one_batch_store_one_message) {
  auto a = make(alice, "k2");
  auto b = make(alice, "k2");
  auto results = store({a, b});
  BOOST_TEST(results[0].outcome == submit_outcome::accepted);
  BOOST_TEST(results[1].outcome == submit_outcome::replayed);
  BOOST_TEST(results[1].message_id == a.id);
  auto count = db.query_int("SELECT COUNT(*) FROM messages");
  BOOST_TEST(count->value_or(0) == 1);
}

// One transaction stores the batch and queues it: the rows are queued and
// Redis has every accepted id (not the replays) when insert_batch returns.
BOOST_AUTO_TEST_CASE(a_batch_is_queued_in_redis_within_its_commit) {
  auto redis = test::connect_redis_db(test::message_store_redis_db);
  BOOST_REQUIRE(redis.command({"FLUSHDB"}));
  auto a = make(alice, "q1");
  auto b = make(bob);
  auto replay = make(alice, "q1");
  queue_target queue{redis};
  auto results = insert_batch(db, {a, b, replay}, &queue);
  BOOST_REQUIRE_MESSAGE(results, test::why(results));
  BOOST_TEST(status_of(a.id) == "queued");
  BOOST_TEST(status_of(b.id) == "queued");
  BOOST_TEST(status_of(replay.id) == "missing");
  BOOST_TEST(queue.length == 2);
  auto live = are_live(redis, {message_id::text_of(a.id),
                               message_id::text_of(b.id),
                               message_id::text_of(replay.id)});
  BOOST_REQUIRE(live);
  BOOST_TEST((*live == std::vector<bool>{true, true, false}));
}

// Redis failing rolls the batch back: no row, no key, nothing to deliver,
// and the client may try again with the same key.
BOOST_AUTO_TEST_CASE(a_redis_failure_rolls_the_batch_back) {
  auto redis = test::connect_redis_db(test::message_store_redis_db);
  auto killer = test::connect_redis_db(test::message_store_redis_db);
  auto client_id = redis.command({"CLIENT", "ID"});
  BOOST_REQUIRE(client_id);
  BOOST_REQUIRE(killer.command(
    {"CLIENT", "KILL", "ID", std::to_string(client_id->integer)}));
  auto a = make(alice, "q2");
  queue_target queue{redis};
  BOOST_TEST(!insert_batch(db, {a}, &queue));
  BOOST_TEST(status_of(a.id) == "missing");
  auto keys = db.query_int("SELECT COUNT(*) FROM idempotency_keys");
  BOOST_TEST(keys->value_or(-1) == 0);
  BOOST_TEST(store({make(alice, "q2")})[0].outcome == submit_outcome::accepted);
}

// A node of an earlier build wrote "accepting" rows until Redis had them.
BOOST_AUTO_TEST_CASE(a_key_in_progress_elsewhere_is_reported) {
  auto a = make(alice, "k3");
  BOOST_REQUIRE(insert_batch(db, {a}));
  BOOST_REQUIRE(!db.execute("UPDATE messages SET status = 'accepting'"));
  auto results = store({make(alice, "k3")});
  BOOST_TEST(results[0].outcome == submit_outcome::in_progress);
}

BOOST_AUTO_TEST_CASE(rejected_messages_free_their_keys_and_stay_hidden) {
  auto a = make(alice, "k4");
  BOOST_REQUIRE(insert_batch(db, {a}));
  BOOST_REQUIRE(!mark_rejected(db, {a.id}));
  BOOST_TEST(status_of(a.id) == "rejected");
  BOOST_TEST(!find_message(db, alice, a.id));
  auto retry = make(alice, "k4");
  BOOST_TEST(store({retry})[0].outcome == submit_outcome::accepted);
}

BOOST_AUTO_TEST_CASE(messages_stuck_before_their_enqueue_are_rejected) {
  auto a = make(alice);
  BOOST_REQUIRE(insert_batch(db, {a}));
  // As a node of an earlier build left it between its commit and enqueue.
  BOOST_REQUIRE(!db.execute("UPDATE messages SET status = 'accepting'"));
  auto none = reject_stale_accepting(db, 1h);
  BOOST_REQUIRE(none);
  BOOST_TEST(*none == 0u);
  auto some = reject_stale_accepting(db, 1us);
  BOOST_REQUIRE(some);
  BOOST_TEST(*some == 1u);
  BOOST_TEST(status_of(a.id) == "rejected");
}

// The age of the oldest undelivered message, for the "oldest pending
// message too old" alert: queued and delivering count, finished ones not.
BOOST_AUTO_TEST_CASE(the_oldest_pending_age_counts_queued_and_delivering) {
  auto none = oldest_pending_age(db);
  BOOST_REQUIRE_MESSAGE(none, test::why(none));
  BOOST_TEST(*none == 0.0);
  auto old = make(alice);
  auto young = make(alice);
  auto done = make(alice);
  store({old, young, done});
  auto age_of = [this](const stored_message& m, const char* status,
                       int minutes) {
    BOOST_REQUIRE(db.execute("UPDATE messages SET status = ?, created_at = "
                             "NOW(6) - INTERVAL ? MINUTE WHERE id = ?",
                             {std::string{status}, int64_t{minutes}, m.id}));
  };
  age_of(old, "delivering", 60);
  age_of(young, "queued", 1);
  age_of(done, "delivered", 600);
  auto age = oldest_pending_age(db);
  BOOST_REQUIRE_MESSAGE(age, test::why(age));
  BOOST_TEST(*age >= 3600.0);
  BOOST_TEST(*age < 3660.0);
  age_of(old, "failed", 60);
  age = oldest_pending_age(db);
  BOOST_REQUIRE(age);
  BOOST_TEST(*age >= 60.0);
  BOOST_TEST(*age < 120.0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(recovery_suite, test::threaded_fixture)

// The crash between MySQL commit and Redis enqueue: the sweep finds the
// queued message Redis does not hold and queues it again.
BOOST_AUTO_TEST_CASE(the_sweep_queues_messages_that_redis_lost) {
  store_fixture data;
  auto m = data.make(data.alice);
  data.store({m});
  auto redis = redis_connection::connect(test::test_redis());
  BOOST_REQUIRE(redis);
  auto live = are_live(*redis, {message_id::text_of(m.id)});
  BOOST_REQUIRE(live);
  BOOST_TEST(!live->front());
  redis->command({"DEL", queue_keys::sweep_lock});
  maintenance_config cfg{"test-node", test::test_mysql(data.database),
                         test::test_redis(),
                         config::recovery_config{1h, 1h, 1h}};
  // The actor sweeps once at start; the request queues behind that sweep.
  auto rec = spawn_recovery(sys, cfg, nullptr);
  auto sweep_now = [&] {
    sweep_report report;
    self->request(rec, 10s, sweep_atom::value)
      .receive([&](sweep_report& r) { report = r; },
               [](caf::error& err) { BOOST_FAIL(caf::to_string(err)); });
    return report;
  };
  sweep_now();
  live = are_live(*redis, {message_id::text_of(m.id)});
  BOOST_REQUIRE(live);
  BOOST_TEST(live->front());
  // The lock holds for most of an interval: no second sweep meanwhile.
  BOOST_TEST(!sweep_now().ran);
  redis->command({"DEL", queue_keys::sweep_lock});
  BOOST_TEST(sweep_now().ran);
  self->send_exit(rec, caf::exit_reason::user_shutdown);
}

// Every node's sweep samples the backlog's age, also without the lock.
BOOST_AUTO_TEST_CASE(the_sweep_samples_the_oldest_pending_age) {
  store_fixture data;
  auto m = data.make(data.alice);
  data.store({m});
  BOOST_REQUIRE(data.db.execute("UPDATE messages SET created_at = NOW(6) - "
                                "INTERVAL 10 MINUTE WHERE id = ?",
                                {m.id}));
  auto redis = redis_connection::connect(test::test_redis());
  BOOST_REQUIRE(redis);
  // Another node holds the lock: this one does not sweep, but samples.
  redis->command({"SET", queue_keys::sweep_lock, "other-node", "PX",
                  "60000"});
  metrics stats{"test-node"};
  maintenance_config cfg{"test-node", test::test_mysql(data.database),
                         test::test_redis(),
                         config::recovery_config{1h, 1h, 1h}};
  auto rec = spawn_recovery(sys, cfg, &stats);
  sweep_report report;
  self->request(rec, 10s, sweep_atom::value)
    .receive([&](sweep_report& r) { report = r; },
             [](caf::error& err) { BOOST_FAIL(caf::to_string(err)); });
  BOOST_TEST(!report.ran);
  BOOST_TEST(stats.oldest_pending_age.Value() >= 600.0);
  BOOST_TEST(stats.oldest_pending_age.Value() < 660.0);
  redis->command({"DEL", queue_keys::sweep_lock});
  self->send_exit(rec, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
