#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "persistence/redis.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace herald {

class metrics;

namespace net {
class cluster_links;
} // namespace net

/// What the cluster actor of a node needs.
struct cluster_node_config {
  config::cluster_config cluster;
  config::redis_config redis;
  /// This node as members see it (its cluster handle is added to each
  /// message).
  member_info self;
  /// Its node certificate's SHA-256 fingerprint, recorded in the view.
  std::string fingerprint;
  /// The node's queue, told about every remote delivery actor; none
  /// without the ingress role.
  work_queue_actor queue;
  health_actor health;
  audit_actor audit;
  /// Reload at once when a change is announced.
  client_directory_actor directory;
  pki_monitor_actor pki;
};

/// The links to other nodes. Set by the node between publishing the
/// cluster actor (the links forward to its port) and sending it
/// listen_atom; read only by the actor after that.
struct cluster_transport {
  std::shared_ptr<net::cluster_links> links;
};

/// A member this node is linked with.
struct cluster_member {
  member_info info;
  cluster_actor handle;
  /// When it last introduced itself or answered one of our
  /// introductions (Unix ms).
  int64_t last_seen_ms = 0;
};

struct cluster_state {
  static inline const char* name = "cluster";
  cluster_node_config cfg;
  std::shared_ptr<cluster_transport> transport;
  metrics* stats = nullptr;
  /// Other members by name.
  std::map<std::string, cluster_member> members;
  /// Addresses with a connect in progress.
  std::set<std::string> connecting;
  /// Whether the latest health probe of this node passed.
  bool healthy = false;
  bool joined = false;
  /// Link refusals already counted in the metrics, by reason.
  std::map<std::string, uint64_t> refusals_counted;
  /// The member that holds the lease (may be this node); empty: unknown.
  std::string lease_holder;
  /// The audit actor last named to the local one as the chain's writer.
  audit_actor audit_lead;
  /// The count of announced changes this node applied; -1: none seen yet
  /// (a new lease holder starts from the count it reads first).
  int64_t changes_seen = -1;
  /// A poll_atom is on its way (only the lease holder polls).
  bool polling = false;
  std::optional<persistence::redis_connection> redis;
};

/// Joins the cluster through cfg.cluster.seeds once it gets listen_atom,
/// then keeps the view (see cluster_actor). Spawn detached only
/// (spawn_cluster does): it writes to Redis.
cluster_actor::behavior_type
cluster(cluster_actor::stateful_pointer<cluster_state> self,
        cluster_node_config cfg, std::shared_ptr<cluster_transport> transport,
        metrics* stats);

cluster_actor spawn_cluster(caf::actor_system& sys, cluster_node_config cfg,
                            std::shared_ptr<cluster_transport> transport,
                            metrics* stats);

} // namespace herald
