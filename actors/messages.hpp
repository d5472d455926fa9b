#pragma once

// Every message type that Herald actors exchange, with its 0.17-style
// inspect() and a dotted type name. All are registered once, in
// register_message_types(), which herald_config calls on every node.

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

#include <string>
#include <vector>

namespace herald {

// -- atoms --------------------------------------------------------------------

/// Asks a probe to check its dependencies now.
using probe_atom = caf::atom_constant<caf::atom("probe")>;

/// A periodic timer fired.
using tick_atom = caf::atom_constant<caf::atom("tick")>;

// -- health -------------------------------------------------------------------

/// The outcome of probing one dependency (mysql, redis).
struct dependency_status {
  std::string name;
  bool up = false;
  /// Why the dependency is down; empty when up.
  std::string error;
  /// How long the probe took.
  caf::timespan latency{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dependency_status& x) {
  return f(caf::meta::type_name("herald.dependency_status"), x.name, x.up,
           x.error, x.latency);
}

/// The health of a node's dependencies at one point in time.
struct health_report {
  std::vector<dependency_status> dependencies;
  /// When the probe finished; the epoch before the first probe.
  caf::timestamp checked_at{};

  /// True once probed and every dependency is up.
  bool healthy() const;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, health_report& x) {
  return f(caf::meta::type_name("herald.health_report"), x.dependencies,
           x.checked_at);
}

/// Registers every type above with `cfg`.
void register_message_types(caf::actor_system_config& cfg);

} // namespace herald
