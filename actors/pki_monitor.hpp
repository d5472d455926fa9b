#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "persistence/mysql.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <memory>
#include <optional>
#include <string>

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

struct pki_monitor_state {
  static inline const char* name = "pki-monitor";
  pki_monitor_config cfg;
  /// The CRL of the HTTPS listener; null when pki.crl-file is not set.
  std::shared_ptr<net::crl_store> crl;
  metrics* stats = nullptr;
  std::optional<persistence::mysql_connection> db;
  /// The last CRL problem logged, so that each is logged once.
  std::string crl_problem;
};

/// Every `cfg.interval`: reloads the CRL when its file changed (logging an
/// error while no current CRL is in force) and counts certificates; spawn
/// detached only (file and MySQL I/O).
pki_monitor_actor::behavior_type
pki_monitor(pki_monitor_actor::stateful_pointer<pki_monitor_state> self,
            pki_monitor_config cfg, std::shared_ptr<net::crl_store> crl,
            metrics* stats);

pki_monitor_actor spawn_pki_monitor(caf::actor_system& sys,
                                    pki_monitor_config cfg,
                                    std::shared_ptr<net::crl_store> crl,
                                    metrics* stats);

} // namespace herald
