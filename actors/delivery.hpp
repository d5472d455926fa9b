#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "net/https_client.hpp"
#include "persistence/delivery_store.hpp"
#include "persistence/crypto.hpp"
#include "persistence/mysql.hpp"
#include "persistence/redis.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <optional>

namespace herald {

class metrics;

/// What the delivery actors of a node need.
struct delivery_actor_config {
  std::string node;
  config::delivery_config delivery;
  config::mysql_config mysql;
  config::redis_config redis;
  std::shared_ptr<persistence::live_key_ring> keys;
  /// The downstream's certificate is checked against it; null: no CRL
  /// (delivery.crl-file "none").
  std::shared_ptr<net::crl_store> crl;
  /// Set when the node shuts down: workers stop between messages and
  /// return what they have not attempted.
  std::shared_ptr<std::atomic<bool>> stopping;
};

/// The decision for one attempt's result (pure; see docs/DESIGN.md):
/// 2xx delivered; 408, 429, 5xx and transport errors retry; other 4xx fail.
persistence::attempt_outcome classify(const net::http_result& result);

/// Whether attempt number `attempt` (1-based) of a message created at
/// `created_ms` may still be made at `at_ms` (Unix ms) under the limits of
/// `d`: at most max_attempts attempts (0: no limit), none after max_age.
/// A message past them ends as "expired" (pure; see docs/DESIGN.md).
bool within_limits(const config::delivery_config& d, uint32_t attempt,
                   int64_t created_ms, int64_t at_ms);

/// What an attempt's record and the message's last_error say of a failed
/// `result`: "HTTP <status>", or the transport error Herald itself saw
/// (timeout, connect or TLS failure). Never the downstream's body, which
/// may echo the message.
std::string describe_failure(const net::http_result& result);

struct delivery_worker_state {
  static inline const char* name = "delivery-worker";
  delivery_actor_config cfg;
  metrics* stats = nullptr;
  std::optional<persistence::mysql_connection> db;
  std::optional<persistence::redis_connection> redis;
  std::shared_ptr<net::https_client> client;
  /// Ids (text) taken from the queue whose submission had not committed
  /// yet, with the time (Unix ms) to stop looking and schedule a retry.
  /// Redis keeps them in this node's processing list meanwhile.
  std::map<std::string, int64_t> carried;
  /// Whether the connection pool was opened ahead of the first batch.
  bool warmed_up = false;
};

/// Spawn detached only (spawn_delivery_worker does).
delivery_worker_actor::behavior_type delivery_worker(
  delivery_worker_actor::stateful_pointer<delivery_worker_state> self,
  delivery_actor_config cfg, std::shared_ptr<net::https_client> client,
  metrics* stats);

caf::expected<delivery_worker_actor>
spawn_delivery_worker(caf::actor_system& sys, delivery_actor_config cfg,
                      metrics* stats);

struct schedule_state {
  static inline const char* name = "schedule";
  delivery_actor_config cfg;
  std::optional<persistence::redis_connection> redis;
  caf::actor_clock::time_point next_reap;
};

/// Spawn detached only (spawn_schedule does).
schedule_actor::behavior_type
schedule(schedule_actor::stateful_pointer<schedule_state> self,
         delivery_actor_config cfg);

schedule_actor spawn_schedule(caf::actor_system& sys,
                              delivery_actor_config cfg);

struct retry_timer_state {
  static inline const char* name = "retry-timer";
  schedule_actor store;
  metrics* stats = nullptr;
};

/// Event-based: asks `store` to promote, then sleeps until the next retry is
/// due, one second at most.
retry_timer_actor::behavior_type
retry_timer(retry_timer_actor::stateful_pointer<retry_timer_state> self,
            schedule_actor store, metrics* stats);

retry_timer_actor spawn_retry_timer(caf::actor_system& sys,
                                    schedule_actor store, metrics* stats);

} // namespace herald
