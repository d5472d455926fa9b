#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "net/http_server.hpp"
#include "net/http_types.hpp"
#include "net/router.hpp"

#include <caf/actor_clock.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace herald {

namespace net {
class crl_store;
} // namespace net

class metrics;

/// The connections waiting for an answer, by request id. An I/O thread
/// adds its responder and hands the request to the ingress actor as a
/// typed message carrying the id; the ingress takes the responder back out
/// to answer. Responders never travel in messages.
class waiting_requests {
public:
  /// Keeps `respond` until answer(); returns its request id.
  uint64_t add(net::responder respond);

  /// Answers request `id`; false when it was answered already.
  bool answer(uint64_t id, http_response resp);

  /// Requests waiting for an answer.
  size_t size() const;

private:
  mutable std::mutex mtx_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, net::responder> waiting_;
};

/// What the ingress of a node needs.
struct ingress_config {
  /// The HTTPS listener's settings.
  config::ingress_config listener;
  /// Revoked client certificates fail the handshake.
  std::shared_ptr<net::crl_store> crl;
  /// The node's routes (their handlers run inside the ingress actor).
  std::shared_ptr<net::router> routes;
  /// Shared with the I/O threads.
  std::shared_ptr<waiting_requests> waiting;
  metrics* stats = nullptr;
};

struct ingress_state;

using ingress_pointer = ingress_actor::stateful_pointer<ingress_state>;

/// An ask of a route handler in flight: when it times out and whom to tell.
struct pending_ask {
  caf::actor_clock::time_point deadline;
  std::function<void(caf::error&)> fail;
};

struct ingress_state {
  static inline const char* name = "ingress";
  ingress_config cfg;
  std::unique_ptr<net::https_server> server;
  uint64_t next_ask = 0;
  std::unordered_map<uint64_t, pending_ask> asks;
  /// The drain in progress: answered once no request waits.
  std::optional<caf::typed_response_promise<uint64_t>> drained;
  caf::actor_clock::time_point drain_deadline;
};

/// How route handlers, which run inside the ingress actor, ask other
/// actors: the answer comes back to the ingress, which calls `on_result`
/// (or `on_error`, also with sec::request_timeout once `timeout` has
/// passed; a later answer is dropped). The callbacks typically answer the
/// waiting connection through the responder the handler got.
class ingress_calls {
public:
  /// Binds to the ingress actor; the ingress does this when it starts.
  void bind(ingress_pointer self) {
    self_ = self;
  }

  template <class Handle, class OnResult, class OnError, class... Ts>
  void ask(const Handle& dest, caf::timespan timeout, OnResult on_result,
           OnError on_error, Ts&&... xs) const {
    using args = typename caf::detail::get_callable_trait<OnResult>::arg_types;
    auto self = self_;
    auto id = self->state.next_ask++;
    self->state.asks.emplace(
      id, pending_ask{self->clock().now() + timeout, on_error});
    self->request(dest, caf::infinite, std::forward<Ts>(xs)...)
      .then(settled(self, id, std::move(on_result), args{}),
            [self, id, on_error](caf::error& err) {
              if (self->state.asks.erase(id) == 1)
                on_error(err);
            });
  }

private:
  /// `f` with the signature CAF needs to match the answer, called only if
  /// the ask has not timed out.
  template <class F, class... Args>
  static auto settled(ingress_pointer self, uint64_t id, F f,
                      caf::detail::type_list<Args...>) {
    return [self, id, f](Args... xs) {
      if (self->state.asks.erase(id) == 1)
        f(std::forward<Args>(xs)...);
    };
  }

  ingress_pointer self_ = nullptr;
};

/// Owns the HTTPS listener (start, drain, stop) and routes every request
/// its I/O threads hand over; detached, since starting and stopping the
/// listener block.
ingress_actor::behavior_type ingress(ingress_pointer self, ingress_config cfg,
                                     std::shared_ptr<ingress_calls> calls,
                                     caf::timespan check_every);

/// Spawns the ingress; it listens once asked (listen_atom).
ingress_actor spawn_ingress(caf::actor_system& sys, ingress_config cfg,
                            std::shared_ptr<ingress_calls> calls);

} // namespace herald
