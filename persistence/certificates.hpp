#pragma once

#include "persistence/clients.hpp"
#include "persistence/mysql.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace herald::persistence {

/// One row of the `certificates` table, for `heraldctl cert list/show`.
struct certificate_row {
  std::string fingerprint;
  std::string serial;
  std::string subject;
  /// client, server or node.
  std::string kind;
  /// The client's name; empty for server certificates.
  std::string client;
  /// active or revoked (expiry is not a status: compare not_after).
  std::string status;
  std::string revocation_reason;
  /// Unix seconds; revoked_at is 0 unless revoked.
  int64_t not_before = 0;
  int64_t not_after = 0;
  int64_t revoked_at = 0;
  int64_t created_at = 0;
};

/// Registers `cert` for the existing client `client`; returns its id.
caf::expected<uint64_t> add_certificate(mysql_connection& db,
                                        const std::string& client,
                                        const certificate_record& cert);

/// Registers a certificate of no client: a server or node certificate, or
/// (`kind` "admin") one of heraldctl's console.
caf::error add_server_certificate(mysql_connection& db,
                                  const certificate_record& cert,
                                  const std::string& kind = "server");

/// Certificates filtered by `status` ("", active, revoked or expired) and,
/// when `expiring_within` >= 0, by active ones expiring within that many
/// seconds; soonest expiry first.
caf::expected<std::vector<certificate_row>>
list_certificates(mysql_connection& db, const std::string& status,
                  int64_t expiring_within);

/// The certificate with this SHA-256 fingerprint (64 hex digits) or serial
/// (hex, any case).
caf::expected<certificate_row> find_certificate(mysql_connection& db,
                                                const std::string& id);

/// Marks the certificate `fingerprint` revoked for `reason`. Fails with
/// invalid_input when it is revoked already.
caf::error revoke_certificate(mysql_connection& db,
                              const std::string& fingerprint,
                              const std::string& reason);

/// Every revoked certificate, for the CRL.
caf::expected<std::vector<certificate_row>>
revoked_certificates(mysql_connection& db);

/// Counts by status for the metrics: active, revoked, expired.
struct certificate_stats {
  int64_t active = 0;
  int64_t revoked = 0;
  int64_t expired = 0;
  /// Unix seconds of the earliest expiry among active client certificates
  /// of active clients; 0 when there is none.
  int64_t earliest_client_expiry = 0;
};

caf::expected<certificate_stats> certificate_statistics(mysql_connection& db);

} // namespace herald::persistence
