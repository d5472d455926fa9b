#include "pki/ca.hpp"

#include "core/errc.hpp"
#include "core/time.hpp"
#include "core/tls_policy.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>

namespace herald::pki {

namespace {

// -- OpenSSL plumbing ---------------------------------------------------------

template<class T, void (*Free)(T*)>
struct deleter {
  void operator()(T* ptr) const {
    Free(ptr);
  }
};

using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using key_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using crl_ptr = std::unique_ptr<X509_CRL, deleter<X509_CRL, X509_CRL_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION,
                                deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BIGNUM, BN_free>>;
using store_ptr
  = std::unique_ptr<X509_STORE, deleter<X509_STORE, X509_STORE_free>>;
using store_ctx_ptr
  = std::unique_ptr<X509_STORE_CTX,
                    deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using p12_ptr = std::unique_ptr<PKCS12, deleter<PKCS12, PKCS12_free>>;

void free_x509_stack(STACK_OF(X509) * stack) {
  sk_X509_pop_free(stack, X509_free);
}

void free_crl_stack(STACK_OF(X509_CRL) * stack) {
  sk_X509_CRL_pop_free(stack, X509_CRL_free);
}


caf::error ssl_failure(const std::string& what) {
  return make_error(errc::tls_failure, what + ": " + openssl_error());
}

std::string to_string(BIO* bio) {
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

bio_ptr memory_bio(const std::string& text) {
  return bio_ptr{BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))};
}

int64_t to_unix(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1)
    return 0;
  return static_cast<int64_t>(timegm(&tm));
}

int64_t now_unix() {
  return static_cast<int64_t>(std::time(nullptr));
}


std::string serial_hex(const ASN1_INTEGER* serial) {
  std::string result;
  if (bn_ptr bn{ASN1_INTEGER_to_BN(serial, nullptr)}) {
    if (auto hex = BN_bn2hex(bn.get())) {
      result = hex;
      OPENSSL_free(hex);
    }
  }
  return result;
}

std::string name_line(const X509_NAME* name) {
  char buf[256];
  X509_NAME_oneline(name, buf, sizeof(buf));
  return buf;
}

std::string fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1)
    return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string result;
  for (unsigned int i = 0; i < len; ++i) {
    result += hex[md[i] >> 4];
    result += hex[md[i] & 0x0f];
  }
  return result;
}

cert_info describe(X509* cert) {
  cert_info info;
  info.fingerprint = fingerprint(cert);
  info.serial = serial_hex(X509_get0_serialNumber(cert));
  info.subject = name_line(X509_get_subject_name(cert));
  info.issuer = name_line(X509_get_issuer_name(cert));
  char cn[256] = {0};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
                                sizeof(cn))
      > 0)
    info.common_name = cn;
  info.not_before = to_unix(X509_get0_notBefore(cert));
  info.not_after = to_unix(X509_get0_notAfter(cert));
  auto* sans = static_cast<GENERAL_NAMES*>(
    X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    auto* gn = sk_GENERAL_NAME_value(sans, i);
    if (gn->type == GEN_DNS) {
      auto* s = gn->d.dNSName;
      info.dns_names.emplace_back(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
        static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (gn->type == GEN_IPADD) {
      auto* s = gn->d.iPAddress;
      char buf[INET6_ADDRSTRLEN] = {0};
      auto len = ASN1_STRING_length(s);
      if (len == 4 || len == 16)
        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), buf,
                  sizeof(buf));
      info.ip_addresses.emplace_back(buf);
    }
  }
  GENERAL_NAMES_free(sans);
  auto xku = X509_get_extended_key_usage(cert);
  info.client_auth = (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) != 0
                     && (xku & XKU_SSL_CLIENT) != 0;
  info.server_auth = (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) != 0
                     && (xku & XKU_SSL_SERVER) != 0;
  info.is_ca = X509_check_ca(cert) != 0;
  return info;
}

/// Reads one PEM object of the kind `what` with OpenSSL's `read`.
template <class Ptr, class Read>
caf::expected<Ptr> parse_pem(const std::string& pem, Read read,
                             const char* what) {
  auto bio = memory_bio(pem);
  Ptr result{read(bio.get(), nullptr, nullptr, nullptr)};
  if (!result) {
    ERR_clear_error();
    return make_error(errc::invalid_input, std::string{"not a PEM "} + what
                                             + " (corrupt or wrong file?)");
  }
  return result;
}

caf::expected<x509_ptr> parse_certificate(const std::string& pem) {
  return parse_pem<x509_ptr>(pem, PEM_read_bio_X509, "certificate");
}

caf::expected<crl_ptr> parse_crl(const std::string& pem) {
  return parse_pem<crl_ptr>(pem, PEM_read_bio_X509_CRL, "CRL");
}

caf::expected<key_ptr> generate_key(key_algorithm algorithm) {
  EVP_PKEY* key = nullptr;
  switch (algorithm) {
    case key_algorithm::ec_p256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case key_algorithm::rsa3072:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072});
      break;
    case key_algorithm::rsa4096:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{4096});
      break;
  }
  if (key == nullptr)
    return ssl_failure("cannot generate a key");
  return key_ptr{key};
}

/// A random positive 128-bit serial: the top bit cleared keeps it positive,
/// the next one set keeps its encoding 16 bytes long.
caf::error set_random_serial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1)
    return ssl_failure("cannot draw a random serial");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
  bn_ptr bn{BN_bin2bn(bytes, sizeof(bytes), nullptr)};
  if (!bn
      || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr)
    return ssl_failure("cannot set the serial");
  return caf::none;
}

caf::error add_extension(X509* cert, X509* issuer, int nid,
                         const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ext_ptr ext{X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str())};
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return ssl_failure("cannot add extension " + std::string{OBJ_nid2sn(nid)}
                       + "=" + value);
  return caf::none;
}

caf::error set_subject(X509* cert, const std::string& common_name) {
  auto* name = X509_get_subject_name(cert);
  auto add = [name](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(
             name, field, MBSTRING_UTF8,
             reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0)
           == 1;
  };
  if (!add("O", "Herald") || !add("CN", common_name))
    return ssl_failure("cannot set the subject CN=" + common_name);
  return caf::none;
}

caf::error set_validity(X509* cert, int64_t not_before, int64_t days) {
  auto start = static_cast<time_t>(not_before);
  if (ASN1_TIME_set(X509_getm_notBefore(cert), start) == nullptr
      || ASN1_TIME_adj(X509_getm_notAfter(cert), start, static_cast<int>(days),
                       0)
           == nullptr)
    return ssl_failure("cannot set the validity");
  return caf::none;
}

std::string pem_of(X509* cert) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  PEM_write_bio_X509(bio.get(), cert);
  return to_string(bio.get());
}

/// A DNS name for a SAN: letters, digits, hyphens and dots, optionally a
/// leading "*." wildcard. Anything else could smuggle in more SANs.
bool is_dns_name(const std::string& name) {
  if (name.empty() || name.size() > 253)
    return false;
  auto rest = name.rfind("*.", 0) == 0 ? name.substr(2) : name;
  if (rest.empty() || rest.front() == '.' || rest.back() == '.')
    return false;
  for (char c : rest)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.')
      return false;
  return true;
}

bool is_ip_address(const std::string& addr) {
  unsigned char buf[16];
  return inet_pton(AF_INET, addr.c_str(), buf) == 1
         || inet_pton(AF_INET6, addr.c_str(), buf) == 1;
}

int reason_code(const std::string& reason) {
  const auto& all = revocation_reasons();
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i] == reason)
      return static_cast<int>(i);
  return 0;
}

std::string reason_name(int code) {
  const auto& all = revocation_reasons();
  if (code >= 0 && static_cast<size_t>(code) < all.size())
    return all[static_cast<size_t>(code)];
  return "unspecified";
}

/// Passes the passphrase to PEM_read_bio_PrivateKey; no passphrase makes an
/// encrypted key fail instead of prompting on the terminal.
int passphrase_callback(char* buf, int size, int, void* user) {
  const auto* pass = static_cast<const std::string*>(user);
  if (pass->empty() || pass->size() > static_cast<size_t>(size))
    return 0;
  std::memcpy(buf, pass->data(), pass->size());
  return static_cast<int>(pass->size());
}

} // namespace

// -- algorithms and reasons
// ------------------------------------------------------

caf::expected<key_algorithm> parse_key_algorithm(const std::string& name) {
  if (name == "ec")
    return key_algorithm::ec_p256;
  if (name == "rsa3072")
    return key_algorithm::rsa3072;
  if (name == "rsa4096")
    return key_algorithm::rsa4096;
  return make_error(errc::invalid_input, "unknown key algorithm '" + name
                                           + "'; use ec, rsa3072 or rsa4096");
}

const std::vector<std::string>& revocation_reasons() {
  // Index = RFC 5280 CRLReason code (7, unused, is left out by ending at 6).
  static const std::vector<std::string> result{
    "unspecified",        "keyCompromise", "cACompromise",
    "affiliationChanged", "superseded",    "cessationOfOperation",
    "certificateHold"};
  return result;
}

bool is_revocation_reason(const std::string& reason) {
  // certificateHold is reversible and not supported by heraldctl.
  for (const auto& known : revocation_reasons())
    if (known == reason && reason != "certificateHold")
      return true;
  return false;
}

// -- files
// ---------------------------------------------------------------------------

caf::expected<std::string> read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_error(errc::io_failure,
                      "cannot read '" + path + "': " + std::strerror(errno));
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

caf::error write_new_file(const std::string& path, const std::string& content,
                          unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                  static_cast<mode_t>(mode));
  if (fd < 0) {
    auto why = errno == EEXIST ? std::string{"it exists already; move it away "
                                             "or choose another place"}
                               : std::string{std::strerror(errno)};
    return make_error(errc::io_failure, "cannot create '" + path + "': " + why);
  }
  // The umask may have narrowed the mode; keys must end up exactly so.
  ::fchmod(fd, static_cast<mode_t>(mode));
  size_t done = 0;
  while (done < content.size()) {
    auto n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      auto err = std::string{std::strerror(errno)};
      ::close(fd);
      ::unlink(path.c_str());
      return make_error(errc::io_failure,
                        "cannot write '" + path + "': " + err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(path.c_str());
    return make_error(errc::io_failure, "cannot write '" + path + "'");
  }
  return caf::none;
}

caf::error replace_file(const std::string& path, const std::string& content,
                        unsigned mode) {
  auto tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  if (auto err = write_new_file(tmp, content, mode))
    return err;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto why = std::string{std::strerror(errno)};
    ::unlink(tmp.c_str());
    return make_error(errc::io_failure,
                      "cannot replace '" + path + "': " + why);
  }
  return caf::none;
}

// -- the authority
// -----------------------------------------------------------------------

authority::authority(std::shared_ptr<X509> cert, std::shared_ptr<EVP_PKEY> key)
    : cert_(std::move(cert)), key_(std::move(key)) {
  // nop
}

caf::expected<authority> authority::create(const std::string& dir,
                                           key_algorithm algorithm,
                                           const std::string& passphrase,
                                           int64_t days) {
  auto key_file = dir + "/ca.key";
  auto cert_file = dir + "/ca.crt";
  struct stat st {};
  if (::stat(key_file.c_str(), &st) == 0 || ::stat(cert_file.c_str(), &st) == 0)
    return make_error(errc::invalid_input,
                      "a CA exists already in '" + dir
                        + "'; it is never overwritten (move it away first "
                          "if you really mean to replace it)");
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return make_error(errc::io_failure,
                      "cannot create '" + dir + "': " + std::strerror(errno));
  auto key = generate_key(algorithm);
  if (!key)
    return key.error();
  x509_ptr cert{X509_new()};
  X509_set_version(cert.get(), 2);
  if (auto err = set_random_serial(cert.get()))
    return err;
  if (auto err = set_subject(cert.get(), "Herald CA"))
    return err;
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  if (auto err = set_validity(cert.get(), now_unix(), days))
    return err;
  X509_set_pubkey(cert.get(), key->get());
  for (auto [nid, value] :
       {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
        std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
        std::pair{NID_subject_key_identifier, "hash"}})
    if (auto err = add_extension(cert.get(), cert.get(), nid, value))
      return err;
  if (X509_sign(cert.get(), key->get(), EVP_sha256()) <= 0)
    return ssl_failure("cannot sign the CA certificate");
  bio_ptr key_bio{BIO_new(BIO_s_mem())};
  auto written
    = passphrase.empty()
        ? PEM_write_bio_PrivateKey(key_bio.get(), key->get(), nullptr, nullptr,
                                   0, nullptr, nullptr)
        : PEM_write_bio_PKCS8PrivateKey(
          key_bio.get(), key->get(), EVP_aes_256_cbc(), passphrase.data(),
          static_cast<int>(passphrase.size()), nullptr, nullptr);
  if (written != 1)
    return ssl_failure("cannot encode the CA key");
  if (auto err = write_new_file(key_file, to_string(key_bio.get()), 0600))
    return err;
  if (auto err = write_new_file(cert_file, pem_of(cert.get()), 0644)) {
    ::unlink(key_file.c_str());
    return err;
  }
  return authority{std::shared_ptr<X509>{cert.release(), X509_free},
                   std::shared_ptr<EVP_PKEY>{key->release(), EVP_PKEY_free}};
}

caf::expected<authority> authority::load(const std::string& dir,
                                         const std::string& passphrase) {
  auto cert_pem = read_file(dir + "/ca.crt");
  if (!cert_pem)
    return make_error(errc::io_failure,
                      render(cert_pem.error())
                        + "; create the CA with heraldctl ca init or set "
                          "pki.ca-dir");
  auto cert = parse_certificate(*cert_pem);
  if (!cert)
    return make_error(errc::invalid_input,
                      dir + "/ca.crt: " + render(cert.error()));
  auto key_file = dir + "/ca.key";
  struct stat st {};
  if (::stat(key_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    return make_error(errc::invalid_config,
                      "'" + key_file
                        + "' is readable by group or others; run chmod 600 '"
                        + key_file + "'");
  auto key_pem = read_file(key_file);
  if (!key_pem)
    return key_pem.error();
  auto bio = memory_bio(*key_pem);
  auto pass = passphrase;
  key_ptr key{
    PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_callback, &pass)};
  if (!key) {
    ERR_clear_error();
    auto encrypted = key_pem->find("ENCRYPTED") != std::string::npos;
    if (encrypted && passphrase.empty())
      return make_error(errc::invalid_input,
                        "the CA key '" + key_file
                          + "' is encrypted; pass its passphrase with "
                            "--passphrase-file FILE or HERALD_CA_PASSPHRASE");
    if (encrypted)
      return make_error(errc::invalid_input, "cannot decrypt the CA key '"
                                               + key_file
                                               + "': wrong passphrase");
    return make_error(errc::invalid_input,
                      "'" + key_file + "' holds no PEM private key");
  }
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    ERR_clear_error();
    return make_error(errc::invalid_input, "the CA key '" + key_file
                                             + "' does not match " + dir
                                             + "/ca.crt");
  }
  return authority{std::shared_ptr<X509>{cert->release(), X509_free},
                   std::shared_ptr<EVP_PKEY>{key.release(), EVP_PKEY_free}};
}

caf::expected<issued> authority::issue(const issue_request& req) const {
  if (req.common_name.empty() || req.common_name.size() > 64)
    return make_error(errc::invalid_input,
                      "the certificate name must have 1 to 64 characters");
  if (req.days < 1 || req.days > 3650)
    return make_error(errc::invalid_input,
                      "validity must be between 1 and 3650 days");
  std::string sans;
  for (const auto& name : req.dns_names) {
    if (!is_dns_name(name))
      return make_error(errc::invalid_input,
                        "'" + name + "' is not a DNS name");
    sans += (sans.empty() ? "DNS:" : ",DNS:") + name;
  }
  for (const auto& addr : req.ip_addresses) {
    if (!is_ip_address(addr))
      return make_error(errc::invalid_input,
                        "'" + addr + "' is not an IPv4 or IPv6 address");
    sans += (sans.empty() ? "IP:" : ",IP:") + addr;
  }
  if (req.kind == cert_kind::server && sans.empty())
    return make_error(errc::invalid_input,
                      "a server certificate needs at least one --dns or --ip "
                      "name");
  auto key = generate_key(req.algorithm);
  if (!key)
    return key.error();
  x509_ptr cert{X509_new()};
  X509_set_version(cert.get(), 2);
  if (auto err = set_random_serial(cert.get()))
    return err;
  if (auto err = set_subject(cert.get(), req.common_name))
    return err;
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_.get()));
  auto start = req.not_before != 0 ? req.not_before : now_unix();
  if (auto err = set_validity(cert.get(), start, req.days))
    return err;
  X509_set_pubkey(cert.get(), key->get());
  std::vector<std::pair<int, std::string>> extensions{
    {NID_basic_constraints, "critical,CA:FALSE"},
    {NID_key_usage, "critical,digitalSignature"},
    {NID_ext_key_usage,
     req.kind == cert_kind::client ? "clientAuth" : "serverAuth,clientAuth"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid:always"}};
  if (!sans.empty())
    extensions.emplace_back(NID_subject_alt_name, sans);
  for (const auto& [nid, value] : extensions)
    if (auto err = add_extension(cert.get(), cert_.get(), nid, value))
      return err;
  if (X509_sign(cert.get(), key_.get(), EVP_sha256()) <= 0)
    return ssl_failure("cannot sign the certificate");
  bio_ptr key_bio{BIO_new(BIO_s_mem())};
  if (PEM_write_bio_PrivateKey(key_bio.get(), key->get(), nullptr, nullptr, 0,
                               nullptr, nullptr)
      != 1)
    return ssl_failure("cannot encode the key");
  return issued{pem_of(cert.get()), to_string(key_bio.get()),
                describe(cert.get())};
}

caf::expected<std::string>
authority::make_crl(const std::vector<revoked_entry>& revoked, int64_t days,
                    int64_t this_update, int64_t min_number) const {
  if (days < 1 || days > 366)
    return make_error(errc::invalid_input,
                      "CRL validity must be between 1 and 366 days");
  auto now = this_update != 0 ? this_update : now_unix();
  crl_ptr crl{X509_CRL_new()};
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(cert_.get()));
  std::unique_ptr<ASN1_TIME, deleter<ASN1_TIME, ASN1_TIME_free>> last{
    ASN1_TIME_set(nullptr, static_cast<time_t>(now))};
  std::unique_ptr<ASN1_TIME, deleter<ASN1_TIME, ASN1_TIME_free>> next{
    ASN1_TIME_adj(nullptr, static_cast<time_t>(now), static_cast<int>(days),
                  0)};
  if (!last || !next || X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1
      || X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1)
    return ssl_failure("cannot set the CRL dates");
  for (const auto& entry : revoked) {
    BIGNUM* raw = nullptr;
    if (BN_hex2bn(&raw, entry.serial.c_str()) == 0)
      return make_error(errc::invalid_input,
                        "'" + entry.serial + "' is not a hex serial");
    bn_ptr bn{raw};
    auto* rev = X509_REVOKED_new();
    auto* serial = BN_to_ASN1_INTEGER(bn.get(), nullptr);
    auto* when = ASN1_TIME_set(nullptr, static_cast<time_t>(entry.revoked_at));
    bool ok = serial != nullptr && when != nullptr
              && X509_REVOKED_set_serialNumber(rev, serial) == 1
              && X509_REVOKED_set_revocationDate(rev, when) == 1;
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    // RFC 5280: leave the reason out rather than say "unspecified".
    if (ok && entry.reason != "unspecified" && !entry.reason.empty()) {
      auto* code = ASN1_ENUMERATED_new();
      ok = code != nullptr
           && ASN1_ENUMERATED_set(code, reason_code(entry.reason)) == 1
           && X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0, 0) == 1;
      ASN1_ENUMERATED_free(code);
    }
    if (!ok || X509_CRL_add0_revoked(crl.get(), rev) != 1) {
      X509_REVOKED_free(rev);
      return ssl_failure("cannot list serial " + entry.serial);
    }
  }
  auto* number = ASN1_INTEGER_new();
  bool ok
    = number != nullptr
      && ASN1_INTEGER_set_int64(number, std::max(now, min_number)) == 1
      && X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number, 0, 0) == 1;
  ASN1_INTEGER_free(number);
  if (!ok)
    return ssl_failure("cannot set the CRL number");
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), key_.get(), EVP_sha256()) <= 0)
    return ssl_failure("cannot sign the CRL");
  bio_ptr bio{BIO_new(BIO_s_mem())};
  PEM_write_bio_X509_CRL(bio.get(), crl.get());
  return to_string(bio.get());
}

std::string authority::certificate_pem() const {
  return pem_of(cert_.get());
}

cert_info authority::info() const {
  return describe(cert_.get());
}

// -- bundles, inspection, verification
// --------------------------------------------

caf::expected<std::string> make_pkcs12(const issued& cert,
                                       const std::string& ca_pem,
                                       const std::string& password) {
  if (password.size() < 8)
    return make_error(errc::invalid_input,
                      "a PKCS#12 password needs at least 8 characters");
  auto leaf = parse_certificate(cert.certificate_pem);
  if (!leaf)
    return leaf.error();
  auto ca = parse_certificate(ca_pem);
  if (!ca)
    return ca.error();
  auto bio = memory_bio(cert.key_pem);
  key_ptr key{PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)};
  if (!key)
    return ssl_failure("cannot read the new key");
  std::unique_ptr<STACK_OF(X509), decltype(&free_x509_stack)> chain{
    sk_X509_new_null(), free_x509_stack};
  sk_X509_push(chain.get(), ca->release());
  // nid 0 and iter 0 pick OpenSSL 3's defaults: AES-256-CBC with PBKDF2.
  p12_ptr p12{PKCS12_create(password.c_str(), cert.info.common_name.c_str(),
                            key.get(), leaf->get(), chain.get(), 0, 0, 0, 0,
                            0)};
  if (!p12)
    return ssl_failure("cannot build the PKCS#12 bundle");
  bio_ptr out{BIO_new(BIO_s_mem())};
  if (i2d_PKCS12_bio(out.get(), p12.get()) != 1)
    return ssl_failure("cannot encode the PKCS#12 bundle");
  return to_string(out.get());
}

caf::expected<int64_t> crl_number(const std::string& crl_pem) {
  auto crl = parse_crl(crl_pem);
  if (!crl)
    return crl.error();
  auto* number = static_cast<ASN1_INTEGER*>(
    X509_CRL_get_ext_d2i(crl->get(), NID_crl_number, nullptr, nullptr));
  int64_t result = 0;
  bool ok = number == nullptr || ASN1_INTEGER_get_int64(&result, number) == 1;
  ASN1_INTEGER_free(number);
  if (!ok)
    return make_error(errc::invalid_input,
                      "the CRL number does not fit in 64 bits");
  return result;
}

caf::expected<cert_info> inspect(const std::string& pem) {
  auto cert = parse_certificate(pem);
  if (!cert)
    return cert.error();
  return describe(cert->get());
}

verdict verify(const std::string& cert_pem, const std::string& ca_pem,
               const std::string& crl_pem, int64_t now) {
  auto cert = parse_certificate(cert_pem);
  if (!cert)
    return {false, render(cert.error())};
  auto ca = parse_certificate(ca_pem);
  if (!ca)
    return {false, "the CA certificate is " + render(ca.error())};
  auto at = now != 0 ? now : now_unix();
  auto info = describe(cert->get());
  store_ptr store{X509_STORE_new()};
  X509_STORE_add_cert(store.get(), ca->get());
  store_ctx_ptr ctx{X509_STORE_CTX_new()};
  X509_STORE_CTX_init(ctx.get(), store.get(), cert->get(), nullptr);
  auto* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at));
  X509_VERIFY_PARAM_set_purpose(param, info.client_auth
                                         ? X509_PURPOSE_SSL_CLIENT
                                         : X509_PURPOSE_SSL_SERVER);
  crl_ptr crl;
  std::unique_ptr<STACK_OF(X509_CRL), decltype(&free_crl_stack)> crls{
    sk_X509_CRL_new_null(), free_crl_stack};
  if (!crl_pem.empty()) {
    auto parsed = parse_crl(crl_pem);
    if (!parsed)
      return {false, "the CRL is " + render(parsed.error())};
    X509_CRL_up_ref(parsed->get());
    sk_X509_CRL_push(crls.get(), parsed->get());
    crl = std::move(*parsed);
    X509_STORE_CTX_set0_crls(ctx.get(), crls.get());
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK);
  }
  if (!info.client_auth && !info.server_auth)
    return {false, "the certificate allows neither clientAuth nor serverAuth "
                   "(extended key usage): it cannot be used with Herald"};
  if (X509_verify_cert(ctx.get()) == 1)
    return {true, "valid until " + iso8601_s(info.not_after)
                    + (crl ? ", not revoked" : ", revocation not checked")};
  auto code = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  switch (code) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return {false, "expired on " + iso8601_s(info.not_after)
                       + "; renew it with heraldctl cert renew"};
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return {false, "not valid before " + iso8601_s(info.not_before)};
    case X509_V_ERR_CERT_REVOKED: {
      X509_REVOKED* entry = nullptr;
      std::string why = "revoked";
      if (X509_CRL_get0_by_cert(crl.get(), &entry, cert->get()) == 1) {
        int crit = 0;
        auto* code_ext = static_cast<ASN1_ENUMERATED*>(
          X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &crit, nullptr));
        auto reason
          = code_ext != nullptr
              ? reason_name(static_cast<int>(ASN1_ENUMERATED_get(code_ext)))
              : std::string{"unspecified"};
        ASN1_ENUMERATED_free(code_ext);
        why += " on "
               + iso8601_s(to_unix(X509_REVOKED_get0_revocationDate(entry)))
               + " (" + reason + ")";
      }
      return {false, why};
    }
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return {false, "not issued by this CA (" + info.issuer + ")"};
    case X509_V_ERR_CRL_HAS_EXPIRED:
      return {false, "the CRL is past its nextUpdate; publish a fresh one "
                     "with heraldctl crl"};
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_GET_CRL:
      return {false, "the CRL is not signed by this CA; publish a fresh one "
                     "with heraldctl crl"};
    case X509_V_ERR_INVALID_PURPOSE:
      return {false, "the extended key usage does not allow TLS"};
    default:
      return {false, X509_verify_cert_error_string(code)};
  }
}

} // namespace herald::pki
