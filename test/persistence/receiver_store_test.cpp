#include "persistence/receiver_store.hpp"

#include "core/message_id.hpp"
#include "persistence/crypto.hpp"
#include "persistence/delivery_store.hpp"
#include "persistence/migrations.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <thread>

using namespace herald;
using namespace herald::persistence;

namespace {

const std::string number = "+4915112345678";

struct receiver_store_fixture {
  std::string database = test::create_test_database("herald_receiver");
  mysql_connection db = connect();
  key_ring keys = *key_ring::parse("1 " + std::string(64, 'c'), "test");

  mysql_connection connect() {
    auto conn = mysql_connection::connect(test::test_mysql(database), true);
    BOOST_REQUIRE_MESSAGE(conn, test::why(conn));
    BOOST_REQUIRE(migrate(*conn, nullptr));
    return std::move(*conn);
  }

  /// A delivery of message `id` (raw), sealed as the receiver route does.
  received_message make(const std::string& id, uint32_t attempt = 1,
                        const std::string& body = "hello") {
    received_message m;
    m.id = id;
    auto sealed = seal_payload(keys.active(), number, body, id);
    BOOST_REQUIRE(sealed);
    m.sender_hash = hmac_sha256("pepper-pepper-pepper", number);
    m.sender_masked = mask_e164(number);
    m.key_id = sealed->key_id;
    m.nonce = sealed->nonce;
    m.ciphertext = sealed->ciphertext;
    m.created_ms = 1767225600123;
    m.attempt = attempt;
    return m;
  }

  std::vector<bool> store(const std::vector<received_message>& batch) {
    auto fresh = store_received(db, batch);
    BOOST_REQUIRE_MESSAGE(fresh, test::why(fresh));
    return *fresh;
  }

  /// Rows of received_messages.
  size_t rows() {
    auto n = db.query_int("SELECT COUNT(*) FROM received_messages");
    BOOST_REQUIRE(n && *n);
    return static_cast<size_t>(**n);
  }

  /// The duplicates counter of message `id`; -1 when it has no row.
  int64_t duplicates(const std::string& id) {
    auto rows = db.query("SELECT duplicates FROM received_messages "
                         "WHERE message_id = ?",
                         {id});
    BOOST_REQUIRE(rows);
    return rows->empty() ? -1 : std::stoll(*rows->front()[0]);
  }
};

std::string new_id() {
  return message_id::make_v7().raw();
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(receiver_store_suite, receiver_store_fixture)

BOOST_AUTO_TEST_CASE(a_batch_of_new_messages_is_stored_sealed) {
  auto a = make(new_id(), 1, "first body");
  auto b = make(new_id(), 3, "second body");
  BOOST_TEST((store({a, b}) == std::vector<bool>{true, true}));
  BOOST_TEST(rows() == 2u);
  BOOST_TEST(duplicates(a.id) == 0);
  auto found = db.query("SELECT body_key_id, body_nonce, body_ciphertext, "
                        "sender_masked, attempt, "
                          + sql_unix_ms("created_at")
                          + " FROM received_messages WHERE message_id = ?",
                        {b.id});
  BOOST_REQUIRE(found && found->size() == 1u);
  auto& row = found->front();
  sealed_body sealed{static_cast<uint32_t>(std::stoul(*row[0])), *row[1],
                     *row[2]};
  auto plain = open_payload(keys, sealed, b.id);
  BOOST_REQUIRE(plain);
  BOOST_TEST(plain->first == number);
  BOOST_TEST(plain->second == "second body");
  BOOST_TEST(*row[3] == "+49****78");
  BOOST_TEST(*row[4] == "3");
  BOOST_TEST(std::stoll(*row[5]) == 1767225600123);
}

BOOST_AUTO_TEST_CASE(an_id_repeated_in_the_batch_is_stored_once) {
  auto id = new_id();
  auto other = new_id();
  auto fresh = store({make(id, 1), make(other), make(id, 2), make(id, 3)});
  BOOST_TEST((fresh == std::vector<bool>{true, true, false, false}));
  BOOST_TEST(rows() == 2u);
  BOOST_TEST(duplicates(id) == 2);
  BOOST_TEST(duplicates(other) == 0);
  // The first copy is the one kept.
  auto attempt = db.query("SELECT attempt FROM received_messages "
                          "WHERE message_id = ?",
                          {id});
  BOOST_REQUIRE(attempt && attempt->size() == 1u);
  BOOST_TEST(*attempt->front()[0] == "1");
}

BOOST_AUTO_TEST_CASE(an_id_stored_before_is_a_duplicate) {
  auto old_id = new_id();
  BOOST_TEST((store({make(old_id)}) == std::vector<bool>{true}));
  auto id = new_id();
  auto fresh = store({make(id), make(old_id, 2), make(id, 2)});
  BOOST_TEST((fresh == std::vector<bool>{true, false, false}));
  BOOST_TEST((store({make(old_id, 3)}) == std::vector<bool>{false}));
  BOOST_TEST(rows() == 2u);
  BOOST_TEST(duplicates(old_id) == 2);
  BOOST_TEST(duplicates(id) == 1);
}

BOOST_AUTO_TEST_CASE(an_empty_batch_stores_nothing) {
  BOOST_TEST(store({}).empty());
  BOOST_TEST(rows() == 0u);
}

// Two writers store overlapping batches at once (as two receiver stores or
// two nodes do when a message is delivered twice): every id is reported as
// new exactly once, and counted as a duplicate for the other copy.
BOOST_AUTO_TEST_CASE(concurrent_writers_report_each_id_new_once) {
  constexpr size_t rounds = 20;
  constexpr size_t shared = 16;
  // batches[w][r]: round r of writer w; the second has the ids reversed.
  std::vector<std::vector<received_message>> batches[2];
  for (size_t r = 0; r < rounds; ++r) {
    std::vector<received_message> batch;
    for (size_t i = 0; i < shared; ++i)
      batch.push_back(make(new_id()));
    batches[0].push_back(batch);
    batches[1].emplace_back(batch.rbegin(), batch.rend());
  }
  // Boost.Test checks stay on this thread; the writers only record.
  std::vector<caf::expected<std::vector<bool>>> results[2];
  auto writer = [&](int w) {
    auto conn = mysql_connection::connect(test::test_mysql(database));
    for (const auto& batch : batches[w])
      results[w].push_back(conn ? store_received(*conn, batch)
                                : caf::expected<std::vector<bool>>{
                                  conn.error()});
  };
  std::thread first{writer, 0};
  std::thread second{writer, 1};
  first.join();
  second.join();
  std::map<std::string, int> fresh_count;
  for (int w = 0; w < 2; ++w) {
    for (size_t r = 0; r < rounds; ++r) {
      const auto& fresh = results[w][r];
      BOOST_REQUIRE_MESSAGE(fresh, test::why(fresh));
      BOOST_REQUIRE(fresh->size() == shared);
      for (size_t i = 0; i < shared; ++i)
        if ((*fresh)[i])
          ++fresh_count[batches[w][r][i].id];
    }
  }
  BOOST_TEST(fresh_count.size() == rounds * shared);
  for (const auto& [id, n] : fresh_count)
    BOOST_TEST(n == 1);
  BOOST_TEST(rows() == rounds * shared);
  for (const auto& batch : batches[0])
    for (const auto& m : batch)
      BOOST_TEST(duplicates(m.id) == 1);
}

BOOST_AUTO_TEST_SUITE_END()
