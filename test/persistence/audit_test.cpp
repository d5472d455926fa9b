#include "persistence/audit.hpp"

#include "actors/audit.hpp"
#include "core/errc.hpp"
#include "persistence/certificates.hpp"
#include "persistence/clients.hpp"
#include "persistence/migrations.hpp"
#include "test/fixtures.hpp"

#include <caf/scoped_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <thread>

using namespace herald;
using namespace herald::persistence;

namespace {

const std::string audit_key(64, 'k');

struct audit_fixture {
  std::string database = test::create_test_database("herald_audit");
  mysql_connection db = connect();

  mysql_connection connect() {
    auto conn = mysql_connection::connect(test::test_mysql(database), true);
    BOOST_REQUIRE_MESSAGE(conn, test::why(conn));
    BOOST_REQUIRE(migrate(*conn, nullptr));
    return std::move(*conn);
  }

  void append(const std::string& action, const std::string& target) {
    audit_event event{"alice", action, target, "ok", "test@host", ""};
    auto err = append_audit(db, audit_key, event);
    BOOST_REQUIRE_MESSAGE(!err, render(err));
  }

  audit_check check(const std::string& key = audit_key) {
    auto result = verify_audit(db, key);
    BOOST_REQUIRE_MESSAGE(result, test::why(result));
    return *result;
  }
};

certificate_record cert(char c, int64_t not_after = 4102444800) {
  return {std::string(64, c), std::string(32, c == 'a' ? 'A' : 'B'),
          "/O=Herald/CN=x", 0, not_after};
}

} // namespace

BOOST_AUTO_TEST_SUITE(audit_suite)

BOOST_FIXTURE_TEST_CASE(an_intact_chain_verifies, audit_fixture) {
  BOOST_TEST(check().rows == 0u);
  append("ca.init", "/etc/herald/ca");
  append("cert.issue", "acme");
  append("cert.revoke", "0123");
  auto result = check();
  BOOST_TEST(result.rows == 3u);
  BOOST_TEST(result.first_broken == 0u);
}

BOOST_FIXTURE_TEST_CASE(an_edited_row_is_reported, audit_fixture) {
  append("cert.issue", "acme");
  append("cert.issue", "globex");
  append("cert.revoke", "0123");
  BOOST_REQUIRE(db.execute("UPDATE audit_log SET target = 'mallory' "
                           "WHERE id = 2",
                           {}));
  auto result = check();
  BOOST_TEST(result.first_broken == 2u);
  BOOST_TEST(result.why.find("edited") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(a_chain_rewritten_without_the_key_is_reported,
                        audit_fixture) {
  append("cert.issue", "acme");
  append("cert.revoke", "0123");
  // Someone with write access to the database edits a row and recomputes
  // every hash, as they could when the chain was plain SHA-256.
  BOOST_REQUIRE(db.execute("UPDATE audit_log SET target = 'mallory' "
                           "WHERE id = 1",
                           {}));
  std::string prev(32, '\0');
  for (uint64_t id : {1, 2}) {
    auto row = db.query("SELECT " + sql_unix_ms("at")
                          + ", actor, action, target, outcome, source, detail "
                            "FROM audit_log WHERE id = ?",
                        {static_cast<int64_t>(id)});
    BOOST_REQUIRE(row && row->size() == 1u);
    const auto& r = row->front();
    audit_event event{*r[1], *r[2], *r[3], *r[4], *r[5], *r[6]};
    auto forged = audit_hash(std::string(64, 'x'), prev, id, std::stoll(*r[0]),
                             event);
    BOOST_REQUIRE(db.execute("UPDATE audit_log SET prev_hash = ?, hash = ? "
                             "WHERE id = ?",
                             {prev, forged, static_cast<int64_t>(id)}));
    prev = forged;
  }
  BOOST_TEST(check().first_broken == 1u);
  // Without the key nothing is written or verified.
  audit_event event{"alice", "cert.issue", "x", "ok", "test@host", ""};
  BOOST_TEST(static_cast<bool>(append_audit(db, "", event)));
  BOOST_TEST(!verify_audit(db, ""));
}

BOOST_FIXTURE_TEST_CASE(a_deleted_row_is_reported, audit_fixture) {
  append("cert.issue", "acme");
  append("cert.issue", "globex");
  append("cert.revoke", "0123");
  BOOST_REQUIRE(db.execute("DELETE FROM audit_log WHERE id = 2", {}));
  BOOST_TEST(check().first_broken == 3u);
}

BOOST_FIXTURE_TEST_CASE(a_batch_is_chained_in_order_with_its_times,
                        audit_fixture) {
  append("cert.revoke", "0123");
  std::vector<audit_event> batch;
  for (int i = 0; i < 3; ++i)
    batch.push_back({"heraldd", "node.start", "node-" + std::to_string(i),
                     "ok", "heraldd@node-" + std::to_string(i), "",
                     1767225600000 + i});
  BOOST_REQUIRE(!append_audit_batch(db, audit_key, batch));
  append("client.add", "acme");
  BOOST_REQUIRE(!append_audit_batch(db, audit_key, {}));
  auto rows = db.query("SELECT id, target, " + sql_unix_ms("at")
                         + " FROM audit_log ORDER BY id",
                       {});
  BOOST_REQUIRE(rows && rows->size() == 5u);
  BOOST_TEST(*(*rows)[1][1] == "node-0");
  BOOST_TEST(*(*rows)[3][1] == "node-2");
  BOOST_TEST(*(*rows)[4][1] == "acme");
  // The node's events keep the times they happened at.
  BOOST_TEST(*(*rows)[2][2] == "1767225600001");
  auto result = check();
  BOOST_TEST(result.rows == 5u);
  BOOST_TEST(result.first_broken == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_batch_sent_again_stores_each_event_once,
                        audit_fixture) {
  std::vector<audit_event> batch;
  for (int i = 0; i < 3; ++i)
    batch.push_back({"heraldd", "cluster.lost", "node-" + std::to_string(i),
                     "ok", "heraldd@node-9", "", 1767225600000 + i,
                     "01890a5d-ac96-774b-bcce-b30209" + std::to_string(100000 + i)});
  BOOST_REQUIRE(!append_audit_batch(db, audit_key, {batch[0], batch[1]}));
  // The answer was lost: the whole batch comes again, with one event more
  // and one event without an id (heraldctl's), which is never skipped.
  auto again = batch;
  again.push_back({"alice", "client.add", "acme", "ok", "heraldctl@host", ""});
  BOOST_REQUIRE(!append_audit_batch(db, audit_key, again));
  BOOST_REQUIRE(!append_audit_batch(db, audit_key, again));
  auto rows = db.query("SELECT target, event_id FROM audit_log ORDER BY id",
                       {});
  BOOST_REQUIRE(rows);
  std::vector<std::string> targets;
  for (const auto& row : *rows)
    targets.push_back(*row[0]);
  BOOST_TEST(targets == (std::vector<std::string>{"node-0", "node-1", "node-2",
                                                  "acme", "acme"}),
             boost::test_tools::per_element());
  BOOST_TEST(!(*rows)[3][1].has_value());
  auto result = check();
  BOOST_TEST(result.rows == 5u);
  BOOST_TEST(result.first_broken == 0u);
}

BOOST_FIXTURE_TEST_CASE(events_too_long_or_not_utf8_are_fitted,
                        audit_fixture) {
  audit_event event{"heraldd", "crl.reload", std::string(300, 't'), "ok",
                    "heraldd@node-1",
                    std::string(600, 'd') + "\xff\xc3\xa9", 0};
  // "\xc3\xa9" (U+00E9) across the cut is not split.
  event.target = std::string(251, 't') + "\xc3\xa9" + "tail";
  BOOST_REQUIRE(!append_audit_batch(db, audit_key, {event}));
  auto row = db.query("SELECT target, detail FROM audit_log", {});
  BOOST_REQUIRE(row && row->size() == 1u);
  BOOST_TEST(*row->front()[0] == std::string(251, 't') + "...");
  BOOST_TEST(row->front()[1]->size() == 512u);
  BOOST_TEST(check().first_broken == 0u);
  audit_event bad{"heraldd", "x", "y", "maybe", "z", "", 0};
  BOOST_TEST((append_audit_batch(db, audit_key, {bad}) == errc::invalid_input));
}

// What issue 10 asks for: a node's audit actor and heraldctl write at the
// same time, each on its own connection, and the chain does not fork.
BOOST_FIXTURE_TEST_CASE(a_node_and_heraldctl_interleave_in_one_chain,
                        audit_fixture) {
  test::threaded_fixture node;
  audit_config cfg;
  cfg.source = "heraldd@node-1";
  cfg.batch_size = 8;
  auto actor = spawn_audit(node.sys, cfg, test::test_mysql(database),
                           audit_key, nullptr);
  constexpr int n = 60;
  // Boost.Test checks belong to the main thread: the other one only
  // collects its errors.
  std::vector<std::string> errors;
  std::thread heraldctl{[this, &errors] {
    auto conn = mysql_connection::connect(test::test_mysql(database));
    if (!conn) {
      errors.push_back(render(conn.error()));
      return;
    }
    for (int i = 0; i < n / 3; ++i) {
      audit_event event{"alice", "client.add", "c" + std::to_string(i), "ok",
                        "heraldctl@host", ""};
      if (auto err = append_audit(*conn, audit_key, event))
        errors.push_back(render(err));
    }
  }};
  for (int i = 0; i < n; ++i)
    caf::anon_send(actor, node_event("registry.add", "n" + std::to_string(i),
                                     "certificate " + std::to_string(i)));
  heraldctl.join();
  BOOST_TEST(errors.empty());
  uint64_t left = 1;
  node.self->request(actor, std::chrono::seconds(30), drain_atom::value)
    .receive([&](uint64_t x) { left = x; },
             [](caf::error& err) { BOOST_FAIL(caf::to_string(err)); });
  BOOST_TEST(left == 0u);
  caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  auto result = check();
  BOOST_TEST(result.rows == static_cast<uint64_t>(n + n / 3));
  BOOST_TEST(result.first_broken == 0u);
  // The node's events are in the order it sent them, whatever came
  // between its batches.
  auto rows = db.query("SELECT target FROM audit_log WHERE source = "
                       "'heraldd@node-1' ORDER BY id",
                       {});
  BOOST_REQUIRE(rows && rows->size() == static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    BOOST_TEST(*(*rows)[i][0] == "n" + std::to_string(i));
}

BOOST_FIXTURE_TEST_CASE(certificates_are_added_listed_and_revoked,
                        audit_fixture) {
  BOOST_REQUIRE(add_client(db, "acme", "", cert('a')));
  auto id = add_certificate(db, "acme", cert('b'));
  BOOST_REQUIRE_MESSAGE(id, test::why(id));
  BOOST_TEST(!add_certificate(db, "nobody", cert('c')));
  auto found = find_certificate(db, std::string(32, 'b'));
  BOOST_REQUIRE_MESSAGE(found, test::why(found));
  BOOST_TEST(found->client == "acme");
  BOOST_TEST(found->kind == "client");
  BOOST_TEST(!revoke_certificate(db, found->fingerprint, "superseded"));
  BOOST_TEST(static_cast<bool>(
    revoke_certificate(db, found->fingerprint, "superseded")));
  auto revoked = revoked_certificates(db);
  BOOST_REQUIRE(revoked);
  BOOST_REQUIRE(revoked->size() == 1u);
  BOOST_TEST(revoked->front().revocation_reason == "superseded");
  BOOST_TEST(revoked->front().revoked_at > 0);
  auto clients = load_client_map(db);
  BOOST_REQUIRE(clients);
  BOOST_TEST(!clients->at(std::string(64, 'b')).active);
  BOOST_TEST(clients->at(std::string(64, 'a')).active);
  BOOST_TEST(clients->at(std::string(64, 'a')).kind == "client");
  // Node certificates belong to no client and are in the map too, so that
  // every route can refuse one that is revoked.
  BOOST_REQUIRE(!add_server_certificate(db, cert('d')));
  clients = load_client_map(db);
  BOOST_REQUIRE(clients);
  const auto& node = clients->at(std::string(64, 'd'));
  BOOST_TEST(node.kind == "server");
  BOOST_TEST(node.active);
  BOOST_TEST(node.id == 0u);
  BOOST_TEST(!revoke_certificate(db, std::string(64, 'd'), "superseded"));
  clients = load_client_map(db);
  BOOST_REQUIRE(clients);
  BOOST_TEST(!clients->at(std::string(64, 'd')).active);
  auto stats = certificate_statistics(db);
  BOOST_REQUIRE(stats);
  BOOST_TEST(stats->active == 1);
  BOOST_TEST(stats->revoked == 2);
  BOOST_TEST(stats->earliest_client_expiry == 4102444800);
  BOOST_TEST(!find_certificate(db, "zz"));
  BOOST_TEST((find_certificate(db, "ABCD").error() == errc::not_found));
}

BOOST_AUTO_TEST_SUITE_END()
