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
#include <set>
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
  /// The node's own certificates (PEM files) whose expiry it reports, by
  /// what each is for ("ingress", "ingress-ca", "portal", ...).
  std::map<std::string, std::string> certificates;
};

/// The files a node reloads while it runs.
struct watched_files {
  /// The CRLs of the HTTPS listener and of the delivery client (one store
  /// when both check the same file).
  std::vector<std::shared_ptr<net::crl_store>> crls;
  /// The data keys; null on nodes that neither seal nor open messages.
  std::shared_ptr<persistence::live_key_ring> keys;
};

/// What a CRL in force looked like at the last check, to tell a reload.
struct crl_seen {
  int64_t number = -1;
  int64_t this_update = 0;
  /// Revoked serials (upper-case hex, as heraldctl records them).
  std::set<std::string> serials;
};

struct pki_monitor_state {
  static inline const char* name = "pki-monitor";
  pki_monitor_config cfg;
  watched_files files;
  metrics* stats = nullptr;
  /// Receives an event per reload, rejected file and newly revoked serial.
  audit_actor audit;
  /// Per CRL store of `files`.
  std::map<const net::crl_store*, crl_seen> crls;
  /// The key ring in force at the last check.
  std::shared_ptr<const persistence::key_ring> keys;
  std::optional<persistence::mysql_connection> db;
  /// The last problem logged per file, so that each is logged once.
  std::map<std::string, std::string> problems;
};

/// Every `cfg.interval`: reloads the CRLs and the key ring when their files
/// changed (logging an error while no current CRL is in force), counts
/// certificates and reports when the node's own ones expire; spawn detached only (file and MySQL I/O). Tells `audit`
/// of every reload, of a file it rejected, and of each serial that a new
/// CRL revokes (revocation.enforce: from then on this node refuses it).
pki_monitor_actor::behavior_type
pki_monitor(pki_monitor_actor::stateful_pointer<pki_monitor_state> self,
            pki_monitor_config cfg, watched_files files, audit_actor audit,
            metrics* stats);

pki_monitor_actor spawn_pki_monitor(caf::actor_system& sys,
                                    pki_monitor_config cfg,
                                    watched_files files, audit_actor audit,
                                    metrics* stats);

} // namespace herald
