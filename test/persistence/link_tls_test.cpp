// TLS to MariaDB and Redis with verification, against the throwaway servers
// ops/test starts with TLS (HERALD_TEST_TLS_DIR: ca.crt and a server
// certificate for localhost and 127.0.0.1).

#include "persistence/mysql.hpp"
#include "persistence/redis.hpp"

#include "core/errc.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

using namespace herald;
using namespace herald::persistence;

namespace {

struct link_fixture : test::temp_ca {
  std::string tls_dir = test::require_env("HERALD_TEST_TLS_DIR");

  link_fixture() : test::temp_ca("link-tls-test") {
    // nop
  }

  config::redis_config redis_tls() {
    auto cfg = test::test_redis();
    cfg.port = static_cast<uint16_t>(
      std::stoi(test::require_env("HERALD_TEST_REDIS_TLS_PORT")));
    cfg.tls.ca = tls_dir + "/ca.crt";
    return cfg;
  }

  /// A CA that did not sign the servers' certificates.
  std::string other_ca() {
    auto path = (dir / "other-ca.crt").string();
    std::ofstream{path} << ca.certificate_pem();
    return path;
  }

  /// A MariaDB account that may log in over TCP with TLS only.
  config::mysql_config mysql_tls() {
    auto root = mysql_connection::connect(test::test_mysql());
    BOOST_REQUIRE_MESSAGE(root, test::why(root));
    BOOST_REQUIRE(root->execute("CREATE USER IF NOT EXISTS "
                                "'herald_tls'@'127.0.0.1' IDENTIFIED BY "
                                "'tls-test-password' REQUIRE SSL",
                                {}));
    config::mysql_config cfg;
    cfg.host = "127.0.0.1";
    cfg.port = static_cast<uint16_t>(
      std::stoi(test::require_env("HERALD_TEST_MYSQL_PORT")));
    cfg.user = "herald_tls";
    cfg.password = "tls-test-password";
    cfg.database = "";
    cfg.tls.ca = tls_dir + "/ca.crt";
    return cfg;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(link_tls_suite, link_fixture)

BOOST_AUTO_TEST_CASE(redis_over_verified_tls) {
  auto conn = redis_connection::connect(redis_tls());
  BOOST_REQUIRE_MESSAGE(conn, test::why(conn));
  BOOST_TEST(!conn->ping());
  auto set = conn->command({"SET", "herald:tls-test", std::string(40000, 'x')});
  BOOST_REQUIRE_MESSAGE(set, test::why(set));
  auto got = conn->command({"GET", "herald:tls-test"});
  BOOST_REQUIRE_MESSAGE(got, test::why(got));
  BOOST_TEST(got->str.size() == 40000u);
  std::vector<std::vector<std::string>> many(200, {"INCR", "herald:tls-n"});
  auto replies = conn->pipeline(many);
  BOOST_REQUIRE_MESSAGE(replies, test::why(replies));
  BOOST_TEST(replies->size() == 200u);
  conn->command({"DEL", "herald:tls-test", "herald:tls-n"});
}

BOOST_AUTO_TEST_CASE(redis_refuses_a_server_it_cannot_verify) {
  auto cfg = redis_tls();
  cfg.tls.ca = other_ca();
  auto conn = redis_connection::connect(cfg);
  BOOST_REQUIRE(!conn);
  BOOST_TEST(render(conn.error()).find("certificate verify failed")
               != std::string::npos,
             render(conn.error()));
  // And TLS to the plain port fails instead of falling back.
  cfg = redis_tls();
  cfg.port = test::test_redis().port;
  cfg.io_timeout = std::chrono::seconds{2};
  BOOST_TEST(!redis_connection::connect(cfg));
}

BOOST_AUTO_TEST_CASE(mariadb_over_verified_tls) {
  auto cfg = mysql_tls();
  auto conn = mysql_connection::connect(cfg);
  BOOST_REQUIRE_MESSAGE(conn, test::why(conn));
  auto cipher = conn->query("SHOW SESSION STATUS LIKE 'Ssl_version'", {});
  BOOST_REQUIRE_MESSAGE(cipher, test::why(cipher));
  BOOST_REQUIRE(cipher->size() == 1u);
  auto version = *cipher->front()[1];
  BOOST_TEST((version == "TLSv1.2" || version == "TLSv1.3"), version);
}

BOOST_AUTO_TEST_CASE(mariadb_refuses_a_server_it_cannot_verify) {
  auto cfg = mysql_tls();
  cfg.tls.ca = other_ca();
  BOOST_TEST(!mysql_connection::connect(cfg));
  // Without tls-ca the account (REQUIRE SSL) is refused: nothing falls back
  // silently, and the test above really used TLS.
  cfg = mysql_tls();
  cfg.tls.ca.clear();
  BOOST_TEST(!mysql_connection::connect(cfg));
}

BOOST_AUTO_TEST_SUITE_END()
