#pragma once

#include "persistence/mysql.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <string>

namespace herald::persistence {

/// One administrative action, as the audit log records it.
struct audit_event {
  /// Who: an operating system or portal user.
  std::string actor;
  /// What, e.g. "cert.revoke".
  std::string action;
  /// On what, e.g. a client name or a serial.
  std::string target;
  /// "ok" or "failed".
  std::string outcome = "ok";
  /// From where, e.g. "heraldctl@host".
  std::string source;
  /// Anything else worth keeping (never a secret).
  std::string detail;
};

/// Appends `event` to audit_log, chained to the row before it: hash =
/// HMAC-SHA-256(key, previous hash || canonical content). The key lives
/// outside the database (crypto.audit-key-file), so write access to the
/// database is not enough to rewrite the chain unnoticed. Appenders on any
/// host take turns under a database lock.
caf::error append_audit(mysql_connection& db, const std::string& key,
                        const audit_event& event);

/// The result of checking the whole chain.
struct audit_check {
  uint64_t rows = 0;
  /// Id of the first row whose chain breaks; 0 when the chain is intact.
  uint64_t first_broken = 0;
  std::string why;
};

/// Recomputes every hash in id order under `key` and reports the first
/// row that does not match (edited, inserted or deleted rows before it).
caf::expected<audit_check> verify_audit(mysql_connection& db,
                                        const std::string& key);

/// The hash of a row: HMAC-SHA-256 under `key` over `prev_hash` and the
/// row's fields, each length-prefixed so that no two different rows encode
/// alike.
std::string audit_hash(const std::string& key, const std::string& prev_hash,
                       uint64_t id, int64_t at_ms, const audit_event& event);

} // namespace herald::persistence
