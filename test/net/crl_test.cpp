#include "net/crl.hpp"

#include "core/errc.hpp"
#include "pki/ca.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>


#include <ctime>
#include <filesystem>

namespace fs = std::filesystem;
using namespace herald;

namespace {

/// A CA, its CRL file and a store watching it.
struct crl_fixture : test::temp_ca {
  std::string crl_file = (dir / "crl.pem").string();
  net::crl_store store{crl_file, (dir / "ca" / "ca.crt").string()};

  crl_fixture() : test::temp_ca("crl-test") {
    // nop
  }

  /// Publishes a CRL issued at `at` (0: now), as heraldctl crl does.
  void publish(int64_t at = 0, const std::string& content = "") {
    auto crl = ca.make_crl({}, 7, at);
    BOOST_REQUIRE(crl);
    auto err = pki::replace_file(crl_file, content.empty() ? *crl : content,
                                 0644);
    BOOST_REQUIRE(!err);
  }

  std::string problem() {
    auto err = store.refresh();
    return err ? render(err) : std::string{};
  }
};

int64_t now() {
  return static_cast<int64_t>(std::time(nullptr));
}

} // namespace

BOOST_AUTO_TEST_SUITE(crl_suite)

BOOST_FIXTURE_TEST_CASE(a_missing_crl_is_reported_and_nothing_enforced,
                        crl_fixture) {
  BOOST_TEST(problem().find("missing") != std::string::npos);
  BOOST_TEST(store.this_update() == 0);
  BOOST_TEST(store.current_crl() == nullptr);
}

BOOST_FIXTURE_TEST_CASE(a_good_crl_is_put_in_force, crl_fixture) {
  publish();
  BOOST_TEST(problem() == "");
  BOOST_TEST(store.this_update() >= now() - 5);
  BOOST_TEST(store.next_update() - store.this_update() == 7 * 86400);
}

BOOST_FIXTURE_TEST_CASE(a_bad_file_keeps_the_last_good_crl, crl_fixture) {
  publish();
  BOOST_REQUIRE(problem() == "");
  auto good = store.this_update();
  publish(0, "garbage\n");
  BOOST_TEST(problem().find("keeping the last good CRL") != std::string::npos);
  BOOST_TEST(store.this_update() == good);
  // Reported on every check until it changes, not just once.
  BOOST_TEST(problem().find("keeping the last good CRL") != std::string::npos);
  fs::remove(crl_file);
  BOOST_TEST(problem().find("missing") != std::string::npos);
  BOOST_TEST(store.this_update() == good);
}

BOOST_FIXTURE_TEST_CASE(a_crl_of_another_ca_is_refused, crl_fixture) {
  auto other = pki::authority::create((dir / "other").string(),
                                      pki::key_algorithm::ec_p256, "");
  BOOST_REQUIRE(other);
  auto foreign = other->make_crl({}, 7);
  BOOST_REQUIRE(foreign);
  publish(0, *foreign);
  BOOST_TEST(problem().find("not signed by the CA") != std::string::npos);
  BOOST_TEST(store.current_crl() == nullptr);
}

BOOST_FIXTURE_TEST_CASE(an_outdated_crl_stays_in_force_and_is_reported,
                        crl_fixture) {
  publish(now() - 30 * 86400);
  BOOST_TEST(problem().find("past its nextUpdate") != std::string::npos);
  BOOST_TEST(store.this_update() != 0);
}

BOOST_FIXTURE_TEST_CASE(an_older_crl_cannot_replace_a_newer_one,
                        crl_fixture) {
  // heraldctl numbers CRLs by their issue time (RFC 5280 cRLNumber).
  publish(now());
  BOOST_REQUIRE(problem() == "");
  auto newer = store.number();
  BOOST_TEST(newer >= now() - 5);
  BOOST_TEST(store.in_force());
  // A replayed old CRL would un-revoke everything revoked since.
  publish(now() - 3600);
  BOOST_TEST(problem().find("lower than") != std::string::npos);
  BOOST_TEST(store.number() == newer);
  // The same number again (two CRLs within a second) is accepted.
  publish(newer);
  BOOST_TEST(problem() == "");
  publish(newer + 10);
  BOOST_TEST(problem() == "");
  BOOST_TEST(store.number() == newer + 10);
}

BOOST_AUTO_TEST_SUITE_END()
