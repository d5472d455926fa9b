#include "actors/store.hpp"
#include "actors/detail/instrument.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "core/metrics.hpp"
#include "persistence/crypto.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <memory>

namespace herald {

namespace {

using batch_ptr = store_queue::batch_ptr;
using self_ptr = store_actor::stateful_pointer<store_state>;

void drain(self_ptr self);

/// Ends a batch: answers everyone, frees its writer and starts the next
/// batch with what gathered meanwhile.
void finish(self_ptr self, const batch_ptr& batch, size_t writer,
            std::vector<submit_result>* results, const caf::error& err) {
  self->state.waiting.finish(writer, batch->size());
  for (size_t i = 0; i < batch->size(); ++i) {
    if (results != nullptr)
      (*batch)[i].promise.deliver(std::move((*results)[i]));
    else
      (*batch)[i].promise.deliver(err);
  }
  drain(self);
}

/// Marks the batch's rows rejected on the writer that wrote them (after
/// the write it may still be running), then refuses the batch. A failed
/// write rolled back and left nothing to reject; the reject is for a write
/// that committed after its deadline (or whose answer was lost), so that
/// what a client was refused is not delivered.
void reject_and_fail(self_ptr self, const batch_ptr& batch, size_t w,
                     std::vector<std::string> ids, const caf::error& err) {
  spdlog::warn("store: refusing a batch of {}: {}", batch->size(),
               render(err));
  record_failure(self, "refused a batch: " + render(err));
  auto fail = [self, batch, w, err] { finish(self, batch, w, nullptr, err); };
  self
    ->request(self->state.writers[w], self->state.step_timeout,
              reject_atom::value, std::move(ids))
    .then([fail](bool) { fail(); },
          [fail](caf::error& reject_err) {
            // Only if the write did commit does a refused message stay
            // queued (delivered, at least once, as a retry by the client
            // would be; with an idempotency key, that retry finds it).
            spdlog::error("store: cannot reject rows now: {}",
                          render(reject_err));
            fail();
          });
}

/// Runs one batch on writer `w`, which stores and queues it in one
/// transaction, then answers.
void write_batch(self_ptr self, size_t w, const batch_ptr& batch) {
  auto& st = self->state;
  if (st.stats != nullptr)
    st.stats->store_batch_size.Observe(static_cast<double>(batch->size()));
  std::vector<stored_message> msgs;
  std::vector<std::string> all_ids;
  msgs.reserve(batch->size());
  for (auto& x : *batch) {
    msgs.push_back(x.item);
    all_ids.push_back(x.item.id);
  }
  self->request(st.writers[w], st.step_timeout, write_atom::value,
                std::move(msgs))
    .then(
      [self, batch, w](std::vector<submit_result>& results) {
        // Only messages that won their row went to Redis; replays point at
        // messages that are queued already (or in this batch).
        std::vector<std::string> ids;
        for (const auto& r : results)
          if (r.outcome == submit_outcome::accepted)
            ids.push_back(message_id::text_of(r.message_id));
        if (!ids.empty()) {
          if (auto* stats = self->state.stats) {
            stats->stages.store.Increment(static_cast<double>(ids.size()));
            stats->stages.queue.Increment(static_cast<double>(ids.size()));
          }
          self->send(self->state.queue, commit_atom::value, std::move(ids));
        }
        finish(self, batch, w, &results, {});
      },
      [self, batch, w, all_ids](caf::error& err) {
        // A timeout or a lost answer: the commit may still land. Reject
        // whatever the batch wrote.
        reject_and_fail(self, batch, w, all_ids, err);
      });
}

/// Refuses submissions that waited too long for a writer, then starts
/// batches while there are submissions and idle writers.
void drain(self_ptr self) {
  auto& st = self->state;
  auto expired = st.waiting.expire(
    self->clock().now(),
    make_error(errc::overloaded, "no store writer became free in time"));
  if (expired > 0 && st.stats != nullptr)
    st.stats->rejections.Add({{"reason", "store_busy"}})
      .Increment(static_cast<double>(expired));
  while (st.waiting.can_start()) {
    auto [w, batch] = st.waiting.start();
    write_batch(self, w, batch);
  }
}

} // namespace

store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self, config::store_config cfg,
      caf::timespan step_timeout, std::vector<store_writer_actor> writers,
      queue_actor queue, metrics* stats) {
  auto& st = self->state;
  st.cfg = cfg;
  st.step_timeout = step_timeout;
  st.writers = std::move(writers);
  st.waiting = store_queue{st.writers.size(), cfg.batch_size,
                           cfg.max_pending};
  st.queue = std::move(queue);
  st.stats = stats;
  return instrumented(self,
    [self](submit_atom, stored_message& msg)
      -> caf::typed_response_promise<submit_result> {
      metrics::sample_mailbox(self->state.stats, self);
      return admit<submit_result>(self, std::move(msg),
                                  "too many submissions are waiting", drain);
    },
    [self](flush_atom) {
      self->state.flush_scheduled = false;
      drain(self);
    }
  );
}

store_actor spawn_store(caf::actor_system& sys, config::store_config cfg,
                        caf::timespan step_timeout,
                        std::vector<store_writer_actor> writers,
                        queue_actor queue, metrics* stats) {
  return sys.spawn(store, cfg, step_timeout, std::move(writers),
                   std::move(queue), stats);
}

} // namespace herald
