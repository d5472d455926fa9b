#include "net/tls.hpp"

#include "pki/ca.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>


#include <filesystem>
#include <memory>
#include <string>

using namespace herald;

namespace {

using x509_ptr = std::unique_ptr<X509, decltype(&X509_free)>;

x509_ptr parse(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio{
    BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free};
  x509_ptr result{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                  X509_free};
  BOOST_REQUIRE(result != nullptr);
  return result;
}

/// A CA in a temp folder.
struct ca_fixture : test::temp_ca {
  ca_fixture() : test::temp_ca("tls-test") {
    // nop
  }

  x509_ptr issue(pki::cert_kind kind) {
    pki::issue_request req;
    req.kind = kind;
    req.common_name = "n1";
    if (kind == pki::cert_kind::server)
      req.dns_names = {"localhost"};
    auto cert = ca.issue(req);
    BOOST_REQUIRE_MESSAGE(cert, test::why(cert));
    return parse(cert->certificate_pem);
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(tls_suite, ca_fixture)

BOOST_AUTO_TEST_CASE(node_certificates_are_those_with_server_auth) {
  // heraldctl cert server: serverAuth + clientAuth.
  BOOST_TEST(net::is_node_certificate(issue(pki::cert_kind::server).get()));
  // heraldctl cert issue: clientAuth only.
  BOOST_TEST(!net::is_node_certificate(issue(pki::cert_kind::client).get()));
  // No extended key usage at all (the CA's own certificate) is no node.
  BOOST_TEST(!net::is_node_certificate(parse(ca.certificate_pem()).get()));
  BOOST_TEST(!net::is_node_certificate(nullptr));
}

BOOST_AUTO_TEST_SUITE_END()
