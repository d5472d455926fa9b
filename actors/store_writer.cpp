#include "actors/store_writer.hpp"
#include "actors/detail/instrument.hpp"

#include "core/metrics.hpp"
#include "persistence/message_store.hpp"
#include "persistence/receiver_store.hpp"
#include "persistence/reconnect.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace herald {

store_writer_actor::behavior_type
store_writer(store_writer_actor::stateful_pointer<store_writer_state> self,
             config::mysql_config mysql, config::redis_config redis,
             metrics* stats) {
  auto& st = self->state;
  st.mysql = std::move(mysql);
  st.redis = std::move(redis);
  st.stats = stats;
  return instrumented(self,
    [&st](write_atom, const std::vector<stored_message>& batch)
      -> caf::result<std::vector<submit_result>> {
      if (auto err = persistence::ensure_connected(st.queue, st.redis))
        return err;
      persistence::queue_target queue{*st.queue};
      auto result = persistence::with_connection(st.db, st.mysql, [&](auto& db) {
        return persistence::insert_batch(db, batch, &queue);
      });
      if (!result) {
        // Redis or MySQL: either may have failed; start both afresh.
        st.queue.reset();
        return result.error();
      }
      if (st.stats != nullptr)
        st.stats->queue_length.Set(static_cast<double>(queue.length));
      return std::move(*result);
    },
    [&st](reject_atom, const std::vector<std::string>& ids)
      -> caf::result<bool> {
      auto result = persistence::with_connection(st.db, st.mysql, [&](auto& db) {
        return persistence::done(persistence::mark_rejected(db, ids));
      });
      if (!result)
        return result.error();
      return true;
    },
    [&st](caf::get_atom, uint64_t client_id, const std::string& id)
      -> caf::result<message_status> {
      auto result = persistence::with_connection(st.db, st.mysql, [&](auto& db) {
        return persistence::find_message(db, client_id, id);
      });
      if (!result)
        return result.error();
      return std::move(*result);
    }
  );
}

store_writer_actor spawn_store_writer(caf::actor_system& sys,
                                      config::mysql_config mysql,
                                      config::redis_config redis,
                                      metrics* stats) {
  return sys.spawn<caf::detached>(store_writer, std::move(mysql),
                                  std::move(redis), stats);
}

receiver_store_actor::behavior_type receiver_store(
  receiver_store_actor::stateful_pointer<receiver_store_state> self,
  config::mysql_config cfg) {
  self->state.cfg = std::move(cfg);
  auto& st = self->state;
  return instrumented(self,
    [&st](receive_atom, const std::vector<received_message>& batch)
      -> caf::result<std::vector<bool>> {
      auto result = persistence::with_connection(st.db, st.cfg, [&](auto& db) {
        return persistence::store_received(db, batch);
      });
      if (!result)
        return result.error();
      return std::move(*result);
    }
  );
}

receiver_store_actor spawn_receiver_store(caf::actor_system& sys,
                                          config::mysql_config cfg) {
  return sys.spawn<caf::detached>(receiver_store, std::move(cfg));
}

} // namespace herald
