#pragma once

#include "actors/actors.hpp"
#include "actors/detail/work_targets.hpp"
#include "config/settings.hpp"
#include "persistence/redis.hpp"

#include <caf/actor_clock.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <optional>
#include <set>
#include <string>

namespace herald {

class metrics;

/// What the schedule actor needs.
struct schedule_config {
  /// This node: its processing list and its lease.
  std::string node;
  config::redis_config redis;
  /// The node's lease lasts this long; dead nodes are reaped every third.
  caf::timespan lease_ttl = std::chrono::seconds{15};
  /// Schedule entries read per page at most.
  size_t page_size = 5000;
};

/// Retries moved to pending per promotion at most.
inline constexpr size_t promote_batch = 1000;

struct schedule_state {
  static inline const char* name = "schedule";
  schedule_config cfg;
  std::optional<persistence::redis_connection> redis;
  caf::actor_clock::time_point next_reap;
};

/// The Redis side of the retry schedule (herald:retry, a sorted set by due
/// time) and the lease; spawn detached only (spawn_schedule does).
schedule_actor::behavior_type
schedule(schedule_actor::stateful_pointer<schedule_state> self,
         schedule_config cfg);

schedule_actor spawn_schedule(caf::actor_system& sys, schedule_config cfg);

/// How the retry-timer arms due times.
struct retry_timer_config {
  /// Due times this far ahead are armed as delayed messages...
  caf::timespan window = std::chrono::seconds{60};
  /// ...up to this many at once (one delayed message each); the rest wait
  /// in Redis and are paged in as armed ones fire.
  size_t max_armed = 20000;
  /// Lease refresh, backstop promotion and paging happen this often.
  caf::timespan tick_interval = std::chrono::seconds{1};
  /// Deadline of each request to the schedule actor.
  caf::timespan request_timeout = std::chrono::seconds{5};
  /// The Unix time (ms) at spawn; 0: the system clock's. Tests pin it, and
  /// the actor clock moves it on (then the test coordinator's clock is
  /// the only clock).
  int64_t start_ms = 0;
};

/// Checks the settings; names the first bad one.
caf::error validate(const retry_timer_config& cfg);

struct retry_timer_state {
  static inline const char* name = "retry-timer";
  retry_timer_config cfg;
  schedule_actor store;
  /// Optional; tests run without.
  metrics* stats = nullptr;
  /// Where promoted ids go as `work`.
  detail::work_targets delivery;
  /// Due times (Unix ms) with a delayed fire_atom on the way.
  std::set<int64_t> armed;
  /// Every scheduled retry due at or before this time (Unix ms) has its
  /// due time armed, or has been promoted already.
  int64_t horizon_ms = 0;
  /// A page request is out.
  bool paging = false;
  /// A promotion is out / another one is wanted after it.
  bool promoting = false;
  bool promote_again = false;
  caf::actor_clock::time_point started;

  /// The time (Unix ms) as this actor sees it.
  int64_t now_ms(caf::actor_clock::time_point now) const;
};

/// Event-based: records retries through `store`, arms one delayed message
/// per due time within `window` (at most `max_armed`), promotes due retries
/// when one fires (and every tick, as a backstop for retries of other nodes
/// or beyond the armed ones) and sends the promoted ids to the delivery
/// actors that joined.
retry_timer_actor::behavior_type
retry_timer(retry_timer_actor::stateful_pointer<retry_timer_state> self,
            retry_timer_config cfg, schedule_actor store, metrics* stats);

retry_timer_actor spawn_retry_timer(caf::actor_system& sys,
                                    retry_timer_config cfg,
                                    schedule_actor store, metrics* stats);

} // namespace herald
