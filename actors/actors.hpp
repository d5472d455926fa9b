#pragma once

// All typed actor interfaces of Herald. docs/DESIGN.md shows how they
// connect; each alias has one sentence and a comment per handler.

#include "actors/messages.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace herald {

/// Checks MySQL and Redis with blocking calls; runs detached, on its own
/// thread, so that no event-based behaviour ever blocks on I/O.
using dependency_probe_actor = caf::typed_actor<
  // Probes every dependency now and reports the outcome.
  caf::replies_to<probe_atom>::with<health_report>>;

/// Keeps the latest health of this node's dependencies, refreshed on a
/// timer, and answers health queries without waiting for a probe.
using health_actor = caf::typed_actor<
  // Returns the latest report.
  caf::replies_to<caf::get_atom>::with<health_report>,
  // Timer: starts the next probe.
  caf::reacts_to<tick_atom>>;

} // namespace herald
