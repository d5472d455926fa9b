#pragma once

#include "actors/actors.hpp"

#include <caf/actor_addr.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace herald::detail {

/// The delivery actors that an actor pushes `work` to: joined by message,
/// dropped when they go down. Shared by the queue and the retry-timer.
class work_targets {
public:
  /// Adds `x` (once).
  bool add(const delivery_actor& x) {
    if (!x || std::find(targets_.begin(), targets_.end(), x) != targets_.end())
      return false;
    targets_.push_back(x);
    return true;
  }

  /// Forgets the actor at `addr` (its down message came).
  void remove(const caf::actor_addr& addr) {
    targets_.erase(std::remove_if(targets_.begin(), targets_.end(),
                                  [&addr](const delivery_actor& x) {
                                    return x.address() == addr;
                                  }),
                   targets_.end());
  }

  size_t size() const {
    return targets_.size();
  }

  /// Splits `ids` into one contiguous share per delivery actor, starting
  /// with the one after the last share's; sends each share as `work` from
  /// `self`. Without delivery actors nothing is sent: the ids wait in
  /// Redis for the next poll.
  template <class Self>
  void push(Self* self, std::vector<std::string> ids) {
    if (targets_.empty() || ids.empty())
      return;
    auto shares = std::min(targets_.size(), ids.size());
    auto per_share = (ids.size() + shares - 1) / shares;
    for (size_t first = 0; first < ids.size(); first += per_share) {
      auto last = std::min(ids.size(), first + per_share);
      work w;
      w.ids.assign(std::make_move_iterator(ids.begin() + first),
                   std::make_move_iterator(ids.begin() + last));
      next_ = (next_ + 1) % targets_.size();
      self->send(targets_[next_], std::move(w));
    }
  }

private:
  std::vector<delivery_actor> targets_;
  size_t next_ = 0;
};

} // namespace herald::detail
