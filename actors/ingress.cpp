#include "actors/ingress.hpp"
#include "actors/detail/instrument.hpp"

#include "core/metrics.hpp"
#include "net/problem.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/actor_system.hpp>
#include <caf/sec.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <chrono>

namespace herald {

uint64_t waiting_requests::add(net::responder respond) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto id = next_id_++;
  waiting_.emplace(id, std::move(respond));
  return id;
}

bool waiting_requests::answer(uint64_t id, http_response resp) {
  net::responder respond;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = waiting_.find(id);
    if (i == waiting_.end())
      return false;
    respond = std::move(i->second);
    waiting_.erase(i);
  }
  respond(std::move(resp));
  return true;
}

size_t waiting_requests::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return waiting_.size();
}

namespace {

/// Fails the asks past their deadline; ends a drain that is done.
void check_deadlines(ingress_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  for (auto i = st.asks.begin(); i != st.asks.end();) {
    if (i->second.deadline <= now) {
      auto fail = std::move(i->second.fail);
      i = st.asks.erase(i);
      auto err = caf::make_error(caf::sec::request_timeout);
      fail(err);
    } else {
      ++i;
    }
  }
  if (st.drained
      && (st.cfg.waiting->size() == 0 || st.drain_deadline <= now)) {
    st.drained->deliver(static_cast<uint64_t>(st.cfg.waiting->size()));
    st.drained.reset();
  }
}

} // namespace

ingress_actor::behavior_type ingress(ingress_pointer self, ingress_config cfg,
                                     std::shared_ptr<ingress_calls> calls,
                                     caf::timespan check_every) {
  self->state.cfg = std::move(cfg);
  calls->bind(self);
  self->attach_functor([self](const caf::error&) {
    // Stopping joins the I/O threads; a request that still waits gets no
    // answer (its connection closes) and the client retries.
    if (self->state.server)
      self->state.server->stop();
  });
  self->delayed_send(self, check_every, tick_atom::value);
  return instrumented(self,
    [self](listen_atom) -> caf::result<uint16_t> {
      auto& st = self->state;
      if (st.server)
        return st.server->port();
      auto waiting = st.cfg.waiting;
      // Weak: the server lives in this actor's state, and a strong handle
      // in its handler would keep the actor alive for ever.
      auto weak = caf::actor_cast<caf::weak_actor_ptr>(self->ctrl());
      auto started = net::https_server::start(
        st.cfg.listener,
        [waiting, weak](http_request req, net::responder respond) {
          auto strong = caf::actor_cast<caf::strong_actor_ptr>(weak);
          if (!strong)
            return respond(net::problem(503, "unavailable",
                                        "Service unavailable",
                                        "The node is shutting down."));
          req.id = waiting->add(std::move(respond));
          caf::anon_send(caf::actor_cast<ingress_actor>(strong),
                         request_atom::value, std::move(req));
        },
        st.cfg.stats, st.cfg.crl);
      if (!started)
        return started.error();
      st.server = std::move(*started);
      return st.server->port();
    },
    [self](request_atom, http_request& req) {
      auto waiting = self->state.cfg.waiting;
      auto id = req.id;
      self->state.cfg.routes->dispatch(
        std::move(req), [waiting, id](http_response resp) {
          waiting->answer(id, std::move(resp));
        });
    },
    [self](drain_atom, caf::timespan timeout) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (st.server)
        st.server->stop_accepting();
      if (st.cfg.waiting->size() == 0)
        return uint64_t{0};
      st.drain_deadline = self->clock().now() + timeout;
      st.drained = self->make_response_promise<uint64_t>();
      return *st.drained;
    },
    [self, check_every](tick_atom) {
      check_deadlines(self);
      self->delayed_send(self, check_every, tick_atom::value);
    }
  );
}

ingress_actor spawn_ingress(caf::actor_system& sys, ingress_config cfg,
                            std::shared_ptr<ingress_calls> calls) {
  // Four checks a second: a timed-out ask is answered at most 250 ms late.
  return sys.spawn<caf::detached>(ingress, std::move(cfg), std::move(calls),
                                  caf::timespan{std::chrono::milliseconds{250}});
}

} // namespace herald
