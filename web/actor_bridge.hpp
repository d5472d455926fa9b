#pragma once

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/fwd.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/timespan.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

namespace herald::web {

/// An ask in flight: when it times out and whom to tell.
struct pending_ask {
  caf::actor_clock::time_point deadline;
  std::function<void(caf::error&)> fail;
};

struct bridge_state {
  static inline const char* name = "actor-bridge";
  uint64_t next_id = 0;
  std::unordered_map<uint64_t, pending_ask> pending;

  /// Starts tracking an ask; returns its id.
  uint64_t track(caf::actor_clock::time_point deadline,
                 std::function<void(caf::error&)> fail) {
    pending.emplace(next_id, pending_ask{deadline, std::move(fail)});
    return next_id++;
  }

  /// Ends tracking `id`; false when it has timed out already (and its
  /// error was reported).
  bool settle(uint64_t id) {
    return pending.erase(id) == 1;
  }
};

using bridge_self = caf::stateful_actor<bridge_state>*;

/// What the bridge actor runs for an ask.
using bridge_job = std::function<void(bridge_self)>;

} // namespace herald::web

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(herald::web::bridge_job)

namespace herald::web {

/// Lets the HTTPS I/O threads ask actors without blocking: each ask becomes
/// a job for one of a few long-lived bridge actors, which sends the request
/// and calls `on_result` or `on_error` on an actor thread. The callbacks
/// must not block; they typically hand a response to a responder.
///
/// Why not a one-shot actor per request with a CAF request timeout: both
/// cost per request (a spawn, and a wake-up of CAF's clock thread for every
/// timeout). Here the bridge checks its asks' deadlines four times a
/// second instead.
class actor_bridge {
public:
  /// Spawns `actors` bridge actors.
  actor_bridge(caf::actor_system& sys, size_t actors);

  /// Stops the bridge actors.
  ~actor_bridge();

  actor_bridge(const actor_bridge&) = delete;
  actor_bridge& operator=(const actor_bridge&) = delete;

  /// Sends `xs...` to `dest`; calls `on_result` with its answer, or
  /// `on_error` with the error, or with sec::request_timeout once `timeout`
  /// has passed (a later answer is dropped).
  template <class Handle, class OnResult, class OnError, class... Ts>
  void ask(const Handle& dest, caf::timespan timeout, OnResult on_result,
           OnError on_error, Ts... xs) const {
    using args = typename caf::detail::get_callable_trait<OnResult>::arg_types;
    auto job = [=](bridge_self self) {
      auto id = self->state.track(self->clock().now() + timeout, on_error);
      self->request(dest, caf::infinite, xs...)
        .then(settled(self, id, on_result, args{}),
              [self, id, on_error](caf::error& err) {
                if (self->state.settle(id))
                  on_error(err);
              });
    };
    auto i = next_.fetch_add(1, std::memory_order_relaxed) % actors_.size();
    caf::anon_send(actors_[i], bridge_job{std::move(job)});
  }

  /// The bridge actors, for an orderly shutdown.
  const std::vector<caf::actor>& actors() const {
    return actors_;
  }

private:
  /// `f` with the signature CAF needs to match the answer, called only if
  /// the ask has not timed out.
  template <class F, class... Args>
  static auto settled(bridge_self self, uint64_t id, F f,
                      caf::detail::type_list<Args...>) {
    return [self, id, f](Args... xs) {
      if (self->state.settle(id))
        f(std::forward<Args>(xs)...);
    };
  }

  std::vector<caf::actor> actors_;
  mutable std::atomic<size_t> next_{0};
};

} // namespace herald::web
