#include "actors/recovery.hpp"
#include "actors/detail/instrument.hpp"

#include "actors/audit.hpp"
#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "core/metrics.hpp"
#include "persistence/clients.hpp"
#include "persistence/crypto.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/reconnect.hpp"
#include "persistence/message_store.hpp"
#include "net/client_registry.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <map>
#include <utility>

namespace herald {

namespace {

constexpr size_t sweep_page = 1000;

std::string text_id(const std::string& raw) {
  return message_id::text_of(raw);
}

/// Queues again every queued message that Redis no longer holds.
caf::expected<uint64_t> requeue_lost(persistence::mysql_connection& db,
                                     persistence::redis_connection& redis) {
  uint64_t requeued = 0;
  std::string after;
  for (;;) {
    auto ids = persistence::queued_ids(db, after, sweep_page);
    if (!ids)
      return ids.error();
    if (ids->empty())
      return requeued;
    after = ids->back();
    std::vector<std::string> text;
    for (const auto& raw : *ids)
      text.push_back(text_id(raw));
    auto live = persistence::are_live(redis, text);
    if (!live)
      return live.error();
    std::vector<std::string> missing;
    for (size_t i = 0; i < text.size(); ++i)
      if (!(*live)[i])
        missing.push_back((*ids)[i]);
    // A delivery that finished after the page was read is no longer live,
    // but MySQL says delivered by now: only what is still deliverable is
    // lost.
    auto deliverable = persistence::still_deliverable(db, missing);
    if (!deliverable)
      return deliverable.error();
    std::vector<std::string> lost;
    for (const auto& raw : *deliverable)
      lost.push_back(text_id(raw));
    if (!lost.empty()) {
      if (auto queued = persistence::enqueue(redis, lost); !queued)
        return queued.error();
      requeued += lost.size();
    }
  }
}

caf::expected<sweep_report> sweep(recovery_state& st) {
  sweep_report report;
  if (auto err = persistence::ensure_connected(st.db, st.cfg.mysql))
    return err;
  if (auto err = persistence::ensure_connected(st.redis, st.cfg.redis))
    return err;
  // Every node samples the backlog's age, not only the lock holder: a
  // node that stops winning the lock would keep a stale value.
  if (st.stats != nullptr) {
    auto age = persistence::oldest_pending_age(*st.db);
    if (!age)
      return age.error();
    st.stats->oldest_pending_age.Set(*age);
  }
  // The lock expires before the next sweep of any node is due.
  auto locked = persistence::try_lock(*st.redis, st.cfg.node,
                                      st.cfg.recovery.interval * 9 / 10);
  if (!locked)
    return locked.error();
  if (!*locked)
    return report;
  report.ran = true;
  auto requeued = requeue_lost(*st.db, *st.redis);
  if (!requeued)
    return requeued.error();
  report.requeued = *requeued;
  auto rejected = persistence::reject_stale_accepting(
    *st.db, st.cfg.recovery.accepting_grace);
  if (!rejected)
    return rejected.error();
  report.rejected = *rejected;
  auto purged = persistence::purge_idempotency_keys(*st.db);
  if (!purged)
    return purged.error();
  report.keys_purged = *purged;
  if (st.stats != nullptr) {
    if (auto length = persistence::pending_length(*st.redis))
      st.stats->queue_length.Set(static_cast<double>(*length));
    st.stats->recovered_messages.Increment(static_cast<double>(*requeued));
  }
  return report;
}

caf::expected<sweep_report> sweep_logged(recovery_state& st) {
  auto report = sweep(st);
  if (!report) {
    st.db.reset();
    st.redis.reset();
    spdlog::warn("recovery: sweep failed: {}", render(report.error()));
  } else if (report->requeued > 0 || report->rejected > 0) {
    spdlog::warn("recovery: queued {} lost messages again, rejected {} "
                 "stuck ones",
                 report->requeued, report->rejected);
  }
  return report;
}

} // namespace

recovery_actor::behavior_type
recovery(recovery_actor::stateful_pointer<recovery_state> self,
         maintenance_config cfg, metrics* stats) {
  self->state.cfg = std::move(cfg);
  self->state.stats = stats;
  self->send(self, tick_atom::value);
  return instrumented(self,
    [self](tick_atom) {
      sweep_logged(self->state);
      self->delayed_send(self, self->state.cfg.recovery.interval,
                         tick_atom::value);
    },
    [self](sweep_atom) -> caf::result<sweep_report> {
      auto report = sweep_logged(self->state);
      if (!report)
        return report.error();
      return *report;
    }
  );
}

recovery_actor spawn_recovery(caf::actor_system& sys, maintenance_config cfg,
                              metrics* stats) {
  return sys.spawn<caf::detached>(recovery, std::move(cfg), stats);
}

std::vector<audit_event> registry_changes(const persistence::client_map& before,
                                          const persistence::client_map& after,
                                          size_t limit) {
  // Sorted, so that the events come in a stable order.
  std::map<std::string, std::pair<const persistence::client_identity*,
                                  const persistence::client_identity*>>
    changed;
  for (const auto& [fingerprint, now] : after) {
    auto i = before.find(fingerprint);
    if (i == before.end() || i->second.active != now.active)
      changed[fingerprint] = {i == before.end() ? nullptr : &i->second, &now};
  }
  for (const auto& [fingerprint, then] : before)
    if (after.count(fingerprint) == 0)
      changed[fingerprint] = {&then, nullptr};
  std::vector<audit_event> result;
  for (const auto& [fingerprint, change] : changed) {
    if (result.size() == limit) {
      result.push_back(node_event("registry.change",
                                  std::to_string(changed.size() - limit)
                                    + " more certificates",
                                  "one event each for the first "
                                    + std::to_string(limit)));
      break;
    }
    const auto& [then, now] = change;
    const auto& who = now != nullptr ? *now : *then;
    const char* action = now == nullptr      ? "registry.remove"
                         : then == nullptr   ? "registry.add"
                         : now->active       ? "registry.enable"
                                             : "registry.disable";
    std::string detail = "certificate " + fingerprint + " (" + who.kind + ")";
    if (now != nullptr && !now->active)
      detail += then == nullptr ? ", not active"
                                : ", refused from now on (revoked, expired "
                                  "or its client disabled)";
    result.push_back(node_event(action,
                                who.name.empty() ? "(node certificate)"
                                                 : who.name,
                                std::move(detail)));
  }
  return result;
}

namespace {

/// Loads every client and certificate into the registry; returns whether
/// it worked (else the registry keeps what it had).
bool reload_clients(client_directory_state& st) {
  auto err = persistence::ensure_connected(st.db, st.cfg.mysql);
  if (!err) {
    if (auto clients = persistence::load_client_map(*st.db)) {
      // A diff of two maps of every certificate: linear, and a copy of the
      // map per reload, small next to the query.
      if (st.audit) {
        if (st.seen)
          for (auto& x : registry_changes(*st.seen, *clients))
            caf::anon_send(st.audit, std::move(x));
        st.seen = *clients;
      }
      st.registry->replace(std::move(*clients));
    } else {
      err = clients.error();
    }
  }
  if (err) {
    // Keep serving the last known clients.
    st.db.reset();
    spdlog::warn("client-directory: reload failed: {}", render(err));
  }
  return !err;
}

} // namespace

client_directory_actor::behavior_type client_directory(
  client_directory_actor::stateful_pointer<client_directory_state> self,
  maintenance_config cfg, net::client_registry* registry, audit_actor audit) {
  self->state.cfg = std::move(cfg);
  self->state.registry = registry;
  self->state.audit = std::move(audit);
  self->send(self, tick_atom::value);
  return instrumented(self,
    [self](tick_atom) {
      reload_clients(self->state);
      self->delayed_send(self, self->state.cfg.recovery.clients_refresh,
                         tick_atom::value);
    },
    [self](reload_atom) { return reload_clients(self->state); }
  );
}

client_directory_actor spawn_client_directory(caf::actor_system& sys,
                                              maintenance_config cfg,
                                              net::client_registry* registry,
                                              audit_actor audit) {
  return sys.spawn<caf::detached>(client_directory, std::move(cfg), registry,
                                  std::move(audit));
}

} // namespace herald
