#include "persistence/users.hpp"

#include "core/errc.hpp"

namespace herald::persistence {

namespace {

constexpr size_t max_username_chars = 64;

bool username_char(char c, bool first) {
  auto alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  return alnum || (!first && (c == '.' || c == '_' || c == '-'));
}

caf::error check_role(const std::string& role) {
  if (role != "admin" && role != "user")
    return make_error(errc::invalid_input, "the role must be admin or user");
  return caf::none;
}

caf::error no_user(const std::string& name) {
  return make_error(errc::not_found,
                    "no user '" + name + "'; see heraldctl user list");
}

/// Fails with not_found unless user `name` exists.
caf::error need_user(mysql_connection& db, const std::string& name) {
  auto rows = db.query("SELECT id FROM users WHERE username = ?", {name});
  if (!rows)
    return rows.error();
  return rows->empty() ? no_user(name) : caf::none;
}

/// Fails when `name` is the only active admin. Locks every active admin's
/// row until the transaction ends, so two concurrent demotions of the last
/// two admins cannot both pass.
caf::error keep_an_admin(mysql_connection& db, const std::string& name) {
  auto admins = db.query("SELECT username FROM users "
                         "WHERE role = 'admin' AND status = 'active' "
                         "FOR UPDATE",
                         {});
  if (!admins)
    return admins.error();
  if (admins->size() == 1 && *admins->front()[0] == name)
    return make_error(errc::invalid_input,
                      "'" + name
                        + "' is the last active admin; make another user "
                          "admin first (heraldctl user role NAME admin)");
  return caf::none;
}

} // namespace

caf::error check_username(std::string_view name) {
  if (name.empty() || name.size() > max_username_chars)
    return make_error(errc::invalid_input,
                      "a user name must have 1 to "
                        + std::to_string(max_username_chars)
                        + " characters");
  for (size_t i = 0; i < name.size(); ++i)
    if (!username_char(name[i], i == 0))
      return make_error(errc::invalid_input,
                        "a user name may have only lower-case letters, "
                        "digits, '.', '_' and '-', and starts with a letter "
                        "or digit");
  return caf::none;
}

caf::expected<uint64_t> add_user(mysql_connection& db, const std::string& name,
                                 const std::string& role,
                                 const std::string& password_hash) {
  if (auto err = check_username(name))
    return err;
  if (auto err = check_role(role))
    return err;
  uint64_t id = 0;
  auto err = db.transaction([&]() -> caf::error {
    auto taken = db.query("SELECT id FROM users WHERE username = ?", {name});
    if (!taken)
      return taken.error();
    if (!taken->empty())
      return make_error(errc::invalid_input,
                        "user '" + name + "' exists already");
    auto inserted = db.execute(
      "INSERT INTO users (username, password_hash, role, password_changed_at) "
      "VALUES (?, ?, ?, UTC_TIMESTAMP(6))",
      {name, password_hash, role});
    if (!inserted)
      return inserted.error();
    auto new_id = db.query("SELECT id FROM users WHERE username = ?", {name});
    if (!new_id)
      return new_id.error();
    id = std::stoull(*new_id->front()[0]);
    return caf::none;
  });
  if (err)
    return err;
  return id;
}

caf::error set_user_password(mysql_connection& db, const std::string& name,
                             const std::string& password_hash) {
  auto updated = db.execute(
    "UPDATE users SET password_hash = ?, password_changed_at = "
    "UTC_TIMESTAMP(6), session_generation = session_generation + 1 "
    "WHERE username = ?",
    {password_hash, name});
  if (!updated)
    return updated.error();
  return *updated == 0 ? no_user(name) : caf::none;
}

caf::error set_user_status(mysql_connection& db, const std::string& name,
                           const std::string& status) {
  if (status != "active" && status != "disabled")
    return make_error(errc::invalid_input,
                      "the status must be active or disabled");
  return db.transaction([&]() -> caf::error {
    if (status == "disabled")
      if (auto err = keep_an_admin(db, name))
        return err;
    if (auto err = need_user(db, name))
      return err;
    auto updated = db.execute(
      "UPDATE users SET status = ?, session_generation = session_generation "
      "+ 1 WHERE username = ? AND status <> ?",
      {status, name, status});
    return updated ? caf::none : updated.error();
  });
}

caf::error set_user_role(mysql_connection& db, const std::string& name,
                         const std::string& role) {
  if (auto err = check_role(role))
    return err;
  return db.transaction([&]() -> caf::error {
    if (role == "user")
      if (auto err = keep_an_admin(db, name))
        return err;
    if (auto err = need_user(db, name))
      return err;
    auto updated = db.execute(
      "UPDATE users SET role = ?, session_generation = session_generation + 1 "
      "WHERE username = ? AND role <> ?",
      {role, name, role});
    return updated ? caf::none : updated.error();
  });
}

caf::expected<std::vector<user_summary>> list_users(mysql_connection& db) {
  auto rows = db.query(
    "SELECT u.id, u.username, u.role, u.status, "
    "(SELECT COUNT(*) FROM clients c WHERE c.user_id = u.id), "
    "COALESCE(DATE_FORMAT(u.password_changed_at, '%Y-%m-%dT%H:%i:%sZ'), ''), "
    "DATE_FORMAT(u.created_at, '%Y-%m-%dT%H:%i:%sZ') "
    "FROM users u ORDER BY u.username",
    {});
  if (!rows)
    return rows.error();
  std::vector<user_summary> result;
  for (auto& row : *rows)
    result.push_back({std::stoull(*row[0]), *row[1], *row[2], *row[3],
                      std::stoull(*row[4]), *row[5], *row[6]});
  return result;
}

} // namespace herald::persistence
