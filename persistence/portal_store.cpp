#include "persistence/portal_store.hpp"

#include "core/message_id.hpp"

#include <algorithm>

namespace herald::persistence {

namespace {

/// A DATETIME(6) column as "YYYY-MM-DD HH:MM:SS.ffffff": exact, so it can
/// come back as a keyset cursor, and ordered like the column.
std::string exact_time(const std::string& column) {
  return "DATE_FORMAT(" + column + ", '%Y-%m-%d %H:%i:%s.%f')";
}

uint32_t to_u32(const std::optional<std::string>& text) {
  return text ? static_cast<uint32_t>(std::stoul(*text)) : 0;
}

/// The index a page of one client reads, named rather than left to the
/// optimizer: MariaDB 10.11 (before 11.0's cost model) often reads the
/// `client_id = ?` prefix of an index from its newest entry and filters the
/// keyset condition row by row, instead of seeking into the range that
/// starts at the cursor. Every page then reads all newer rows of the client
/// (60 days deep into 600,000 messages: 0.7-1 s a page; docs/PERFORMANCE.md).
/// With the index named it seeks to the cursor. A sender and a status
/// together may use either of their indexes: the optimizer takes the one
/// with fewer rows of this client (a rare status, or a rare sender).
std::string index_for(const user_message_filter& filter) {
  if (!filter.sender_hash.empty() && !filter.status.empty())
    return " FORCE INDEX (messages_client_sender_created, "
           "messages_client_status_created)";
  if (!filter.sender_hash.empty())
    return " FORCE INDEX (messages_client_sender_created)";
  if (!filter.status.empty())
    return " FORCE INDEX (messages_client_status_created)";
  return " FORCE INDEX (messages_client_created)";
}

const owned_client* client_of(const std::vector<owned_client>& clients,
                              uint64_t id) {
  for (const auto& c : clients)
    if (c.id == id)
      return &c;
  return nullptr;
}

/// Sets the client's and its owner's names of a row.
void name_client(message_row& row, const std::vector<owned_client>& clients,
                 uint64_t id) {
  if (const auto* c = client_of(clients, id)) {
    row.client = c->name;
    row.owner = c->owner;
  }
}

/// A page of the messages matching `filter`: of the clients `searched`
/// (one index range scan per client, merged), or of every client when it
/// is empty (one range scan of the indexes of migration 0009). `clients`
/// names them.
caf::expected<message_page>
find_messages(mysql_connection& db, const std::vector<owned_client>& clients,
              const std::vector<uint64_t>& searched,
              const user_message_filter& filter) {
  message_page result;
  result.clients = clients;
  auto limit = std::min(filter.limit, max_page_rows);
  // One more than the page: tells whether another page follows.
  auto wanted = static_cast<int64_t>(limit) + 1;
  auto select = [](const std::string& index) {
    return "SELECT id, client_id, sender_masked, status, attempts, "
           + exact_time("created_at") + " AS created, "
           + exact_time("updated_at") + " FROM messages" + index
           + " WHERE status NOT IN ('accepting', 'rejected')";
  };
  std::string conditions;
  std::vector<sql_param> condition_params;
  if (!filter.status.empty()) {
    conditions += " AND status = ?";
    condition_params.emplace_back(filter.status);
  }
  if (!filter.sender_hash.empty()) {
    conditions += " AND sender_hash = ?";
    condition_params.emplace_back(filter.sender_hash);
  }
  if (!filter.from.empty()) {
    conditions += " AND created_at >= ?";
    condition_params.emplace_back(filter.from);
  }
  if (!filter.to.empty()) {
    conditions += " AND created_at < ?";
    condition_params.emplace_back(filter.to);
  }
  if (!filter.after_created.empty()) {
    conditions += " AND (created_at < ? OR (created_at = ? AND id < ?))";
    condition_params.emplace_back(filter.after_created);
    condition_params.emplace_back(filter.after_created);
    condition_params.emplace_back(filter.after_id);
  }
  const std::string newest_first = " ORDER BY created_at DESC, id DESC "
                                   "LIMIT ?";
  std::string sql;
  std::vector<sql_param> params;
  if (searched.empty()) {
    sql = select({}) + conditions + newest_first;
    params = condition_params;
  } else {
    for (auto id : searched) {
      sql += sql.empty() ? "(" : " UNION ALL (";
      sql += select(index_for(filter)) + " AND client_id = ?" + conditions
             + newest_first + ")";
      params.emplace_back(static_cast<int64_t>(id));
      params.insert(params.end(), condition_params.begin(),
                    condition_params.end());
      params.emplace_back(wanted);
    }
    sql += " ORDER BY created DESC, id DESC LIMIT ?";
  }
  params.emplace_back(wanted);
  auto rows = db.query(sql, params);
  if (!rows)
    return rows.error();
  for (auto& row : *rows) {
    if (result.rows.size() == limit) {
      result.more = true;
      break;
    }
    message_row r;
    r.id = message_id::text_of(*row[0]);
    name_client(r, clients, std::stoull(*row[1]));
    r.sender_masked = row[2].value_or("");
    r.status = row[3].value_or("");
    r.attempts = to_u32(row[4]);
    r.created_at = row[5].value_or("");
    r.updated_at = row[6].value_or("");
    result.rows.push_back(std::move(r));
  }
  return result;
}

/// Message `id` (raw) with its sealed body and attempts; of one of
/// `clients` when `only_these` holds, else of any client.
caf::expected<std::optional<stored_detail>>
find_message(mysql_connection& db, const std::vector<owned_client>& clients,
             const std::string& id, bool only_these) {
  if (only_these && clients.empty())
    return std::optional<stored_detail>{};
  std::vector<sql_param> params{id};
  std::string owned;
  if (only_these) {
    owned = " AND client_id IN (" + sql_repeat("?", clients.size()) + ")";
    for (const auto& c : clients)
      params.emplace_back(static_cast<int64_t>(c.id));
  }
  auto rows = db.query(
    "SELECT client_id, sender_masked, status, attempts, "
      + exact_time("created_at") + ", " + exact_time("updated_at") + ", "
      + exact_time("delivered_at") + ", " + exact_time("next_attempt_at")
      + ", last_error, body_key_id, body_nonce, body_ciphertext FROM messages "
        "WHERE id = ?"
      + owned + " AND status NOT IN ('accepting', 'rejected')",
    params);
  if (!rows)
    return rows.error();
  if (rows->empty())
    return std::optional<stored_detail>{};
  auto& row = rows->front();
  stored_detail result;
  auto& m = result.detail.message;
  m.id = message_id::text_of(id);
  name_client(m, clients, std::stoull(*row[0]));
  m.sender_masked = row[1].value_or("");
  m.status = row[2].value_or("");
  m.attempts = to_u32(row[3]);
  m.created_at = row[4].value_or("");
  m.updated_at = row[5].value_or("");
  result.detail.delivered_at = row[6].value_or("");
  result.detail.next_attempt_at = row[7].value_or("");
  result.detail.last_error = row[8].value_or("");
  result.key_id = to_u32(row[9]);
  result.nonce = row[10].value_or("");
  result.ciphertext = row[11].value_or("");
  auto attempts = db.query("SELECT attempt, " + exact_time("attempted_at")
                             + ", outcome, http_status, error, latency_ms "
                               "FROM delivery_attempts WHERE message_id = ? "
                               "ORDER BY attempt",
                           {id});
  if (!attempts)
    return attempts.error();
  for (auto& a : *attempts)
    result.detail.attempts.push_back({to_u32(a[0]), a[1].value_or(""),
                                      a[2].value_or(""), to_u32(a[3]),
                                      a[4].value_or(""), to_u32(a[5])});
  return std::optional<stored_detail>{std::move(result)};
}

} // namespace

caf::expected<std::optional<login_account>>
find_login_account(mysql_connection& db, const std::string& name) {
  auto rows = db.query("SELECT id, username, role, session_generation, "
                       "status, password_hash FROM users WHERE username = ?",
                       {name});
  if (!rows)
    return rows.error();
  if (rows->empty())
    return std::optional<login_account>{};
  auto& row = rows->front();
  login_account result;
  result.user.id = std::stoull(*row[0]);
  result.user.name = *row[1];
  result.user.role = *row[2];
  result.user.generation = to_u32(row[3]);
  result.status = *row[4];
  result.password_hash = row[5].value_or("");
  return std::optional<login_account>{std::move(result)};
}

caf::expected<std::optional<portal_user>>
find_active_user(mysql_connection& db, uint64_t id) {
  auto rows = db.query("SELECT id, username, role, session_generation FROM "
                       "users WHERE id = ? AND status = 'active'",
                       {static_cast<int64_t>(id)});
  if (!rows)
    return rows.error();
  if (rows->empty())
    return std::optional<portal_user>{};
  auto& row = rows->front();
  portal_user result{std::stoull(*row[0]), *row[1], *row[2], to_u32(row[3])};
  return std::optional<portal_user>{std::move(result)};
}

caf::expected<std::vector<owned_client>>
owned_clients(mysql_connection& db, uint64_t user_id) {
  auto rows = db.query("SELECT id, name FROM clients WHERE user_id = ? "
                       "ORDER BY name",
                       {static_cast<int64_t>(user_id)});
  if (!rows)
    return rows.error();
  std::vector<owned_client> result;
  for (auto& row : *rows)
    result.push_back({std::stoull(*row[0]), std::move(*row[1])});
  return result;
}

caf::expected<std::vector<owned_client>> all_clients(mysql_connection& db) {
  auto rows = db.query("SELECT c.id, c.name, u.username FROM clients c "
                       "LEFT JOIN users u ON u.id = c.user_id ORDER BY c.name",
                       {});
  if (!rows)
    return rows.error();
  std::vector<owned_client> result;
  for (auto& row : *rows)
    result.push_back({std::stoull(*row[0]), std::move(*row[1]),
                      row[2].value_or("")});
  return result;
}

caf::expected<message_page>
find_user_messages(mysql_connection& db,
                   const std::vector<owned_client>& clients,
                   const user_message_filter& filter) {
  std::vector<uint64_t> searched;
  for (const auto& c : clients)
    if (filter.client_id == 0 || c.id == filter.client_id)
      searched.push_back(c.id);
  if (searched.empty())
    return message_page{{}, false, clients};
  return find_messages(db, clients, searched, filter);
}

caf::expected<message_page>
find_all_messages(mysql_connection& db,
                  const std::vector<owned_client>& clients,
                  const user_message_filter& filter) {
  if (filter.client_id != 0)
    return find_messages(db, clients, {filter.client_id}, filter);
  return find_messages(db, clients, {}, filter);
}

caf::expected<std::optional<stored_detail>>
find_user_message(mysql_connection& db,
                  const std::vector<owned_client>& clients,
                  const std::string& id) {
  return find_message(db, clients, id, true);
}

caf::expected<std::optional<stored_detail>>
find_any_message(mysql_connection& db,
                 const std::vector<owned_client>& clients,
                 const std::string& id) {
  return find_message(db, clients, id, false);
}

} // namespace herald::persistence
