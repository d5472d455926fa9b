#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "persistence/mysql.hpp"
#include "persistence/redis.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace herald {

namespace persistence {
class live_key_ring;
} // namespace persistence

/// What a message admin worker needs.
struct message_admin_config {
  config::mysql_config mysql;
  config::redis_config redis;
  /// Opens message bodies for a reveal.
  std::shared_ptr<persistence::live_key_ring> keys;
  /// Chains the audit rows it appends itself, and verifies the chain: a
  /// reveal must be in the chain before the body is shown, so it cannot
  /// wait for the batching audit actor; a requeue is chained as heraldctl
  /// chains it. Empty: no reveals, no requeues.
  std::string audit_key;
  /// The source of those rows, e.g. "portal@node-1".
  std::string source;
  /// How long a verification of the chain (a full scan) is reused.
  caf::timespan verify_reuse = std::chrono::seconds{30};
};

/// Succeeds for a usable configuration.
caf::error validate(const message_admin_config& cfg);

struct message_admin_state {
  static inline const char* name = "message-admin";
  message_admin_config cfg;
  /// Opened on first use and after a failure.
  std::optional<persistence::mysql_connection> db;
  std::optional<persistence::redis_connection> redis;
  /// The last verification of the audit chain.
  std::optional<audit_status> verified;
};

using message_admin_pointer
  = message_admin_actor::stateful_pointer<message_admin_state>;

/// The admin pages' blocking work (see message_admin_actor); spawn
/// detached only (spawn_message_admin does).
message_admin_actor::behavior_type
message_admin(message_admin_pointer self, message_admin_config cfg);

/// Spawns a message admin worker on a thread of its own.
message_admin_actor spawn_message_admin(caf::actor_system& sys,
                                        message_admin_config cfg);

} // namespace herald
