// Fuzzes the PEM input of heraldctl (cert show / cert verify, pki/ca.hpp):
// pki::inspect, which parses a certificate and describes it (names, SANs,
// key usage), and pki::verify, which parses a certificate, a CA
// certificate and a CRL. The input plays each of the three roles in turn,
// next to a real CA, leaf and CRL made once at start-up.
//
// Input: PEM text, e.g. a "-----BEGIN CERTIFICATE-----" or
// "-----BEGIN X509 CRL-----" block. (Herald reads no CSRs: heraldctl
// creates every key itself.)

#include "pki/ca.hpp"
#include "test/fuzz/fuzz_check.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

using namespace herald;
namespace fs = std::filesystem;

namespace {

struct real_pki {
  std::string ca;
  std::string leaf;
  std::string crl;
};

/// A CA with a client certificate and an empty CRL, made in a temp folder.
const real_pki& reference() {
  static const real_pki result = [] {
    auto dir = fs::temp_directory_path()
               / ("herald-pki-fuzz-" + std::to_string(::getpid()));
    auto ca = pki::authority::create(dir.string(), pki::key_algorithm::ec_p256,
                                     "");
    fuzz::check(static_cast<bool>(ca), "cannot create the reference CA");
    pki::issue_request req;
    req.common_name = "fuzz-client";
    auto leaf = ca->issue(req);
    fuzz::check(static_cast<bool>(leaf), "cannot issue the reference leaf");
    auto crl = ca->make_crl({}, 30);
    fuzz::check(static_cast<bool>(crl), "cannot make the reference CRL");
    std::error_code ec;
    fs::remove_all(dir, ec);
    return real_pki{ca->certificate_pem(), leaf->certificate_pem, *crl};
  }();
  return result;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& ref = reference();
  std::string pem{reinterpret_cast<const char*>(data), size};
  if (auto info = pki::inspect(pem)) {
    fuzz::check(info->fingerprint.size() == 64,
                "a certificate without a SHA-256 fingerprint");
  }
  // The input as the certificate, as the CA and as the CRL.
  auto as_leaf = pki::verify(pem, ref.ca, ref.crl);
  fuzz::check(!as_leaf.reason.empty(), "a verdict without a reason");
  auto as_ca = pki::verify(ref.leaf, pem, "");
  fuzz::check(!as_ca.reason.empty(), "a verdict without a reason");
  auto as_crl = pki::verify(ref.leaf, ref.ca, pem);
  fuzz::check(!as_crl.reason.empty(), "a verdict without a reason");
  return 0;
}
