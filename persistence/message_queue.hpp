#pragma once

#include "persistence/redis.hpp"

#include <caf/expected.hpp>

#include <string>
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

} // namespace queue_keys

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

/// Takes the sweep lock for `ttl` unless another node holds it.
caf::expected<bool> try_lock(redis_connection& redis, const std::string& owner,
                             caf::timespan ttl);

} // namespace herald::persistence
