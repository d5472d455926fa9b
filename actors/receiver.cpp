#include "actors/receiver.hpp"
#include "actors/detail/instrument.hpp"

#include "core/errc.hpp"
#include "core/metrics.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <memory>

namespace herald {

namespace {

using batch_ptr = receiver_queue::batch_ptr;
using self_ptr = receiver_actor::stateful_pointer<receiver_state>;

void drain(self_ptr self);

/// Ends a batch: answers everyone with their flag or `err`, frees its
/// writer and starts the next batch with what gathered meanwhile.
void finish(self_ptr self, const batch_ptr& batch, size_t writer,
            const std::vector<bool>* fresh, const caf::error& err) {
  self->state.waiting.finish(writer, batch->size());
  for (size_t i = 0; i < batch->size(); ++i) {
    if (fresh != nullptr)
      (*batch)[i].promise.deliver(static_cast<bool>((*fresh)[i]));
    else
      (*batch)[i].promise.deliver(err);
  }
  drain(self);
}

/// Answers the whole batch with `err`.
void fail(self_ptr self, const batch_ptr& batch, size_t w,
          const caf::error& err) {
  spdlog::warn("receiver: refusing a batch of {}: {}", batch->size(),
               render(err));
  record_failure(self, "refused a batch: " + render(err));
  finish(self, batch, w, nullptr, err);
}

/// Runs one batch on writer `w`: store -> answer.
void write_batch(self_ptr self, size_t w, const batch_ptr& batch) {
  auto& st = self->state;
  if (st.stats != nullptr)
    st.stats->receiver_batch_size.Observe(static_cast<double>(batch->size()));
  // The promises are all the batch needs from here on.
  std::vector<received_message> msgs;
  msgs.reserve(batch->size());
  for (auto& x : *batch)
    msgs.push_back(std::move(x.item));
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

/// Refuses deliveries that waited too long for a writer, then starts
/// batches while there are deliveries and idle writers.
void drain(self_ptr self) {
  auto& st = self->state;
  st.waiting.expire(self->clock().now(),
                    make_error(errc::overloaded,
                               "no receiver store became free in time"));
  while (st.waiting.can_start()) {
    auto [w, batch] = st.waiting.start();
    write_batch(self, w, batch);
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
  st.waiting = receiver_queue{st.writers.size(), cfg.batch_size,
                              cfg.max_pending};
  st.stats = stats;
  return instrumented(self,
    [self](receive_atom,
           received_message& msg) -> caf::typed_response_promise<bool> {
      metrics::sample_mailbox(self->state.stats, self);
      return admit<bool>(self, std::move(msg),
                         "too many deliveries are waiting", drain);
    },
    [self](flush_atom) {
      self->state.flush_scheduled = false;
      drain(self);
    }
  );
}

receiver_actor spawn_receiver(caf::actor_system& sys,
                              config::receiver_config cfg,
                              caf::timespan step_timeout,
                              std::vector<receiver_store_actor> writers,
                              metrics* stats) {
  return sys.spawn(receiver, cfg, step_timeout, std::move(writers), stats);
}

} // namespace herald
