#pragma once

#include "actors/ingress.hpp"
#include "config/herald_config.hpp"
#include "core/messages.hpp"
#include "config/settings.hpp"
#include "pki/ca.hpp"
#include "net/router.hpp"

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace caf {

// Lets Boost.Test print CAF values in failed assertions.
inline std::ostream& boost_test_print_type(std::ostream& os, const error& x) {
  return os << to_string(x);
}

template <class T>
std::ostream& boost_test_print_type(std::ostream& os, const expected<T>& x) {
  return os << (x ? "expected value" : to_string(x.error()));
}

} // namespace caf

namespace herald {

inline std::ostream& boost_test_print_type(std::ostream& os, submit_outcome x) {
  return os << to_string(x);
}

} // namespace herald

namespace herald::test {

/// Builds a herald_config (all message types registered) whose scheduler is
/// CAF's deterministic test coordinator.
struct deterministic_config : config::herald_config {
  deterministic_config();
};

/// An actor system that runs nothing by itself: tests dispatch messages with
/// run()/run_once() and move the clock with advance_time(), no sleeping.
struct deterministic_fixture {
  deterministic_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self{sys};

  /// Actors spawned through spawn(); stopped when the fixture ends, since
  /// ~actor_system waits for every actor.
  std::vector<caf::actor> spawned;

  deterministic_fixture();

  ~deterministic_fixture();

  /// Spawns an actor that the fixture stops at its end.
  template <class... Ts>
  auto spawn(Ts&&... xs) {
    auto handle = sys.spawn(std::forward<Ts>(xs)...);
    spawned.push_back(caf::actor_cast<caf::actor>(handle));
    return handle;
  }

  /// Runs every runnable job.
  void run() {
    sched.run();
  }
};

/// A real multi-threaded actor system, for actors that do real I/O.
struct threaded_fixture {
  config::herald_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
};

/// The error of `x` for a failure message; empty when `x` holds a value
/// (Boost.Test builds the message even when the check passes).
template <class T>
std::string why(const caf::expected<T>& x) {
  return x ? std::string{} : caf::to_string(x.error());
}

/// Value of environment variable `name`; fails the test when it is unset,
/// with a hint to run the integration tests through ops/test.
std::string require_env(const char* name);

/// MariaDB settings of the throwaway server that ops/test started, as root,
/// for database `database` (empty: none selected).
config::mysql_config test_mysql(const std::string& database = "");

/// Redis settings of the throwaway server that ops/test started.
config::redis_config test_redis();

/// Creates a fresh, empty database with a unique name and returns it.
std::string create_test_database(const std::string& prefix);

/// Dispatches `req` to routes that answer synchronously and returns the
/// response; fails the test when no answer came.
net::http_response dispatch(const net::router& r, net::http_request req);

/// An ingress actor on a deterministic fixture, without a listener: tests
/// hand it requests as the I/O threads would and read the answers the
/// waiting connections get.
struct test_ingress {
  explicit test_ingress(deterministic_fixture& fix);

  deterministic_fixture& fix;
  std::shared_ptr<net::router> routes;
  std::shared_ptr<ingress_calls> calls;
  std::shared_ptr<waiting_requests> waiting;
  ingress_actor handle;

  /// Hands `req` to the ingress; returns its request id. The answer lands
  /// in answers[id].
  uint64_t send(net::http_request req);

  /// Sends `req`, runs every actor, and returns the answer; fails the test
  /// when none came.
  net::http_response exchange(net::http_request req);

  std::map<uint64_t, net::http_response> answers;
};

/// A fresh temp folder `dir` (named after `name` and the process) with a
/// certificate authority (EC P-256, no passphrase) in `dir`/ca; removed at
/// the end.
struct temp_ca {
  explicit temp_ca(const std::string& name);
  ~temp_ca();

  std::filesystem::path dir;
  pki::authority ca;
};

} // namespace herald::test
