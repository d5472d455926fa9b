#pragma once

#include "core/messages.hpp"
#include "persistence/mysql.hpp"
#include "persistence/redis.hpp"

#include <caf/expected.hpp>

#include <string>
#include <vector>

namespace herald::persistence {

/// Where insert_batch queues the messages it accepts, and what it saw there.
struct queue_target {
  redis_connection& redis;
  /// The length of the pending list after the enqueue.
  int64_t length = 0;
};

/// Stores `batch` in one transaction and resolves idempotency keys: of
/// several messages with the same client and key (in this batch, in another
/// node's concurrent batch, or within the last 24 h) the first one wins and
/// the others are removed again. Returns one result per message, in order.
///
/// The accepted messages go in as "queued" and, when `queue` is given, into
/// Redis (enqueue) before the commit, so one commit makes the batch durable
/// and deliverable: Redis failing rolls the batch back; a commit failing
/// after the enqueue leaves ids without rows, which delivery drops (its claim
/// waits for the writer's row locks, so it never sees a row too early); a
/// crash between the enqueue and the commit also. Without `queue` (tests
/// that need rows only) the recovery sweep would enqueue them.
caf::expected<std::vector<submit_result>>
insert_batch(mysql_connection& db, const std::vector<stored_message>& batch,
             queue_target* queue = nullptr);

/// Marks messages of a failed batch rejected (they were never promised to a
/// client) and frees their idempotency keys. Runs on the same writer after
/// the batch's commit, so it also overrides a commit that timed out or
/// whose answer was lost.
caf::error mark_rejected(mysql_connection& db,
                         const std::vector<std::string>& ids);

/// The status of message `id` (16 raw bytes) of `client_id`; errc::not_found
/// for other clients' messages and for messages never accepted.
caf::expected<message_status>
find_message(mysql_connection& db, uint64_t client_id, const std::string& id);

/// Queued (or delivering) messages with an id above `after` (raw; empty: from the start), in
/// id order, at most `limit`.
caf::expected<std::vector<std::string>>
queued_ids(mysql_connection& db, const std::string& after, size_t limit);

/// Seconds since the oldest queued or delivering message was accepted (0
/// when there is none): how long the delivery backlog has been waiting.
caf::expected<double> oldest_pending_age(mysql_connection& db);

/// Of `ids` (raw), those still queued or delivering: the sweep checks again
/// after asking Redis, since a delivery may have finished in between.
caf::expected<std::vector<std::string>>
still_deliverable(mysql_connection& db, const std::vector<std::string>& ids);

/// Rejects messages stuck in "accepting" for longer than `grace`. Earlier
/// builds wrote a batch as "accepting", enqueued it, then marked it queued;
/// such a node that died in between left them so (a rolling upgrade still
/// meets them). Returns the count.
caf::expected<uint64_t> reject_stale_accepting(mysql_connection& db,
                                               caf::timespan grace);

/// Deletes idempotency keys older than 24 hours. Returns the count.
caf::expected<uint64_t> purge_idempotency_keys(mysql_connection& db);

} // namespace herald::persistence
