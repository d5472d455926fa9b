#pragma once

#include "core/messages.hpp"
#include "persistence/redis.hpp"

#include <caf/expected.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace herald::persistence {

/// Redis keys of the message queue.
namespace queue_keys {

/// List of message ids waiting for delivery (LPUSH in, taken from the
/// right).
inline constexpr const char* pending = "herald:pending";

/// Set of every id that Redis holds anywhere (pending, in delivery or
/// scheduled for a retry): lets the recovery sweep find ids Redis lost.
inline constexpr const char* live = "herald:live";

/// Lock that lets one node at a time run the recovery sweep.
inline constexpr const char* sweep_lock = "herald:lock:sweep";

/// Sorted set of ids waiting for a retry, scored by due time (Unix ms).
inline constexpr const char* retry = "herald:retry";

/// List of the ids a node is delivering right now.
std::string processing(const std::string& node);

/// Key that exists while a node is alive (refreshed with a TTL).
std::string lease(const std::string& node);

} // namespace queue_keys

/// Where Redis holds message `id` (canonical text) now: "pending",
/// "processing on NODE" (one of `nodes`), "retry due at TIME", or "none".
caf::expected<std::string> locate(redis_connection& redis,
                                  const std::string& id,
                                  const std::vector<std::string>& nodes);

/// Queues `ids` (canonical UUID text) atomically: pushed to the pending list
/// and added to the live set in one MULTI/EXEC, one round trip. Returns the
/// length of the pending list.
caf::expected<int64_t> enqueue(redis_connection& redis,
                               const std::vector<std::string>& ids);

/// For each id, whether it is in the live set (one SMISMEMBER).
caf::expected<std::vector<bool>> are_live(redis_connection& redis,
                                          const std::vector<std::string>& ids);

/// Length of the pending list.
caf::expected<int64_t> pending_length(redis_connection& redis);

/// Moves up to `max` ids from pending to the node's processing list (one
/// atomic LMOVE each, pipelined); when pending is empty, waits up to
/// `block` for one id (BLMOVE). A crash leaves them in the processing list,
/// from where the reaper returns them.
caf::expected<std::vector<std::string>>
take(redis_connection& redis, const std::string& node, size_t max,
     caf::timespan block);

/// Ends the delivery of `ids`: off the node's processing list and out of
/// the live set.
caf::error finish(redis_connection& redis, const std::string& node,
                  const std::vector<std::string>& ids);

/// Puts `ids` back at the head of pending (the next to be taken), off the
/// node's processing list: for work a stopping node did not attempt. Only
/// ids still on that list move (atomically, Lua): a reaper may have
/// returned them already, and a second copy would be delivered twice.
caf::error release(redis_connection& redis, const std::string& node,
                   const std::vector<std::string>& ids);

/// Schedules `ids` for a retry at `due_ms` (Unix ms): off the processing
/// list, into the retry set, atomically (Lua); as release, only ids still
/// on the node's processing list.
caf::error schedule_retry(redis_connection& redis, const std::string& node,
                          const std::vector<std::string>& ids, int64_t due_ms);

/// Due time (Unix ms) of the earliest retry, or -1 when there is none.
caf::expected<int64_t> earliest_retry(redis_connection& redis);

/// Size of the retry schedule.
caf::expected<int64_t> retry_count(redis_connection& redis);

/// Marks `node` alive for `ttl`. The value is the refresh time, so that
/// each refresh changes it.
caf::error refresh_lease(redis_connection& redis, const std::string& node,
                         caf::timespan ttl);

/// Whether a running process holds the lease of `node`: it exists and
/// changes within `wait` (a live node refreshes it at least once a
/// second; a crashed one leaves it to expire). Blocks for `wait` when a
/// lease exists.
caf::expected<bool> lease_in_use(redis_connection& redis,
                                 const std::string& node, caf::timespan wait);

/// Returns the processing lists of nodes without a lease (and the node's
/// own list when `include_self`, for a restart under the same name) to
/// pending. Each list's lease check and drain are one atomic step (Lua): a
/// node that refreshes its lease before the drain keeps its list, and two
/// reapers never return an id twice. Returns how many ids moved.
caf::expected<int64_t> reap(redis_connection& redis, const std::string& node,
                            bool include_self);

/// Returns the processing list of `node` to the head of pending at once,
/// without waiting for its lease to lapse: for a cluster member its peers
/// saw die. Removes its lease in the same atomic step. At least once: if
/// the node lives on, a message it is delivering may go out twice. Returns
/// how many ids moved.
caf::expected<int64_t> return_work_of(redis_connection& redis,
                                      const std::string& node);

/// Takes the sweep lock for `ttl` unless another node holds it.
caf::expected<bool> try_lock(redis_connection& redis, const std::string& owner,
                             caf::timespan ttl);

/// Moves up to `limit` retries due by `now_ms` to pending (earliest first)
/// and returns their ids. Atomic (Lua): when several nodes promote at once,
/// each id is moved by exactly one of them.
caf::expected<std::vector<std::string>>
promote_due_ids(redis_connection& redis, int64_t now_ms, size_t limit);

/// Reads the retry schedule's due times after `after_ms`, up to `until_ms`,
/// looking at `limit` entries at most (ZRANGEBYSCORE ... LIMIT).
caf::expected<retry_page> retry_due_times(redis_connection& redis,
                                          int64_t after_ms, int64_t until_ms,
                                          size_t limit);

/// The queue's state for a backup: the pending list, the live set, the
/// retry schedule (with each retry's due time) and every node's processing
/// list, as DUMP payloads read in one MULTI/EXEC so that they agree with
/// each other; one opaque string. Leases, the sweep lock and the cluster's
/// member records describe running processes and stay out.
caf::expected<std::string> dump_queue_state(redis_connection& redis);

/// Replaces the queue's state with a dump_queue_state() snapshot: deletes
/// the queue's keys, then RESTOREs the snapshot's. Only into a Redis no node
/// uses (the payloads need a Redis of the same or a newer version). Returns
/// the number of keys restored.
caf::expected<size_t> restore_queue_state(redis_connection& redis,
                                          std::string_view snapshot);

/// The keys matching `pattern` (SCAN; a glob such as "herald:*").
caf::expected<std::vector<std::string>>
scan_keys(redis_connection& redis, const std::string& pattern);

} // namespace herald::persistence
