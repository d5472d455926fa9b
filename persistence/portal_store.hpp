#pragma once

#include "core/messages.hpp"
#include "persistence/mysql.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace herald::persistence {

/// What a login needs of an account.
struct login_account {
  portal_user user;
  /// "active" or "disabled".
  std::string status;
  /// yescrypt; empty when no password was ever set.
  std::string password_hash;
};

/// The account named `name`, or nullopt when there is none.
caf::expected<std::optional<login_account>>
find_login_account(mysql_connection& db, const std::string& name);

/// The active user `id`, or nullopt when it is gone or disabled.
caf::expected<std::optional<portal_user>>
find_active_user(mysql_connection& db, uint64_t id);

/// The clients user `user_id` owns, by name.
caf::expected<std::vector<owned_client>>
owned_clients(mysql_connection& db, uint64_t user_id);

/// Every client with its owner's name (empty when it has none), by name:
/// the admin's view.
caf::expected<std::vector<owned_client>> all_clients(mysql_connection& db);

/// Rows a page may ask for at most (the CSV export's limit).
constexpr uint32_t max_page_rows = 10000;

/// A page of the messages of `clients` (the user's own) matching `filter`,
/// newest first (created_at, then id), starting after the filter's cursor.
/// One index range scan per client (messages_client_created or an index of
/// migration 0008, named in the query), merged: the cost follows the page
/// size, not the table size or the depth of the cursor. Messages never accepted (accepting, rejected) are left
/// out, as the API leaves them out.
caf::expected<message_page>
find_user_messages(mysql_connection& db,
                   const std::vector<owned_client>& clients,
                   const user_message_filter& filter);

/// find_user_messages for the admin: every client's messages (or the
/// filter's client's), named after `clients` (all_clients). One range scan
/// of an index of migration 0009 that starts with the filtered column and
/// ends with created_at.
caf::expected<message_page>
find_all_messages(mysql_connection& db,
                  const std::vector<owned_client>& clients,
                  const user_message_filter& filter);

/// Message `id` (raw) if one of `clients` sent it, with its sealed body
/// (opened by the caller) and every delivery attempt; nullopt otherwise.
struct stored_detail {
  message_detail detail;
  uint32_t key_id = 0;
  std::string nonce;
  std::string ciphertext;
};

caf::expected<std::optional<stored_detail>>
find_user_message(mysql_connection& db,
                  const std::vector<owned_client>& clients,
                  const std::string& id);

/// find_user_message for the admin: message `id` of any client, named
/// after `clients` (all_clients).
caf::expected<std::optional<stored_detail>>
find_any_message(mysql_connection& db,
                 const std::vector<owned_client>& clients,
                 const std::string& id);

} // namespace herald::persistence
