#include "actors/retry_timer.hpp"
#include "actors/detail/instrument.hpp"

#include "core/errc.hpp"
#include "core/metrics.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/reconnect.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace herald {

namespace {

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

int64_t to_ms(caf::timespan x) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(x).count();
}

/// Runs `f` on the schedule's Redis connection, (re)opened on demand and
/// dropped after a failure.
template <class F>
auto with_redis(schedule_state& st, F f) -> decltype(f(*st.redis)) {
  if (auto err = persistence::ensure_connected(st.redis, st.cfg.redis))
    return err;
  auto result = f(*st.redis);
  if (!result)
    st.redis.reset();
  return result;
}

} // namespace

// -- schedule -----------------------------------------------------------------

schedule_actor::behavior_type
schedule(schedule_actor::stateful_pointer<schedule_state> self,
         schedule_config cfg) {
  self->state.cfg = std::move(cfg);
  return instrumented(self,
    [self](schedule_retry& x) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      auto done = with_redis(st, [&](auto& redis) -> caf::expected<bool> {
        if (auto err = persistence::schedule_retry(redis, st.cfg.node, x.ids,
                                                   x.due_ms))
          return err;
        return true;
      });
      if (!done)
        return done.error();
      return caf::ok_atom::value;
    },
    [self](promote_atom,
           int64_t now_ms) -> caf::result<std::vector<std::string>> {
      auto ids = with_redis(self->state, [&](auto& redis) {
        return persistence::promote_due_ids(redis, now_ms, promote_batch);
      });
      if (!ids)
        return ids.error();
      return std::move(*ids);
    },
    [self](page_atom, int64_t after_ms,
           int64_t until_ms) -> caf::result<retry_page> {
      auto& st = self->state;
      auto page = with_redis(st, [&](auto& redis) {
        return persistence::retry_due_times(redis, after_ms, until_ms,
                                            st.cfg.page_size);
      });
      if (!page)
        return page.error();
      return std::move(*page);
    },
    [self](tick_atom) -> caf::result<int64_t> {
      auto& st = self->state;
      auto size = with_redis(st, [&](auto& redis) -> caf::expected<int64_t> {
        if (auto err = persistence::refresh_lease(redis, st.cfg.node,
                                                  st.cfg.lease_ttl))
          return err;
        auto now = self->clock().now();
        if (now >= st.next_reap) {
          st.next_reap = now + st.cfg.lease_ttl / 3;
          auto reaped = persistence::reap(redis, st.cfg.node, false);
          if (!reaped)
            return reaped.error();
          if (*reaped > 0)
            spdlog::warn("schedule: returned {} messages of dead nodes",
                         *reaped);
        }
        return persistence::retry_count(redis);
      });
      if (!size)
        return size.error();
      return *size;
    }
  );
}

schedule_actor spawn_schedule(caf::actor_system& sys, schedule_config cfg) {
  return sys.spawn<caf::detached>(schedule, std::move(cfg));
}

// -- retry-timer --------------------------------------------------------------

caf::error validate(const retry_timer_config& cfg) {
  if (cfg.window < std::chrono::seconds{1})
    return make_error(errc::invalid_config,
                      "retry-timer: window must be at least 1 s");
  if (cfg.max_armed == 0)
    return make_error(errc::invalid_config,
                      "retry-timer: max_armed must be positive");
  if (cfg.tick_interval <= caf::timespan::zero()
      || cfg.tick_interval > std::chrono::seconds{1})
    return make_error(errc::invalid_config,
                      "retry-timer: tick_interval must be in (0, 1 s]: the "
                      "lease is refreshed on every tick");
  return caf::none;
}

int64_t retry_timer_state::now_ms(caf::actor_clock::time_point now) const {
  if (cfg.start_ms == 0)
    return system_now_ms();
  return cfg.start_ms + to_ms(now - started);
}

namespace {

using timer_ptr = retry_timer_actor::stateful_pointer<retry_timer_state>;

int64_t now_ms(timer_ptr self) {
  return self->state.now_ms(self->clock().now());
}

/// Arms a wake-up at `due_ms` unless one is armed already. Returns false
/// when the armed set is full.
bool arm(timer_ptr self, int64_t due_ms) {
  auto& st = self->state;
  if (st.armed.count(due_ms) > 0)
    return true;
  if (st.armed.size() >= st.cfg.max_armed)
    return false;
  st.armed.insert(due_ms);
  auto delay = std::max<int64_t>(0, due_ms - now_ms(self));
  self->delayed_send(self, std::chrono::milliseconds{delay}, fire_atom::value,
                     due_ms);
  return true;
}

/// A retry due at `due_ms` is now in the schedule: arms it when it falls
/// within what is armed. Later ones are found by the next page.
void note_scheduled(timer_ptr self, int64_t due_ms) {
  auto& st = self->state;
  if (due_ms <= st.horizon_ms && !arm(self, due_ms))
    st.horizon_ms = due_ms - 1; // full: read it again when there is room
}

/// Moves due retries to pending (one request at a time; a fire meanwhile
/// asks for another round) and sends their ids to the delivery actors.
void promote(timer_ptr self) {
  auto& st = self->state;
  if (st.promoting) {
    st.promote_again = true;
    return;
  }
  st.promoting = true;
  st.promote_again = false;
  self
    ->request(st.store, st.cfg.request_timeout, promote_atom::value,
              now_ms(self))
    .then(
      [self](std::vector<std::string>& ids) {
        auto& st = self->state;
        st.promoting = false;
        // A full promotion may have left more due retries: go again.
        auto full = ids.size() >= promote_batch;
        st.delivery.push(self, std::move(ids));
        if (full || st.promote_again)
          promote(self);
      },
      [self](caf::error& err) {
        // The next tick promotes again.
        self->state.promoting = false;
        spdlog::warn("retry-timer: cannot promote retries: {}", render(err));
      });
}

/// Reads the schedule from the horizon up to the end of the window and
/// arms what it finds, page by page, while there is room.
void page(timer_ptr self) {
  auto& st = self->state;
  auto until = now_ms(self) + to_ms(st.cfg.window);
  if (st.paging || st.horizon_ms >= until
      || st.armed.size() >= st.cfg.max_armed)
    return;
  st.paging = true;
  self
    ->request(st.store, st.cfg.request_timeout, page_atom::value,
              st.horizon_ms, until)
    .then(
      [self](retry_page& x) {
        auto& st = self->state;
        st.paging = false;
        for (auto due : x.due_ms) {
          if (!arm(self, due)) {
            // Full: everything before `due` is armed; read on from there
            // once armed ones have fired.
            st.horizon_ms = std::max(st.horizon_ms, due - 1);
            return;
          }
        }
        st.horizon_ms = std::max(st.horizon_ms, x.scanned_to_ms);
        if (!x.complete)
          page(self);
      },
      [self](caf::error& err) {
        self->state.paging = false;
        spdlog::warn("retry-timer: cannot read the schedule: {}",
                     render(err));
      });
}

} // namespace

retry_timer_actor::behavior_type
retry_timer(retry_timer_actor::stateful_pointer<retry_timer_state> self,
            retry_timer_config cfg, schedule_actor store, metrics* stats) {
  auto& st = self->state;
  st.cfg = cfg;
  st.store = std::move(store);
  st.stats = stats;
  st.started = self->clock().now();
  // After a restart, the first page starts at 0: everything overdue is
  // armed at once and fires right away.
  st.horizon_ms = 0;
  self->set_down_handler(
    [self](caf::down_msg& msg) { self->state.delivery.remove(msg.source); });
  self->send(self, tick_atom::value);
  return instrumented(self,
    [self](schedule_retry& x) -> caf::result<caf::ok_atom> {
      auto rp = self->make_response_promise<caf::ok_atom>();
      auto due = x.due_ms;
      self
        ->request(self->state.store, self->state.cfg.request_timeout,
                  std::move(x))
        .then(
          [self, rp, due](caf::ok_atom) mutable {
            note_scheduled(self, due);
            rp.deliver(caf::ok_atom::value);
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self](caf::join_atom, delivery_actor& worker) {
      if (self->state.delivery.add(worker))
        self->monitor(worker);
    },
    [self](fire_atom, int64_t due_ms) {
      self->state.armed.erase(due_ms);
      promote(self);
      // Room again: read on when the horizon is behind.
      page(self);
    },
    [self](tick_atom) {
      auto& st = self->state;
      metrics::sample_mailbox(st.stats, self);
      self->request(st.store, st.cfg.request_timeout, tick_atom::value)
        .then(
          [self](int64_t size) {
            if (self->state.stats != nullptr)
              self->state.stats->retry_schedule_size.Set(
                static_cast<double>(size));
          },
          [](caf::error& err) {
            spdlog::warn("retry-timer: schedule: {}", render(err));
          });
      promote(self);
      page(self);
      self->delayed_send(self, st.cfg.tick_interval, tick_atom::value);
    }
  );
}

retry_timer_actor spawn_retry_timer(caf::actor_system& sys,
                                    retry_timer_config cfg,
                                    schedule_actor store, metrics* stats) {
  return sys.spawn(retry_timer, cfg, std::move(store), stats);
}

} // namespace herald
