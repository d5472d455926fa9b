#pragma once

#include <caf/error.hpp>

#include <string>

typedef struct ssl_ctx_st SSL_CTX;

namespace herald {

/// Herald's TLS policy, for every server and client context (HTTPS, the
/// delivery client, Redis): TLS 1.2 or newer, ECDHE key exchange with AEAD
/// ciphers only, no compression or renegotiation, and a short certificate
/// chain.
caf::error apply_tls_policy(SSL_CTX* ctx);

/// Takes the oldest error from OpenSSL's queue, as text, and clears it.
std::string openssl_error();

} // namespace herald
