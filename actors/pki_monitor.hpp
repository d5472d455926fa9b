#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "persistence/crypto.hpp"
#include "persistence/mysql.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace herald {

class metrics;

namespace net {
class crl_store;
} // namespace net

struct pki_monitor_config {
  config::mysql_config mysql;
  /// pki.crl-refresh.
  caf::timespan interval;
};

/// The files a node reloads while it runs.
struct watched_files {
  /// The CRLs of the HTTPS listener and of the delivery client (one store
  /// when both check the same file).
  std::vector<std::shared_ptr<net::crl_store>> crls;
  /// The data keys; null on nodes that neither seal nor open messages.
  std::shared_ptr<persistence::live_key_ring> keys;
};

struct pki_monitor_state {
  static inline const char* name = "pki-monitor";
  pki_monitor_config cfg;
  watched_files files;
  metrics* stats = nullptr;
  std::optional<persistence::mysql_connection> db;
  /// The last problem logged per file, so that each is logged once.
  std::map<std::string, std::string> problems;
};

/// Every `cfg.interval`: reloads the CRLs and the key ring when their files
/// changed (logging an error while no current CRL is in force) and counts
/// certificates; spawn detached only (file and MySQL I/O).
pki_monitor_actor::behavior_type
pki_monitor(pki_monitor_actor::stateful_pointer<pki_monitor_state> self,
            pki_monitor_config cfg, watched_files files, metrics* stats);

pki_monitor_actor spawn_pki_monitor(caf::actor_system& sys,
                                    pki_monitor_config cfg,
                                    watched_files files, metrics* stats);

} // namespace herald
