#include "node/cluster_node.hpp"

#include "core/errc.hpp"
#include "core/metrics.hpp"
#include "net/client_registry.hpp"
#include "net/cluster_link.hpp"
#include "net/tls.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/io/middleman.hpp>

#include <spdlog/spdlog.h>

namespace herald::node {

void prepare_cluster(config::herald_config& sys_cfg,
                     const config::cluster_config& cfg) {
  sys_cfg.load<caf::io::middleman>();
  sys_cfg.set("middleman.heartbeat-interval", cfg.heartbeat_interval);
  sys_cfg.set("middleman.connection-timeout", cfg.connection_timeout);
}

caf::expected<cluster_membership>
join_cluster(caf::actor_system& sys, const config::settings& cfg,
             cluster_node_config ccfg, const net::client_registry& registry,
             net::crl_store* crl, metrics& m) {
  auto certificate = net::read_certificate(cfg.cluster.tls.certificate);
  if (!certificate)
    return certificate.error();
  ccfg.fingerprint = certificate->fingerprint;
  cluster_membership result;
  result.transport = std::make_shared<cluster_transport>();
  result.actor = spawn_cluster(sys, std::move(ccfg), result.transport, &m);
  // Loopback only: peers reach it through the links, which check who they
  // are; BASP itself authenticates no one.
  auto port = sys.middleman().publish(result.actor, 0, "127.0.0.1");
  if (!port)
    return make_error(errc::network_failure,
                      "cluster: cannot publish on loopback: "
                        + sys.render(port.error()));
  // The inspector lives in the console's own actor system: console peers
  // speak BASP to its middleman, which knows no actor of this one.
  auto console = console_system::start(
    inspector_config{cfg.node.name, cfg.mysql, cfg.redis, result.transport},
    cfg.cluster);
  if (!console)
    return console.error();
  result.console = std::move(*console);
  net::cluster_link_config lcfg;
  lcfg.files = cfg.cluster.tls;
  lcfg.crl = crl;
  auto active_of_kind = [&registry](const std::string& fingerprint,
                                    const char* kind) {
    auto who = registry.find(fingerprint);
    return who && who->active && who->kind == kind;
  };
  lcfg.allowed = [active_of_kind](const std::string& fingerprint) {
    return active_of_kind(fingerprint, "server");
  };
  lcfg.console_allowed = [active_of_kind](const std::string& fingerprint) {
    return active_of_kind(fingerprint, "admin");
  };
  lcfg.console_port = result.console->port();
  if (auto err = config::split_host_port("cluster.listen", cfg.cluster.listen,
                                         lcfg.listen_host, lcfg.listen_port))
    return err;
  result.middleman_port = *port;
  lcfg.middleman_port = *port;
  lcfg.handshake_timeout = cfg.cluster.connection_timeout;
  auto links = net::cluster_links::start(std::move(lcfg));
  if (!links)
    return links.error();
  result.transport->links = std::move(*links);
  spdlog::info("cluster: listening on {} (links verified against {}), "
               "joining through {} seeds",
               cfg.cluster.listen, cfg.cluster.tls.ca, cfg.cluster.seeds.size());
  caf::anon_send(result.actor, listen_atom::value);
  return result;
}

void leave_cluster(caf::actor_system& sys, cluster_membership& x) {
  caf::anon_send_exit(x.actor, caf::exit_reason::user_shutdown);
  if (auto res = sys.middleman().unpublish(x.actor, x.middleman_port); !res)
    spdlog::warn("cluster: cannot unpublish: {}", sys.render(res.error()));
  x.actor = cluster_actor{};
  // Stops the inspector, waits for it, then for its actor system.
  x.console.reset();
}

} // namespace herald::node
