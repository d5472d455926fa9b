#include "persistence/message_stats.hpp"

#include <string>

namespace herald::persistence {

namespace {

/// (minute offset, count) of the rows whose `column` lies in the window
/// starting at `first` ("YYYY-MM-DD HH:MM:SS", UTC like the connection),
/// with `condition` (may be empty) on top.
caf::expected<std::vector<std::pair<int64_t, int64_t>>>
count_per_minute(mysql_connection& db, const char* column,
                 const std::string& condition, const std::string& first) {
  std::string col{column};
  auto rows = db.query("SELECT TIMESTAMPDIFF(MINUTE, ?, " + col
                         + ") AS minute, COUNT(*) FROM messages WHERE " + col
                         + " >= ?" + condition + " GROUP BY minute",
                       {first, first});
  if (!rows)
    return rows.error();
  std::vector<std::pair<int64_t, int64_t>> result;
  for (auto& row : *rows)
    if (row[0] && row[1])
      result.emplace_back(std::stoll(*row[0]), std::stoll(*row[1]));
  return result;
}

} // namespace

std::vector<int64_t>
bucket_per_minute(const std::vector<std::pair<int64_t, int64_t>>& counts,
                  size_t minutes) {
  std::vector<int64_t> result(minutes, 0);
  for (const auto& [offset, count] : counts)
    if (offset >= 0 && static_cast<size_t>(offset) < minutes)
      result[static_cast<size_t>(offset)] += count;
  return result;
}

caf::expected<minute_series> messages_per_minute(mysql_connection& db,
                                                 int64_t now_s,
                                                 size_t minutes) {
  minute_series result;
  result.first_minute
    = (now_s / 60 - static_cast<int64_t>(minutes) + 1) * 60;
  auto first = sql_datetime(result.first_minute * 1000);
  struct series {
    const char* column;
    const char* condition;
    std::vector<int64_t>* out;
  };
  for (auto [column, condition, out] :
       {series{"created_at",
               " AND status NOT IN ('accepting', 'rejected')",
               &result.accepted},
        series{"delivered_at", "", &result.delivered},
        series{"updated_at", " AND status = 'failed'", &result.failed}}) {
    auto counts = count_per_minute(db, column, condition, first);
    if (!counts)
      return counts.error();
    *out = bucket_per_minute(*counts, minutes);
  }
  return result;
}

} // namespace herald::persistence
