#pragma once

// Makes an actor of the graph visible to the inspector: it enrolls in the
// process's actor_catalog when its behaviour is made, leaves it with its
// exit reason, and every handler counts itself (time, mailbox) without its
// body knowing. The wrappers keep each handler's exact signature, which is
// what CAF 0.17 matches typed messages against.

#include "core/actor_stats.hpp"
#include "core/time.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/error.hpp>
#include <caf/result.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace herald::detail {

/// Records one handled message when the handler returns (or throws).
class handling_scope {
public:
  handling_scope(actor_stats& stats, uint64_t mailbox)
    : stats_(stats),
      mailbox_(mailbox),
      start_(std::chrono::steady_clock::now()) {
    // nop
  }

  ~handling_scope() {
    stats_.handled(std::chrono::steady_clock::now() - start_, mailbox_);
  }

  handling_scope(const handling_scope&) = delete;
  handling_scope& operator=(const handling_scope&) = delete;

private:
  actor_stats& stats_;
  uint64_t mailbox_;
  std::chrono::steady_clock::time_point start_;
};

/// Answers other than errors say nothing about failures.
template <class T>
void note_failure(actor_stats&, const T&) {
  // nop
}

/// A handler that answers with an error failed: that is its last error.
template <class... Ts>
void note_failure(actor_stats& stats, const caf::result<Ts...>& x) {
  if (x.flag == caf::rt_error)
    stats.failed(caf::to_string(x.err), unix_now_ms());
}

template <class Self, class F, class... Args>
auto measured(Self* self, std::shared_ptr<actor_stats> stats, F f,
              caf::detail::type_list<Args...>) {
  return [self, stats, f](Args... xs) mutable {
    // The actor samples its own mailbox: only it may read it.
    handling_scope scope{*stats, self->mailbox().size()};
    using answer = decltype(f(std::forward<Args>(xs)...));
    if constexpr (std::is_void_v<answer>) {
      f(std::forward<Args>(xs)...);
    } else {
      auto x = f(std::forward<Args>(xs)...);
      note_failure(*stats, x);
      return x;
    }
  };
}

/// `f`, counted in `stats`.
template <class Self, class F>
auto measured(Self* self, std::shared_ptr<actor_stats> stats, F f) {
  using args = typename caf::detail::get_callable_trait<F>::arg_types;
  return measured(self, std::move(stats), std::move(f), args{});
}

/// Enrolls `self` under its state's name and returns its stats block; it
/// leaves the catalog with its exit reason (the functor runs while its
/// control block, the catalog's key, still exists).
template <class Self>
std::shared_ptr<actor_stats> enroll(Self* self) {
  const void* key = self->ctrl();
  auto stats = actor_catalog::process().enroll(key, self->name(),
                                               unix_now_ms());
  self->attach_functor([key](const caf::error& reason) {
    actor_catalog::process().exited(key, caf::to_string(reason),
                                    unix_now_ms());
  });
  return stats;
}

} // namespace herald::detail

namespace herald {

/// The behaviour of `self` made of `handlers`, each one counted in the
/// stats block `self` enrolled with in the actor catalog.
template <class Self, class... Fs>
typename Self::behavior_type instrumented(Self* self, Fs... handlers) {
  auto stats = detail::enroll(self);
  return {detail::measured(self, stats, std::move(handlers))...};
}

/// Records `what` as the last error of the actor `self`, for failures a
/// handler logs rather than answers (a failed request it made).
template <class Self>
void record_failure(Self* self, std::string what) {
  const void* key = self->ctrl();
  actor_catalog::process().failed(key, std::move(what), unix_now_ms());
}

/// The catalog id of the running actor `x` (0: not enrolled).
template <class Handle>
uint64_t catalog_id(const Handle& x) {
  const void* key = caf::actor_cast<caf::actor_control_block*>(x);
  return actor_catalog::process().id_of(key);
}

} // namespace herald
