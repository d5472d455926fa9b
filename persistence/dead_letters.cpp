#include "persistence/dead_letters.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "persistence/audit.hpp"
#include "persistence/limits.hpp"
#include "persistence/message_queue.hpp"

#include <array>

namespace herald::persistence {

namespace {

constexpr std::array<std::string_view, 6> statuses{
  "accepting", "queued", "delivering", "delivered", "failed", "rejected"};

int64_t ms_or_zero(const std::optional<std::string>& x) {
  return x ? std::stoll(*x) : 0;
}

/// The columns of a message_record, in its order; messages as m, clients
/// as c.
std::string record_columns() {
  return "SELECT m.id, c.name, m.status, m.attempts, m.sender_masked, "
         + sql_unix_ms("m.created_at") + ", " + sql_unix_ms("m.updated_at")
         + ", " + sql_unix_ms("m.next_attempt_at") + ", "
         + sql_unix_ms("m.delivered_at") + ", "
         + sql_unix_ms("m.requeued_at")
         + ", m.requeued_attempts, m.last_error "
           "FROM messages m JOIN clients c ON c.id = m.client_id";
}

message_record record_of(sql_row& row) {
  message_record r;
  r.id = std::move(*row[0]);
  r.client = std::move(*row[1]);
  r.status = std::move(*row[2]);
  r.attempts = static_cast<uint32_t>(std::stoul(*row[3]));
  r.sender_masked = std::move(*row[4]);
  r.created_ms = ms_or_zero(row[5]);
  r.updated_ms = ms_or_zero(row[6]);
  r.next_attempt_ms = ms_or_zero(row[7]);
  r.delivered_ms = ms_or_zero(row[8]);
  r.requeued_ms = ms_or_zero(row[9]);
  r.requeued_attempts = static_cast<uint32_t>(std::stoul(*row[10]));
  r.last_error = row[11].value_or("");
  return r;
}

/// Fails unless a client named `name` exists (an empty name means any).
caf::error check_client(mysql_connection& db, const std::string& name) {
  if (name.empty())
    return caf::none;
  if (name.size() > max_name_chars)
    return make_error(errc::invalid_input,
                      "a client name has at most "
                        + std::to_string(max_name_chars) + " characters");
  auto rows = db.query("SELECT 1 FROM clients WHERE name = ?", {name});
  if (!rows)
    return rows.error();
  if (rows->empty())
    return make_error(errc::not_found, "no client named '" + name + "'");
  return caf::none;
}

caf::error check_batch(const std::vector<std::string>& ids) {
  if (ids.size() > max_requeue_batch)
    return make_error(errc::invalid_input,
                      "at most " + std::to_string(max_requeue_batch)
                        + " messages per requeue batch");
  return caf::none;
}

} // namespace

bool is_message_status(std::string_view status) {
  for (auto x : statuses)
    if (x == status)
      return true;
  return false;
}

const char* message_statuses() {
  return "accepting, queued, delivering, delivered, failed, rejected";
}

caf::expected<message_record> show_message(mysql_connection& db,
                                           const std::string& id) {
  auto rows = db.query(record_columns() + " WHERE m.id = ?", {id});
  if (!rows)
    return rows.error();
  if (rows->empty())
    return make_error(errc::not_found, "no such message");
  return record_of(rows->front());
}

caf::expected<std::vector<attempt_row>>
message_attempts(mysql_connection& db, const std::string& id, size_t limit) {
  if (limit == 0 || limit > max_attempt_rows)
    limit = max_attempt_rows;
  auto rows = db.query("SELECT attempt, " + sql_unix_ms("attempted_at")
                         + ", outcome, COALESCE(http_status, 0), "
                           "COALESCE(error, ''), latency_ms, node "
                           "FROM delivery_attempts WHERE message_id = ? "
                           "ORDER BY attempt DESC LIMIT ?",
                       {id, static_cast<int64_t>(limit)});
  if (!rows)
    return rows.error();
  std::vector<attempt_row> result;
  result.reserve(rows->size());
  for (auto it = rows->rbegin(); it != rows->rend(); ++it) {
    auto& row = *it;
    attempt_row a;
    a.attempt = static_cast<uint32_t>(std::stoul(*row[0]));
    a.at_ms = ms_or_zero(row[1]);
    a.outcome = std::move(*row[2]);
    a.http_status = static_cast<unsigned>(std::stoul(*row[3]));
    a.error = std::move(*row[4]);
    a.latency_ms = static_cast<uint32_t>(std::stoul(*row[5]));
    a.node = std::move(*row[6]);
    result.push_back(std::move(a));
  }
  return result;
}

caf::expected<std::vector<message_record>>
list_messages(mysql_connection& db, const message_filter& filter) {
  if (!is_message_status(filter.status))
    return make_error(errc::invalid_input,
                      "unknown status '" + filter.status + "'; one of "
                        + message_statuses());
  if (filter.limit < 1 || filter.limit > max_list_limit)
    return make_error(errc::invalid_input,
                      "the limit is 1 to " + std::to_string(max_list_limit));
  if (auto err = check_client(db, filter.client))
    return err;
  // The (status, updated_at) index gives the order.
  std::string sql = record_columns()
                    + " WHERE m.status = ? AND m.updated_at >= ?";
  std::vector<sql_param> params{filter.status,
                                sql_datetime(filter.since_ms)};
  if (!filter.client.empty()) {
    sql += " AND c.name = ?";
    params.emplace_back(filter.client);
  }
  sql += " ORDER BY m.updated_at DESC, m.id DESC LIMIT ?";
  params.emplace_back(static_cast<int64_t>(filter.limit));
  auto rows = db.query(sql, params);
  if (!rows)
    return rows.error();
  std::vector<message_record> result;
  result.reserve(rows->size());
  for (auto& row : *rows)
    result.push_back(record_of(row));
  return result;
}

caf::expected<std::vector<std::string>>
failed_ids(mysql_connection& db, int64_t since_ms, const std::string& client,
           const std::string& after, size_t limit) {
  if (limit < 1 || limit > max_list_limit)
    return make_error(errc::invalid_input,
                      "the limit is 1 to " + std::to_string(max_list_limit));
  if (auto err = check_client(db, client))
    return err;
  std::string sql = "SELECT m.id FROM messages m";
  std::vector<sql_param> params;
  if (!client.empty()) {
    sql += " JOIN clients c ON c.id = m.client_id AND c.name = ?";
    params.emplace_back(client);
  }
  sql += " WHERE m.status = 'failed' AND m.id > ? AND m.updated_at >= ? "
         "ORDER BY m.id LIMIT ?";
  params.emplace_back(after);
  params.emplace_back(sql_datetime(since_ms));
  params.emplace_back(static_cast<int64_t>(limit));
  return db.query_column(sql, params);
}

caf::expected<int64_t> count_messages(mysql_connection& db,
                                      const std::string& status) {
  if (!is_message_status(status))
    return make_error(errc::invalid_input, "unknown status '" + status + "'");
  auto rows = db.query("SELECT COUNT(*) FROM messages WHERE status = ?",
                       {status});
  if (!rows)
    return rows.error();
  return rows->empty() || !rows->front()[0] ? 0
                                            : std::stoll(*rows->front()[0]);
}

caf::expected<std::vector<message_record>>
requeue_failed(mysql_connection& db, const std::vector<std::string>& ids) {
  std::vector<message_record> result;
  if (ids.empty())
    return result;
  if (auto err = check_batch(ids))
    return err;
  auto err = db.transaction([&]() -> caf::error {
    result.clear();
    // Lock the failed rows first: a concurrent requeue of the same ids
    // waits here and then finds them queued.
    auto locked = db.query("SELECT id FROM messages WHERE status = 'failed' "
                           "AND id IN ("
                             + sql_repeat("?", ids.size()) + ") FOR UPDATE",
                           {ids.begin(), ids.end()});
    if (!locked)
      return locked.error();
    if (locked->empty())
      return caf::none;
    std::vector<sql_param> params;
    params.reserve(locked->size());
    for (auto& row : *locked)
      params.emplace_back(std::move(*row[0]));
    auto in_list = sql_repeat("?", params.size());
    auto before = db.query(record_columns() + " WHERE m.id IN (" + in_list
                             + ") ORDER BY m.id",
                           params);
    if (!before)
      return before.error();
    auto updated = db.execute(
      "UPDATE messages SET status = 'queued', next_attempt_at = NOW(6), "
      "requeued_at = NOW(6), requeued_attempts = attempts "
      "WHERE status = 'failed' AND id IN ("
        + in_list + ")",
      params);
    if (!updated)
      return updated.error();
    if (*updated != before->size())
      return make_error(errc::conflict, "requeue: rows changed while locked");
    for (auto& row : *before)
      result.push_back(record_of(row));
    return caf::none;
  });
  if (err)
    return err;
  return result;
}

caf::expected<std::vector<message_record>>
failed_among(mysql_connection& db, const std::vector<std::string>& ids) {
  std::vector<message_record> result;
  if (ids.empty())
    return result;
  if (auto err = check_batch(ids))
    return err;
  auto rows = db.query(record_columns()
                         + " WHERE m.status = 'failed' AND m.id IN ("
                         + sql_repeat("?", ids.size()) + ") ORDER BY m.id",
                       {ids.begin(), ids.end()});
  if (!rows)
    return rows.error();
  for (auto& row : *rows)
    result.push_back(record_of(row));
  return result;
}

caf::expected<requeue_report>
requeue_batch(mysql_connection& db, redis_connection* redis,
              const std::string& audit_key, const audit_event& who,
              const std::vector<std::string>& ids) {
  auto requeued = requeue_failed(db, ids);
  if (!requeued)
    return requeued.error();
  requeue_report report;
  report.requeued = std::move(*requeued);
  report.skipped = ids.size() - report.requeued.size();
  if (report.requeued.empty())
    return report;
  std::vector<std::string> text;
  std::vector<audit_event> events;
  text.reserve(report.requeued.size());
  events.reserve(report.requeued.size());
  for (const auto& m : report.requeued) {
    text.push_back(message_id::text_of(m.id));
    auto event = who;
    event.action = "message.requeue";
    event.target = text.back();
    event.outcome = "ok";
    event.detail = "client " + m.client + "; was failed ("
                   + (m.last_error.empty() ? "-" : m.last_error) + ") after "
                   + std::to_string(m.attempts) + " attempts";
    events.push_back(std::move(event));
  }
  if (redis == nullptr) {
    report.redis_error = make_error(errc::redis_failure,
                                    "no Redis connection");
  } else if (auto pushed = enqueue_requeued(*redis, text)) {
    report.pushed = *pushed;
  } else {
    report.redis_error = pushed.error();
  }
  report.audit_error = append_audit_batch(db, audit_key, std::move(events));
  return report;
}

caf::expected<size_t> enqueue_requeued(redis_connection& redis,
                                       const std::vector<std::string>& ids) {
  if (ids.empty())
    return size_t{0};
  auto live = are_live(redis, ids);
  if (!live)
    return live.error();
  std::vector<std::string> push;
  for (size_t i = 0; i < ids.size(); ++i)
    if (!(*live)[i])
      push.push_back(ids[i]);
  if (!push.empty())
    if (auto queued = enqueue(redis, push); !queued)
      return queued.error();
  return push.size();
}

} // namespace herald::persistence
