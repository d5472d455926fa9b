#pragma once

#include "persistence/mysql.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herald::persistence {

/// One row of `heraldctl user list`.
struct user_summary {
  uint64_t id = 0;
  std::string name;
  /// "admin" or "user".
  std::string role;
  /// "active" or "disabled".
  std::string status;
  /// Client applications the user owns.
  uint64_t clients = 0;
  /// RFC 3339 (UTC); empty when no password was ever set.
  std::string password_changed_at;
  std::string created_at;
};

/// Succeeds for a valid user name: 1 to 64 characters from a-z, 0-9, '.',
/// '_' and '-', starting with a letter or digit. Lower case only, so that
/// no two users differ in case alone. The error does not repeat the name
/// (it may hold control characters).
caf::error check_username(std::string_view name);

/// Creates user `name` with `role` ("admin" or "user") and a password hash
/// from hash_password(). Fails if the name is taken.
caf::expected<uint64_t> add_user(mysql_connection& db, const std::string& name,
                                 const std::string& role,
                                 const std::string& password_hash);

/// Sets a user's password hash and password_changed_at.
caf::error set_user_password(mysql_connection& db, const std::string& name,
                             const std::string& password_hash);

/// Sets a user's status ("active" or "disabled"). Refuses to disable the
/// last active admin.
caf::error set_user_status(mysql_connection& db, const std::string& name,
                           const std::string& status);

/// Sets a user's role ("admin" or "user"). Refuses to make the last active
/// admin a user.
caf::error set_user_role(mysql_connection& db, const std::string& name,
                         const std::string& role);

/// Every user, by name.
caf::expected<std::vector<user_summary>> list_users(mysql_connection& db);

} // namespace herald::persistence
