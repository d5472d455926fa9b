#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "net/https_client.hpp"
#include "persistence/crypto.hpp"
#include "persistence/delivery_store.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  /// While no `work` comes, look at the queue this often: the backstop for
  /// a lost `work`, a worker that was down, and ids queued by other nodes.
  caf::timespan idle_poll = std::chrono::seconds{2};
  /// When a look finds the queue empty, wait this long in Redis for an id
  /// (BLMOVE, one bounded step) before the idle poll; 0: do not wait. For
  /// nodes whose queue is elsewhere: no `work` reaches them until the
  /// cluster links nodes (docs/DESIGN.md, section 7).
  caf::timespan idle_wait = caf::timespan::zero();
};

// -- the decision (pure) ------------------------------------------------------

/// The decision for one attempt's result (pure; see docs/DESIGN.md):
/// 2xx delivered; 408, 429, 5xx and transport errors retry; other 4xx fail.
persistence::attempt_outcome classify(const net::http_result& result);

/// What an attempt's record and the message's last_error say of a failed
/// `result`: "HTTP <status>", or the transport error Herald itself saw
/// (timeout, connect or TLS failure). Never the downstream's body, which
/// may echo the message.
std::string describe_failure(const net::http_result& result);

/// Whether `job` expired before an attempt at `now_ms` (Unix ms): older than
/// max-age or out of attempts (both counted from its last requeue by
/// heraldctl message requeue, if any). Returns the record that ends it, or
/// nothing when it is to be attempted.
std::optional<persistence::attempt_record>
expire_before_attempt(const persistence::delivery_job& job, int64_t now_ms,
                      const config::delivery_config& cfg);

/// The record of the attempt of `job` that got `result`: delivered, failed,
/// a retry due at `due_ms` (Unix ms), or expired when that retry would pass
/// max-attempts or max-age.
persistence::attempt_record decide(const persistence::delivery_job& job,
                                   const net::http_result& result,
                                   int64_t due_ms,
                                   const config::delivery_config& cfg);

// -- the I/O of a delivery actor ----------------------------------------------

/// The blocking calls of a delivery actor, each one bounded step: the actor
/// is the logic, this its boundary to Redis, MySQL and the downstream (tests
/// put a fake in its place). Connections are opened on demand and dropped
/// after a failure.
class delivery_io {
public:
  virtual ~delivery_io();

  /// Opens the connection pool ahead of the first batch.
  virtual void warm_up() = 0;

  /// Moves up to `max` ids from pending to this node's processing list;
  /// when there are none, waits up to `wait` for one (zero: no waiting).
  virtual caf::expected<std::vector<std::string>> take(size_t max,
                                                       caf::timespan wait)
    = 0;

  /// Loads the messages `raw_ids` and marks the deliverable ones
  /// delivering (persistence::claim_jobs).
  virtual caf::expected<std::vector<persistence::delivery_job>>
  claim(const std::vector<std::string>& raw_ids) = 0;

  /// Sends the requests concurrently; one result per request, in order.
  virtual std::vector<net::http_result>
  post_all(const std::vector<net::http_post>& requests) = 0;

  /// Records attempts in MySQL, in one transaction.
  virtual caf::error
  record(const std::vector<persistence::attempt_record>& records) = 0;

  /// Acknowledges ids: off the processing list and the live set.
  virtual caf::error finish(const std::vector<std::string>& ids) = 0;

  /// Puts unattempted ids back at the head of pending.
  virtual caf::error release(const std::vector<std::string>& ids) = 0;

  /// Schedules retries in Redis itself: for when the retry-timer did not
  /// answer.
  virtual caf::error schedule_retry(const std::vector<std::string>& ids,
                                    int64_t due_ms)
    = 0;
};

/// The real one: Redis, MySQL and the HTTPS client of `cfg`. Fails when the
/// TLS files of delivery.* are bad.
caf::expected<std::shared_ptr<delivery_io>>
make_delivery_io(const delivery_actor_config& cfg);

// -- the delivery actor -------------------------------------------------------

struct delivery_state {
  static inline const char* name = "delivery-worker";
  delivery_actor_config cfg;
  std::shared_ptr<delivery_io> io;
  /// Records retries; null: the actor schedules them in Redis itself.
  retry_timer_actor timer;
  /// Optional; tests run without.
  metrics* stats = nullptr;
  /// Ids (text) taken from the queue whose submission had not committed
  /// yet, with the time (Unix ms) to stop looking and schedule a retry.
  /// Redis keeps them in this node's processing list meanwhile.
  std::map<std::string, int64_t> carried;
  /// Ids the latest step took.
  size_t last_taken = 0;
  /// A tick_atom to self is in the mailbox.
  bool step_queued = false;
  /// Number of the latest delayed poll; earlier ones are stale.
  uint64_t poll_id = 0;
};

/// Message-driven delivery: `work` (from the queue or the retry-timer) or a
/// poll starts a step; a step takes up to delivery.batch ids from Redis
/// (never blocking longer than idle_wait), claims them in MySQL, sends the
/// deliverable ones, records the outcomes in MySQL, then acknowledges them
/// in Redis and sends retries to `timer`. After a full batch the next step
/// follows at once; after an empty look the actor polls every idle_poll.
/// On an exit message it releases what it has not attempted to the head
/// of pending and quits. Spawn detached (spawn_delivery does): `io`
/// blocks.
delivery_actor::behavior_type
delivery(delivery_actor::stateful_pointer<delivery_state> self,
         delivery_actor_config cfg, std::shared_ptr<delivery_io> io,
         retry_timer_actor timer, metrics* stats);

/// Spawns a delivery actor on a thread of its own with the real I/O. Fails
/// when the TLS files of delivery.* are bad.
caf::expected<delivery_actor>
spawn_delivery(caf::actor_system& sys, delivery_actor_config cfg,
               retry_timer_actor timer, metrics* stats);

} // namespace herald
