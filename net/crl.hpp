#pragma once

#include <caf/error.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct X509_crl_st X509_CRL;

namespace herald::net {

/// The CRL a TLS server checks client certificates against (and the
/// delivery client the downstream's), reloaded while it serves. Policy: a
/// node does not start until a CRL is in force (node/node.cpp). Later, a
/// file that is missing, unreadable, not signed by the CA, past its
/// nextUpdate or older (a lower CRL number) than the CRL in force never
/// locks every client out: the last good CRL stays in force (even past its
/// nextUpdate). refresh() reports each of these states so the node logs an
/// error and raises herald_crl_current=0; revoked certificates still get
/// 403 from the client registry.
class crl_store {
public:
  /// Watches `crl_file`; CRLs must be signed by a CA in `ca_file`.
  crl_store(std::string crl_file, std::string ca_file);

  ~crl_store();

  crl_store(const crl_store&) = delete;
  crl_store& operator=(const crl_store&) = delete;

  /// Makes `ctx` check the leaf certificate of every handshake against the
  /// current CRL (X509_V_FLAG_CRL_CHECK, with a lookup that reads this
  /// store, so a reload needs no new context).
  void attach(SSL_CTX* ctx);

  /// Reloads the file when its modification time or size changed. Returns
  /// an error (with what to do) while no current CRL is in force: the file
  /// is missing or bad, or the CRL in force is past its nextUpdate.
  caf::error refresh();

  /// Whether a CRL is in force.
  bool in_force() const;

  /// The CRL number of the CRL in force; -1 when none or it has none.
  int64_t number() const;

  /// Unix seconds of the thisUpdate of the CRL in force; 0 when none.
  int64_t this_update() const;

  /// Unix seconds of the nextUpdate of the CRL in force; 0 when none.
  int64_t next_update() const;

  const std::string& path() const {
    return path_;
  }

  /// The CRL in force with a reference the caller owns (X509_CRL_free),
  /// or null; for the lookup callback.
  X509_CRL* current_crl() const;

private:
  caf::error load();

  std::string path_;
  std::string ca_file_;
  mutable std::mutex mtx_;
  std::shared_ptr<X509_CRL> crl_;
  int64_t this_update_ = 0;
  int64_t next_update_ = 0;
  int64_t number_ = -1;
  /// Why the file last read could not be put in force; none when it was.
  caf::error load_error_;
  int64_t mtime_ns_ = -1;
  int64_t size_ = -1;
  uint64_t inode_ = 0;
};

} // namespace herald::net
