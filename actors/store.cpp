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

void fail_all(store_state& st, const batch_ptr& batch, const caf::error& err) {
  st.in_flight -= batch->size();
  for (auto& x : *batch)
    x.promise.deliver(err);
}

void answer_all(store_state& st, const batch_ptr& batch,
                std::vector<submit_result>& results) {
  st.in_flight -= batch->size();
  for (size_t i = 0; i < batch->size(); ++i)
    (*batch)[i].promise.deliver(std::move(results[i]));
}

void write_batch(store_actor::stateful_pointer<store_state> self) {
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
  auto writer = st.writers[st.next_writer++ % st.writers.size()];
  auto timeout = st.step_timeout;
  self->request(writer, timeout, write_atom::value, std::move(msgs))
    .then(
      [self, batch, writer, timeout](std::vector<submit_result>& results) {
        // Only messages that won their row go to Redis; replays point at
        // messages that are queued already (or in this batch).
        std::vector<std::string> ids;
        for (const auto& r : results)
          if (r.outcome == submit_outcome::accepted)
            ids.push_back(r.message_id);
        if (ids.empty()) {
          answer_all(self->state, batch, results);
          return;
        }
        auto reject = [self, writer, timeout, ids](const caf::error& err) {
          spdlog::warn("store: rejecting {} messages: {}", ids.size(),
                       render(err));
          self->request(writer, timeout, reject_atom::value, ids)
            .then([](bool) {},
                  [n = ids.size()](caf::error& err) {
                    // The recovery sweep rejects them once they are stale.
                    spdlog::error("store: cannot reject {} messages now: {}",
                                  n, render(err));
                  });
        };
        std::vector<std::string> text_ids;
        text_ids.reserve(ids.size());
        for (const auto& id : ids) {
          persistence::uuid u;
          std::copy(id.begin(), id.end(), u.bytes.begin());
          text_ids.push_back(u.to_string());
        }
        self->request(self->state.queue, timeout, enqueue_atom::value,
                      std::move(text_ids))
          .then(
            [self, batch, writer, timeout, ids, results,
             reject](int64_t queue_length) mutable {
              if (self->state.stats != nullptr)
                self->state.stats->queue_length.Set(
                  static_cast<double>(queue_length));
              self->request(writer, timeout, commit_atom::value, ids)
                .then(
                  [self, batch, results](bool) mutable {
                    answer_all(self->state, batch, results);
                  },
                  [self, batch, reject](caf::error& err) {
                    // Redis has the ids, but rows stay "accepting" and are
                    // never delivered in that state.
                    reject(err);
                    fail_all(self->state, batch, err);
                  });
            },
            [self, batch, reject](caf::error& err) {
              reject(err);
              fail_all(self->state, batch, err);
            });
      },
      [self, batch](caf::error& err) {
        spdlog::warn("store: batch of {} not written: {}", batch->size(),
                     render(err));
        fail_all(self->state, batch, err);
      });
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
        write_batch(self);
      } else if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        self->delayed_send(self, st.cfg.batch_delay, flush_atom::value);
      }
      return promise;
    },
    [self](flush_atom) {
      auto& st = self->state;
      st.flush_scheduled = false;
      while (!st.pending.empty())
        write_batch(self);
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
