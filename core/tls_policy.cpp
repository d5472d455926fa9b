#include "core/tls_policy.hpp"

#include "core/errc.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace herald {

namespace {

/// TLS 1.2 suites with ECDHE key exchange and AEAD; TLS 1.3 suites are all
/// forward-secret and stay at OpenSSL's defaults.
constexpr const char* tls12_ciphers
  = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/// Herald's chains are a CA and a leaf; a little room for a sub-CA.
constexpr int max_verify_depth = 4;

} // namespace

caf::error apply_tls_policy(SSL_CTX* ctx) {
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1
      || SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1)
    return make_error(errc::tls_failure,
                      "cannot apply the TLS policy: " + openssl_error());
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_verify_depth(ctx, max_verify_depth);
  return caf::none;
}

std::string openssl_error() {
  auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0)
    return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

} // namespace herald
