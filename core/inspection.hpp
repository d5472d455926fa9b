#pragma once

// What the inspector of a node answers heraldctl's console with
// (actors/inspector.hpp): typed, serializable, registered on every node and
// in heraldctl by register_message_types(). Times are Unix ms, durations
// nanoseconds; 0 or empty when unknown.

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace herald {

/// One actor of a node and its counters (core/actor_stats.hpp).
struct actor_report {
  /// Its number in the node's actor catalog (not CAF's actor id).
  uint64_t id = 0;
  std::string type;
  std::string name;
  std::string node;
  int64_t started_ms = 0;
  uint64_t handled = 0;
  /// Messages per second over the inspector's last sampling interval.
  double rate = 0;
  uint64_t mean_ns = 0;
  uint64_t p99_ns = 0;
  uint64_t mailbox = 0;
  uint64_t mailbox_max = 0;
  std::string last_error;
  int64_t last_error_ms = 0;
  uint64_t restarts = 0;
  /// Set for an actor that exited: when and why.
  int64_t exited_ms = 0;
  std::string exit_reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_report& x) {
  return f(caf::meta::type_name("herald.actor_report"), x.id, x.type, x.name,
           x.node, x.started_ms, x.handled, x.rate, x.mean_ns, x.p99_ns,
           x.mailbox, x.mailbox_max, x.last_error, x.last_error_ms,
           x.restarts, x.exited_ms, x.exit_reason);
}

/// One cluster member as the answering node sees it.
struct node_report {
  std::string name;
  std::vector<std::string> roles;
  /// cluster.listen: where heraldctl reaches its inspector.
  std::string address;
  std::string version;
  int64_t started_at_ms = 0;
  /// Since it last recorded itself in the cluster view; -1: unreadable.
  int64_t heartbeat_age_ms = -1;
  bool healthy = false;
  /// Ids in its processing list.
  int64_t in_flight = 0;
  /// Its node certificate: "CN sha256:FINGERPRINT" as the answering
  /// node's link with it verified it; for the answering node itself, or a
  /// member without an open link, "sha256:FINGERPRINT" as it recorded it.
  std::string tls_identity;
  /// Whether this is the node that answered.
  bool answering = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_report& x) {
  return f(caf::meta::type_name("herald.node_report"), x.name, x.roles,
           x.address, x.version, x.started_at_ms, x.heartbeat_age_ms,
           x.healthy, x.in_flight, x.tls_identity, x.answering);
}

/// The delivery queue of the cluster (Redis) and its failures (MySQL).
struct queue_report {
  int64_t pending = 0;
  /// Ids in hand per node, in the same order.
  std::vector<std::string> nodes;
  std::vector<int64_t> processing;
  int64_t retry_scheduled = 0;
  /// The earliest retry's due time; 0: none.
  int64_t next_retry_ms = 0;
  int64_t failed = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, queue_report& x) {
  return f(caf::meta::type_name("herald.queue_report"), x.pending, x.nodes,
           x.processing, x.retry_scheduled, x.next_retry_ms, x.failed);
}

/// One step of a message's path.
struct trace_hop {
  int64_t at_ms = 0;
  /// accepted, queued, attempt, delivered, failed, ... (docs/CONSOLE.md).
  std::string stage;
  /// The node that took the step, when recorded.
  std::string node;
  std::string detail;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trace_hop& x) {
  return f(caf::meta::type_name("herald.trace_hop"), x.at_ms, x.stage, x.node,
           x.detail);
}

/// A message's path, oldest step first, from its durable records, and
/// where Redis holds it now.
struct trace_report {
  /// Canonical text form.
  std::string message_id;
  std::string status;
  std::vector<trace_hop> hops;
  /// pending, processing on NODE, retry due at TIME, or none.
  std::string live;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trace_report& x) {
  return f(caf::meta::type_name("herald.trace_report"), x.message_id,
           x.status, x.hops, x.live);
}

} // namespace herald
