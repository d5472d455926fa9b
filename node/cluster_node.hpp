#pragma once

#include "actors/cluster.hpp"
#include "config/herald_config.hpp"
#include "config/settings.hpp"
#include "node/console_system.hpp"

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include <memory>

namespace herald {
class metrics;
} // namespace herald

namespace herald::net {
class client_registry;
class crl_store;
} // namespace herald::net

namespace herald::node {

/// Loads CAF's middleman with explicit heartbeats (CAF leaves them off, so
/// a silent link would never count as lost). Call before the actor system
/// exists, on clustered nodes only.
void prepare_cluster(config::herald_config& sys_cfg,
                     const config::cluster_config& cfg);

/// What keeps a node in the cluster.
struct cluster_membership {
  cluster_actor actor;
  std::shared_ptr<cluster_transport> transport;
  /// Where the middleman publishes the actor (loopback).
  uint16_t middleman_port = 0;
  /// Answers heraldctl's console: the inspector in an actor system of its
  /// own, published on a loopback port of its own, where the links lead
  /// admin certificates.
  std::unique_ptr<console_system> console;
};

/// Leaves the cluster in order: stops the cluster actor, takes it off the
/// middleman and drops the handle, since ~actor_system waits until no
/// handle keeps a detached actor alive; stops the console and its actor
/// system. The links stay up until `x` goes.
void leave_cluster(caf::actor_system& sys, cluster_membership& x);

/// Spawns the cluster actor and publishes it on a loopback port of the
/// middleman, starts the console (node/console_system.hpp), starts the
/// verifying TLS links in front of both (peers must hold an active node
/// certificate of `registry` that `crl` does not revoke; an active admin
/// certificate reaches the console's port only) and starts joining. `ccfg`
/// describes this node.
caf::expected<cluster_membership>
join_cluster(caf::actor_system& sys, const config::settings& cfg,
             cluster_node_config ccfg, const net::client_registry& registry,
             net::crl_store* crl, metrics& m);

} // namespace herald::node
