#include "persistence/audit.hpp"

#include "core/errc.hpp"
#include "persistence/certificates.hpp"
#include "persistence/clients.hpp"
#include "persistence/migrations.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald;
using namespace herald::persistence;

namespace {

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
    auto err = append_audit(db, event);
    BOOST_REQUIRE_MESSAGE(!err, render(err));
  }

  audit_check check() {
    auto result = verify_audit(db);
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

BOOST_FIXTURE_TEST_CASE(a_deleted_row_is_reported, audit_fixture) {
  append("cert.issue", "acme");
  append("cert.issue", "globex");
  append("cert.revoke", "0123");
  BOOST_REQUIRE(db.execute("DELETE FROM audit_log WHERE id = 2", {}));
  BOOST_TEST(check().first_broken == 3u);
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
  auto stats = certificate_statistics(db);
  BOOST_REQUIRE(stats);
  BOOST_TEST(stats->active == 1);
  BOOST_TEST(stats->revoked == 1);
  BOOST_TEST(stats->earliest_client_expiry == 4102444800);
  BOOST_TEST(!find_certificate(db, "zz"));
  BOOST_TEST((find_certificate(db, "ABCD").error() == errc::not_found));
}

BOOST_AUTO_TEST_SUITE_END()
