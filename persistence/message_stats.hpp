#pragma once

#include "persistence/mysql.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <utility>
#include <vector>

namespace herald::persistence {

// Messages counted per minute for the admin overview.

/// Counts per minute of the messages accepted (created_at), delivered
/// (delivered_at) and failed (status failed, by updated_at), oldest minute
/// first.
struct minute_series {
  /// Unix seconds of the first minute.
  int64_t first_minute = 0;
  std::vector<int64_t> accepted;
  std::vector<int64_t> delivered;
  std::vector<int64_t> failed;
};

/// The `minutes` whole minutes up to and including the one of `now_s`
/// (Unix seconds). Three GROUP BYs over index ranges (migrations 0002 and
/// 0009): the cost follows the last hour's messages, not the table.
caf::expected<minute_series> messages_per_minute(mysql_connection& db,
                                                 int64_t now_s,
                                                 size_t minutes);

/// `counts` ((minute offset from the first minute, count) pairs, in any
/// order) as `minutes` buckets; offsets outside [0, minutes) are dropped
/// (a clock that moved between the query and its bound).
std::vector<int64_t>
bucket_per_minute(const std::vector<std::pair<int64_t, int64_t>>& counts,
                  size_t minutes);

} // namespace herald::persistence
