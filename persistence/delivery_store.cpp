#include "persistence/delivery_store.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"

#include <map>
#include <tuple>

namespace herald::persistence {

const char* to_string(attempt_outcome x) {
  switch (x) {
    case attempt_outcome::delivered:
      return "delivered";
    case attempt_outcome::retry:
      return "retry";
    case attempt_outcome::failed:
      return "failed";
    case attempt_outcome::expired:
      return "expired";
  }
  return "retry";
}

caf::expected<sealed_body> seal_payload(const data_key& key,
                                        const std::string& sender_number,
                                        const std::string& body,
                                        const std::string& id) {
  return seal(key, sender_number + '\n' + body, id);
}

caf::expected<std::pair<std::string, std::string>>
open_payload(const key_ring& keys, const sealed_body& payload,
             const std::string& id) {
  auto plain = open(keys, payload, id);
  if (!plain)
    return plain.error();
  auto nl = plain->find('\n');
  if (nl == std::string::npos)
    return make_error(errc::invalid_input, "payload without sender number");
  return std::make_pair(plain->substr(0, nl), plain->substr(nl + 1));
}

caf::expected<body_check> check_bodies(mysql_connection& db,
                                       const key_ring& keys,
                                       const std::string& pepper) {
  body_check result;
  for (auto [table, id_column] : {std::pair{"messages", "id"},
                                  std::pair{"received_messages",
                                            "message_id"}}) {
    std::string after;
    for (;;) {
      auto rows = db.query(std::string{"SELECT "} + id_column
                             + ", sender_hash, body_key_id, body_nonce, "
                               "body_ciphertext FROM "
                             + table + " WHERE " + id_column
                             + " > ? ORDER BY " + id_column + " LIMIT 1000",
                           {after});
      if (!rows)
        return rows.error();
      if (rows->empty())
        break;
      for (const auto& row : *rows) {
        const auto& id = *row[0];
        sealed_body body{static_cast<uint32_t>(std::stoul(*row[2])), *row[3],
                         *row[4]};
        auto payload = open_payload(keys, body, id);
        std::string why;
        if (!payload)
          why = render(payload.error());
        else if (hmac_sha256(pepper, payload->first) != *row[1])
          why = "its sender hash does not match the pepper";
        if (why.empty()) {
          ++result.opened;
        } else if (++result.failed == 1) {
          result.first_failure = std::string{table} + " "
                                 + message_id::text_of(id) + ": " + why;
        }
      }
      after = *rows->back()[0];
    }
  }
  return result;
}

caf::expected<std::vector<delivery_job>>
claim_jobs(mysql_connection& db, const std::vector<std::string>& ids) {
  std::vector<delivery_job> result;
  if (ids.empty())
    return result;
  std::vector<sql_param> params{ids.begin(), ids.end()};
  auto err = db.transaction([&]() -> caf::error {
    result.clear();
    auto rows = db.query("SELECT id, status, attempts, "
                           + sql_unix_ms("created_at")
                           + ", COALESCE(" + sql_unix_ms("requeued_at")
                           + ", 0), requeued_attempts, body_key_id, "
                             "body_nonce, body_ciphertext "
                             "FROM messages WHERE id IN ("
                           + sql_repeat("?", ids.size()) + ") FOR UPDATE",
                         params);
    if (!rows)
      return rows.error();
    for (auto& row : *rows) {
      delivery_job job;
      job.id = std::move(*row[0]);
      job.status = std::move(*row[1]);
      job.attempts = static_cast<uint32_t>(std::stoul(*row[2]));
      job.created_ms = std::stoll(*row[3]);
      job.requeued_ms = std::stoll(*row[4]);
      job.requeued_attempts = static_cast<uint32_t>(std::stoul(*row[5]));
      job.payload = {static_cast<uint32_t>(std::stoul(*row[6])),
                     std::move(*row[7]), std::move(*row[8])};
      result.push_back(std::move(job));
    }
    auto marked = db.execute("UPDATE messages SET status = 'delivering' "
                             "WHERE status = 'queued' AND id IN ("
                               + sql_repeat("?", ids.size()) + ")",
                             params);
    return marked ? caf::none : marked.error();
  });
  if (err)
    return err;
  return result;
}

caf::error record_attempts(mysql_connection& db, const std::string& node,
                           const std::vector<attempt_record>& records) {
  if (records.empty())
    return caf::none;
  return db.transaction([&]() -> caf::error {
    std::vector<sql_param> params;
    std::string values;
    for (const auto& r : records) {
      values += values.empty() ? "" : ", ";
      values += "(?, ?, NOW(6), ?, NULLIF(?, 0), NULLIF(?, ''), ?, ?)";
      params.insert(params.end(),
                    {r.id, static_cast<int64_t>(r.attempt),
                     std::string{to_string(r.outcome)},
                     static_cast<int64_t>(r.http_status), r.error,
                     static_cast<int64_t>(r.latency_ms), node});
    }
    // A crash after delivery but before Redis learnt of it repeats an
    // attempt number: keep the first record.
    auto logged = db.execute("INSERT IGNORE INTO delivery_attempts (message_id, "
                             "attempt, attempted_at, outcome, http_status, "
                             "error, latency_ms, node) VALUES "
                               + values,
                             params);
    if (!logged)
      return logged.error();
    // One UPDATE per distinct new state (usually one per batch: all
    // delivered at their first attempt).
    using state = std::tuple<attempt_outcome, uint32_t, int64_t, std::string>;
    std::map<state, std::vector<sql_param>> groups;
    for (const auto& r : records) {
      auto error = r.outcome == attempt_outcome::delivered
                     ? std::string{}
                     : r.error.substr(0, 512);
      groups[{r.outcome, r.attempt, r.next_attempt_ms, std::move(error)}]
        .emplace_back(r.id);
    }
    for (auto& [key, ids] : groups) {
      const auto& [outcome, attempt, next_ms, error] = key;
      std::vector<sql_param> params{static_cast<int64_t>(attempt)};
      std::string sql;
      switch (outcome) {
        case attempt_outcome::delivered:
          sql = "UPDATE messages SET status = 'delivered', "
                "attempts = GREATEST(attempts, ?), "
                "delivered_at = NOW(6), next_attempt_at = NULL, "
                "last_error = NULL";
          break;
        case attempt_outcome::retry:
          sql = "UPDATE messages SET status = 'queued', "
                "attempts = GREATEST(attempts, ?), "
                "next_attempt_at = ?, last_error = ?";
          params.emplace_back(sql_datetime(next_ms));
          params.emplace_back(error);
          break;
        case attempt_outcome::failed:
        case attempt_outcome::expired:
          sql = "UPDATE messages SET status = 'failed', "
                "attempts = GREATEST(attempts, ?), "
                "next_attempt_at = NULL, last_error = ?";
          params.emplace_back(error);
          break;
      }
      // Only messages still in delivery: a late record (a slow node, or
      // one whose lease lapsed and whose ids another node took) never
      // changes a final status (delivered, failed, rejected), and never
      // lowers the attempt count. Nor does one of an attempt from before
      // the message's last requeue (heraldctl message requeue).
      sql += " WHERE status IN ('queued', 'delivering') "
             "AND requeued_attempts < ? AND id IN ("
             + sql_repeat("?", ids.size()) + ")";
      params.emplace_back(static_cast<int64_t>(attempt));
      params.insert(params.end(), std::make_move_iterator(ids.begin()),
                    std::make_move_iterator(ids.end()));
      if (auto done = db.execute(sql, params); !done)
        return done.error();
    }
    return caf::none;
  });
}

} // namespace herald::persistence
