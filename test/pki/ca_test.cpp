#include "pki/ca.hpp"

#include "core/errc.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <set>

namespace fs = std::filesystem;
using namespace herald;
using namespace herald::pki;

namespace {

constexpr int64_t day = 86400;

/// A temp folder with one CA (EC, no passphrase) in `ca`.
struct ca_fixture : test::temp_ca {
  std::string ca_dir = (dir / "ca").string();

  ca_fixture() : test::temp_ca("pki-test") {
    // nop
  }

  issued client(const std::string& name, int64_t not_before = 0,
                int64_t days = 365) {
    issue_request req;
    req.common_name = name;
    req.not_before = not_before;
    req.days = days;
    auto result = ca.issue(req);
    BOOST_REQUIRE_MESSAGE(result, test::why(result));
    return std::move(*result);
  }

  std::string crl(const std::vector<revoked_entry>& revoked) {
    auto result = ca.make_crl(revoked, 7);
    BOOST_REQUIRE_MESSAGE(result, test::why(result));
    return *result;
  }
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

int64_t now() {
  return static_cast<int64_t>(std::time(nullptr));
}

} // namespace

BOOST_AUTO_TEST_SUITE(pki_suite)

BOOST_FIXTURE_TEST_CASE(a_new_ca_is_a_ten_year_ca_with_a_private_key,
                        ca_fixture) {
  auto info = ca.info();
  BOOST_TEST(info.is_ca);
  BOOST_TEST(info.common_name == "Herald CA");
  BOOST_TEST(info.not_after - info.not_before >= 3650 * day);
  BOOST_TEST(mode_of(ca_dir + "/ca.key") == 0600u);
  BOOST_TEST(mode_of(ca_dir + "/ca.crt") == 0644u);
  auto again = authority::load(ca_dir, "");
  BOOST_REQUIRE_MESSAGE(again, test::why(again));
  BOOST_TEST(again->info().fingerprint == info.fingerprint);
}

BOOST_FIXTURE_TEST_CASE(an_existing_ca_is_never_overwritten, ca_fixture) {
  auto before = read_file(ca_dir + "/ca.key");
  auto again = authority::create(ca_dir, key_algorithm::ec_p256, "");
  BOOST_REQUIRE(!again);
  BOOST_TEST(render(again.error()).find("exists already") != std::string::npos);
  BOOST_TEST(*read_file(ca_dir + "/ca.key") == *before);
}

BOOST_FIXTURE_TEST_CASE(a_passphrase_encrypts_the_ca_key, ca_fixture) {
  auto locked_dir = (dir / "locked").string();
  auto locked
    = authority::create(locked_dir, key_algorithm::ec_p256, "correct horse");
  BOOST_REQUIRE_MESSAGE(locked, test::why(locked));
  auto pem = read_file(locked_dir + "/ca.key");
  BOOST_TEST(pem->find("ENCRYPTED PRIVATE KEY") != std::string::npos);
  BOOST_TEST(mode_of(locked_dir + "/ca.key") == 0600u);
  auto wrong = authority::load(locked_dir, "wrong horse");
  BOOST_REQUIRE(!wrong);
  BOOST_TEST(render(wrong.error()).find("wrong passphrase")
             != std::string::npos);
  auto none = authority::load(locked_dir, "");
  BOOST_REQUIRE(!none);
  BOOST_TEST(render(none.error()).find("HERALD_CA_PASSPHRASE")
             != std::string::npos);
  auto right = authority::load(locked_dir, "correct horse");
  BOOST_TEST(static_cast<bool>(right), test::why(right));
}

BOOST_FIXTURE_TEST_CASE(rsa_cas_work_too, ca_fixture) {
  auto rsa
    = authority::create((dir / "rsa").string(), key_algorithm::rsa3072, "");
  BOOST_REQUIRE_MESSAGE(rsa, test::why(rsa));
  issue_request req;
  req.common_name = "acme";
  auto leaf = rsa->issue(req);
  BOOST_REQUIRE_MESSAGE(leaf, test::why(leaf));
  BOOST_TEST(verify(leaf->certificate_pem, rsa->certificate_pem(), "").valid);
}

BOOST_FIXTURE_TEST_CASE(a_client_certificate_has_client_auth_only, ca_fixture) {
  auto start = now();
  auto leaf = client("acme");
  const auto& info = leaf.info;
  BOOST_TEST(info.client_auth);
  BOOST_TEST(!info.server_auth);
  BOOST_TEST(!info.is_ca);
  BOOST_TEST(info.common_name == "acme");
  BOOST_TEST(info.subject == "/O=Herald/CN=acme");
  BOOST_TEST(info.issuer == ca.info().subject);
  BOOST_TEST(info.not_before >= start - 1);
  BOOST_TEST(info.not_after - info.not_before == 365 * day);
  BOOST_TEST(info.serial.size() == 32u);
  BOOST_TEST(info.fingerprint.size() == 64u);
  BOOST_TEST(leaf.key_pem.find("PRIVATE KEY") != std::string::npos);
  auto v = verify(leaf.certificate_pem, ca.certificate_pem(), "");
  BOOST_TEST(v.valid, v.reason);
}

BOOST_FIXTURE_TEST_CASE(serials_are_unique, ca_fixture) {
  std::set<std::string> serials;
  for (int i = 0; i < 50; ++i)
    BOOST_TEST(
      serials.insert(client("c" + std::to_string(i)).info.serial).second);
}

BOOST_FIXTURE_TEST_CASE(a_server_certificate_has_its_names, ca_fixture) {
  issue_request req;
  req.kind = cert_kind::server;
  req.common_name = "node-1";
  req.dns_names = {"node-1.example.org", "localhost"};
  req.ip_addresses = {"127.0.0.1", "::1"};
  auto leaf = ca.issue(req);
  BOOST_REQUIRE_MESSAGE(leaf, test::why(leaf));
  BOOST_TEST(leaf->info.server_auth);
  BOOST_TEST(leaf->info.client_auth);
  BOOST_TEST((leaf->info.dns_names
              == std::vector<std::string>{"node-1.example.org", "localhost"}));
  BOOST_TEST(
    (leaf->info.ip_addresses == std::vector<std::string>{"127.0.0.1", "::1"}));
}

BOOST_FIXTURE_TEST_CASE(bad_names_are_refused, ca_fixture) {
  issue_request req;
  req.kind = cert_kind::server;
  req.common_name = "node";
  BOOST_TEST(!ca.issue(req)); // no SAN
  req.dns_names = {"a.example,IP:10.0.0.1"};
  BOOST_TEST(!ca.issue(req));
  req.dns_names = {};
  req.ip_addresses = {"300.1.1.1"};
  BOOST_TEST(!ca.issue(req));
  req.kind = cert_kind::client;
  req.ip_addresses = {};
  req.common_name = "";
  BOOST_TEST(!ca.issue(req));
}

BOOST_FIXTURE_TEST_CASE(key_files_are_created_0600_and_never_overwritten,
                        ca_fixture) {
  auto path = (dir / "acme.key").string();
  BOOST_TEST(!write_new_file(path, "secret", 0600));
  BOOST_TEST(mode_of(path) == 0600u);
  auto err = write_new_file(path, "other", 0600);
  BOOST_TEST(static_cast<bool>(err));
  BOOST_TEST(*read_file(path) == "secret");
}

BOOST_FIXTURE_TEST_CASE(a_pkcs12_bundle_needs_a_real_password, ca_fixture) {
  auto leaf = client("acme");
  BOOST_TEST(!make_pkcs12(leaf, ca.certificate_pem(), "short"));
  auto p12 = make_pkcs12(leaf, ca.certificate_pem(), "a long password");
  BOOST_REQUIRE_MESSAGE(p12, test::why(p12));
  BOOST_TEST(p12->size() > 500u);
}

BOOST_FIXTURE_TEST_CASE(verify_gives_the_right_verdicts, ca_fixture) {
  auto good = client("good");
  auto old = client("old", now() - 400 * day, 30);
  auto revoked = client("revoked");
  auto crl_pem = crl({{revoked.info.serial, now() - 60, "keyCompromise"}});
  auto ca_pem = ca.certificate_pem();

  auto v = verify(good.certificate_pem, ca_pem, crl_pem);
  BOOST_TEST(v.valid, v.reason);
  BOOST_TEST(v.reason.find("not revoked") != std::string::npos);

  v = verify(old.certificate_pem, ca_pem, crl_pem);
  BOOST_TEST(!v.valid);
  BOOST_TEST(v.reason.find("expired") != std::string::npos, v.reason);

  v = verify(revoked.certificate_pem, ca_pem, crl_pem);
  BOOST_TEST(!v.valid);
  BOOST_TEST(v.reason.find("revoked") != std::string::npos, v.reason);
  BOOST_TEST(v.reason.find("keyCompromise") != std::string::npos, v.reason);

  auto other_ca
    = authority::create((dir / "other").string(), key_algorithm::ec_p256, "");
  BOOST_REQUIRE(other_ca);
  v = verify(good.certificate_pem, other_ca->certificate_pem(), "");
  BOOST_TEST(!v.valid);
  BOOST_TEST(v.reason.find("not issued by this CA") != std::string::npos,
             v.reason);

  auto corrupt = good.certificate_pem;
  corrupt[corrupt.size() / 2] = '!';
  v = verify(corrupt, ca_pem, crl_pem);
  BOOST_TEST(!v.valid);
  BOOST_TEST(v.reason.find("not a PEM certificate") != std::string::npos,
             v.reason);
  v = verify("", ca_pem, "");
  BOOST_TEST(!v.valid);
}

BOOST_FIXTURE_TEST_CASE(a_crl_from_another_ca_or_past_its_date_is_reported,
                        ca_fixture) {
  auto good = client("good");
  auto other_ca
    = authority::create((dir / "other").string(), key_algorithm::ec_p256, "");
  BOOST_REQUIRE(other_ca);
  auto foreign = other_ca->make_crl({}, 7);
  BOOST_REQUIRE(foreign);
  auto v = verify(good.certificate_pem, ca.certificate_pem(), *foreign);
  BOOST_TEST(!v.valid);
  BOOST_TEST(v.reason.find("CRL") != std::string::npos, v.reason);
  auto stale = ca.make_crl({}, 7, now() - 30 * day);
  BOOST_REQUIRE(stale);
  v = verify(good.certificate_pem, ca.certificate_pem(), *stale);
  BOOST_TEST(!v.valid);
  BOOST_TEST(v.reason.find("nextUpdate") != std::string::npos, v.reason);
}

BOOST_FIXTURE_TEST_CASE(a_crl_lists_serials_with_reasons, ca_fixture) {
  auto a = client("a");
  auto b = client("b");
  auto crl_pem = crl({{a.info.serial, now(), "superseded"},
                      {b.info.serial, now(), "unspecified"}});
  BOOST_TEST(crl_pem.find("BEGIN X509 CRL") != std::string::npos);
  BOOST_TEST(!verify(a.certificate_pem, ca.certificate_pem(), crl_pem).valid);
  BOOST_TEST(!verify(b.certificate_pem, ca.certificate_pem(), crl_pem).valid);
  BOOST_TEST(!ca.make_crl({{"not-hex", now(), "superseded"}}, 7));
  BOOST_TEST(!ca.make_crl({}, 0));
}

BOOST_FIXTURE_TEST_CASE(crl_numbers_increase_within_one_second, ca_fixture) {
  auto at = now();
  auto first = ca.make_crl({}, 7, at);
  BOOST_REQUIRE(first);
  auto number = crl_number(*first);
  BOOST_REQUIRE(number);
  BOOST_TEST(*number == at);
  // The same second again, but after `first`: the number must still grow.
  auto second = ca.make_crl({}, 7, at, *number + 1);
  BOOST_REQUIRE(second);
  auto next = crl_number(*second);
  BOOST_REQUIRE(next);
  BOOST_TEST(*next == at + 1);
  BOOST_TEST(!crl_number("not a CRL"));
}

BOOST_AUTO_TEST_CASE(revocation_reasons_and_algorithms_are_checked) {
  BOOST_TEST(is_revocation_reason("keyCompromise"));
  BOOST_TEST(is_revocation_reason("cessationOfOperation"));
  BOOST_TEST(!is_revocation_reason("certificateHold"));
  BOOST_TEST(!is_revocation_reason("because"));
  BOOST_TEST(static_cast<bool>(parse_key_algorithm("rsa4096")));
  BOOST_TEST(!parse_key_algorithm("dsa"));
}

BOOST_AUTO_TEST_SUITE_END()
