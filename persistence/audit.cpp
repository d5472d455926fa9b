#include "persistence/audit.hpp"

#include "core/errc.hpp"
#include "persistence/crypto.hpp"

#include <chrono>

namespace herald::persistence {

namespace {

void append_field(std::string& out, const std::string& value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
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
  if (key.empty())
    return make_error(errc::invalid_config,
                      "crypto.audit-key-file: not set; the audit log cannot "
                      "be written without its key (create one with: openssl "
                      "rand -hex 32, mode 0600)");
  // A named lock, not a row lock: it also serializes the very first row.
  auto locked = db.query_int("SELECT GET_LOCK('herald.audit', 10)");
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
    auto at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    auto hash = audit_hash(key, prev, id, at_ms, event);
    auto inserted = db.execute(
      "INSERT INTO audit_log (id, at, actor, action, target, outcome, "
      "source, "
      "detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {static_cast<int64_t>(id), sql_datetime(at_ms), event.actor, event.action,
       event.target, event.outcome, event.source, event.detail, prev, hash});
    return inserted ? caf::none : inserted.error();
  });
  db.query_int("SELECT RELEASE_LOCK('herald.audit')");
  return err;
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

} // namespace herald::persistence
