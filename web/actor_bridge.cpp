#include "web/actor_bridge.hpp"

#include "actors/atoms.hpp"
#include "core/messages.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>

#include <chrono>

namespace herald::web {

namespace {

/// How often a bridge actor fails the asks past their deadline.
constexpr auto deadline_check = std::chrono::milliseconds{250};

// The interval is an argument, not read from the constant inside: CAF
// 0.17.6 binds a reference to a null pointer when it spawns a stateful
// actor without arguments (UndefinedBehaviorSanitizer, init_fun_factory).
caf::behavior bridge(bridge_self self, caf::timespan check_every) {
  self->delayed_send(self, check_every, tick_atom::value);
  return {
    [self](bridge_job& job) { job(self); },
    [self, check_every](tick_atom) {
      auto now = self->clock().now();
      auto& pending = self->state.pending;
      for (auto i = pending.begin(); i != pending.end();) {
        if (i->second.deadline <= now) {
          auto fail = std::move(i->second.fail);
          i = pending.erase(i);
          auto err = caf::make_error(caf::sec::request_timeout);
          fail(err);
        } else {
          ++i;
        }
      }
      self->delayed_send(self, check_every, tick_atom::value);
    },
  };
}

} // namespace

actor_bridge::actor_bridge(caf::actor_system& sys, size_t actors) {
  for (size_t i = 0; i < std::max<size_t>(actors, 1); ++i)
    actors_.push_back(
      sys.spawn(bridge, caf::timespan{deadline_check}));
}

actor_bridge::~actor_bridge() {
  for (auto& x : actors_)
    caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
}

} // namespace herald::web
