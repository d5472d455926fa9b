#include "persistence/migrations.hpp"

#include "core/errc.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <set>
#include <thread>

using namespace herald;
using namespace herald::persistence;

namespace {

struct migrations_fixture {
  std::string database = test::create_test_database("herald_migrations");

  mysql_connection connect() {
    auto db = mysql_connection::connect(test::test_mysql(database), true);
    BOOST_REQUIRE_MESSAGE(db, test::why(db));
    return std::move(*db);
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(migrations_embedded_suite)

BOOST_AUTO_TEST_CASE(embedded_migrations_are_ordered_and_unique) {
  const auto& all = embedded_migrations();
  BOOST_REQUIRE(!all.empty());
  std::set<int> versions;
  int previous = 0;
  for (const auto& m : all) {
    BOOST_TEST(m.version > previous);
    previous = m.version;
    BOOST_TEST(versions.insert(m.version).second);
    BOOST_TEST(!m.sql.empty());
  }
  BOOST_TEST(latest_known_version() == all.back().version);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(migrations_suite, migrations_fixture)

BOOST_AUTO_TEST_CASE(an_empty_database_is_migrated_to_the_latest_version) {
  auto db = connect();
  BOOST_TEST(*current_version(db) == 0);
  auto err = check_schema(db);
  BOOST_REQUIRE(err);
  BOOST_TEST(render(err).find("heraldctl db migrate") != std::string::npos);
  std::vector<std::string> applied;
  auto version = migrate(db, [&](const migration& m) {
    applied.push_back(m.name);
  });
  BOOST_REQUIRE_MESSAGE(version, test::why(version));
  BOOST_TEST(*version == latest_known_version());
  BOOST_TEST(applied.size() == embedded_migrations().size());
  BOOST_TEST(!check_schema(db));
  // The tables of 0001 exist and take rows.
  auto rows = db.execute("INSERT INTO users (username, role) VALUES (?, ?)",
                         {std::string{"alice"}, std::string{"admin"}});
  BOOST_REQUIRE_MESSAGE(rows, test::why(rows));
  BOOST_TEST(*rows == 1u);
}

BOOST_AUTO_TEST_CASE(migrating_twice_changes_nothing) {
  auto db = connect();
  BOOST_REQUIRE(migrate(db, nullptr));
  int calls = 0;
  auto version = migrate(db, [&](const migration&) { ++calls; });
  BOOST_REQUIRE(version);
  BOOST_TEST(calls == 0);
  BOOST_TEST(*version == latest_known_version());
}

BOOST_AUTO_TEST_CASE(a_newer_schema_is_refused) {
  auto db = connect();
  BOOST_REQUIRE(migrate(db, nullptr));
  auto future = static_cast<int64_t>(latest_known_version() + 1);
  BOOST_REQUIRE(db.execute(
    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
    {future, std::string{"from_the_future"}}));
  auto err = check_schema(db);
  BOOST_REQUIRE(err);
  BOOST_TEST(render(err).find("newer than this build knows")
             != std::string::npos);
  auto version = migrate(db, nullptr);
  BOOST_REQUIRE(!version);
  BOOST_TEST(render(version.error()).find("upgrade Herald") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(statements_bind_values_instead_of_splicing_them) {
  auto db = connect();
  BOOST_REQUIRE(migrate(db, nullptr));
  std::string hostile = "x'); DROP TABLE users; --";
  BOOST_REQUIRE(db.execute("INSERT INTO users (username) VALUES (?)",
                           {hostile}));
  auto count = db.query_int("SELECT COUNT(*) FROM users");
  BOOST_REQUIRE(count);
  BOOST_TEST(count->value_or(0) == 1);
  auto wrong = db.execute("INSERT INTO users (username) VALUES (?)", {});
  BOOST_REQUIRE(!wrong);
  BOOST_TEST(render(wrong.error()).find("expects 1 parameters")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_transaction_that_loses_a_lock_runs_again) {
  auto a = connect();
  BOOST_REQUIRE(migrate(a, nullptr));
  BOOST_REQUIRE(a.execute("INSERT INTO users (username) VALUES (?)",
                          {std::string{"carol"}}));
  auto b = connect();
  BOOST_REQUIRE(!b.execute("SET SESSION innodb_lock_wait_timeout = 1"));
  // A holds the row for 1.5 s: B's first attempt times out waiting (a
  // conflict), its second one gets the row.
  BOOST_REQUIRE(!a.execute("START TRANSACTION"));
  BOOST_REQUIRE(a.query("SELECT id FROM users WHERE username = ? FOR UPDATE",
                        {std::string{"carol"}}));
  std::thread holder{[&a] {
    std::this_thread::sleep_for(std::chrono::milliseconds{1500});
    a.execute("COMMIT");
  }};
  int attempts = 0;
  auto err = b.transaction([&]() -> caf::error {
    ++attempts;
    auto done = b.execute("UPDATE users SET role = 'admin' WHERE username = ?",
                          {std::string{"carol"}});
    return done ? caf::none : done.error();
  });
  holder.join();
  BOOST_TEST(!err, render(err));
  BOOST_TEST(attempts == 2);
}

BOOST_AUTO_TEST_SUITE_END()
