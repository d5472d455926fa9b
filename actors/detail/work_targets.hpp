#pragma once

#include "actors/actors.hpp"

#include <caf/actor_addr.hpp>
#include <caf/error.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace herald::detail {

/// The delivery actors that an actor pushes `work` to, local or on other
/// nodes: joined by message, dropped when they go down. Shared by the queue
/// and the retry-timer.
///
/// Back pressure: each `work` is a request that the delivery actor answers
/// with its load (ids in hand) as it takes it from its mailbox; an actor
/// with `max_unanswered` requests open gets no more until it answers. Ids
/// are never lost that way: Redis holds them, and the actor's next step
/// takes them (or another's does). A slow or far node thus never piles up
/// a mailbox, and the least loaded actors are nudged first.
class work_targets {
public:
  static constexpr uint32_t max_unanswered = 2;

  /// Adds `x` (once).
  bool add(const delivery_actor& x) {
    if (!x || find(x.address()) != targets_.end())
      return false;
    targets_.push_back({x});
    return true;
  }

  /// Forgets the actor at `addr` (its down message came).
  void remove(const caf::actor_addr& addr) {
    auto i = find(addr);
    if (i != targets_.end())
      targets_.erase(i);
  }

  size_t size() const {
    return targets_.size();
  }

  /// Sends `ids` as `work` from `self` to the least loaded delivery actors
  /// that have credit, one contiguous share each, at most one per id.
  /// Without such actors nothing is sent: the ids wait in Redis for the
  /// next step or poll.
  template <class Self>
  void push(Self* self, std::vector<std::string> ids) {
    std::vector<target*> ready;
    for (auto& x : targets_)
      if (x.unanswered < max_unanswered)
        ready.push_back(&x);
    if (ready.empty() || ids.empty())
      return;
    // Least loaded first; among equals, rotate so that ties spread.
    ++round_;
    std::stable_sort(ready.begin(), ready.end(),
                     [](const target* x, const target* y) {
                       return x->unanswered + x->load
                              < y->unanswered + y->load;
                     });
    auto shares = std::min(ready.size(), ids.size());
    auto per_share = (ids.size() + shares - 1) / shares;
    size_t share = 0;
    for (size_t first = 0; first < ids.size(); first += per_share, ++share) {
      auto last = std::min(ids.size(), first + per_share);
      work w;
      w.ids.assign(std::make_move_iterator(ids.begin() + first),
                   std::make_move_iterator(ids.begin() + last));
      auto& x = *ready[(share + round_) % shares];
      ++x.unanswered;
      auto addr = x.handle.address();
      self->request(x.handle, answer_timeout, std::move(w))
        .then([this, addr](uint64_t load) { settle(addr, load); },
              [this, addr](caf::error&) { settle(addr, 0); });
    }
  }

  /// Requests sent but not answered, over every actor (for tests and
  /// metrics).
  uint32_t unanswered() const {
    uint32_t result = 0;
    for (const auto& x : targets_)
      result += x.unanswered;
    return result;
  }

private:
  /// A request not answered in this time counts as answered: the actor may
  /// be gone (its down message follows) or its node unreachable.
  static constexpr std::chrono::seconds answer_timeout{5};

  struct target {
    delivery_actor handle;
    uint32_t unanswered = 0;
    /// Ids in hand at its last answer.
    uint64_t load = 0;
  };

  std::vector<target>::iterator find(const caf::actor_addr& addr) {
    return std::find_if(targets_.begin(), targets_.end(),
                        [&addr](const target& x) {
                          return x.handle.address() == addr;
                        });
  }

  void settle(const caf::actor_addr& addr, uint64_t load) {
    auto i = find(addr);
    if (i == targets_.end())
      return;
    if (i->unanswered > 0)
      --i->unanswered;
    i->load = load;
  }

  std::vector<target> targets_;
  size_t round_ = 0;
};

} // namespace herald::detail
