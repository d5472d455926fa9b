#pragma once

// The console's own actor system. CAF 0.17's BASP delivers a peer's message
// to any actor id in the registry of the middleman it is connected to (and
// to named system actors such as ConfigServ and SpawnServ); it authenticates
// no one and filters nothing. So console peers (admin certificates) must not
// share a middleman with the node's actors: each clustered node runs this
// second, small actor system in which only the inspector lives, and only it
// is published on the console's loopback port (docs/CONSOLE.md).

#include "actors/actors.hpp"
#include "actors/inspector.hpp"
#include "config/settings.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <memory>
#include <optional>

namespace herald::node {

/// The configuration of the console's actor system: Herald's message types,
/// the middleman with the cluster's heartbeats, one scheduler thread (the
/// inspector's), one BASP worker and no detached actor. It carries no
/// option of the node and no secret.
class console_system_config : public caf::actor_system_config {
public:
  explicit console_system_config(const config::cluster_config& cluster);
};

/// A running console: its actor system, the inspector in it and the
/// loopback port where that system's middleman published the inspector.
/// Destroying it stops the inspector, waits for it and then the system.
class console_system {
public:
  /// Spawns the inspector of `icfg` in a new actor system and publishes it
  /// on an ephemeral port of 127.0.0.1.
  static caf::expected<std::unique_ptr<console_system>>
  start(inspector_config icfg, const config::cluster_config& cluster);

  ~console_system();

  console_system(const console_system&) = delete;
  console_system& operator=(const console_system&) = delete;

  /// Where the cluster links lead admin certificates.
  uint16_t port() const {
    return port_;
  }

  /// The inspector, for the node's metrics and for tests; never for actors
  /// of the node's own system to talk to.
  const inspector_actor& inspector() const {
    return inspector_;
  }

  /// The console's actor system (tests).
  caf::actor_system& system() {
    return *sys_;
  }

private:
  explicit console_system(const config::cluster_config& cluster);

  void stop();

  // Declared first: the configuration outlives the system.
  console_system_config cfg_;
  std::optional<caf::actor_system> sys_;
  inspector_actor inspector_;
  uint16_t port_ = 0;
};

} // namespace herald::node
