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

struct store_writer_state {
  static inline const char* name = "store-writer";
  config::mysql_config mysql;
  config::redis_config redis;
  /// Opened on first use and after a failure.
  std::optional<persistence::mysql_connection> db;
  /// Opened on the first batch and after a failure.
  std::optional<persistence::redis_connection> queue;
  metrics* stats = nullptr;
};

/// Runs the store's blocking MySQL and Redis work: stores and queues a
/// batch in one transaction; spawn detached only (spawn_store_writer does).
store_writer_actor::behavior_type
store_writer(store_writer_actor::stateful_pointer<store_writer_state> self,
             config::mysql_config mysql, config::redis_config redis,
             metrics* stats);

/// Spawns a store writer on a thread of its own.
store_writer_actor spawn_store_writer(caf::actor_system& sys,
                                      config::mysql_config mysql,
                                      config::redis_config redis,
                                      metrics* stats);

struct receiver_store_state {
  static inline const char* name = "receiver-store";
  config::mysql_config cfg;
  /// Opened on first use and after a failure.
  std::optional<persistence::mysql_connection> db;
};

/// Stores batches of received messages for the receiver (see
/// actors/receiver.hpp); spawn detached only (spawn_receiver_store does).
receiver_store_actor::behavior_type receiver_store(
  receiver_store_actor::stateful_pointer<receiver_store_state> self,
  config::mysql_config cfg);

/// Spawns a receiver store on a thread of its own.
receiver_store_actor spawn_receiver_store(caf::actor_system& sys,
                                          config::mysql_config cfg);

} // namespace herald
