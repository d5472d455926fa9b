#pragma once

#include "actors/atoms.hpp"
#include "core/messages.hpp"
#include "core/errc.hpp"

#include <caf/actor_clock.hpp>
#include <caf/error.hpp>
#include <caf/typed_response_promise.hpp>

#include <algorithm>
#include <deque>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

namespace herald {

/// The waiting side of a group commit, shared by the store and the
/// receiver: requests in arrival order with their promises, and which
/// writers are idle. A batch starts only on an idle writer, so under load
/// requests gather into larger batches; what the batch does is the
/// actor's business.
template <class Item, class Result>
class group_commit {
public:
  struct entry {
    Item item;
    caf::typed_response_promise<Result> promise;
    /// Refused unless its batch has started by then.
    caf::actor_clock::time_point start_by;
  };

  using batch_ptr = std::shared_ptr<std::vector<entry>>;

  group_commit() = default;

  group_commit(size_t writers, size_t batch_size, size_t max_pending)
    : batch_size_(batch_size), max_pending_(max_pending) {
    for (size_t i = 0; i < writers; ++i)
      idle_.push_back(i);
  }

  /// Whether waiting and written requests have reached max_pending.
  bool full() const {
    return pending_.size() + in_flight_ >= max_pending_;
  }

  /// Queues a request; returns whether a whole batch is waiting.
  bool add(entry x) {
    pending_.push_back(std::move(x));
    return pending_.size() >= batch_size_;
  }

  /// Answers the requests whose start_by has passed with `err`; returns
  /// how many.
  size_t expire(caf::actor_clock::time_point now, const caf::error& err) {
    // In arrival order, so the expired ones lead.
    auto in_time = std::find_if(pending_.begin(), pending_.end(),
                                [now](const entry& x) {
                                  return x.start_by > now;
                                });
    auto n = static_cast<size_t>(in_time - pending_.begin());
    for (auto i = pending_.begin(); i != in_time; ++i)
      i->promise.deliver(err);
    pending_.erase(pending_.begin(), in_time);
    return n;
  }

  /// Whether a batch can start: requests wait and a writer is idle.
  bool can_start() const {
    return !pending_.empty() && !idle_.empty();
  }

  /// Takes an idle writer and up to batch_size requests for it.
  std::pair<size_t, batch_ptr> start() {
    auto writer = idle_.back();
    idle_.pop_back();
    auto count = std::min(pending_.size(), batch_size_);
    auto batch = std::make_shared<std::vector<entry>>(
      std::make_move_iterator(pending_.begin()),
      std::make_move_iterator(pending_.begin() + count));
    pending_.erase(pending_.begin(), pending_.begin() + count);
    in_flight_ += count;
    return {writer, std::move(batch)};
  }

  /// A batch of `count` requests on `writer` has ended.
  void finish(size_t writer, size_t count) {
    in_flight_ -= count;
    idle_.push_back(writer);
  }

private:
  size_t batch_size_ = 0;
  size_t max_pending_ = 0;
  std::deque<entry> pending_;
  /// Indexes of writers without a batch.
  std::vector<size_t> idle_;
  /// Requests in batches being written; count toward max_pending.
  size_t in_flight_ = 0;
};

/// The request handler of a group-commit actor whose state has `waiting`
/// (a group_commit), `flush_scheduled`, `step_timeout` and
/// `cfg.batch_delay`: refuses with `why_full` when too much waits, else
/// queues `item` and calls `drain` at once for a whole batch, or has a
/// flush_atom sent within batch_delay.
template <class Result, class Self, class Item, class Drain>
caf::typed_response_promise<Result>
admit(Self* self, Item item, const char* why_full, Drain drain) {
  auto& st = self->state;
  auto promise = self->template make_response_promise<Result>();
  if (st.waiting.full()) {
    promise.deliver(make_error(errc::overloaded, why_full));
    return promise;
  }
  if (st.waiting.add(
        {std::move(item), promise, self->clock().now() + st.step_timeout})) {
    drain(self);
  } else if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->delayed_send(self, st.cfg.batch_delay, flush_atom::value);
  }
  return promise;
}

} // namespace herald
