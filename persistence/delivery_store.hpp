#pragma once

#include "persistence/crypto.hpp"
#include "persistence/mysql.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace herald::persistence {

/// A message a delivery worker took from the queue, as MySQL has it.
struct delivery_job {
  /// 16 raw bytes.
  std::string id;
  /// queued or delivering: deliver; accepting: not committed yet, look
  /// again soon; anything else: nothing to deliver.
  std::string status;
  /// Attempts made before this one.
  uint32_t attempts = 0;
  int64_t created_ms = 0;
  /// When heraldctl message requeue last queued it again (Unix ms; 0:
  /// never), and the attempts made before that: max-age and max-attempts
  /// count from the later of creation and requeue.
  int64_t requeued_ms = 0;
  uint32_t requeued_attempts = 0;
  /// Sender number and body (see seal_payload).
  sealed_body payload;
};

/// How one attempt ended.
enum class attempt_outcome { delivered, retry, failed, expired };

/// "delivered", "retry", "failed" or "expired".
const char* to_string(attempt_outcome x);

/// One attempt, for delivery_attempts and the message row.
struct attempt_record {
  std::string id;
  /// 1-based number of this attempt.
  uint32_t attempt = 0;
  attempt_outcome outcome = attempt_outcome::retry;
  unsigned http_status = 0;
  std::string error;
  uint32_t latency_ms = 0;
  /// For retries: when the next attempt is due (Unix ms).
  int64_t next_attempt_ms = 0;
};

/// Encrypts what a delivery needs (sender number and body; the number has
/// no newline) under `key`, bound to message `id`.
caf::expected<sealed_body> seal_payload(const data_key& key,
                                        const std::string& sender_number,
                                        const std::string& body,
                                        const std::string& id);

/// Decrypts a payload into sender number and body.
caf::expected<std::pair<std::string, std::string>>
open_payload(const key_ring& keys, const sealed_body& payload,
             const std::string& id);

/// What check_bodies() found.
struct body_check {
  uint64_t opened = 0;
  /// Bodies that do not open, or whose sender hash the pepper does not give.
  uint64_t failed = 0;
  /// The first of those: its id and why.
  std::string first_failure;
};

/// Opens every stored body (messages and received_messages) with `keys` and
/// recomputes its sender hash under `pepper`, a page at a time: after a
/// restore, shows that the data keys and the pepper fit the database.
caf::expected<body_check> check_bodies(mysql_connection& db,
                                       const key_ring& keys,
                                       const std::string& pepper);

/// Loads the messages `ids` (16 raw bytes each) and marks the deliverable
/// ones "delivering". Ids without a row are missing from the result.
caf::expected<std::vector<delivery_job>>
claim_jobs(mysql_connection& db, const std::vector<std::string>& ids);

/// Records attempts and their messages' new state in one transaction.
caf::error record_attempts(mysql_connection& db, const std::string& node,
                           const std::vector<attempt_record>& records);

} // namespace herald::persistence
