#include "persistence/portal_store.hpp"

#include "core/message_id.hpp"
#include "persistence/clients.hpp"
#include "persistence/crypto.hpp"
#include "persistence/migrations.hpp"
#include "persistence/users.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>

using namespace herald;
using namespace herald::persistence;

namespace {

const std::string pepper = "pepper-pepper-pepper";
const std::string often = "+4915112345678";
const std::string seldom = "+4917012345699";

/// A stored message as the test wrote it.
struct seeded {
  std::string id; // text form
  uint64_t client;
  std::string sender;
  std::string status;
  std::string created; // "YYYY-MM-DD HH:MM:SS.ffffff"
};

/// Alice owns clients a and b, bob owns c. 150 messages over the three,
/// six at a time with the same created_at (two per client: ties that only
/// the id breaks), some never accepted (the portal never shows those).
struct portal_store_fixture {
  std::string database = test::create_test_database("herald_portal");
  mysql_connection db = connect();
  uint64_t alice = add_user_named("alice");
  uint64_t bob = add_user_named("bob");
  uint64_t a = add("app-a", "alice");
  uint64_t b = add("app-b", "alice");
  uint64_t c = add("app-c", "bob");
  std::vector<seeded> messages = seed();

  mysql_connection connect() {
    auto conn = mysql_connection::connect(test::test_mysql(database), true);
    BOOST_REQUIRE_MESSAGE(conn, test::why(conn));
    BOOST_REQUIRE(migrate(*conn, nullptr));
    return std::move(*conn);
  }

  uint64_t add_user_named(const std::string& name) {
    auto id = add_user(db, name, "user", "");
    BOOST_REQUIRE_MESSAGE(id, test::why(id));
    return *id;
  }

  uint64_t add(const std::string& name, const std::string& owner) {
    certificate_record cert{std::string(64, name.back()), "01", "CN=" + name,
                            0, 4102444800};
    auto id = add_client(db, name, owner, cert);
    BOOST_REQUIRE_MESSAGE(id, test::why(id));
    return *id;
  }

  std::vector<seeded> seed() {
    static const char* statuses[] = {"delivered", "delivered", "failed",
                                     "queued",    "delivering", "rejected",
                                     "delivered", "accepting"};
    std::vector<seeded> result;
    for (int i = 0; i < 150; ++i) {
      seeded m;
      m.id = message_id::make_v7().to_string();
      m.client = i % 3 == 0 ? a : i % 3 == 1 ? b : c;
      m.sender = i % 4 == 0 ? seldom : often;
      m.status = statuses[i % 8];
      char created[40];
      std::snprintf(created, sizeof(created),
                    "2026-%02d-%02d 10:%02d:00.123456", 1 + i / 60,
                    1 + i / 6 % 20, i / 6 % 60);
      m.created = created;
      auto done = db.execute(
        "INSERT INTO messages (id, client_id, sender_hash, sender_masked, "
        "body_key_id, body_nonce, body_ciphertext, status, created_at) "
        "VALUES (?, ?, ?, ?, 1, ?, 'x', ?, ?)",
        {message_id::parse(m.id)->raw(), static_cast<int64_t>(m.client),
         hmac_sha256(pepper, m.sender), mask_e164(m.sender),
         std::string(12, 'n'), m.status, m.created});
      BOOST_REQUIRE_MESSAGE(done, test::why(done));
      result.push_back(std::move(m));
    }
    return result;
  }

  std::vector<owned_client> alices_clients() {
    auto clients = owned_clients(db, alice);
    BOOST_REQUIRE_MESSAGE(clients, test::why(clients));
    return *clients;
  }

  /// The ids of alice's messages that `keep` selects, as the portal must
  /// list them: newest first, ties by id, never accepting or rejected.
  std::vector<std::string>
  expected(const std::function<bool(const seeded&)>& keep) {
    std::vector<const seeded*> picked;
    for (const auto& m : messages)
      if ((m.client == a || m.client == b) && m.status != "accepting"
          && m.status != "rejected" && keep(m))
        picked.push_back(&m);
    // Text ids of v7 UUIDs sort as their bytes do.
    std::sort(picked.begin(), picked.end(), [](auto* x, auto* y) {
      return std::tie(x->created, x->id) > std::tie(y->created, y->id);
    });
    std::vector<std::string> ids;
    for (auto* m : picked)
      ids.push_back(m->id);
    return ids;
  }

  /// Every page of `filter`, `limit` rows each, following the cursor.
  std::vector<std::string> walk(user_message_filter filter, uint32_t limit) {
    auto clients = alices_clients();
    filter.limit = limit;
    std::vector<std::string> ids;
    for (int page = 0; page < 200; ++page) {
      auto found = find_user_messages(db, clients, filter);
      BOOST_REQUIRE_MESSAGE(found, test::why(found));
      BOOST_REQUIRE_LE(found->rows.size(), limit);
      for (const auto& row : found->rows)
        ids.push_back(row.id);
      if (!found->more)
        return ids;
      BOOST_REQUIRE_EQUAL(found->rows.size(), limit);
      filter.after_created = found->rows.back().created_at;
      filter.after_id = message_id::parse(found->rows.back().id)->raw();
    }
    BOOST_FAIL("more than 200 pages");
    return ids;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(portal_store_suite, portal_store_fixture)

BOOST_AUTO_TEST_CASE(pages_list_each_own_message_once_newest_first) {
  auto all = expected([](const seeded&) { return true; });
  // Alice's 100, less 24 never accepted.
  BOOST_REQUIRE_EQUAL(all.size(), 76u);
  for (uint32_t limit : {1u, 7u, 50u, 200u}) {
    auto ids = walk({}, limit);
    BOOST_CHECK_EQUAL_COLLECTIONS(ids.begin(), ids.end(), all.begin(),
                                  all.end());
  }
}

BOOST_AUTO_TEST_CASE(every_filter_pages_through_its_matches) {
  auto often_hash = hmac_sha256(pepper, often);
  auto seldom_hash = hmac_sha256(pepper, seldom);
  struct search {
    const char* name;
    user_message_filter filter;
    std::function<bool(const seeded&)> keep;
  };
  std::vector<search> searches;
  auto add = [&](const char* name, auto set, auto keep) {
    user_message_filter f;
    set(f);
    searches.push_back({name, f, keep});
  };
  add("status", [](auto& f) { f.status = "delivered"; },
      [](const seeded& m) { return m.status == "delivered"; });
  add("sender", [&](auto& f) { f.sender_hash = seldom_hash; },
      [](const seeded& m) { return m.sender == seldom; });
  add("sender and status",
      [&](auto& f) {
        f.sender_hash = often_hash;
        f.status = "failed";
      },
      [](const seeded& m) { return m.sender == often && m.status == "failed"; });
  add("client", [this](auto& f) { f.client_id = b; },
      [this](const seeded& m) { return m.client == b; });
  add("dates",
      [](auto& f) {
        f.from = "2026-01-05 00:00:00";
        f.to = "2026-02-10 00:00:00";
      },
      [](const seeded& m) {
        return m.created >= "2026-01-05" && m.created < "2026-02-10";
      });
  add("status, client and dates",
      [this](auto& f) {
        f.status = "queued";
        f.client_id = a;
        f.from = "2026-01-10 00:00:00";
      },
      [this](const seeded& m) {
        return m.status == "queued" && m.client == a
               && m.created >= "2026-01-10";
      });
  add("bob's client", [this](auto& f) { f.client_id = c; },
      [](const seeded&) { return false; });
  for (const auto& s : searches) {
    BOOST_TEST_CONTEXT(s.name) {
      auto want = expected(s.keep);
      for (uint32_t limit : {1u, 4u, 50u}) {
        auto ids = walk(s.filter, limit);
        BOOST_CHECK_EQUAL_COLLECTIONS(ids.begin(), ids.end(), want.begin(),
                                      want.end());
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
