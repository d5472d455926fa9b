#include "net/tls.hpp"

#include "core/errc.hpp"

#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace herald::net {

namespace {

/// TLS 1.2 suites with ECDHE key exchange and AEAD; TLS 1.3 suites are all
/// forward-secret and stay at OpenSSL's defaults.
constexpr const char* tls12_ciphers
  = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string openssl_error() {
  auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0)
    return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

} // namespace

caf::expected<std::shared_ptr<boost::asio::ssl::context>>
make_server_context(const config::tls_files& files,
                    const std::string& prefix) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  auto* native = ctx->native_handle();
  auto fail = [&](const char* setting, const std::string& file) {
    return make_error(errc::tls_failure, prefix + "." + setting + ": '" + file
                                           + "': " + openssl_error());
  };
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION
                                | SSL_OP_NO_RENEGOTIATION
                                | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(native, tls12_ciphers) != 1)
    return make_error(errc::tls_failure, "cannot set TLS 1.2 cipher list");
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
  if (SSL_CTX_load_verify_locations(native, files.ca.c_str(), nullptr) != 1)
    return fail("ca", files.ca);
  if (auto names = SSL_load_client_CA_file(files.ca.c_str()))
    SSL_CTX_set_client_CA_list(native, names);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     nullptr);
  // Required for session resumption when clients are verified.
  static const unsigned char sid_ctx[] = "herald";
  SSL_CTX_set_session_id_context(native, sid_ctx, sizeof(sid_ctx) - 1);
  return ctx;
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

} // namespace herald::net
