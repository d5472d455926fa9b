#include "actors/receiver.hpp"

#include "core/errc.hpp"
#include "core/metrics.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <memory>

namespace herald {

namespace {

using batch_ptr = std::shared_ptr<std::vector<pending_delivery>>;
using self_ptr = receiver_actor::stateful_pointer<receiver_state>;

void drain(self_ptr self);

/// Ends a batch: answers everyone with their flag or `err`, frees its
/// writer and starts the next batch with what gathered meanwhile.
void finish(self_ptr self, const batch_ptr& batch, size_t writer,
            const std::vector<bool>* fresh, const caf::error& err) {
  auto& st = self->state;
  st.in_flight -= batch->size();
  for (size_t i = 0; i < batch->size(); ++i) {
    if (fresh != nullptr)
      (*batch)[i].promise.deliver(static_cast<bool>((*fresh)[i]));
    else
      (*batch)[i].promise.deliver(err);
  }
  st.idle.push_back(writer);
  drain(self);
}

/// Answers the whole batch with `err`.
void fail(self_ptr self, const batch_ptr& batch, size_t w,
          const caf::error& err) {
  spdlog::warn("receiver: refusing a batch of {}: {}", batch->size(),
               render(err));
  finish(self, batch, w, nullptr, err);
}

/// Runs one batch on writer `w`: store -> answer.
void write_batch(self_ptr self, size_t w) {
  auto& st = self->state;
  auto count = std::min(st.pending.size(), st.cfg.batch_size);
  auto batch = std::make_shared<std::vector<pending_delivery>>(
    std::make_move_iterator(st.pending.begin()),
    std::make_move_iterator(st.pending.begin() + count));
  st.pending.erase(st.pending.begin(), st.pending.begin() + count);
  st.in_flight += count;
  if (st.stats != nullptr)
    st.stats->receiver_batch_size.Observe(static_cast<double>(count));
  // The promises are all the batch needs from here on.
  std::vector<received_message> msgs;
  msgs.reserve(count);
  for (auto& x : *batch)
    msgs.push_back(std::move(x.msg));
  self
    ->request(st.writers[w], st.step_timeout, receive_atom::value,
              std::move(msgs))
    .then(
      [self, batch, w](std::vector<bool>& fresh) {
        if (fresh.size() != batch->size())
          return fail(self, batch, w,
                      make_error(errc::database_failure,
                                 "receiver store answered "
                                   + std::to_string(fresh.size())
                                   + " flags for "
                                   + std::to_string(batch->size())
                                   + " messages"));
        finish(self, batch, w, &fresh, {});
      },
      [self, batch, w](caf::error& err) {
        // On a timeout the write may still commit: the sender's retry of
        // such a message is answered as a duplicate.
        fail(self, batch, w, err);
      });
}

/// Refuses deliveries that waited too long for a writer.
void expire_waiting(self_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  // Pending is in arrival order, so the expired ones lead.
  auto in_time = std::find_if(
    st.pending.begin(), st.pending.end(),
    [now](const pending_delivery& x) { return x.start_by > now; });
  for (auto i = st.pending.begin(); i != in_time; ++i)
    i->promise.deliver(make_error(errc::overloaded,
                                  "no receiver store became free in time"));
  st.pending.erase(st.pending.begin(), in_time);
}

/// Starts batches while there are deliveries and idle writers.
void drain(self_ptr self) {
  auto& st = self->state;
  expire_waiting(self);
  while (!st.pending.empty() && !st.idle.empty()) {
    auto w = st.idle.back();
    st.idle.pop_back();
    write_batch(self, w);
  }
}

} // namespace

receiver_actor::behavior_type
receiver(receiver_actor::stateful_pointer<receiver_state> self,
         config::receiver_config cfg, caf::timespan step_timeout,
         std::vector<receiver_store_actor> writers, metrics* stats) {
  auto& st = self->state;
  st.cfg = cfg;
  st.step_timeout = step_timeout;
  st.writers = std::move(writers);
  for (size_t i = 0; i < st.writers.size(); ++i)
    st.idle.push_back(i);
  st.stats = stats;
  return {
    [self](receive_atom,
           received_message& msg) -> caf::typed_response_promise<bool> {
      auto& st = self->state;
      metrics::sample_mailbox(st.stats, self);
      auto promise = self->make_response_promise<bool>();
      if (st.pending.size() + st.in_flight >= st.cfg.max_pending) {
        promise.deliver(make_error(errc::overloaded,
                                   "too many deliveries are waiting"));
        return promise;
      }
      st.pending.push_back({std::move(msg), promise,
                            self->clock().now() + st.step_timeout});
      if (st.pending.size() >= st.cfg.batch_size) {
        drain(self);
      } else if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        self->delayed_send(self, st.cfg.batch_delay, flush_atom::value);
      }
      return promise;
    },
    [self](flush_atom) {
      self->state.flush_scheduled = false;
      drain(self);
    },
  };
}

receiver_actor spawn_receiver(caf::actor_system& sys,
                              config::receiver_config cfg,
                              caf::timespan step_timeout,
                              std::vector<receiver_store_actor> writers,
                              metrics* stats) {
  return sys.spawn(receiver, cfg, step_timeout, std::move(writers), stats);
}

} // namespace herald
