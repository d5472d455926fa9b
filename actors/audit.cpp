#include "actors/audit.hpp"
#include "actors/detail/instrument.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "core/time.hpp"
#include "core/metrics.hpp"
#include "persistence/audit.hpp"
#include "persistence/mysql.hpp"
#include "persistence/reconnect.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <memory>
#include <optional>
#include <utility>

namespace herald {

namespace {

using audit_ptr = audit_actor::stateful_pointer<audit_state>;

void count_dropped(audit_state& st, const char* reason, uint64_t n = 1) {
  if (st.stats != nullptr && n > 0)
    st.stats->audit_events_dropped.Add({{"reason", reason}})
      .Increment(static_cast<double>(n));
}

void set_pending(audit_state& st) {
  if (st.stats != nullptr)
    st.stats->audit_pending.Set(static_cast<double>(st.buffer.size()));
}

/// The event that takes the place of events the full buffer dropped.
audit_event dropped_marker(const audit_state& st) {
  audit_event marker;
  marker.actor = "heraldd";
  marker.action = "audit.dropped";
  marker.target = st.cfg.source;
  marker.outcome = "failed";
  marker.source = st.cfg.source;
  marker.detail = "events dropped while the audit log could not be written "
                  "and "
                  + std::to_string(st.cfg.max_pending) + " were waiting";
  marker.at_ms = unix_now_ms();
  return marker;
}

bool is_lead(audit_ptr self) {
  return self->state.lead.address() == self->address();
}

/// A cluster member that knows no lead yet keeps its events quietly (at
/// start, until the cluster actor names one); lead_atom writes them.
bool waiting_for_lead(const audit_state& st) {
  return st.cfg.clustered && !st.lead;
}

/// Appends `batch` to the chain: itself, or in a cluster through the lead,
/// waiting for its answer (this actor is detached: it blocks as a database
/// write would). When no lead is known or it fails, only the `last_chance`
/// at shutdown writes itself, under the database lock as heraldctl does
/// (the ids keep a batch the lead did commit from being stored twice).
caf::error write(audit_ptr self, const std::vector<audit_event>& batch,
                 bool last_chance) {
  auto& st = self->state;
  if (!st.cfg.clustered || is_lead(self))
    return st.writer(batch);
  caf::error result = make_error(errc::timeout,
                                 "no cluster member is known to hold the "
                                 "lease that picks the audit writer");
  if (st.lead) {
    result = caf::none;
    caf::scoped_actor waiter{self->system()};
    waiter->request(st.lead, st.cfg.forward_timeout, append_atom::value, batch)
      .receive([](uint64_t) {},
               [&result](caf::error& err) { result = std::move(err); });
  }
  if (result && last_chance)
    return st.writer(batch);
  return result;
}

/// Writes the oldest batch; one bounded step. Returns whether it worked.
bool write_batch(audit_ptr self, bool last_chance = false) {
  auto& st = self->state;
  auto batch = st.buffer.peek();
  if (batch.empty())
    return true;
  if (waiting_for_lead(st) && !last_chance)
    return false;
  if (auto err = write(self, batch, last_chance)) {
    if (!st.failing)
      spdlog::error("audit: cannot write {} events to the audit log, "
                    "keeping them and trying again every {} ms: {}",
                    st.buffer.size(),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                      st.cfg.retry_interval)
                      .count(),
                    render(err));
    else
      spdlog::debug("audit: still cannot write: {}", render(err));
    st.failing = true;
    return false;
  }
  if (st.failing)
    spdlog::info("audit: the audit log is writable again");
  st.failing = false;
  ++st.batches_written;
  st.events_written += batch.size();
  if (auto lost = st.buffer.dropped(); lost > 0)
    spdlog::warn("audit: {} events were dropped while the audit log could "
                 "not be written; the chain records it (audit.dropped)",
                 lost);
  st.buffer.commit(batch.size(), dropped_marker(st));
  if (st.stats != nullptr) {
    for (const auto& x : batch)
      st.stats->audit_events.Add({{"action", x.action}}).Increment();
    st.stats->audit_batch_size.Observe(static_cast<double>(batch.size()));
  }
  set_pending(st);
  return true;
}

/// Sends the one flush_atom that the state calls for, unless one is on its
/// way: after a failure the retry, for a whole batch at once, else after
/// the batch delay.
void schedule_flush(audit_actor::stateful_pointer<audit_state> self) {
  auto& st = self->state;
  if (st.flush_scheduled || st.buffer.empty() || waiting_for_lead(st))
    return;
  st.flush_scheduled = true;
  if (st.failing)
    self->delayed_send(self, st.cfg.retry_interval, flush_atom::value);
  else if (st.buffer.has_batch())
    self->send(self, flush_atom::value);
  else
    self->delayed_send(self, st.cfg.batch_delay, flush_atom::value);
}

/// Writes batches until none waits or one fails; returns what still waits.
uint64_t drain(audit_ptr self) {
  auto& st = self->state;
  while (!st.buffer.empty() && write_batch(self, true)) {
    // nop
  }
  return st.buffer.size();
}

} // namespace

audit_event node_event(std::string action, std::string target,
                       std::string detail, bool ok) {
  audit_event x;
  x.actor = "heraldd";
  x.action = std::move(action);
  x.target = std::move(target);
  x.outcome = ok ? "ok" : "failed";
  x.detail = std::move(detail);
  return x;
}

caf::error validate(const audit_config& cfg) {
  if (cfg.batch_size == 0 || cfg.max_pending == 0
      || cfg.batch_size > cfg.max_pending)
    return make_error(errc::invalid_config,
                      "audit: batch size must be from 1 to max-pending");
  if (cfg.batch_delay.count() <= 0 || cfg.retry_interval.count() <= 0)
    return make_error(errc::invalid_config,
                      "audit: batch delay and retry interval must be "
                      "positive");
  return caf::none;
}

audit_writer make_audit_writer(config::mysql_config mysql, std::string key) {
  // std::function copies its target: the connection lives behind a
  // shared_ptr, used by the one actor that holds the writer.
  auto db = std::make_shared<std::optional<persistence::mysql_connection>>();
  return [db, mysql = std::move(mysql),
          key = std::move(key)](const std::vector<audit_event>& batch) {
    if (auto err = persistence::ensure_connected(*db, mysql))
      return err;
    // Half of heraldctl's wait for the lock: a node retries anyway.
    auto err = persistence::append_audit_batch(**db, key, batch, 5);
    if (err)
      db->reset();
    return err;
  };
}

audit_buffer::audit_buffer(size_t batch_size, size_t capacity)
  : batch_size_(batch_size), capacity_(capacity) {
  // nop
}

bool audit_buffer::add(audit_event x) {
  // The marker of earlier drops needs a slot of its own.
  if (pending_.size() + (dropped_ > 0 ? 1 : 0) >= capacity_) {
    ++dropped_;
    return false;
  }
  pending_.push_back(std::move(x));
  return true;
}

std::vector<audit_event> audit_buffer::peek() const {
  auto n = std::min(pending_.size(), batch_size_);
  return {pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n)};
}

void audit_buffer::commit(size_t n, audit_event marker) {
  n = std::min(n, pending_.size());
  pending_.erase(pending_.begin(),
                 pending_.begin() + static_cast<ptrdiff_t>(n));
  if (dropped_ == 0)
    return;
  marker.detail = std::to_string(dropped_) + " " + marker.detail;
  pending_.push_back(std::move(marker));
  dropped_ = 0;
}

audit_actor::behavior_type
audit(audit_actor::stateful_pointer<audit_state> self, audit_config cfg,
      audit_writer writer, metrics* stats) {
  auto& st = self->state;
  st.buffer = audit_buffer{cfg.batch_size, cfg.max_pending};
  st.cfg = std::move(cfg);
  st.writer = std::move(writer);
  st.stats = stats;
  if (stats != nullptr) {
    // Present from the start, so that alerts see 0 rather than nothing.
    for (const char* reason : {"buffer_full", "invalid", "no_key", "shutdown"})
      stats->audit_events_dropped.Add({{"reason", reason}});
    stats->audit_pending.Set(0);
  }
  // The last chance for what waits: the node asked for a drain before, so
  // this writes only what came after it, or logs what is lost.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    if (msg.reason == caf::exit_reason::normal)
      return;
    // After a failed drain the database is down: do not wait for it again.
    if (st.writer && !st.buffer.empty() && !st.failing)
      drain(self);
    if (auto left = st.buffer.size(); left > 0) {
      spdlog::error("audit: {} events of this node are lost: the audit log "
                    "could not be written before the node stopped",
                    left);
      count_dropped(st, "shutdown", left);
    }
    self->quit(msg.reason);
  });
  return instrumented(self,
    [self](audit_event& x) {
      auto& st = self->state;
      metrics::sample_mailbox(st.stats, self);
      if (!st.writer) {
        count_dropped(st, "no_key");
        return;
      }
      if (x.at_ms == 0)
        x.at_ms = unix_now_ms();
      if (x.id.empty())
        x.id = message_id::make_v7().to_string();
      if (x.source.empty())
        x.source = st.cfg.source;
      if (auto err = persistence::fit_audit_event(x)) {
        spdlog::error("audit: dropped an event: {}", render(err));
        count_dropped(st, "invalid");
        return;
      }
      if (!st.buffer.add(std::move(x))) {
        if (st.buffer.dropped() == 1)
          spdlog::error("audit: {} events wait for the audit log; dropping "
                        "new ones until it can be written",
                        st.buffer.size());
        count_dropped(st, "buffer_full");
        return;
      }
      // A whole batch goes at once, in this handler (one write); the
      // rest waits for the batch delay. After a failure only the retry
      // timer writes, so a down database is not waited for per event.
      if (!st.failing && st.buffer.has_batch())
        write_batch(self);
      set_pending(st);
      schedule_flush(self);
    },
    [self](lead_atom, caf::actor& lead) {
      auto& st = self->state;
      st.lead = caf::actor_cast<audit_actor>(lead);
      // What waited for a lead (or failed with the last one) goes now.
      if (st.lead && !st.buffer.empty()) {
        st.failing = false;
        write_batch(self);
        schedule_flush(self);
      }
    },
    [self](append_atom,
           std::vector<audit_event>& batch) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (!st.writer || !is_lead(self))
        return make_error(errc::conflict,
                          "this node does not write the audit chain now; "
                          "send the batch to the lease holder's");
      for (auto& x : batch)
        if (auto err = persistence::fit_audit_event(x))
          return err;
      if (auto err = st.writer(batch))
        return err;
      if (st.stats != nullptr)
        st.stats->audit_peer_events.Increment(
          static_cast<double>(batch.size()));
      return static_cast<uint64_t>(batch.size());
    },
    [self](flush_atom) {
      auto& st = self->state;
      st.flush_scheduled = false;
      write_batch(self);
      schedule_flush(self);
    },
    [self](drain_atom) -> uint64_t {
      auto left = drain(self);
      // A flush that is on its way finds less or nothing to do.
      schedule_flush(self);
      return left;
    }
  );
}

audit_actor spawn_audit(caf::actor_system& sys, audit_config cfg,
                        config::mysql_config mysql, std::string key,
                        metrics* stats) {
  audit_writer writer;
  if (key.empty())
    spdlog::warn("audit: crypto.audit-key-file is not set: this node's "
                 "audit events are not written (counted in "
                 "herald_audit_events_dropped_total{{reason=\"no_key\"}})");
  else
    writer = make_audit_writer(std::move(mysql), std::move(key));
  return sys.spawn<caf::detached>(audit, std::move(cfg), std::move(writer),
                                  stats);
}

} // namespace herald
