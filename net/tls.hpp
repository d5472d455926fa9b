#pragma once

#include "config/settings.hpp"
#include "persistence/clients.hpp"

#include <caf/expected.hpp>

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
} // namespace boost::asio::ssl

typedef struct x509_st X509;

namespace herald::net {

class crl_store;

/// Whether a server asks its peers for a certificate.
enum class client_certificates { required, none };

/// A TLS server context: TLS 1.2 or newer, forward-secret AEAD ciphers
/// only. With client_certificates::required, peers must present a
/// certificate signed by `files.ca`, and with `crl` one that is not revoked
/// (see crl_store for what happens when the CRL is missing or outdated);
/// with none (the portal, whose browsers log in with a password), no
/// certificate is asked for and `files.ca` is not read. Errors name the
/// setting (prefix, e.g. "ingress") and the file.
caf::expected<std::shared_ptr<boost::asio::ssl::context>>
make_server_context(const config::tls_files& files, const std::string& prefix,
                    crl_store* crl = nullptr,
                    client_certificates peers = client_certificates::required);

/// A TLS client context that presents `files.certificate` and verifies the
/// server against `files.ca`: TLS 1.2 or newer, forward-secret AEAD ciphers
/// only. With `crl`, the server certificate must not be revoked. No host
/// name check: callers that need one set it per connection. Errors name the
/// setting (prefix, e.g. "delivery") and the file.
caf::expected<std::shared_ptr<boost::asio::ssl::context>>
make_client_context(const config::tls_files& files, const std::string& prefix,
                    crl_store* crl = nullptr);

/// SHA-256 fingerprint of `cert`, lower-case hex without separators.
std::string fingerprint_sha256(X509* cert);

/// Returns whether `cert` is a node certificate: its extended key usage
/// names serverAuth (heraldctl cert server). A certificate without that
/// extension is no node certificate.
bool is_node_certificate(X509* cert);

/// Reads a PEM certificate and describes it for registration.
caf::expected<persistence::certificate_record>
read_certificate(const std::string& path);

} // namespace herald::net
