#pragma once

#include "persistence/mysql.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace herald::persistence {

/// Who a registered certificate identifies: a client application, or a
/// node (kind "server", from heraldctl cert server).
struct client_identity {
  /// The client; 0 for a node certificate.
  uint64_t id = 0;
  /// The client's name; empty for a node certificate.
  std::string name;
  /// False when the client is disabled or the certificate revoked or
  /// expired.
  bool active = false;
  /// certificates.kind: "client", "server", "node" or "admin" (heraldctl
  /// console).
  std::string kind = "client";
};

/// Certificate fingerprint (lower-case hex SHA-256) -> who it identifies.
using client_map = std::unordered_map<std::string, client_identity>;

/// A certificate to register for a client.
struct certificate_record {
  std::string fingerprint;
  std::string serial;
  std::string subject;
  /// Unix seconds.
  int64_t not_before = 0;
  int64_t not_after = 0;
  /// Whether its extended key usage names serverAuth (a node certificate).
  bool server_auth = false;
};

/// One row of `heraldctl client list`.
struct client_summary {
  uint64_t id = 0;
  std::string name;
  std::string status;
  std::string owner;
  uint64_t active_certificates = 0;
  std::string created_at;
};

/// Every registered certificate with its client (none for node
/// certificates).
caf::expected<client_map> load_client_map(mysql_connection& db);

/// Creates client `name` (owned by portal user `owner` when not empty) and
/// registers `cert` for it, in one transaction. Fails if the name or the
/// certificate is taken.
caf::expected<uint64_t> add_client(mysql_connection& db,
                                   const std::string& name,
                                   const std::string& owner,
                                   const certificate_record& cert);

/// Sets a client's status ("active" or "disabled").
caf::error set_client_status(mysql_connection& db, const std::string& name,
                             const std::string& status);

caf::expected<std::vector<client_summary>> list_clients(mysql_connection& db);

} // namespace herald::persistence
