#pragma once

#include "persistence/certificates.hpp"
#include "persistence/mysql.hpp"
#include "pki/ca.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <string>

namespace herald::pki {

// What heraldctl and the portal's admin pages do to client certificates,
// without printing: both call these, then audit and announce the change
// their own way.

/// Succeeds for a client name: 1 to 64 letters, digits, '.', '_' or '-',
/// not starting with '.' or '-' (names become file names and subjects).
caf::error check_client_name(const std::string& name);

/// A certificate issued for a client, not yet registered.
struct client_issue {
  issued cert;
  std::string client;
  /// Whether the client does not exist yet: registering creates it.
  bool new_client = false;
};

/// Issues a certificate for client `name` with `ca`, valid for `days`. A
/// renewal needs the client to exist; a first issue (`renew` false) of an
/// existing client is a renewal too (heraldctl cert issue's rule).
caf::expected<client_issue>
issue_client_certificate(persistence::mysql_connection& db,
                         const authority& ca, const std::string& name,
                         int64_t days, bool renew);

/// Registers `x`: creates the client (owned by portal user `owner` when
/// not empty) with it, or adds it to the existing client.
caf::error register_client_certificate(persistence::mysql_connection& db,
                                       const client_issue& x,
                                       const std::string& owner);

/// The database's record of an issued certificate.
persistence::certificate_record to_record(const cert_info& info);

/// Succeeds for one of revocation_reasons().
caf::error check_revocation_reason(const std::string& reason);

/// Marks the certificate `id` (serial or fingerprint) revoked for
/// `reason` (one of revocation_reasons()); returns it as it was before.
caf::expected<persistence::certificate_row>
revoke_certificate(persistence::mysql_connection& db, const std::string& id,
                   const std::string& reason);

/// Signs a CRL of every revoked certificate, valid for `days`, and
/// replaces `crl_file` with it atomically.
caf::error publish_crl(persistence::mysql_connection& db, const authority& ca,
                       const std::string& crl_file, int64_t days);

/// The audit detail of an issued certificate.
std::string issue_detail(const cert_info& info);

/// The audit detail of a revocation.
std::string revoke_detail(const persistence::certificate_row& c,
                          const std::string& reason);

} // namespace herald::pki
