#include "actors/inspector.hpp"

#include "actors/cluster.hpp"
#include "actors/detail/instrument.hpp"
#include "core/actor_stats.hpp"
#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "core/time.hpp"
#include "net/cluster_link.hpp"
#include "persistence/cluster_view.hpp"
#include "persistence/dead_letters.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/reconnect.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>

namespace herald {

namespace {

using inspector_pointer = inspector_actor::stateful_pointer<inspector_state>;

actor_report report_of(const actor_entry& x, const inspector_state& st) {
  auto counters = x.stats->read();
  actor_report result;
  result.id = x.id;
  result.type = x.type;
  result.name = x.name;
  result.node = st.cfg.node;
  result.started_ms = x.started_ms;
  result.handled = counters.handled;
  if (auto i = st.rates.find(x.id); i != st.rates.end())
    result.rate = i->second;
  result.mean_ns = counters.handled > 0 ? counters.total_ns / counters.handled
                                        : 0;
  result.p99_ns = counters.p99_ns;
  result.mailbox = counters.mailbox;
  result.mailbox_max = counters.mailbox_max;
  result.last_error = counters.last_error;
  result.last_error_ms = counters.last_error_ms;
  result.restarts = x.restarts;
  result.exited_ms = x.exited_ms;
  result.exit_reason = x.exit_reason;
  return result;
}

/// Rates since the previous sample, per running actor.
void sample(inspector_state& st) {
  auto now = std::chrono::steady_clock::now();
  auto seconds = std::chrono::duration<double>(now - st.sampled_at).count();
  std::map<uint64_t, uint64_t> handled;
  std::map<uint64_t, double> rates;
  for (const auto& x : actor_catalog::process().entries()) {
    if (x.exited_ms != 0)
      continue;
    auto n = x.stats->read().handled;
    handled[x.id] = n;
    auto before = st.handled.find(x.id);
    if (before != st.handled.end() && seconds > 0)
      rates[x.id] = static_cast<double>(n - before->second) / seconds;
  }
  st.handled = std::move(handled);
  st.rates = std::move(rates);
  st.sampled_at = now;
}

/// Member `x`'s certificate as a link verified it, or as it recorded it.
std::string identity_of(const persistence::member_record& x,
                        const std::vector<net::cluster_link_info>& links) {
  if (x.fingerprint.empty())
    return {};
  for (const auto& link : links)
    if (link.fingerprint == x.fingerprint)
      return link.common_name + " sha256:" + link.fingerprint;
  return "sha256:" + x.fingerprint;
}

caf::expected<std::vector<node_report>> nodes(inspector_state& st) {
  auto members = persistence::with_connection(
    st.redis, st.cfg.redis,
    [](auto& redis) { return persistence::read_members(redis); });
  if (!members)
    return members.error();
  std::vector<net::cluster_link_info> links;
  if (st.cfg.transport && st.cfg.transport->links)
    links = st.cfg.transport->links->links();
  auto now = unix_now_ms();
  std::vector<node_report> result;
  for (const auto& x : *members) {
    node_report r;
    r.name = x.name;
    r.roles = x.roles;
    r.address = x.address;
    r.version = x.version;
    r.started_at_ms = x.started_at_ms;
    r.heartbeat_age_ms = x.heartbeat_ms > 0 ? now - x.heartbeat_ms : -1;
    r.healthy = x.healthy;
    r.in_flight = x.in_flight;
    r.answering = x.name == st.cfg.node;
    r.tls_identity = r.answering ? "sha256:" + x.fingerprint
                                 : identity_of(x, links);
    result.push_back(std::move(r));
  }
  // This node first, then by name.
  std::sort(result.begin(), result.end(), [](const auto& x, const auto& y) {
    return x.answering != y.answering ? x.answering : x.name < y.name;
  });
  return result;
}

caf::expected<queue_report> queue(inspector_state& st) {
  queue_report result;
  auto redis_part = persistence::with_connection(
    st.redis, st.cfg.redis, [&result](auto& redis) -> caf::expected<bool> {
      auto pending = persistence::pending_length(redis);
      if (!pending)
        return pending.error();
      result.pending = *pending;
      auto members = persistence::read_members(redis);
      if (!members)
        return members.error();
      for (const auto& x : *members) {
        result.nodes.push_back(x.name);
        result.processing.push_back(x.in_flight);
      }
      auto scheduled = persistence::retry_count(redis);
      if (!scheduled)
        return scheduled.error();
      result.retry_scheduled = *scheduled;
      auto next = persistence::earliest_retry(redis);
      if (!next)
        return next.error();
      result.next_retry_ms = std::max<int64_t>(*next, 0);
      return true;
    });
  if (!redis_part)
    return redis_part.error();
  auto failed = persistence::with_connection(
    st.db, st.cfg.mysql,
    [](auto& db) { return persistence::count_messages(db, "failed"); });
  if (!failed)
    return failed.error();
  result.failed = *failed;
  return result;
}

/// The hops of the durable records: the row, its attempts, its outcome.
std::vector<trace_hop> hops_of(const persistence::message_record& m,
                               const std::vector<persistence::attempt_row>& attempts) {
  std::vector<trace_hop> result;
  result.push_back({m.created_ms, "accepted", "",
                    "ingress -> validator -> store: stored sealed for client "
                      + m.client});
  if (m.status != "rejected" && m.status != "accepting")
    result.push_back({m.created_ms, "queued", "",
                      "store-writer: into Redis in the batch's MySQL "
                      "transaction"});
  for (const auto& a : attempts) {
    auto detail = "attempt " + std::to_string(a.attempt) + ": " + a.outcome;
    if (a.http_status != 0)
      detail += ", HTTP " + std::to_string(a.http_status);
    if (!a.error.empty())
      detail += ", " + a.error;
    detail += ", " + std::to_string(a.latency_ms) + " ms";
    result.push_back({a.at_ms, "attempt", a.node, std::move(detail)});
  }
  if (m.requeued_ms != 0)
    result.push_back({m.requeued_ms, "requeued", "",
                      "requeued by an operator after "
                        + std::to_string(m.requeued_attempts) + " attempts"});
  if (m.status == "delivered")
    result.push_back({m.delivered_ms, "delivered", "", "outcome: delivered"});
  else if (m.status == "failed" || m.status == "rejected")
    result.push_back({m.updated_ms, m.status, "",
                      "outcome: " + m.status
                        + (m.last_error.empty() ? "" : ", " + m.last_error)});
  else if (m.next_attempt_ms != 0 && m.status != "accepting")
    result.push_back({m.next_attempt_ms, "next attempt", "", "scheduled"});
  // Requeues come after the attempts they follow; keep time order.
  std::stable_sort(result.begin(), result.end(),
                   [](const auto& x, const auto& y) {
                     return x.at_ms < y.at_ms;
                   });
  return result;
}

caf::expected<trace_report> trace(inspector_state& st,
                                  const std::string& text) {
  auto id = message_id::parse(text);
  if (!id)
    return make_error(errc::invalid_input,
                      "'" + text + "' is no message id: pass the canonical "
                                   "UUID the submission answered");
  trace_report result;
  result.message_id = id->to_string();
  std::vector<persistence::attempt_row> attempts;
  auto record = persistence::with_connection(
    st.db, st.cfg.mysql,
    [&](auto& db) -> caf::expected<persistence::message_record> {
      auto m = persistence::show_message(db, id->raw());
      if (!m)
        return m.error();
      auto rows = persistence::message_attempts(db, id->raw());
      if (!rows)
        return rows.error();
      attempts = std::move(*rows);
      return m;
    });
  if (!record)
    return record.error();
  result.status = record->status;
  result.hops = hops_of(*record, attempts);
  auto live = persistence::with_connection(
    st.redis, st.cfg.redis, [&](auto& redis) -> caf::expected<std::string> {
      auto members = persistence::read_members(redis);
      if (!members)
        return members.error();
      std::vector<std::string> names;
      for (const auto& x : *members)
        names.push_back(x.name);
      if (std::find(names.begin(), names.end(), st.cfg.node) == names.end())
        names.push_back(st.cfg.node);
      return persistence::locate(redis, result.message_id, names);
    });
  if (!live)
    return live.error();
  result.live = std::move(*live);
  return result;
}

} // namespace

caf::error validate(const inspector_config& cfg) {
  if (cfg.node.empty())
    return make_error(errc::invalid_config, "node.name: empty");
  if (cfg.sample_every.count() <= 0)
    return make_error(errc::invalid_config,
                      "inspector: the sampling interval must be positive");
  return caf::none;
}

inspector_actor::behavior_type
inspector(inspector_actor::stateful_pointer<inspector_state> self,
          inspector_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.sampled_at = std::chrono::steady_clock::now();
  self->send(self, tick_atom::value);
  return instrumented(self,
    [self](nodes_atom) -> caf::result<std::vector<node_report>> {
      auto result = nodes(self->state);
      if (!result)
        return result.error();
      return std::move(*result);
    },
    [self](actors_atom) {
      std::vector<actor_report> result;
      for (const auto& x : actor_catalog::process().entries())
        result.push_back(report_of(x, self->state));
      return result;
    },
    [self](caf::get_atom, uint64_t id) -> caf::result<actor_report> {
      for (const auto& x : actor_catalog::process().entries())
        if (x.id == id)
          return report_of(x, self->state);
      return make_error(errc::not_found,
                        "no actor " + std::to_string(id) + " on node "
                          + self->state.cfg.node
                          + "; see heraldctl inspect actors");
    },
    [self](queue_atom) -> caf::result<queue_report> {
      auto result = queue(self->state);
      if (!result)
        return result.error();
      return std::move(*result);
    },
    [self](trace_atom, const std::string& id) -> caf::result<trace_report> {
      auto result = trace(self->state, id);
      if (!result)
        return result.error();
      return std::move(*result);
    },
    [self](tick_atom) {
      sample(self->state);
      self->delayed_send(self, self->state.cfg.sample_every, tick_atom::value);
    });
}

inspector_actor spawn_inspector(caf::actor_system& sys, inspector_config cfg) {
  // Not detached: CAF 0.17's private threads can keep a stopped detached
  // actor alive and hang ~actor_system (actor-framework#1196, fixed in
  // 0.18); seen here about once in ten console shutdowns.
  return sys.spawn(inspector, std::move(cfg));
}

} // namespace herald
