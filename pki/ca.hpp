#pragma once

#include <caf/expected.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

namespace herald::pki {

/// Key types of the CA and of the certificates it issues.
enum class key_algorithm { ec_p256, rsa3072, rsa4096 };

/// Parses "ec", "rsa3072" or "rsa4096".
caf::expected<key_algorithm> parse_key_algorithm(const std::string& name);

/// What a certificate is for: clients get clientAuth, servers and nodes
/// serverAuth plus clientAuth (node-to-node links).
enum class cert_kind { client, server };

/// Facts about one certificate, for the database, `cert show` and verify.
struct cert_info {
  /// Lower-case hex SHA-256 of the DER encoding.
  std::string fingerprint;
  /// Upper-case hex, as OpenSSL prints it.
  std::string serial;
  /// One-line form, e.g. "/O=Herald/CN=acme".
  std::string subject;
  std::string issuer;
  std::string common_name;
  /// Unix seconds.
  int64_t not_before = 0;
  int64_t not_after = 0;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  bool client_auth = false;
  bool server_auth = false;
  bool is_ca = false;
};

/// A new key and its certificate, PEM encoded.
struct issued {
  std::string certificate_pem;
  /// Unencrypted PKCS#8; write it with mode 0600 only.
  std::string key_pem;
  cert_info info;
};

/// What to put into a new certificate.
struct issue_request {
  cert_kind kind = cert_kind::client;
  /// Subject CN (the client name or the server's name); O is "Herald".
  std::string common_name;
  /// Subject alternative names (servers).
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  key_algorithm algorithm = key_algorithm::ec_p256;
  /// Start of validity in Unix seconds; 0 means now.
  int64_t not_before = 0;
  /// Length of validity.
  int64_t days = 365;
};

/// A revoked certificate, as the CRL lists it.
struct revoked_entry {
  /// Upper-case hex serial.
  std::string serial;
  /// Unix seconds.
  int64_t revoked_at = 0;
  /// One of revocation_reasons().
  std::string reason;
};

/// The reasons `cert revoke --reason` accepts (RFC 5280 names).
const std::vector<std::string>& revocation_reasons();

/// Whether `reason` is one of revocation_reasons().
bool is_revocation_reason(const std::string& reason);

/// The outcome of verify().
struct verdict {
  bool valid = false;
  /// "valid" or why not, with what to do.
  std::string reason;
};

/// The certificate authority: its certificate and private key, loaded from
/// (or created in) a folder holding ca.crt and ca.key.
class authority {
public:
  /// Creates a CA in `dir` (10 years by default): ca.key (mode 0600,
  /// encrypted with AES-256-CBC when `passphrase` is not empty) and ca.crt.
  /// Refuses, changing nothing, when either file exists.
  static caf::expected<authority> create(const std::string& dir,
                                         key_algorithm algorithm,
                                         const std::string& passphrase,
                                         int64_t days = 3650);

  /// Loads the CA of `dir`; `passphrase` decrypts an encrypted key.
  static caf::expected<authority> load(const std::string& dir,
                                       const std::string& passphrase);

  /// A new key and a certificate for it with a random 128-bit serial.
  caf::expected<issued> issue(const issue_request& req) const;

  /// A signed CRL (v2) listing `revoked`, valid from `this_update` (Unix
  /// seconds, 0: now) for `days`. Its CRL number is the issue time, so that
  /// later CRLs have higher numbers without a counter to keep, or
  /// `min_number` when that is higher: RFC 5280 wants every new CRL to have
  /// a higher number, also two issued within one second.
  caf::expected<std::string> make_crl(const std::vector<revoked_entry>& revoked,
                                      int64_t days, int64_t this_update = 0,
                                      int64_t min_number = 0) const;

  /// The CA certificate, PEM.
  std::string certificate_pem() const;

  /// Facts about the CA certificate.
  cert_info info() const;

private:
  authority(std::shared_ptr<X509> cert, std::shared_ptr<EVP_PKEY> key);

  std::shared_ptr<X509> cert_;
  std::shared_ptr<EVP_PKEY> key_;
};

/// A PKCS#12 bundle of `cert` (with the CA certificate `ca_pem`) protected by
/// `password` (AES-256-CBC, PBKDF2, HMAC-SHA-256: OpenSSL 3's defaults).
caf::expected<std::string> make_pkcs12(const issued& cert,
                                       const std::string& ca_pem,
                                       const std::string& password);

/// Describes the first certificate in `pem`.
caf::expected<cert_info> inspect(const std::string& pem);

/// Checks `cert_pem` against the CA certificate `ca_pem` at `now` (Unix
/// seconds, 0: now): signature, validity dates, revocation in `crl_pem`
/// (skipped when empty; the CRL must be signed by the CA and current) and a
/// TLS extended key usage (clientAuth or serverAuth).
verdict verify(const std::string& cert_pem, const std::string& ca_pem,
               const std::string& crl_pem, int64_t now = 0);

/// The CRL number of a PEM CRL (0 when it has none).
caf::expected<int64_t> crl_number(const std::string& crl_pem);

/// Reads a whole (small) file.
caf::expected<std::string> read_file(const std::string& path);

/// Creates `path` with `mode` and writes `content`; refuses to overwrite an
/// existing file (O_EXCL), so keys are never clobbered nor left readable.
caf::error write_new_file(const std::string& path, const std::string& content,
                          unsigned mode);

/// Replaces `path` atomically (temporary file, then rename), e.g. a CRL that
/// nodes may read at any moment.
caf::error replace_file(const std::string& path, const std::string& content,
                        unsigned mode);

} // namespace herald::pki
