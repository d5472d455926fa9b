#include "node/console_system.hpp"

#include "core/errc.hpp"
#include "core/messages.hpp"

#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include <spdlog/spdlog.h>

namespace herald::node {

console_system_config::console_system_config(
  const config::cluster_config& cluster) {
  // What heraldctl sends and the inspector answers; heraldctl checks the
  // inspector's interface against the same registrations.
  register_message_types(*this);
  load<caf::io::middleman>();
  set("middleman.heartbeat-interval", cluster.heartbeat_interval);
  set("middleman.connection-timeout", cluster.connection_timeout);
  // It accepts console peers and connects nowhere, not even to nodes a peer
  // names in a message (CAF's default, stated).
  set("middleman.enable-automatic-connections", false);
  // One scheduler thread, the inspector's (it blocks on Redis and MySQL,
  // which stalls the console alone), shared with BASP's deserialization
  // and CAF's few actors. No detached actor at all, the middleman's
  // included: CAF 0.17's private threads can keep a stopped detached actor
  // alive and hang ~actor_system (actor-framework#1196, fixed in 0.18).
  set("scheduler.max-threads", 1);
  set("middleman.workers", 1);
  set("middleman.attach-utility-actors", true);
}

console_system::console_system(const config::cluster_config& cluster)
  : cfg_(cluster) {
  sys_.emplace(cfg_);
}

caf::expected<std::unique_ptr<console_system>>
console_system::start(inspector_config icfg,
                      const config::cluster_config& cluster) {
  if (auto err = validate(icfg))
    return err;
  std::unique_ptr<console_system> result{new console_system(cluster)};
  auto& sys = *result->sys_;
  result->inspector_ = spawn_inspector(sys, std::move(icfg));
  // Loopback only: console peers reach it through the cluster links, which
  // let admin certificates alone through to this port.
  auto port = sys.middleman().publish(result->inspector_, 0, "127.0.0.1");
  if (!port)
    return make_error(errc::network_failure,
                      "console: cannot publish the inspector on loopback: "
                        + sys.render(port.error()));
  result->port_ = *port;
  return result;
}

console_system::~console_system() {
  stop();
}

void console_system::stop() {
  if (!inspector_)
    return;
  auto& sys = *sys_;
  if (port_ != 0)
    if (auto res = sys.middleman().unpublish(inspector_, port_); !res)
      spdlog::warn("console: cannot unpublish the inspector: {}",
                   sys.render(res.error()));
  // It samples on a timer and never ends by itself, and ~actor_system
  // waits for every actor: stop it and wait, then the system goes.
  caf::scoped_actor self{sys};
  self->send_exit(inspector_, caf::exit_reason::user_shutdown);
  self->wait_for(inspector_);
  inspector_ = inspector_actor{};
}

} // namespace herald::node
