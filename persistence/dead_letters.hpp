#pragma once

#include "core/messages.hpp"
#include "persistence/mysql.hpp"
#include "persistence/redis.hpp"

#include <caf/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herald::persistence {

// What operators see of messages, and failed messages queued again
// (heraldctl message show, list, requeue; docs/OPERATIONS.md "Dead
// letters"). Never the body or the sender number: only the stored mask.

/// Rows `list_messages` returns at most.
inline constexpr size_t max_list_limit = 10000;

/// Messages one `requeue_failed` call takes at most (one transaction).
inline constexpr size_t max_requeue_batch = 500;

/// Attempts `message_attempts` returns at most.
inline constexpr size_t max_attempt_rows = 100;

/// Whether `status` is one of messages.status (accepting, queued,
/// delivering, delivered, failed, rejected).
bool is_message_status(std::string_view status);

/// The statuses of messages.status, comma-separated, for error messages.
const char* message_statuses();

/// One message as an operator sees it. Times are Unix ms, 0 when not set.
struct message_record {
  /// 16 raw bytes.
  std::string id;
  std::string client;
  std::string status;
  uint32_t attempts = 0;
  /// The stored mask of the sender number ("+49****78").
  std::string sender_masked;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t next_attempt_ms = 0;
  int64_t delivered_ms = 0;
  /// The last requeue, and the attempts made before it.
  int64_t requeued_ms = 0;
  uint32_t requeued_attempts = 0;
  /// As delivery stored it: "HTTP <status>", a transport error or
  /// "expired: ..."; never what the downstream answered.
  std::string last_error;
};

/// One row of delivery_attempts.
struct attempt_row {
  uint32_t attempt = 0;
  int64_t at_ms = 0;
  std::string outcome;
  /// 0 when there was no HTTP answer.
  unsigned http_status = 0;
  std::string error;
  uint32_t latency_ms = 0;
  std::string node;
};

/// Which messages `list_messages` returns.
struct message_filter {
  /// One of messages.status.
  std::string status;
  /// Only messages whose status changed at or after this time (updated_at,
  /// Unix ms); 0: any time.
  int64_t since_ms = 0;
  /// Only this client's messages; empty: every client's.
  std::string client;
  /// 1 to max_list_limit.
  size_t limit = 100;
};

/// Message `id` (16 raw bytes) in any status; errc::not_found when there is
/// none.
caf::expected<message_record> show_message(mysql_connection& db,
                                           const std::string& id);

/// How many messages are in `status` (one of messages.status).
caf::expected<int64_t> count_messages(mysql_connection& db,
                                      const std::string& status);

/// The last `limit` attempts of message `id`, oldest first.
caf::expected<std::vector<attempt_row>>
message_attempts(mysql_connection& db, const std::string& id,
                 size_t limit = max_attempt_rows);

/// Messages matching `filter`, newest change first (updated_at, then id).
/// errc::invalid_input for an unknown status or a limit out of range.
caf::expected<std::vector<message_record>>
list_messages(mysql_connection& db, const message_filter& filter);

/// Ids (raw) of failed messages above `after` (raw; empty: from the start)
/// in id order, at most `limit`, filtered like list_messages by `since_ms`
/// and `client`: the pages of requeue --all-failed.
caf::expected<std::vector<std::string>>
failed_ids(mysql_connection& db, int64_t since_ms, const std::string& client,
           const std::string& after, size_t limit);

/// Of `ids` (raw, at most max_requeue_batch), sets the failed ones back to
/// queued in one transaction: due now, requeued_at now, requeued_attempts
/// its attempts (max-age and max-attempts count from here; attempt numbers
/// go on). Returns those messages as they were before; others are left
/// alone. The caller pushes them to Redis (enqueue_requeued); until then
/// the recovery sweep finds them queued and queues them in Redis itself.
caf::expected<std::vector<message_record>>
requeue_failed(mysql_connection& db, const std::vector<std::string>& ids);

/// The failed messages among `ids` (raw, at most max_requeue_batch), in id
/// order, as requeue_failed would take them; changes nothing (a dry run).
caf::expected<std::vector<message_record>>
failed_among(mysql_connection& db, const std::vector<std::string>& ids);

/// What requeue_batch did.
struct requeue_report {
  /// The messages set back to queued, as they were before.
  std::vector<message_record> requeued;
  /// Ids that were not failed (any more) and were left alone.
  size_t skipped = 0;
  /// Ids pushed to the pending list.
  size_t pushed = 0;
  /// Redis failed after MySQL committed: the messages are queued and a
  /// running node's recovery sweep queues them in Redis.
  caf::error redis_error;
  /// The audit log did not record the requeue (it happened).
  caf::error audit_error;
};

/// Requeues the failed messages among `ids` (raw): requeue_failed in MySQL
/// first, then enqueue_requeued on `redis` (nullptr: left to the recovery
/// sweep), then one audit event per message (action "message.requeue",
/// target its id; actor and source from `who`), chained under `audit_key`.
/// An error means nothing changed.
caf::expected<requeue_report>
requeue_batch(mysql_connection& db, redis_connection* redis,
              const std::string& audit_key, const audit_event& who,
              const std::vector<std::string>& ids);

/// Pushes `ids` (canonical text) to the pending list, except those the
/// live set already holds (a node about to finish them, or the sweep that
/// came first), so that each is pending once. Returns how many it pushed.
caf::expected<size_t> enqueue_requeued(redis_connection& redis,
                                       const std::vector<std::string>& ids);

} // namespace herald::persistence
