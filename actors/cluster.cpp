#include "actors/cluster.hpp"
#include "actors/detail/instrument.hpp"

#include "core/errc.hpp"
#include "core/metrics.hpp"
#include "core/time.hpp"
#include "core/version.hpp"
#include "net/cluster_link.hpp"
#include "persistence/cluster_view.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/reconnect.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace herald {

namespace {

using cluster_ptr = cluster_actor::stateful_pointer<cluster_state>;

/// How often the lease holder reads the count of announced changes: the
/// change reaches every member within a second (the issue's bound) with
/// room for the reloads.
constexpr auto change_poll_interval = std::chrono::milliseconds{200};

/// The lease lasts three rejoin intervals, so a holder that misses one
/// renewal keeps it; a lost holder's lease is freed at once.
int64_t lease_ttl_ms(const cluster_state& st) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           st.cfg.cluster.rejoin_interval * 3)
    .count();
}

bool holds_lease(const cluster_state& st) {
  return st.lease_holder == st.cfg.self.name;
}

/// Closes the links of peers no longer allowed (revoked, disabled).
void recheck_links(cluster_ptr self) {
  if (auto closed = self->state.transport->links->recheck(); closed > 0)
    spdlog::warn("cluster: closed {} links of peers no longer allowed",
                 closed);
}

/// Reloads what an announced change touches (clients and certificates,
/// the CRL, the data keys), then rechecks the links against the registry.
void apply_change(cluster_ptr self, const char* via) {
  auto& st = self->state;
  if (auto* m = st.stats)
    m->cluster_changes_applied.Add({{"via", via}}).Increment();
  auto timeout = st.cfg.cluster.connection_timeout;
  auto failed = [](caf::error& err) {
    spdlog::warn("cluster: cannot apply an announced change now ({}); the "
                 "periodic reload will",
                 render(err));
  };
  if (st.cfg.pki)
    self->request(st.cfg.pki, timeout, reload_atom::value)
      .then([](bool) {}, failed);
  if (st.cfg.directory)
    self->request(st.cfg.directory, timeout, reload_atom::value)
      .then([self](bool) { recheck_links(self); }, failed);
}

/// Takes in who holds the lease: names the audit writer to the local audit
/// actor when it changed, and starts reading announced changes when this
/// node became the holder.
void follow_holder(cluster_ptr self, const std::string& holder) {
  auto& st = self->state;
  if (holder != st.lease_holder)
    spdlog::info("cluster: '{}' holds the lease: it writes the audit chain "
                 "and passes announced changes on",
                 holder);
  st.lease_holder = holder;
  bool mine = holds_lease(st);
  if (auto* m = st.stats)
    m->cluster_lease_held.Set(mine ? 1 : 0);
  if (mine && !st.polling) {
    st.polling = true;
    self->send(self, poll_atom::value);
  }
  audit_actor lead;
  if (mine)
    lead = st.cfg.audit;
  else if (auto i = st.members.find(holder); i != st.members.end())
    lead = caf::actor_cast<audit_actor>(i->second.info.audit);
  if (lead.address() == st.audit_lead.address() || !st.cfg.audit)
    return;
  st.audit_lead = lead;
  self->send(st.cfg.audit, lead_atom::value, caf::actor_cast<caf::actor>(lead));
}

/// Takes the lease when it is free, renews it when this node holds it,
/// and follows whoever holds it.
void hold_lease(cluster_ptr self) {
  auto& st = self->state;
  if (persistence::ensure_connected(st.redis, st.cfg.redis))
    return;
  auto holder
    = persistence::hold_lease(*st.redis, st.cfg.self.name, lease_ttl_ms(st));
  if (!holder) {
    st.redis.reset();
    spdlog::warn("cluster: cannot hold or read the lease: {}",
                 render(holder.error()));
    return;
  }
  follow_holder(self, *holder);
}

/// The lease holder's timer: passes each announced change to every member
/// and applies it here.
void poll_changes(cluster_ptr self) {
  auto& st = self->state;
  if (!holds_lease(st)) {
    st.polling = false;
    return;
  }
  // No reconnect here: the tick does that, not five times a second.
  if (st.redis) {
    auto count = persistence::changes_announced(*st.redis);
    if (!count) {
      st.redis.reset();
    } else if (*count != st.changes_seen) {
      if (st.changes_seen >= 0 && *count > st.changes_seen) {
        for (const auto& entry : st.members)
          self->send(entry.second.handle, change_atom::value, *count);
        apply_change(self, "feed");
      }
      st.changes_seen = *count;
    }
  }
  self->delayed_send(self, change_poll_interval, poll_atom::value);
}

/// This node as members see it. Its handle is added per message, never
/// kept in the state: a handle to itself would keep the actor alive.
member_info me(cluster_ptr self) {
  auto result = self->state.cfg.self;
  result.cluster = caf::actor_cast<caf::actor>(self);
  return result;
}

/// What a node answers to a join: itself first, then every member it knows.
std::vector<member_info> view_of(cluster_ptr self) {
  std::vector<member_info> result{me(self)};
  for (const auto& entry : self->state.members)
    result.push_back(entry.second.info);
  return result;
}

bool is_member_address(cluster_ptr self, const std::string& address) {
  auto& st = self->state;
  if (address == st.cfg.cluster.listen)
    return true;
  for (const auto& entry : st.members)
    if (entry.second.info.address == address)
      return true;
  return false;
}

void count_members(cluster_ptr self) {
  if (auto* m = self->state.stats)
    m->cluster_members.Set(
      static_cast<double>(self->state.members.size() + 1));
}

/// Adds `info` (or refreshes it); monitors a new member and introduces its
/// delivery actors to the local queue.
void add_member(cluster_ptr self, member_info info) {
  auto& st = self->state;
  auto handle = caf::actor_cast<cluster_actor>(info.cluster);
  if (!handle || info.name == st.cfg.self.name)
    return;
  auto now = unix_now_ms();
  auto i = st.members.find(info.name);
  if (i != st.members.end() && i->second.handle == handle) {
    i->second.info = std::move(info);
    i->second.last_seen_ms = now;
    return;
  }
  if (i != st.members.end()) {
    // The same name from another process: the old one restarted.
    self->demonitor(i->second.handle.address());
    st.members.erase(i);
  }
  self->monitor(handle);
  spdlog::info("cluster: '{}' ({}, roles {}) joined", info.name, info.address,
               fmt::join(info.roles, ","));
  if (st.cfg.queue)
    for (const auto& worker : info.delivery)
      if (auto typed = caf::actor_cast<delivery_actor>(worker))
        self->send(st.cfg.queue, caf::join_atom::value, typed);
  if (auto* m = st.stats)
    m->cluster_member_changes.Add({{"event", "joined"}}).Increment();
  auto name = info.name;
  st.members.emplace(name, cluster_member{std::move(info), handle, now});
  count_members(self);
  // The holder's audit actor is known from now on.
  if (name == st.lease_holder)
    follow_holder(self, name);
}

void connect(cluster_ptr self, const std::string& address);

/// Takes in a member's answer to our introduction: adds it and connects
/// to the members it knows that we do not.
void learn(cluster_ptr self, std::vector<member_info>& view) {
  if (view.empty())
    return;
  add_member(self, std::move(view.front()));
  for (size_t i = 1; i < view.size(); ++i) {
    const auto& other = view[i];
    if (other.name != self->state.cfg.self.name
        && self->state.members.count(other.name) == 0)
      connect(self, other.address);
  }
}

/// Introduces this node to the cluster actor `peer`.
void introduce(cluster_ptr self, const cluster_actor& peer,
               const std::string& address) {
  auto timeout = self->state.cfg.cluster.connection_timeout;
  self->request(peer, timeout, caf::join_atom::value, me(self))
    .then(
      [self, address](std::vector<member_info>& view) {
        // Done either way: a member that restarts later is connected to
        // again (a seed that comes back knows no one by itself).
        self->state.connecting.erase(address);
        learn(self, view);
      },
      [self, address](caf::error& err) {
        self->state.connecting.erase(address);
        spdlog::warn("cluster: {} refused or did not answer the join: {}",
                     address, render(err));
      });
}

/// Links to the member at `address` (over the TLS links and the
/// middleman, never the blocking remote_actor) and introduces this node.
void connect(cluster_ptr self, const std::string& address) {
  auto& st = self->state;
  if (st.connecting.count(address) > 0 || is_member_address(self, address))
    return;
  std::string host;
  uint16_t port = 0;
  if (config::split_host_port("cluster", address, host, port))
    return;
  auto local = st.transport->links->forward(host, port);
  if (!local) {
    spdlog::warn("cluster: cannot link to {}: {}", address,
                 render(local.error()));
    return;
  }
  st.connecting.insert(address);
  auto mm = self->system().middleman().actor_handle();
  self
    ->request(mm, st.cfg.cluster.connection_timeout, caf::connect_atom::value,
              std::string{"127.0.0.1"}, *local)
    .then(
      [self, address](const caf::node_id&, caf::strong_actor_ptr& ptr,
                      const std::set<std::string>& ifs) {
        auto& st = self->state;
        st.connecting.erase(address);
        if (!ptr || !self->system().assignable<cluster_actor>(ifs)) {
          spdlog::error("cluster: {} runs a Herald whose messages differ "
                        "from this one's ({}): upgrade the older node",
                        address, herald::version);
          return;
        }
        st.connecting.insert(address);
        introduce(self, caf::actor_cast<cluster_actor>(ptr), address);
      },
      [self, address](caf::error& err) {
        self->state.connecting.erase(address);
        spdlog::debug("cluster: no link to {} yet: {}", address, render(err));
      });
}

/// A member went away: forget it and, unless it left in order, return its
/// in-flight work to pending now rather than when its lease lapses.
void on_down(cluster_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  for (auto i = st.members.begin(); i != st.members.end(); ++i) {
    if (i->second.handle.address() != msg.source)
      continue;
    auto name = i->first;
    bool orderly = msg.reason == caf::exit_reason::user_shutdown
                   || msg.reason == caf::exit_reason::normal;
    bool delivers = std::count(i->second.info.roles.begin(),
                               i->second.info.roles.end(), "delivery")
                    > 0;
    st.members.erase(i);
    count_members(self);
    if (auto* m = st.stats)
      m->cluster_member_changes.Add({{"event", orderly ? "left" : "lost"}})
        .Increment();
    // A holder that left freed its lease; a lost one's is freed here, so
    // that a live member writes the audit chain within a second.
    if (name == st.lease_holder) {
      if (!orderly && !persistence::ensure_connected(st.redis, st.cfg.redis))
        persistence::free_lease_of(*st.redis, name);
      hold_lease(self);
    }
    if (orderly) {
      spdlog::info("cluster: '{}' left", name);
      return;
    }
    spdlog::warn("cluster: lost '{}': {}", name, caf::to_string(msg.reason));
    audit_event event;
    event.actor = "heraldd";
    event.action = "cluster.lost";
    event.target = name;
    event.source = "heraldd@" + st.cfg.self.name;
    event.detail = caf::to_string(msg.reason);
    event.at_ms = unix_now_ms();
    if (st.cfg.audit)
      self->send(st.cfg.audit, std::move(event));
    if (!delivers)
      return;
    if (auto err = persistence::ensure_connected(st.redis, st.cfg.redis)) {
      spdlog::warn("cluster: cannot return the work of '{}' ({}); its lease "
                   "lapses within delivery.lease-ttl",
                   name, render(err));
      return;
    }
    auto moved = persistence::return_work_of(*st.redis, name);
    if (!moved) {
      st.redis.reset();
      spdlog::warn("cluster: cannot return the work of '{}' ({}); its lease "
                   "lapses within delivery.lease-ttl",
                   name, render(moved.error()));
      return;
    }
    if (auto* m = st.stats)
      m->cluster_returned_messages.Increment(static_cast<double>(*moved));
    spdlog::info("cluster: returned {} in-flight messages of '{}' to pending",
                 *moved, name);
    return;
  }
}

/// Writes this node's view to Redis for heraldctl cluster status.
void record_view(cluster_ptr self) {
  auto& st = self->state;
  persistence::member_record rec;
  const auto& info = st.cfg.self;
  rec.name = info.name;
  rec.roles = info.roles;
  rec.address = info.address;
  rec.version = info.version;
  rec.protocol = info.protocol;
  rec.started_at_ms = info.started_at_ms;
  rec.heartbeat_ms = unix_now_ms();
  rec.healthy = st.healthy;
  rec.fingerprint = st.cfg.fingerprint;
  for (const auto& entry : st.members)
    rec.peers.push_back(entry.first);
  if (auto err = persistence::ensure_connected(st.redis, st.cfg.redis)) {
    spdlog::debug("cluster: cannot record the view: {}", render(err));
    return;
  }
  if (auto err = persistence::record_member(*st.redis, rec)) {
    st.redis.reset();
    spdlog::debug("cluster: cannot record the view: {}", render(err));
  }
}

/// Copies the links' counters into the metrics.
void count_links(cluster_ptr self) {
  auto& st = self->state;
  auto* m = st.stats;
  if (m == nullptr)
    return;
  const auto& x = st.transport->links->stats();
  m->cluster_links.Add({{"direction", "in"}})
    .Set(static_cast<double>(x.open_inbound.load()));
  m->cluster_links.Add({{"direction", "out"}})
    .Set(static_cast<double>(x.open_outbound.load()));
  std::pair<const char*, uint64_t> refusals[] = {
    {"no_certificate", x.refused_no_certificate.load()},
    {"bad_chain", x.refused_bad_chain.load()},
    {"revoked", x.refused_revoked.load()},
    {"handshake", x.refused_handshake.load()},
    {"not_allowed", x.refused_not_allowed.load()},
    {"limit", x.refused_limit.load()},
  };
  for (const auto& [reason, total] : refusals) {
    auto& counted = st.refusals_counted[reason];
    auto& counter = m->cluster_link_refusals.Add({{"reason", reason}});
    if (total > counted)
      counter.Increment(static_cast<double>(total - counted));
    counted = total;
  }
}

void tick(cluster_ptr self) {
  auto& st = self->state;
  // Revocations and disabled nodes reach open links too.
  recheck_links(self);
  for (const auto& seed : st.cfg.cluster.seeds)
    connect(self, seed);
  for (const auto& entry : st.members)
    self
      ->request(entry.second.handle, st.cfg.cluster.connection_timeout,
                caf::join_atom::value, me(self))
      .then([self](std::vector<member_info>& view) { learn(self, view); },
            [](caf::error&) {
              // nop: a lost member ends in a down message
            });
  if (st.cfg.health)
    self->request(st.cfg.health, st.cfg.cluster.connection_timeout,
                  caf::get_atom::value)
      .then(
        [self](health_report& report) {
          self->state.healthy = report.healthy();
        },
        [self](caf::error&) { self->state.healthy = false; });
  count_links(self);
  record_view(self);
  hold_lease(self);
  self->delayed_send(self, st.cfg.cluster.rejoin_interval, tick_atom::value);
}

} // namespace

cluster_actor::behavior_type
cluster(cluster_actor::stateful_pointer<cluster_state> self,
        cluster_node_config cfg, std::shared_ptr<cluster_transport> transport,
        metrics* stats) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.transport = std::move(transport);
  st.stats = stats;
  self->set_down_handler(
    [self](caf::down_msg& msg) { on_down(self, msg); });
  // Leaving in order: members see the exit reason and leave the work to
  // this node's delivery actors, which put it back as they stop.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    if (!persistence::ensure_connected(st.redis, st.cfg.redis)) {
      persistence::forget_member(*st.redis, st.cfg.self.name);
      persistence::free_lease_of(*st.redis, st.cfg.self.name);
    }
    self->quit(msg.reason);
  });
  count_members(self);
  return instrumented(self,
    [self](caf::join_atom,
           member_info& info) -> caf::result<std::vector<member_info>> {
      auto& st = self->state;
      if (info.protocol != cluster_protocol) {
        spdlog::error("cluster: refused '{}' ({}): it speaks cluster "
                      "protocol {} (Herald {}), this node {} (Herald {}); "
                      "upgrade the older node",
                      info.name, info.address, info.protocol, info.version,
                      cluster_protocol, st.cfg.self.version);
        return make_error(errc::invalid_input,
                          "cluster protocol " + std::to_string(info.protocol)
                            + " is not " + std::to_string(cluster_protocol)
                            + " (Herald " + st.cfg.self.version
                            + "): upgrade the older node");
      }
      if (info.name == st.cfg.self.name) {
        spdlog::error("cluster: refused a node at {} that claims this "
                      "node's name '{}': give every node its own node.name",
                      info.address, info.name);
        return make_error(errc::conflict, "node.name '" + info.name
                                            + "' is taken in this cluster");
      }
      add_member(self, std::move(info));
      return view_of(self);
    },
    [self](listen_atom) {
      if (self->state.joined)
        return;
      self->state.joined = true;
      tick(self);
    },
    [self](tick_atom) { tick(self); },
    [self](poll_atom) { poll_changes(self); },
    [self](change_atom, int64_t count) {
      auto& st = self->state;
      if (count <= st.changes_seen)
        return;
      st.changes_seen = count;
      apply_change(self, "broadcast");
    }
  );
}

cluster_actor spawn_cluster(caf::actor_system& sys, cluster_node_config cfg,
                            std::shared_ptr<cluster_transport> transport,
                            metrics* stats) {
  return sys.spawn<caf::detached>(cluster, std::move(cfg),
                                  std::move(transport), stats);
}

} // namespace herald
