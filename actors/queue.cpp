#include "actors/queue.hpp"
#include "actors/detail/instrument.hpp"

#include "core/errc.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/reconnect.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

namespace herald {

work_queue_actor::behavior_type
work_queue(work_queue_actor::stateful_pointer<queue_state> self,
           config::redis_config cfg) {
  self->state.cfg = std::move(cfg);
  self->set_down_handler(
    [self](caf::down_msg& msg) { self->state.delivery.remove(msg.source); });
  return instrumented(self,
    [self](enqueue_atom,
           std::vector<std::string>& ids) -> caf::result<int64_t> {
      auto& st = self->state;
      if (auto err = persistence::ensure_connected(st.redis, st.cfg))
        return err;
      auto length = persistence::enqueue(*st.redis, ids);
      if (!length) {
        st.redis.reset();
        return length.error();
      }
      return *length;
    },
    [self](commit_atom, std::vector<std::string>& ids) {
      // Queued in Redis and committed in MySQL: a delivery actor that takes
      // them now can claim them at once (pushed before the commit, every
      // message needed a second look).
      self->state.delivery.push(self, std::move(ids));
    },
    [self](caf::join_atom, delivery_actor& worker) {
      if (self->state.delivery.add(worker))
        self->monitor(worker);
    }
  );
}

work_queue_actor spawn_work_queue(caf::actor_system& sys,
                                  config::redis_config cfg) {
  return sys.spawn<caf::detached>(work_queue, std::move(cfg));
}

} // namespace herald
