#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "persistence/mysql.hpp"
#include "persistence/redis.hpp"

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <optional>
#include <string>

namespace herald {

/// What an account_admin worker needs.
struct account_admin_config {
  config::mysql_config mysql;
  config::redis_config redis;
  /// The CA (ca-dir, its key's passphrase) and where the CRL goes.
  config::pki_config pki;
  /// Receives every change, with the admin as actor.
  audit_actor audit;
};

/// Succeeds for a usable configuration.
caf::error validate(const account_admin_config& cfg);

/// The rules of a user change that need no database: a known action, a
/// valid name and role, and no admin disabling or demoting themselves
/// (someone else must, so that an admin always remains who can undo it).
caf::error check_user_change(const user_change& x);

/// The same for a client change: a known action, a valid client name and
/// owner, 1 to 3650 days, format p12 or pem.
caf::error check_client_change(const client_change& x);

struct account_admin_state {
  static inline const char* name = "account_admin";
  account_admin_config cfg;
  /// Opened on first use and after a failure.
  std::optional<persistence::mysql_connection> db;
  std::optional<persistence::redis_connection> redis;
};

using account_admin_pointer
  = account_admin_actor::stateful_pointer<account_admin_state>;

/// The admin pages' blocking work (see account_admin_actor); spawn
/// detached only (spawn_account_admin does).
account_admin_actor::behavior_type
account_admin(account_admin_pointer self, account_admin_config cfg);

/// Spawns an account_admin worker on a thread of its own.
account_admin_actor spawn_account_admin(caf::actor_system& sys,
                                        account_admin_config cfg);

} // namespace herald
