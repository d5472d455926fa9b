#pragma once

// What Herald knows about its own actors, for the inspection console: CAF
// 0.17 lists no actors and has no telemetry, so each actor of the graph
// enrolls itself here and counts its own work (actors/detail/instrument.hpp
// does both). Plain atomics: the actor writes, the inspector reads, and no
// actor is ever asked or blocked for its numbers.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace herald {

/// A snapshot of one actor's counters. Times in nanoseconds, Unix ms.
struct actor_counters {
  uint64_t handled = 0;
  uint64_t total_ns = 0;
  /// Upper bound of the histogram bucket holding the 99th percentile.
  uint64_t p99_ns = 0;
  /// Messages waiting when it last handled one, and the most seen.
  uint64_t mailbox = 0;
  uint64_t mailbox_max = 0;
  std::string last_error;
  int64_t last_error_ms = 0;
};

/// The counters one actor keeps about itself. Written by the actor only
/// (relaxed atomics; the error text under a mutex), read from anywhere.
class actor_stats {
public:
  /// Power-of-two buckets of processing time in microseconds: bucket i
  /// holds times below 2^i µs, the last one everything longer.
  static constexpr size_t buckets = 24;

  /// One message handled in `took`, with `mailbox` others waiting.
  void handled(std::chrono::nanoseconds took, uint64_t mailbox);

  /// The handler failed with `what` (an error it returned or logged).
  void failed(std::string what, int64_t at_ms);

  actor_counters read() const;

  /// Bucket index of a processing time (exposed for tests).
  static size_t bucket_of(std::chrono::nanoseconds took);

  /// Upper bound of bucket `i` in nanoseconds.
  static uint64_t bucket_bound_ns(size_t i);

private:
  std::atomic<uint64_t> handled_{0};
  std::atomic<uint64_t> total_ns_{0};
  std::atomic<uint64_t> mailbox_{0};
  std::atomic<uint64_t> mailbox_max_{0};
  std::array<std::atomic<uint64_t>, buckets> histogram_{};
  mutable std::mutex error_mtx_;
  std::string last_error_;
  int64_t last_error_ms_ = 0;
};

/// One actor as the catalog knows it.
struct actor_entry {
  /// Its number in this process's catalog, in the order actors enrolled
  /// (from 1, never reused). Not CAF's actor id: every actor system counts
  /// those from 1, and a clustered node runs two (node/console_system.hpp).
  uint64_t id = 0;
  /// Its kind: the state's name ("delivery", "store", ...).
  std::string type;
  /// Type and ordinal among its kind in this process ("delivery-2").
  std::string name;
  int64_t started_ms = 0;
  /// Actors of its type that had exited when this one started: Herald
  /// replaces no actor in place, so a stop and start shows here.
  uint64_t restarts = 0;
  /// Set once it exited: when, and CAF's exit reason.
  int64_t exited_ms = 0;
  std::string exit_reason;
  std::shared_ptr<actor_stats> stats;
};

/// The actors of this process. One per process, like CAF's own registry,
/// so that actors reach it without every config carrying it. Thread-safe;
/// enroll and exit happen once per actor, reads are copies.
class actor_catalog {
public:
  /// Exited actors kept for `inspect actor` (their exit reasons).
  static constexpr size_t kept_exited = 64;

  static actor_catalog& process();

  /// Adds a running actor under the next catalog id; returns the stats
  /// block it writes to. `key` names the actor until it exits: its CAF
  /// control block, which is unique in the process while the actor lives.
  std::shared_ptr<actor_stats> enroll(const void* key, const std::string& type,
                                      int64_t now_ms);

  /// The catalog id of the running actor `key`; 0 for none.
  uint64_t id_of(const void* key) const;

  /// Records `what` as the last error of running actor `key`.
  void failed(const void* key, std::string what, int64_t now_ms);

  /// Moves actor `key` to the exited ones with its exit reason.
  void exited(const void* key, std::string reason, int64_t now_ms);

  /// Running actors first (by id), then the exited ones kept.
  std::vector<actor_entry> entries() const;

  /// Forgets everything (tests).
  void clear();

private:
  mutable std::mutex mtx_;
  uint64_t last_id_ = 0;
  std::map<uint64_t, actor_entry> running_;
  /// Catalog ids of the running actors by key.
  std::map<const void*, uint64_t> ids_;
  std::deque<actor_entry> exited_;
  /// Actors started and exited per type, for names and restarts.
  std::map<std::string, uint64_t> started_per_type_;
  std::map<std::string, uint64_t> exited_per_type_;
};

} // namespace herald
