#pragma once

#include "core/messages.hpp"
#include "persistence/mysql.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace herald::persistence {

/// Appends `event` to audit_log, chained to the row before it: hash =
/// HMAC-SHA-256(key, previous hash || canonical content). The key lives
/// outside the database (crypto.audit-key-file), so write access to the
/// database is not enough to rewrite the chain unnoticed. Appenders on any
/// host take turns under a database lock.
caf::error append_audit(mysql_connection& db, const std::string& key,
                        const audit_event& event);

/// Appends `events` in their order, chained, in one transaction under the
/// same database lock as append_audit, so that batches of nodes and single
/// rows of heraldctl interleave into one chain that never forks. All or
/// nothing; an error after COMMIT was sent leaves it in doubt, so events
/// whose id the chain already holds are skipped (a batch sent again is no
/// duplicate). Each row's time is its event's at_ms, or now when 0. Waits
/// at most `lock_wait` seconds for the lock.
caf::error append_audit_batch(mysql_connection& db, const std::string& key,
                              std::vector<audit_event> events,
                              int lock_wait = 10);

/// Makes `event` fit audit_log: cuts fields to their column's length (on a
/// UTF-8 boundary, marked with "..."), replaces bytes that are not UTF-8,
/// and fails when the outcome is neither "ok" nor "failed". One bad event
/// can then never fail a whole batch again and again.
caf::error fit_audit_event(audit_event& event);

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

/// Rows `find_audit_rows` returns at most.
inline constexpr uint32_t max_audit_rows = 500;

/// A page of audit_log matching `filter`, newest first (by id, the chain's
/// order), below the filter's cursor: a range scan of the primary key.
caf::expected<audit_page> find_audit_rows(mysql_connection& db,
                                          const audit_filter& filter);

/// The hash of a row: HMAC-SHA-256 under `key` over `prev_hash` and the
/// row's fields, each length-prefixed so that no two different rows encode
/// alike.
std::string audit_hash(const std::string& key, const std::string& prev_hash,
                       uint64_t id, int64_t at_ms, const audit_event& event);

} // namespace herald::persistence
