#include "persistence/delivery_store.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "persistence/clients.hpp"
#include "persistence/crypto.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/message_store.hpp"
#include "persistence/migrations.hpp"
#include "test/fixtures.hpp"
#include "test/persistence/redis_db.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>

#include <sys/stat.h>
#include <unistd.h>

using namespace herald;
using namespace herald::persistence;
using namespace std::chrono_literals;

namespace {

const std::string number = "+4915112345678";
const std::string body = "the plaintext body 51c2";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string text_id(const std::string& raw) {
  return message_id::text_of(raw);
}

/// The columns of a message row that delivery changes.
struct message_row {
  std::string status;
  int64_t attempts = 0;
  std::optional<std::string> next_attempt_ms;
  std::optional<std::string> delivered_ms;
  std::optional<std::string> last_error;
};

struct delivery_fixture {
  std::string database = test::create_test_database("herald_delivery");
  mysql_connection db = connect();
  key_ring keys = *key_ring::parse("1 " + std::string(64, 'd'), "test");
  uint64_t client = add_client_named("alice");

  mysql_connection connect() {
    auto conn = mysql_connection::connect(test::test_mysql(database), true);
    BOOST_REQUIRE_MESSAGE(conn, test::why(conn));
    BOOST_REQUIRE(migrate(*conn, nullptr));
    return std::move(*conn);
  }

  uint64_t add_client_named(const std::string& name) {
    certificate_record cert{std::string(64, name[0]), "01", "CN=" + name, 0,
                            4102444800};
    auto id = add_client(db, name, "", cert);
    BOOST_REQUIRE_MESSAGE(id, test::why(id));
    return *id;
  }

  /// Stores a message sealed under `key`, queued as a submission stores it
  /// (the recovery sweep would put it in Redis); returns its id (raw).
  std::string queued(const data_key& key) {
    stored_message m;
    m.id = message_id::make_v7().raw();
    m.client_id = client;
    m.sender_hash = hmac_sha256("pepper-pepper-pepper", number);
    m.sender_masked = mask_e164(number);
    auto sealed = seal_payload(key, number, body, m.id);
    BOOST_REQUIRE(sealed);
    m.key_id = sealed->key_id;
    m.nonce = sealed->nonce;
    m.ciphertext = sealed->ciphertext;
    m.request_hash = request_hash("pepper-pepper-pepper", number, body);
    auto results = insert_batch(db, {m});
    BOOST_REQUIRE_MESSAGE(results, test::why(results));
    BOOST_REQUIRE(results->front().outcome == submit_outcome::accepted);
    return m.id;
  }

  std::string queued() {
    return queued(keys.active());
  }

  std::vector<delivery_job> claim(const std::vector<std::string>& ids) {
    auto jobs = claim_jobs(db, ids);
    BOOST_REQUIRE_MESSAGE(jobs, test::why(jobs));
    return *jobs;
  }

  delivery_job claim_one(const std::string& id) {
    auto jobs = claim({id});
    BOOST_REQUIRE(jobs.size() == 1u);
    return jobs.front();
  }

  void record(const std::string& node, std::vector<attempt_record> records) {
    auto err = record_attempts(db, node, records);
    BOOST_REQUIRE_MESSAGE(!err, caf::to_string(err));
  }

  message_row row(const std::string& id) {
    auto rows = db.query("SELECT status, attempts, "
                           + sql_unix_ms("next_attempt_at") + ", "
                           + sql_unix_ms("delivered_at")
                           + ", last_error FROM messages WHERE id = ?",
                         {id});
    BOOST_REQUIRE_MESSAGE(rows, test::why(rows));
    BOOST_REQUIRE(rows->size() == 1u);
    auto& r = rows->front();
    return {*r[0], std::stoll(*r[1]), r[2], r[3], r[4]};
  }

  void set_status(const std::string& id, const std::string& status) {
    auto n = db.execute("UPDATE messages SET status = ? WHERE id = ?",
                        {status, id});
    BOOST_REQUIRE_MESSAGE(n, test::why(n));
  }

  /// Outcomes of the attempts recorded for `id`, by attempt number.
  std::vector<std::string> attempts_of(const std::string& id) {
    auto rows = db.query("SELECT outcome FROM delivery_attempts WHERE "
                         "message_id = ? ORDER BY attempt",
                         {id});
    BOOST_REQUIRE_MESSAGE(rows, test::why(rows));
    std::vector<std::string> result;
    for (auto& r : *rows)
      result.push_back(*r[0]);
    return result;
  }
};

attempt_record delivered(const std::string& id, uint32_t attempt) {
  attempt_record r;
  r.id = id;
  r.attempt = attempt;
  r.outcome = attempt_outcome::delivered;
  r.http_status = 200;
  r.latency_ms = 12;
  return r;
}

attempt_record retry(const std::string& id, uint32_t attempt, int64_t due_ms,
                     const std::string& error = "HTTP 503") {
  attempt_record r;
  r.id = id;
  r.attempt = attempt;
  r.outcome = attempt_outcome::retry;
  r.http_status = 503;
  r.error = error;
  r.latency_ms = 12;
  r.next_attempt_ms = due_ms;
  return r;
}

attempt_record ended(const std::string& id, uint32_t attempt,
                     attempt_outcome outcome, const std::string& error) {
  attempt_record r;
  r.id = id;
  r.attempt = attempt;
  r.outcome = outcome;
  r.error = error;
  r.latency_ms = 12;
  return r;
}

/// A key file (mode 0600) in a fresh temp folder, removed at the end.
struct key_file {
  std::filesystem::path dir;
  std::string path;

  key_file() {
    dir = std::filesystem::temp_directory_path()
          / ("herald-delivery-keys-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    path = (dir / "data-keys").string();
  }

  ~key_file() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(delivery_store_suite, delivery_fixture)

BOOST_AUTO_TEST_CASE(a_claim_loads_queued_messages_and_marks_them_delivering) {
  auto a = queued();
  auto b = queued();
  auto unknown = message_id::make_v7().raw();
  auto jobs = claim({a, unknown, b});
  // Ids without a row are missing from the result.
  BOOST_REQUIRE(jobs.size() == 2u);
  for (const auto& job : jobs) {
    BOOST_TEST((job.id == a || job.id == b));
    BOOST_TEST(job.status == "queued"); // as found: deliverable
    BOOST_TEST(job.attempts == 0u);
    BOOST_TEST(job.created_ms > now_ms() - 60000);
    BOOST_TEST(job.created_ms <= now_ms() + 1000);
    auto payload = open_payload(keys, job.payload, job.id);
    BOOST_REQUIRE_MESSAGE(payload, test::why(payload));
    BOOST_TEST(payload->first == number);
    BOOST_TEST(payload->second == body);
  }
  BOOST_TEST(row(a).status == "delivering");
  BOOST_TEST(row(b).status == "delivering");
  // A second claim (another node after a reap) sees "delivering": still
  // deliverable for the worker.
  BOOST_TEST(claim_one(a).status == "delivering");
  BOOST_TEST(claim({}).empty());
}

// A batch's ids reach Redis before its commit (insert_batch): a delivery
// that takes one at once must wait for the commit, not find no row and drop
// the message; after a rollback it finds none.
BOOST_AUTO_TEST_CASE(a_claim_waits_for_the_commit_of_a_row_being_written) {
  for (bool commit : {true, false}) {
    auto model = queued();
    auto writer = connect();
    auto id = message_id::make_v7().raw();
    BOOST_REQUIRE(!writer.execute("START TRANSACTION"));
    auto copied = writer.execute(
      "INSERT INTO messages (id, client_id, sender_hash, sender_masked, "
      "body_key_id, body_nonce, body_ciphertext, created_at, "
      "next_attempt_at, status) SELECT ?, client_id, sender_hash, "
      "sender_masked, body_key_id, body_nonce, body_ciphertext, created_at, "
      "next_attempt_at, status FROM messages WHERE id = ?",
      {id, model});
    BOOST_REQUIRE_MESSAGE(copied, test::why(copied));
    auto claimed = std::async(std::launch::async,
                              [this, id] { return claim_jobs(db, {id}); });
    BOOST_TEST((claimed.wait_for(300ms) == std::future_status::timeout));
    BOOST_REQUIRE(!writer.execute(commit ? "COMMIT" : "ROLLBACK"));
    auto jobs = claimed.get();
    BOOST_REQUIRE_MESSAGE(jobs, test::why(jobs));
    BOOST_TEST(jobs->size() == (commit ? 1u : 0u));
  }
}

BOOST_AUTO_TEST_CASE(a_claim_changes_no_message_that_is_not_queued) {
  // As a node of an earlier build left it between its commit and enqueue.
  auto accepting = queued();
  set_status(accepting, "accepting");
  auto done = queued();
  set_status(done, "delivered");
  auto gone = queued();
  set_status(gone, "failed");
  auto refused = queued();
  set_status(refused, "rejected");
  BOOST_TEST(claim_one(accepting).status == "accepting");
  BOOST_TEST(claim_one(done).status == "delivered");
  BOOST_TEST(claim_one(gone).status == "failed");
  BOOST_TEST(claim_one(refused).status == "rejected");
  BOOST_TEST(row(accepting).status == "accepting");
  BOOST_TEST(row(done).status == "delivered");
  BOOST_TEST(row(gone).status == "failed");
  BOOST_TEST(row(refused).status == "rejected");
}

BOOST_AUTO_TEST_CASE(a_delivered_attempt_ends_the_message) {
  auto id = queued();
  claim_one(id);
  record("n1", {delivered(id, 1)});
  auto r = row(id);
  BOOST_TEST(r.status == "delivered");
  BOOST_TEST(r.attempts == 1);
  BOOST_TEST(!r.next_attempt_ms);
  BOOST_TEST(!r.last_error);
  BOOST_REQUIRE(r.delivered_ms);
  BOOST_TEST(std::stoll(*r.delivered_ms) > now_ms() - 60000);
  BOOST_TEST(attempts_of(id) == std::vector<std::string>{"delivered"});
  auto nodes = db.query("SELECT node, http_status FROM delivery_attempts "
                        "WHERE message_id = ?",
                        {id});
  BOOST_REQUIRE(nodes && nodes->size() == 1u);
  BOOST_TEST(*nodes->front()[0] == "n1");
  BOOST_TEST(*nodes->front()[1] == "200");
}

BOOST_AUTO_TEST_CASE(a_retry_queues_the_message_again_for_its_due_time) {
  auto id = queued();
  claim_one(id);
  auto due = now_ms() + 30000;
  record("n1", {retry(id, 1, due)});
  auto r = row(id);
  BOOST_TEST(r.status == "queued");
  BOOST_TEST(r.attempts == 1);
  BOOST_REQUIRE(r.next_attempt_ms);
  BOOST_TEST(std::stoll(*r.next_attempt_ms) == due);
  BOOST_TEST(r.last_error.value_or("") == "HTTP 503");
  // The next claim knows of the attempt made.
  auto job = claim_one(id);
  BOOST_TEST(job.status == "queued");
  BOOST_TEST(job.attempts == 1u);
  BOOST_TEST(row(id).status == "delivering");
}

// A node whose attempt was slow (or whose lease lapsed) records its outcome
// after another node delivered the message: the late record is kept in the
// attempt history, but the message stays delivered. Before, the UPDATE had
// no status guard and the message went back to "queued".
BOOST_AUTO_TEST_CASE(a_late_retry_never_reopens_a_delivered_message) {
  auto id = queued();
  claim_one(id);
  record("fast", {delivered(id, 2)});
  auto before = row(id);
  record("slow", {retry(id, 1, now_ms() + 30000)});
  auto after = row(id);
  BOOST_TEST(after.status == "delivered");
  BOOST_TEST(after.attempts == 2);
  BOOST_TEST(!after.next_attempt_ms);
  BOOST_TEST(!after.last_error);
  BOOST_TEST((after.delivered_ms == before.delivered_ms));
  BOOST_TEST(attempts_of(id) == (std::vector<std::string>{"retry",
                                                           "delivered"}));
  // Nor does it become deliverable again.
  BOOST_TEST(claim_one(id).status == "delivered");
}

BOOST_AUTO_TEST_CASE(a_late_failure_never_overturns_a_delivered_message) {
  auto a = queued();
  auto b = queued();
  claim({a, b});
  record("fast", {delivered(a, 1), delivered(b, 1)});
  record("slow", {ended(a, 2, attempt_outcome::failed, "HTTP 400"),
                  ended(b, 2, attempt_outcome::expired, "expired: HTTP 503")});
  for (const auto& id : {a, b}) {
    auto r = row(id);
    BOOST_TEST(r.status == "delivered");
    BOOST_TEST(!r.last_error);
  }
}

// Two nodes' retries of one message recorded out of order: the count
// stays at the higher attempt, or max-attempts would allow one more.
BOOST_AUTO_TEST_CASE(a_late_retry_never_lowers_the_attempt_count) {
  auto id = queued();
  claim_one(id);
  record("fast", {retry(id, 2, now_ms() + 30000)});
  record("slow", {retry(id, 1, now_ms() + 30000)});
  auto r = row(id);
  BOOST_TEST(r.status == "queued");
  BOOST_TEST(r.attempts == 2);
  BOOST_TEST(claim_one(id).attempts == 2u);
}

// Max attempts or max age reached: "expired" ends the message as failed,
// and nothing brings it back.
BOOST_AUTO_TEST_CASE(an_expired_message_fails_for_good) {
  auto id = queued();
  claim_one(id);
  record("n1", {retry(id, 1, now_ms() + 1000)});
  claim_one(id);
  record("n1", {ended(id, 2, attempt_outcome::expired, "expired: HTTP 503")});
  auto r = row(id);
  BOOST_TEST(r.status == "failed");
  BOOST_TEST(r.attempts == 2);
  BOOST_TEST(!r.next_attempt_ms);
  BOOST_TEST(r.last_error.value_or("") == "expired: HTTP 503");
  // A late retry of another node does not queue it again.
  record("slow", {retry(id, 1, now_ms() + 30000)});
  r = row(id);
  BOOST_TEST(r.status == "failed");
  BOOST_TEST(r.attempts == 2);
  BOOST_TEST(!r.next_attempt_ms);
  BOOST_TEST(r.last_error.value_or("") == "expired: HTTP 503");
  // Taken again (a copy left in Redis): not deliverable, and not claimed.
  BOOST_TEST(claim_one(id).status == "failed");
  BOOST_TEST(row(id).status == "failed");
  // A permanent failure (4xx) ends it the same way.
  auto other = queued();
  claim_one(other);
  record("n1", {ended(other, 1, attempt_outcome::failed, "HTTP 422")});
  BOOST_TEST(row(other).status == "failed");
  BOOST_TEST(row(other).last_error.value_or("") == "HTTP 422");
}

// "failed" is final too (docs/OPERATIONS.md): a slow node's success after
// another node gave up is kept in the attempt history only. Nor does a
// delivery reopen a message refused to its client.
BOOST_AUTO_TEST_CASE(a_late_success_changes_no_final_status) {
  auto id = queued();
  claim_one(id);
  record("quick", {ended(id, 2, attempt_outcome::expired, "expired: timeout")});
  record("slow", {delivered(id, 1)});
  auto r = row(id);
  BOOST_TEST(r.status == "failed");
  BOOST_TEST(r.attempts == 2);
  BOOST_TEST(r.last_error.value_or("") == "expired: timeout");
  BOOST_TEST(!r.delivered_ms);
  BOOST_TEST(attempts_of(id) == (std::vector<std::string>{"delivered",
                                                           "expired"}));
  auto refused = queued();
  set_status(refused, "rejected");
  record("n1", {delivered(refused, 1)});
  BOOST_TEST(row(refused).status == "rejected");
  BOOST_TEST(!row(refused).delivered_ms);
}

// A crash after MySQL recorded an attempt but before Redis learnt of it
// makes the next node repeat the attempt number: the first record stays.
BOOST_AUTO_TEST_CASE(a_repeated_attempt_number_keeps_the_first_record) {
  auto id = queued();
  claim_one(id);
  record("n1", {delivered(id, 1)});
  record("n2", {delivered(id, 1)});
  auto rows = db.query("SELECT node FROM delivery_attempts WHERE "
                       "message_id = ?",
                       {id});
  BOOST_REQUIRE(rows);
  BOOST_REQUIRE(rows->size() == 1u);
  BOOST_TEST(*rows->front()[0] == "n1");
  BOOST_TEST(row(id).status == "delivered");
}

// A message accepted before `heraldctl keys rotate` is delivered after it:
// the node's ring keeps the old key, and new messages use the new one.
BOOST_AUTO_TEST_CASE(a_message_sealed_under_a_rotated_out_key_still_opens) {
  key_file file;
  {
    std::ofstream out{file.path};
    out << "1 " << std::string(64, 'e') << '\n';
  }
  BOOST_REQUIRE(::chmod(file.path.c_str(), 0600) == 0);
  auto ring = live_key_ring::load(file.path);
  BOOST_REQUIRE_MESSAGE(ring, test::why(ring));
  auto live = *ring;
  BOOST_REQUIRE(live->current()->active().id == 1u);
  auto old_id = queued(live->current()->active());
  auto rotated = key_ring::rotate(file.path);
  BOOST_REQUIRE_MESSAGE(rotated, test::why(rotated));
  BOOST_TEST(*rotated == 2u);
  BOOST_REQUIRE(!live->refresh());
  BOOST_TEST(live->current()->active().id == 2u);
  auto new_id = queued(live->current()->active());
  for (const auto& id : {old_id, new_id}) {
    auto job = claim_one(id);
    BOOST_TEST(job.payload.key_id == (id == old_id ? 1u : 2u));
    // As the delivery worker opens it: with the ring in force.
    auto payload = open_payload(*live->current(), job.payload, job.id);
    BOOST_REQUIRE_MESSAGE(payload, test::why(payload));
    BOOST_TEST(payload->first == number);
    BOOST_TEST(payload->second == body);
  }
  // A node that has not loaded the new key yet cannot open the new message
  // and says so (not_found: the worker retries later rather than failing).
  auto stale = key_ring::parse("1 " + std::string(64, 'e'), "stale");
  BOOST_REQUIRE(stale);
  auto job = claim_one(new_id);
  auto payload = open_payload(*stale, job.payload, job.id);
  BOOST_REQUIRE(!payload);
  BOOST_TEST((payload.error() == errc::not_found));
}

// Shutdown: a stopping node returns the ids it claimed but did not attempt;
// the next node takes them first, claims them although they are marked
// "delivering", and delivers each once.
BOOST_AUTO_TEST_CASE(work_released_at_shutdown_is_delivered_by_the_next_node) {
  auto redis = test::connect_redis_db(test::delivery_store_redis_db);
  BOOST_REQUIRE(redis.command({"FLUSHDB"}));
  auto a = queued();
  auto b = queued();
  auto c = queued();
  auto n = enqueue(redis, {text_id(a), text_id(b), text_id(c)});
  BOOST_REQUIRE_MESSAGE(n, test::why(n));
  auto taken = take(redis, "stopping", 2, 0s);
  BOOST_REQUIRE_MESSAGE(taken, test::why(taken));
  BOOST_REQUIRE(taken->size() == 2u);
  BOOST_REQUIRE((*taken == std::vector<std::string>{text_id(a), text_id(b)}));
  claim({a, b});
  // It attempts a, then stops: b goes back.
  record("stopping", {delivered(a, 1)});
  BOOST_REQUIRE(!finish(redis, "stopping", {text_id(a)}));
  BOOST_REQUIRE(!release(redis, "stopping", {text_id(b)}));
  BOOST_TEST(test::redis_list(redis, queue_keys::processing("stopping"))
               .empty());
  // The next node: b before c.
  auto next = take(redis, "next", 1, 0s);
  BOOST_REQUIRE(next);
  BOOST_REQUIRE((*next == std::vector<std::string>{text_id(b)}));
  auto job = claim_one(b);
  BOOST_TEST(job.status == "delivering");
  BOOST_TEST(job.attempts == 0u);
  record("next", {delivered(b, 1)});
  BOOST_REQUIRE(!finish(redis, "next", {text_id(b)}));
  BOOST_TEST(row(b).status == "delivered");
  BOOST_TEST(attempts_of(b) == std::vector<std::string>{"delivered"});
  auto live = are_live(redis, {text_id(a), text_id(b), text_id(c)});
  BOOST_REQUIRE(live);
  BOOST_TEST((*live == std::vector<bool>{false, false, true}));
  auto rest = take(redis, "next", 5, 0s);
  BOOST_REQUIRE(rest);
  BOOST_TEST((*rest == std::vector<std::string>{text_id(c)}));
}

BOOST_AUTO_TEST_SUITE_END()
