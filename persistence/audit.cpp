#include "persistence/audit.hpp"

#include "core/errc.hpp"
#include "persistence/crypto.hpp"

#include <algorithm>
#include <chrono>
#include <set>

namespace herald::persistence {

namespace {

void append_field(std::string& out, const std::string& value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
}

/// The length of the valid UTF-8 sequence at `in[i]`, or 0.
size_t utf8_sequence(const std::string& in, size_t i) {
  auto byte = [&](size_t k) {
    return static_cast<unsigned char>(in[k]);
  };
  auto c = byte(i);
  if (c < 0x80)
    return 1;
  size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    // No overlong forms, no surrogates.
    if (c == 0xE0)
      lo = 0xA0;
    if (c == 0xED)
      hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90;
    if (c == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > in.size())
    return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi)
    return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF)
      return 0;
  return n;
}

/// `in` with every byte that is not part of valid UTF-8 replaced by '?'.
std::string valid_utf8(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    if (auto n = utf8_sequence(in, i); n > 0) {
      out.append(in, i, n);
      i += n;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

/// Makes `x` valid UTF-8 of at most `max` bytes, cut with "..." at the end.
void fit(std::string& x, size_t max) {
  x = valid_utf8(x);
  if (x.size() <= max)
    return;
  auto cut = max - 3;
  // Not inside a sequence: back up to its first byte.
  while (cut > 0 && (static_cast<unsigned char>(x[cut]) & 0xC0) == 0x80)
    --cut;
  x.resize(cut);
  x += "...";
}

/// The ids of `events` that the chain holds already (a batch sent again).
caf::expected<std::set<std::string>>
stored_event_ids(mysql_connection& db, const std::vector<audit_event>& events) {
  std::vector<sql_param> ids;
  for (const auto& event : events)
    if (!event.id.empty())
      ids.emplace_back(event.id);
  if (ids.empty())
    return std::set<std::string>{};
  auto stored = db.query_column("SELECT event_id FROM audit_log WHERE "
                                "event_id IN ("
                                  + sql_repeat("?", ids.size()) + ")",
                                ids);
  if (!stored)
    return stored.error();
  return std::set<std::string>{stored->begin(), stored->end()};
}

} // namespace

std::string audit_hash(const std::string& key, const std::string& prev_hash,
                       uint64_t id, int64_t at_ms, const audit_event& event) {
  std::string content = prev_hash;
  append_field(content, std::to_string(id));
  append_field(content, std::to_string(at_ms));
  append_field(content, event.actor);
  append_field(content, event.action);
  append_field(content, event.target);
  append_field(content, event.outcome);
  append_field(content, event.source);
  append_field(content, event.detail);
  return hmac_sha256(key, content);
}

caf::error append_audit(mysql_connection& db, const std::string& key,
                        const audit_event& event) {
  return append_audit_batch(db, key, {event});
}

caf::error append_audit_batch(mysql_connection& db, const std::string& key,
                              std::vector<audit_event> events,
                              int lock_wait) {
  if (key.empty())
    return make_error(errc::invalid_config,
                      "crypto.audit-key-file: not set; the audit log cannot "
                      "be written without its key (create one with: openssl "
                      "rand -hex 32, mode 0600)");
  if (events.empty())
    return caf::none;
  for (auto& event : events)
    if (auto err = fit_audit_event(event))
      return err;
  // A named lock, not a row lock: it also serializes the very first row.
  auto locked = db.query_int("SELECT GET_LOCK('herald.audit', "
                             + std::to_string(lock_wait) + ")");
  if (!locked)
    return locked.error();
  if (locked->value_or(0) != 1)
    return make_error(errc::timeout, "audit log: another writer holds its "
                                     "lock; try again");
  auto err = db.transaction([&]() -> caf::error {
    auto tail
      = db.query("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", {});
    if (!tail)
      return tail.error();
    uint64_t id = 1;
    std::string prev(32, '\0');
    if (!tail->empty()) {
      id = std::stoull(*tail->front()[0]) + 1;
      prev = *tail->front()[1];
    }
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    auto stored = stored_event_ids(db, events);
    if (!stored)
      return stored.error();
    // One prepared single-row INSERT per event: audit batches are small,
    // and the commit (one per batch) is what costs.
    for (const auto& event : events) {
      if (!event.id.empty() && !stored->insert(event.id).second)
        continue;
      auto at_ms = event.at_ms != 0 ? event.at_ms : now_ms;
      auto hash = audit_hash(key, prev, id, at_ms, event);
      auto inserted = db.execute(
        "INSERT INTO audit_log (id, at, actor, action, target, outcome, "
        "source, detail, prev_hash, hash, event_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, ''))",
        {static_cast<int64_t>(id), sql_datetime(at_ms), event.actor,
         event.action, event.target, event.outcome, event.source,
         event.detail, prev, hash, event.id});
      if (!inserted)
        return inserted.error();
      prev = std::move(hash);
      ++id;
    }
    return caf::none;
  });
  db.query_int("SELECT RELEASE_LOCK('herald.audit')");
  return err;
}

caf::error fit_audit_event(audit_event& event) {
  if (event.outcome != "ok" && event.outcome != "failed")
    return make_error(errc::invalid_input,
                      "audit event '" + valid_utf8(event.action)
                        + "': outcome must be ok or failed, not '"
                        + valid_utf8(event.outcome) + "'");
  // The column lengths of audit_log (migration 0004), in characters; a
  // cut to as many bytes stays within them.
  fit(event.actor, 128);
  fit(event.action, 64);
  fit(event.target, 255);
  fit(event.source, 255);
  fit(event.detail, 512);
  return caf::none;
}

caf::expected<audit_check> verify_audit(mysql_connection& db,
                                        const std::string& key) {
  if (key.empty())
    return make_error(errc::invalid_config,
                      "crypto.audit-key-file: not set; the chain cannot be "
                      "verified without the key it was written with");
  auto rows = db.query("SELECT id, " + sql_unix_ms("at")
                         + ", actor, action, target, outcome, source, "
                           "detail, prev_hash, hash FROM audit_log ORDER BY id",
                       {});
  if (!rows)
    return rows.error();
  audit_check result;
  std::string prev(32, '\0');
  for (const auto& r : *rows) {
    ++result.rows;
    auto id = std::stoull(*r[0]);
    audit_event event{*r[2], *r[3], *r[4], *r[5], *r[6], *r[7]};
    auto fail = [&](std::string why) {
      result.first_broken = id;
      result.why = std::move(why);
      return result;
    };
    if (*r[8] != prev)
      return fail("its prev_hash is not the hash of the row before it (a "
                  "row before it was deleted, inserted or edited)");
    if (audit_hash(key, prev, id, std::stoll(*r[1]), event) != *r[9])
      return fail("its content does not match its hash (the row was "
                  "edited, or written under another audit key)");
    prev = *r[9];
  }
  return result;
}

caf::expected<audit_page> find_audit_rows(mysql_connection& db,
                                          const audit_filter& filter) {
  std::string sql = "SELECT id, DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f'), "
                    "actor, action, target, outcome, source, detail FROM "
                    "audit_log WHERE 1 = 1";
  std::vector<sql_param> params;
  auto equal = [&](const char* column, const std::string& value) {
    if (value.empty())
      return;
    sql += std::string{" AND "} + column + " = ?";
    params.emplace_back(value);
  };
  equal("actor", filter.actor);
  equal("target", filter.target);
  equal("outcome", filter.outcome);
  if (!filter.action_prefix.empty()) {
    // A prefix, never a pattern: LIKE's wildcards in it match themselves.
    std::string pattern;
    for (auto c : filter.action_prefix) {
      if (c == '%' || c == '_' || c == '\\')
        pattern += '\\';
      pattern += c;
    }
    sql += " AND action LIKE ?";
    params.emplace_back(pattern + "%");
  }
  if (!filter.from.empty()) {
    sql += " AND at >= ?";
    params.emplace_back(filter.from);
  }
  if (!filter.to.empty()) {
    sql += " AND at < ?";
    params.emplace_back(filter.to);
  }
  if (filter.before_id != 0) {
    sql += " AND id < ?";
    params.emplace_back(static_cast<int64_t>(filter.before_id));
  }
  auto limit = std::min(filter.limit, max_audit_rows);
  sql += " ORDER BY id DESC LIMIT ?";
  params.emplace_back(static_cast<int64_t>(limit) + 1);
  auto rows = db.query(sql, params);
  if (!rows)
    return rows.error();
  audit_page result;
  for (auto& r : *rows) {
    if (result.rows.size() == limit) {
      result.more = true;
      break;
    }
    audit_row row;
    row.id = std::stoull(*r[0]);
    row.at = r[1].value_or("");
    row.event = {r[2].value_or(""), r[3].value_or(""), r[4].value_or(""),
                 r[5].value_or(""), r[6].value_or(""), r[7].value_or("")};
    result.rows.push_back(std::move(row));
  }
  return result;
}

} // namespace herald::persistence
