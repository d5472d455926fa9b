#include "net/tls.hpp"

#include "core/errc.hpp"
#include "core/tls_policy.hpp"
#include "net/crl.hpp"

#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <ctime>

namespace herald::net {

namespace {

/// Loads the certificate chain, its key and the CA that verifies peers.
caf::error load_identity(SSL_CTX* native, const config::tls_files& files,
                         const std::string& prefix) {
  auto fail = [&](const char* setting, const std::string& file) {
    return make_error(errc::tls_failure, prefix + "." + setting + ": '" + file
                                           + "': " + openssl_error());
  };
  if (SSL_CTX_use_certificate_chain_file(native, files.certificate.c_str())
      != 1)
    return fail("certificate", files.certificate);
  if (SSL_CTX_use_PrivateKey_file(native, files.key.c_str(), SSL_FILETYPE_PEM)
      != 1)
    return fail("key", files.key);
  if (SSL_CTX_check_private_key(native) != 1)
    return make_error(errc::tls_failure,
                      prefix + ".key: does not match " + prefix
                        + ".certificate");
  // A server without client certificates (the portal) verifies no peer.
  if (files.ca.empty())
    return caf::none;
  if (SSL_CTX_load_verify_locations(native, files.ca.c_str(), nullptr) != 1)
    return fail("ca", files.ca);
  return caf::none;
}

} // namespace

caf::expected<std::shared_ptr<boost::asio::ssl::context>>
make_server_context(const config::tls_files& files, const std::string& prefix,
                    crl_store* crl, client_certificates peers) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  auto* native = ctx->native_handle();
  if (auto err = apply_tls_policy(native))
    return err;
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (peers == client_certificates::none) {
    if (auto err = load_identity(native, {files.certificate, files.key, {}},
                                 prefix))
      return err;
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
    if (SSL_CTX_set_num_tickets(native, 0) != 1)
      return make_error(errc::tls_failure, "cannot turn off session tickets");
    return ctx;
  }
  if (auto err = load_identity(native, files, prefix))
    return err;
  if (auto names = SSL_load_client_CA_file(files.ca.c_str()))
    SSL_CTX_set_client_CA_list(native, names);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     nullptr);
  if (crl != nullptr)
    crl->attach(native);
  // No session resumption: a resumed session skips the certificate and CRL
  // checks, so a revoked client could come back on a saved session. Full
  // handshakes cost ~1.3 ms of CPU; kept-alive connections amortise them.
  SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
  if (SSL_CTX_set_num_tickets(native, 0) != 1)
    return make_error(errc::tls_failure, "cannot turn off session tickets");
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  return ctx;
}

caf::expected<std::shared_ptr<boost::asio::ssl::context>>
make_client_context(const config::tls_files& files, const std::string& prefix,
                    crl_store* crl) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  auto* native = ctx->native_handle();
  if (auto err = apply_tls_policy(native))
    return err;
  if (auto err = load_identity(native, files, prefix))
    return err;
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  if (crl != nullptr)
    crl->attach(native);
  return ctx;
}

caf::expected<persistence::certificate_record>
read_certificate(const std::string& path) {
  auto* file = std::fopen(path.c_str(), "r");
  if (file == nullptr)
    return make_error(errc::invalid_input, "cannot read '" + path + "'");
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (cert == nullptr)
    return make_error(errc::invalid_input,
                      "'" + path + "' holds no PEM certificate: "
                        + openssl_error());
  persistence::certificate_record result;
  result.fingerprint = fingerprint_sha256(cert);
  if (auto bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr)) {
    if (auto hex = BN_bn2hex(bn)) {
      result.serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
  result.subject = subject;
  auto to_unix = [](const ASN1_TIME* t) -> int64_t {
    std::tm tm{};
    if (ASN1_TIME_to_tm(t, &tm) != 1)
      return 0;
    return static_cast<int64_t>(timegm(&tm));
  };
  result.not_before = to_unix(X509_get0_notBefore(cert));
  result.not_after = to_unix(X509_get0_notAfter(cert));
  result.server_auth = is_node_certificate(cert);
  X509_free(cert);
  return result;
}

std::string fingerprint_sha256(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (cert == nullptr || X509_digest(cert, EVP_sha256(), md, &len) != 1)
    return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string result;
  result.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    result += hex[md[i] >> 4];
    result += hex[md[i] & 0x0f];
  }
  return result;
}

bool is_node_certificate(X509* cert) {
  // X509_get_extended_key_usage() answers "any" for a certificate without
  // the extension, hence the flag check first.
  return cert != nullptr
         && (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) != 0
         && (X509_get_extended_key_usage(cert) & XKU_SSL_SERVER) != 0;
}

} // namespace herald::net
