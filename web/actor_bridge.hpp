#pragma once

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/timespan.hpp>

namespace herald::web {

/// Sends a request to `dest` from outside the actor system (an I/O thread)
/// without blocking it: a one-shot actor makes the request and calls
/// `on_result` or `on_error` on an actor thread, then terminates. The
/// callbacks must not block; they typically hand a response to a responder.
template <class Handle, class OnResult, class OnError, class... Ts>
void ask(caf::actor_system& sys, const Handle& dest, caf::timespan timeout,
         OnResult on_result, OnError on_error, Ts... xs) {
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(dest, timeout, xs...).then(on_result, on_error);
  });
}

} // namespace herald::web
