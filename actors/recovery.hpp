#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "persistence/clients.hpp"
#include "persistence/mysql.hpp"
#include "persistence/redis.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <optional>
#include <vector>

namespace herald {

class metrics;

namespace net {
class client_registry;
} // namespace net

/// What the background actors of a node need.
struct maintenance_config {
  std::string node;
  config::mysql_config mysql;
  config::redis_config redis;
  config::recovery_config recovery;
};

struct recovery_state {
  static inline const char* name = "recovery";
  maintenance_config cfg;
  metrics* stats = nullptr;
  std::optional<persistence::mysql_connection> db;
  std::optional<persistence::redis_connection> redis;
};

/// Sweeps at once, then every recovery.interval; spawn detached only.
recovery_actor::behavior_type
recovery(recovery_actor::stateful_pointer<recovery_state> self,
         maintenance_config cfg, metrics* stats);

recovery_actor spawn_recovery(caf::actor_system& sys, maintenance_config cfg,
                              metrics* stats);

struct client_directory_state {
  static inline const char* name = "client-directory";
  maintenance_config cfg;
  net::client_registry* registry = nullptr;
  std::optional<persistence::mysql_connection> db;
  /// Receives an event per certificate this node starts or stops
  /// accepting; none when null.
  audit_actor audit;
  /// The map of the last reload, to tell what changed; none before the
  /// first (the node loaded the same clients as it started).
  std::optional<persistence::client_map> seen;
};

/// What changed from `before` to `after`, as audit events of this node:
/// registry.add (a new certificate, accepted when active), registry.enable,
/// registry.disable (revoked, expired or its client disabled: refused from
/// now on) and registry.remove; at most `limit` events, then one that
/// counts the rest. In fingerprint order.
std::vector<audit_event> registry_changes(const persistence::client_map& before,
                                          const persistence::client_map& after,
                                          size_t limit = 100);

/// Reloads `registry` every recovery.clients-refresh, and tells `audit`
/// what changed; spawn detached only.
client_directory_actor::behavior_type client_directory(
  client_directory_actor::stateful_pointer<client_directory_state> self,
  maintenance_config cfg, net::client_registry* registry, audit_actor audit);

client_directory_actor spawn_client_directory(caf::actor_system& sys,
                                              maintenance_config cfg,
                                              net::client_registry* registry,
                                              audit_actor audit = {});

} // namespace herald
