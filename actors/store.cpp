#include "actors/store.hpp"

#include "core/errc.hpp"
#include "core/metrics.hpp"
#include "persistence/crypto.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <memory>

namespace herald {

namespace {

using batch_ptr = std::shared_ptr<std::vector<pending_submission>>;
using self_ptr = store_actor::stateful_pointer<store_state>;

void drain(self_ptr self);

/// Ends a batch: answers everyone, frees its writer and starts the next
/// batch with what gathered meanwhile.
void finish(self_ptr self, const batch_ptr& batch, size_t writer,
            std::vector<submit_result>* results, const caf::error& err) {
  auto& st = self->state;
  st.in_flight -= batch->size();
  for (size_t i = 0; i < batch->size(); ++i) {
    if (results != nullptr)
      (*batch)[i].promise.deliver(std::move((*results)[i]));
    else
      (*batch)[i].promise.deliver(err);
  }
  st.idle.push_back(writer);
  drain(self);
}

std::vector<std::string> text_ids(const std::vector<std::string>& raw_ids) {
  std::vector<std::string> result;
  result.reserve(raw_ids.size());
  for (const auto& raw : raw_ids) {
    persistence::uuid id;
    std::copy(raw.begin(), raw.end(), id.bytes.begin());
    result.push_back(id.to_string());
  }
  return result;
}

/// Runs one batch on writer `w`: insert -> enqueue -> commit -> answer.
void write_batch(self_ptr self, size_t w) {
  auto& st = self->state;
  auto count = std::min(st.pending.size(), st.cfg.batch_size);
  auto batch = std::make_shared<std::vector<pending_submission>>(
    std::make_move_iterator(st.pending.begin()),
    std::make_move_iterator(st.pending.begin() + count));
  st.pending.erase(st.pending.begin(), st.pending.begin() + count);
  st.in_flight += count;
  if (st.stats != nullptr)
    st.stats->store_batch_size.Observe(static_cast<double>(count));
  std::vector<stored_message> msgs;
  msgs.reserve(count);
  for (auto& x : *batch)
    msgs.push_back(x.msg);
  auto writer = st.writers[w];
  auto timeout = st.step_timeout;
  auto fail = [self, batch, w](const caf::error& err) {
    finish(self, batch, w, nullptr, err);
  };
  self->request(writer, timeout, write_atom::value, std::move(msgs))
    .then(
      [self, batch, w, writer, timeout,
       fail](std::vector<submit_result>& results) {
        // Only messages that won their row go to Redis; replays point at
        // messages that are queued already (or in this batch).
        std::vector<std::string> ids;
        for (const auto& r : results)
          if (r.outcome == submit_outcome::accepted)
            ids.push_back(r.message_id);
        if (ids.empty())
          return finish(self, batch, w, &results, {});
        // Rejects the batch's rows on the same writer, after any commit it
        // may still be running, so nothing refused is ever delivered.
        auto reject_and_fail = [self, writer, timeout, ids,
                                fail](const caf::error& err) {
          spdlog::warn("store: rejecting {} messages: {}", ids.size(),
                       render(err));
          self->request(writer, timeout, reject_atom::value, ids)
            .then([](bool) {},
                  [n = ids.size()](caf::error& err) {
                    // The recovery sweep rejects them once they are stale.
                    spdlog::error("store: cannot reject {} messages now: {}",
                                  n, render(err));
                  });
          fail(err);
        };
        self
          ->request(self->state.queue, timeout, enqueue_atom::value,
                    text_ids(ids))
          .then(
            [self, batch, w, writer, timeout, ids, results,
             reject_and_fail](int64_t queue_length) mutable {
              if (self->state.stats != nullptr)
                self->state.stats->queue_length.Set(
                  static_cast<double>(queue_length));
              self->request(writer, timeout, commit_atom::value, ids)
                .then(
                  [self, batch, w, results](bool) mutable {
                    finish(self, batch, w, &results, {});
                  },
                  reject_and_fail);
            },
            reject_and_fail);
      },
      [batch, fail](caf::error& err) {
        spdlog::warn("store: batch of {} not written: {}", batch->size(),
                     render(err));
        fail(err);
      });
}

/// Starts batches while there are submissions and idle writers.
void drain(self_ptr self) {
  auto& st = self->state;
  while (!st.pending.empty() && !st.idle.empty()) {
    auto w = st.idle.back();
    st.idle.pop_back();
    write_batch(self, w);
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
  for (size_t i = 0; i < st.writers.size(); ++i)
    st.idle.push_back(i);
  st.queue = std::move(queue);
  st.stats = stats;
  return {
    [self](submit_atom, stored_message& msg)
      -> caf::typed_response_promise<submit_result> {
      auto& st = self->state;
      auto promise = self->make_response_promise<submit_result>();
      if (st.pending.size() + st.in_flight >= st.cfg.max_pending) {
        promise.deliver(make_error(errc::overloaded,
                                   "too many submissions are waiting"));
        return promise;
      }
      st.pending.push_back({std::move(msg), promise});
      if (st.pending.size() >= st.cfg.batch_size) {
        drain(self);
      } else if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        self->delayed_send(self, st.cfg.batch_delay, flush_atom::value);
      }
      return promise;
    },
    [self](flush_atom) {
      auto& st = self->state;
      st.flush_scheduled = false;
      drain(self);
    },
  };
}

store_actor spawn_store(caf::actor_system& sys, config::store_config cfg,
                        caf::timespan step_timeout,
                        std::vector<store_writer_actor> writers,
                        queue_actor queue, metrics* stats) {
  return sys.spawn(store, cfg, step_timeout, std::move(writers),
                   std::move(queue), stats);
}

} // namespace herald
