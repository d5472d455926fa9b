#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "persistence/login_guard.hpp"
#include "persistence/mysql.hpp"
#include "persistence/redis.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <memory>
#include <optional>
#include <string>

namespace herald {

namespace persistence {
class live_key_ring;
} // namespace persistence

/// What a portal worker needs.
struct portal_worker_config {
  config::mysql_config mysql;
  config::redis_config redis;
  persistence::login_limits limits;
  /// Opens message bodies for the detail page.
  std::shared_ptr<persistence::live_key_ring> keys;
  /// Receives login, failure, lockout and logout events.
  audit_actor audit;
};

/// Succeeds for a usable configuration.
caf::error validate(const portal_worker_config& cfg);

struct portal_state {
  static inline const char* name = "portal";
  portal_worker_config cfg;
  /// Opened on first use and after a failure.
  std::optional<persistence::mysql_connection> db;
  std::optional<persistence::redis_connection> redis;
  /// A hash of a random password, checked when the account does not exist
  /// or has no password, so that a wrong name costs as long as a wrong
  /// password and the time tells nothing. Made on first use.
  std::string decoy_hash;
};

using portal_pointer = portal_actor::stateful_pointer<portal_state>;

/// The portal's blocking work (see portal_actor); spawn detached only
/// (spawn_portal does).
portal_actor::behavior_type portal(portal_pointer self,
                                   portal_worker_config cfg);

/// Spawns a portal worker on a thread of its own.
portal_actor spawn_portal(caf::actor_system& sys, portal_worker_config cfg);

} // namespace herald
