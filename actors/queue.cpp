#include "actors/queue.hpp"
#include "actors/detail/instrument.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace herald {

work_queue_actor::behavior_type
work_queue(work_queue_actor::stateful_pointer<queue_state> self) {
  self->set_down_handler(
    [self](caf::down_msg& msg) { self->state.delivery.remove(msg.source); });
  return instrumented(self,
    [self](commit_atom, std::vector<std::string>& ids) {
      // Committed and in Redis: a delivery actor that takes them now can
      // claim them at once.
      self->state.delivery.push(self, std::move(ids));
    },
    [self](caf::join_atom, delivery_actor& worker) {
      if (self->state.delivery.add(worker))
        self->monitor(worker);
    }
  );
}

work_queue_actor spawn_work_queue(caf::actor_system& sys) {
  return sys.spawn(work_queue);
}

} // namespace herald
