#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "persistence/mysql.hpp"
#include "persistence/redis.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <optional>

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
};

/// Reloads `registry` every recovery.clients-refresh; spawn detached only.
client_directory_actor::behavior_type client_directory(
  client_directory_actor::stateful_pointer<client_directory_state> self,
  maintenance_config cfg, net::client_registry* registry);

client_directory_actor spawn_client_directory(caf::actor_system& sys,
                                              maintenance_config cfg,
                                              net::client_registry* registry);

} // namespace herald
