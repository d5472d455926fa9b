#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/timespan.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace herald {

class metrics;

/// How the audit actor batches and retries. Fixed defaults for now (no INI
/// options): audit events are few, and these bounds only matter while the
/// database is down.
struct audit_config {
  /// Stamped on events that name no source, e.g. "heraldd@node-1".
  std::string source;
  /// Events per transaction at most.
  size_t batch_size = 100;
  /// How long events gather before their batch is written.
  caf::timespan batch_delay = std::chrono::milliseconds{200};
  /// Events kept while the audit log cannot be written; later ones are
  /// dropped, counted, and the chain records how many (audit.dropped).
  size_t max_pending = 10000;
  /// Wait after a failed write before the next attempt.
  caf::timespan retry_interval = std::chrono::seconds{5};
  /// In a cluster: the chain is written by the lease holder's audit actor
  /// (lead_atom names it), and until one is named events wait.
  bool clustered = false;
  /// How long a member waits for the writer's answer to a batch.
  caf::timespan forward_timeout = std::chrono::seconds{5};
};

/// An event of the node itself (actor "heraldd"); the audit actor stamps
/// its time and the node as its source.
audit_event node_event(std::string action, std::string target,
                       std::string detail, bool ok = true);

/// Fails when a bound of `cfg` is zero or the batch exceeds the buffer.
caf::error validate(const audit_config& cfg);

/// Writes one batch to the audit chain, in order, all or nothing.
using audit_writer
  = std::function<caf::error(const std::vector<audit_event>&)>;

/// The writer of a node: its own MySQL connection, opened on first use and
/// again after a failure, and persistence::append_audit_batch under `key`
/// (so it takes turns with heraldctl under the database lock).
audit_writer make_audit_writer(config::mysql_config mysql, std::string key);

/// The events waiting for the chain, oldest first, and how many were
/// dropped because it was full. Pure state without I/O or clock, so that
/// the batching is testable apart from the database.
class audit_buffer {
public:
  audit_buffer() = default;

  audit_buffer(size_t batch_size, size_t capacity);

  /// Queues `x`; false when full (then `x` is dropped and counted).
  bool add(audit_event x);

  /// The next batch: up to batch_size oldest events. They stay queued
  /// until commit(), so a failed write loses nothing.
  std::vector<audit_event> peek() const;

  /// Removes the `n` oldest events, now written. When events were dropped
  /// since the last marker, queues `marker` (its detail completed with the
  /// count) after the events that were kept, where the gap is.
  void commit(size_t n, audit_event marker);

  /// Whether a whole batch waits.
  bool has_batch() const {
    return pending_.size() >= batch_size_;
  }

  bool empty() const {
    return pending_.empty();
  }

  size_t size() const {
    return pending_.size();
  }

  /// Events dropped since the last marker was queued.
  uint64_t dropped() const {
    return dropped_;
  }

private:
  size_t batch_size_ = 100;
  size_t capacity_ = 10000;
  std::deque<audit_event> pending_;
  uint64_t dropped_ = 0;
};

struct audit_state {
  static inline const char* name = "audit";
  audit_config cfg;
  audit_buffer buffer;
  /// Null: no audit key, every event is dropped (counted as "no_key").
  audit_writer writer;
  /// In a cluster, the audit actor that writes the chain; none while no
  /// member is known to hold the lease.
  audit_actor lead;
  metrics* stats = nullptr;
  /// A flush_atom is on its way (the batch delay, the next batch or a
  /// retry); never more than one.
  bool flush_scheduled = false;
  /// The last write failed: only the retry timer writes until one works.
  bool failing = false;
  /// Batches and events written so far.
  uint64_t batches_written = 0;
  uint64_t events_written = 0;
};

/// Gathers this node's audit events and appends them to the chain in
/// batches through `writer`, one batch per handler; keeps them while the
/// writer fails and tries again every cfg.retry_interval. Clustered, it
/// sends the batches to the lead instead (waiting for each answer, as for
/// a database write) unless it is the lead. On exit it writes what waits
/// once more (itself when no lead is known) and logs what it could not.
/// Spawn detached in a node (the writer blocks); tests spawn it with a
/// fake writer.
audit_actor::behavior_type
audit(audit_actor::stateful_pointer<audit_state> self, audit_config cfg,
      audit_writer writer, metrics* stats);

/// Spawns the audit actor of a node, detached, with its own MySQL
/// connection; without `key` it drops (and counts) every event.
audit_actor spawn_audit(caf::actor_system& sys, audit_config cfg,
                        config::mysql_config mysql, std::string key,
                        metrics* stats);

} // namespace herald
