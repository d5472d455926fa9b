#include "net/crl.hpp"

#include "core/errc.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <cstdio>
#include <ctime>

namespace herald::net {

namespace {

/// Index of the crl_store pointer in an X509_STORE's ex_data.
int store_index() {
  static const int index
    = X509_STORE_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int64_t to_unix(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1)
    return 0;
  return static_cast<int64_t>(timegm(&tm));
}

/// The CRL number extension (RFC 5280 5.2.3); -1 when absent or too large.
int64_t crl_number(X509_CRL* crl) {
  auto* number = static_cast<ASN1_INTEGER*>(
    X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr));
  int64_t result = -1;
  if (number != nullptr && ASN1_INTEGER_get_int64(&result, number) != 1)
    result = -1;
  ASN1_INTEGER_free(number);
  ERR_clear_error();
  return result;
}

/// OpenSSL asks for the CRLs of an issuer: hand out the one in force.
STACK_OF(X509_CRL) * lookup_crls(const X509_STORE_CTX* ctx, const X509_NAME*) {
  auto* store = X509_STORE_CTX_get0_store(ctx);
  auto* self
    = static_cast<crl_store*>(X509_STORE_get_ex_data(store, store_index()));
  auto* result = sk_X509_CRL_new_null();
  if (self != nullptr && result != nullptr)
    if (auto* crl = self->current_crl())
      sk_X509_CRL_push(result, crl);
  return result;
}

/// Keeps the lock-out policy: the CRL's freshness or absence never fails a
/// handshake (refresh() reports it); a revoked certificate always does.
int verify_callback(int ok, X509_STORE_CTX* ctx) {
  if (ok == 1)
    return 1;
  switch (X509_STORE_CTX_get_error(ctx)) {
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
      X509_STORE_CTX_set_error(ctx, X509_V_OK);
      return 1;
    default:
      return 0;
  }
}

} // namespace

crl_store::crl_store(std::string crl_file, std::string ca_file)
    : path_(std::move(crl_file)), ca_file_(std::move(ca_file)) {
  // nop
}

crl_store::~crl_store() = default;

void crl_store::attach(SSL_CTX* ctx) {
  auto* store = SSL_CTX_get_cert_store(ctx);
  X509_STORE_set_ex_data(store, store_index(), this);
  X509_STORE_set_lookup_crls(store, lookup_crls);
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), verify_callback);
}

X509_CRL* crl_store::current_crl() const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (!crl_)
    return nullptr;
  X509_CRL_up_ref(crl_.get());
  return crl_.get();
}

bool crl_store::in_force() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return crl_ != nullptr;
}

int64_t crl_store::number() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return number_;
}

int64_t crl_store::this_update() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return this_update_;
}

int64_t crl_store::next_update() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return next_update_;
}

caf::error crl_store::refresh() {
  struct stat st {};
  caf::error err;
  if (::stat(path_.c_str(), &st) != 0) {
    err = make_error(errc::io_failure,
                     "pki.crl-file: '" + path_
                       + "' is missing; publish one with heraldctl crl");
  } else {
    auto mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000
                 + st.st_mtim.tv_nsec;
    // A file is read again only when it changes. heraldctl replaces it by
    // a rename, so the inode tells a new file even when two writes share a
    // timestamp tick and a size.
    if (mtime != mtime_ns_ || static_cast<int64_t>(st.st_size) != size_
        || static_cast<uint64_t>(st.st_ino) != inode_) {
      load_error_ = load();
      mtime_ns_ = mtime;
      size_ = static_cast<int64_t>(st.st_size);
      inode_ = static_cast<uint64_t>(st.st_ino);
    }
    err = load_error_;
  }
  std::lock_guard<std::mutex> guard{mtx_};
  if (!crl_)
    return err ? err
               : make_error(errc::invalid_input,
                            "pki.crl-file: no valid CRL loaded from '" + path_
                              + "'; publish one with heraldctl crl");
  if (next_update_ != 0 && next_update_ < std::time(nullptr))
    return make_error(errc::invalid_input,
                      "pki.crl-file: the CRL in force is past its nextUpdate; "
                      "publish a fresh one with heraldctl crl (still "
                      "enforcing it)");
  if (err)
    return make_error(errc::invalid_input,
                      render(err) + " (keeping the last good CRL)");
  return caf::none;
}

caf::error crl_store::load() {
  auto* file = std::fopen(path_.c_str(), "r");
  if (file == nullptr)
    return make_error(errc::io_failure,
                      "pki.crl-file: cannot read '" + path_ + "'");
  X509_CRL* raw = PEM_read_X509_CRL(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (raw == nullptr) {
    ERR_clear_error();
    return make_error(errc::invalid_input,
                      "pki.crl-file: '" + path_ + "' holds no PEM CRL");
  }
  std::shared_ptr<X509_CRL> crl{raw, X509_CRL_free};
  // Only a CRL signed by the CA may be put in force: one that is not would
  // fail every handshake.
  bool signed_by_ca = false;
  if (auto* ca = std::fopen(ca_file_.c_str(), "r")) {
    while (auto* cert = PEM_read_X509(ca, nullptr, nullptr, nullptr)) {
      if (X509_NAME_cmp(X509_get_subject_name(cert),
                        X509_CRL_get_issuer(crl.get()))
            == 0
          && X509_CRL_verify(crl.get(), X509_get0_pubkey(cert)) == 1)
        signed_by_ca = true;
      X509_free(cert);
    }
    std::fclose(ca);
  }
  ERR_clear_error();
  if (!signed_by_ca)
    return make_error(errc::invalid_input,
                      "pki.crl-file: '" + path_
                        + "' is not signed by the CA in '" + ca_file_
                        + "'; publish one with heraldctl crl");
  auto number = crl_number(crl.get());
  std::lock_guard<std::mutex> guard{mtx_};
  // A CRL older than the one in force would un-revoke what it lists since:
  // someone replays an old file, or a stale copy is synced over a new one.
  if (crl_ && number < number_)
    return make_error(errc::invalid_input,
                      "pki.crl-file: '" + path_ + "' has CRL number "
                        + std::to_string(number) + ", lower than "
                        + std::to_string(number_)
                        + " of the CRL in force; refusing an older CRL "
                          "(publish a fresh one with heraldctl crl)");
  this_update_ = to_unix(X509_CRL_get0_lastUpdate(crl.get()));
  next_update_ = to_unix(X509_CRL_get0_nextUpdate(crl.get()));
  number_ = number;
  crl_ = std::move(crl);
  return caf::none;
}

} // namespace herald::net
