#include "persistence/message_store.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "core/time.hpp"
#include "persistence/crypto.hpp"
#include "persistence/message_queue.hpp"

#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <utility>

namespace herald::persistence {

namespace {

std::string iso8601_ms(const std::optional<std::string>& unix_ms) {
  return unix_ms ? herald::iso8601_ms(std::stoll(*unix_ms)) : std::string{};
}

int64_t unix_ms_of(const std::string& raw_id) {
  auto id = message_id::from_raw(raw_id);
  return id ? id->unix_ms() : 0;
}

/// Idempotency keys younger than this still hold.
constexpr const char* fresh_key = "created_at >= NOW(6) - INTERVAL 24 HOUR";

caf::error insert_messages(mysql_connection& db,
                           const std::vector<stored_message>& batch) {
  std::vector<sql_param> params;
  params.reserve(batch.size() * 9);
  for (const auto& m : batch) {
    auto created = sql_datetime(unix_ms_of(m.id));
    params.insert(params.end(),
                  {m.id, static_cast<int64_t>(m.client_id), m.sender_hash,
                   m.sender_masked, static_cast<int64_t>(m.key_id), m.nonce,
                   m.ciphertext, created, created});
  }
  auto done = db.execute(
    "INSERT INTO messages (id, client_id, sender_hash, sender_masked, "
    "body_key_id, body_nonce, body_ciphertext, created_at, next_attempt_at, "
    "status) VALUES "
      + sql_repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued')", batch.size()),
    params);
  return done ? caf::none : done.error();
}

/// Claims the keys of `keyed` messages (an expired claim is taken over) and
/// decides each message's outcome. Returns the ids of messages that lost
/// their key to another message and must be removed.
caf::expected<std::vector<std::string>>
resolve_keys(mysql_connection& db, const std::vector<stored_message>& batch,
             const std::vector<size_t>& keyed,
             std::vector<submit_result>& results) {
  std::vector<sql_param> params;
  for (auto i : keyed) {
    const auto& m = batch[i];
    params.insert(params.end(), {static_cast<int64_t>(m.client_id),
                                 m.idempotency_key, m.request_hash, m.id});
  }
  // Assignments run left to right: created_at is tested before it changes.
  std::string stale = std::string{"NOT ("} + fresh_key + ")";
  auto claimed = db.execute(
    "INSERT INTO idempotency_keys (client_id, idem_key, request_hash, "
    "message_id) VALUES "
      + sql_repeat("(?, ?, ?, ?)", keyed.size())
      + " ON DUPLICATE KEY UPDATE message_id = IF(" + stale
      + ", VALUES(message_id), message_id), request_hash = IF(" + stale
      + ", VALUES(request_hash), request_hash), created_at = IF(" + stale
      + ", NOW(6), created_at)",
    params);
  if (!claimed)
    return claimed.error();
  params.clear();
  for (auto i : keyed)
    params.insert(params.end(), {static_cast<int64_t>(batch[i].client_id),
                                 batch[i].idempotency_key});
  auto rows = db.query(
    "SELECT k.client_id, k.idem_key, k.request_hash, k.message_id, m.status "
    "FROM idempotency_keys k JOIN messages m ON m.id = k.message_id "
    "WHERE (k.client_id, k.idem_key) IN ("
      + sql_repeat("(?, ?)", keyed.size()) + ")",
    params);
  if (!rows)
    return rows.error();
  struct owner {
    std::string request_hash;
    std::string message_id;
    std::string status;
  };
  std::map<std::pair<uint64_t, std::string>, owner> owners;
  for (auto& row : *rows)
    owners[{std::stoull(*row[0]), *row[1]}] = {*row[2], *row[3], *row[4]};
  std::set<std::string> batch_ids;
  for (const auto& m : batch)
    batch_ids.insert(m.id);
  std::vector<std::string> losers;
  for (auto i : keyed) {
    const auto& m = batch[i];
    auto it = owners.find({m.client_id, m.idempotency_key});
    if (it == owners.end())
      return make_error(errc::database_failure,
                        "idempotency key vanished during its transaction");
    const auto& o = it->second;
    if (o.message_id == m.id)
      continue;
    losers.push_back(m.id);
    auto& r = results[i];
    r.message_id = o.message_id;
    if (o.request_hash != m.request_hash)
      r.outcome = submit_outcome::key_reused;
    else if (o.status == "accepting" && batch_ids.count(o.message_id) == 0)
      r.outcome = submit_outcome::in_progress;
    else
      r.outcome = submit_outcome::replayed;
  }
  return losers;
}

caf::error delete_messages(mysql_connection& db,
                           const std::vector<std::string>& ids) {
  if (ids.empty())
    return caf::none;
  auto done = db.execute("DELETE FROM messages WHERE id IN ("
                           + sql_repeat("?", ids.size()) + ")",
                         {ids.begin(), ids.end()});
  return done ? caf::none : done.error();
}

} // namespace

caf::expected<std::vector<submit_result>>
insert_batch(mysql_connection& db, const std::vector<stored_message>& batch,
             queue_target* queue) {
  std::vector<submit_result> results(batch.size());
  std::vector<size_t> keyed;
  for (size_t i = 0; i < batch.size(); ++i) {
    results[i] = {submit_outcome::accepted, batch[i].id};
    if (!batch[i].idempotency_key.empty())
      keyed.push_back(i);
  }
  if (batch.empty())
    return results;
  auto err = db.transaction([&]() -> caf::error {
    if (auto err = insert_messages(db, batch))
      return err;
    if (!keyed.empty()) {
      auto losers = resolve_keys(db, batch, keyed, results);
      if (!losers)
        return losers.error();
      if (auto err = delete_messages(db, *losers))
        return err;
    }
    if (queue == nullptr)
      return caf::none;
    // Last, so that no statement of this try can fail after it.
    std::vector<std::string> ids;
    for (const auto& r : results)
      if (r.outcome == submit_outcome::accepted)
        ids.push_back(message_id::text_of(r.message_id));
    auto length = enqueue(queue->redis, ids);
    if (!length)
      return length.error();
    queue->length = *length;
    return caf::none;
  });
  if (err)
    return err;
  return results;
}

caf::error mark_rejected(mysql_connection& db,
                         const std::vector<std::string>& ids) {
  if (ids.empty())
    return caf::none;
  std::vector<sql_param> params{ids.begin(), ids.end()};
  auto in_list = sql_repeat("?", ids.size());
  return db.transaction([&]() -> caf::error {
    // "queued" too: a commit that timed out at the store may still have
    // landed, and the client was refused.
    auto updated = db.execute("UPDATE messages SET status = 'rejected' "
                              "WHERE status IN ('accepting', 'queued') "
                              "AND id IN ("
                                + in_list + ")",
                              params);
    if (!updated)
      return updated.error();
    auto freed = db.execute("DELETE FROM idempotency_keys WHERE message_id IN ("
                              + in_list + ")",
                            params);
    return freed ? caf::none : freed.error();
  });
}

caf::expected<message_status>
find_message(mysql_connection& db, uint64_t client_id, const std::string& id) {
  auto ms = [](const char* column) { return sql_unix_ms(column); };
  auto rows = db.query(
    "SELECT status, attempts, " + ms("created_at") + ", " + ms("updated_at")
      + ", " + ms("next_attempt_at") + ", " + ms("delivered_at")
      + ", last_error FROM messages WHERE id = ? AND client_id = ? "
        "AND status NOT IN ('accepting', 'rejected')",
    {id, static_cast<int64_t>(client_id)});
  if (!rows)
    return rows.error();
  if (rows->empty())
    return make_error(errc::not_found, "no such message");
  auto& row = rows->front();
  message_status result;
  result.message_id = message_id::text_of(id);
  result.status = *row[0];
  result.attempts = static_cast<uint32_t>(std::stoul(*row[1]));
  result.created_at = iso8601_ms(row[2]);
  result.updated_at = iso8601_ms(row[3]);
  result.next_attempt_at = iso8601_ms(row[4]);
  result.delivered_at = iso8601_ms(row[5]);
  result.last_error = row[6].value_or("");
  return result;
}

caf::expected<std::vector<std::string>>
queued_ids(mysql_connection& db, const std::string& after, size_t limit) {
  return db.query_column("SELECT id FROM messages WHERE status IN ('queued', "
                         "'delivering') AND id > ? ORDER BY id LIMIT ?",
                         {after, static_cast<int64_t>(limit)});
}

caf::expected<double> oldest_pending_age(mysql_connection& db) {
  // Ids are UUIDv7: the smallest id per status is its oldest message, read
  // from the (status, id) index, then its row by primary key; no scan.
  auto rows = db.query(
    "SELECT GREATEST(0, TIMESTAMPDIFF(MICROSECOND, LEAST("
    "COALESCE((SELECT created_at FROM messages WHERE id = (SELECT MIN(id) "
    "FROM messages WHERE status = 'queued')), NOW(6)), "
    "COALESCE((SELECT created_at FROM messages WHERE id = (SELECT MIN(id) "
    "FROM messages WHERE status = 'delivering')), NOW(6))), NOW(6)))",
    {});
  if (!rows)
    return rows.error();
  if (rows->empty() || !rows->front()[0])
    return 0.0;
  return std::stod(*rows->front()[0]) / 1e6;
}

caf::expected<std::vector<std::string>>
still_deliverable(mysql_connection& db, const std::vector<std::string>& ids) {
  if (ids.empty())
    return std::vector<std::string>{};
  return db.query_column("SELECT id FROM messages WHERE status IN ('queued', "
                         "'delivering') AND id IN ("
                           + sql_repeat("?", ids.size()) + ")",
                         {ids.begin(), ids.end()});
}

caf::expected<uint64_t> reject_stale_accepting(mysql_connection& db,
                                               caf::timespan grace) {
  auto micros
    = std::chrono::duration_cast<std::chrono::microseconds>(grace).count();
  auto stale = db.query("SELECT id FROM messages WHERE status = 'accepting' "
                        "AND updated_at < NOW(6) - INTERVAL ? MICROSECOND "
                        "LIMIT 10000",
                        {static_cast<int64_t>(micros)});
  if (!stale)
    return stale.error();
  std::vector<std::string> ids;
  for (auto& row : *stale)
    ids.push_back(std::move(*row[0]));
  if (auto err = mark_rejected(db, ids))
    return err;
  return ids.size();
}

caf::expected<uint64_t> purge_idempotency_keys(mysql_connection& db) {
  return db.execute(std::string{"DELETE FROM idempotency_keys WHERE NOT ("}
                      + fresh_key + ") LIMIT 10000",
                    {});
}

} // namespace herald::persistence
