#include "actors/dependency_probe.hpp"
#include "actors/detail/instrument.hpp"

#include "core/errc.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>

namespace herald {

namespace {

/// Runs `check` (which returns a caf::error) and times it.
template <class Check>
dependency_status probe_one(const char* name, Check check) {
  auto start = std::chrono::steady_clock::now();
  auto err = check();
  dependency_status result;
  result.name = name;
  result.up = !err;
  result.error = err ? render(err) : std::string{};
  result.latency = std::chrono::steady_clock::now() - start;
  return result;
}

} // namespace

dependency_probe_config make_probe_config(const config::settings& cfg) {
  dependency_probe_config result{cfg.mysql, cfg.redis};
  result.mysql.io_timeout = cfg.health.probe_timeout;
  result.redis.io_timeout = cfg.health.probe_timeout;
  return result;
}

dependency_probe_actor::behavior_type dependency_probe(
  dependency_probe_actor::stateful_pointer<dependency_probe_state> self,
  dependency_probe_config cfg) {
  self->state.cfg = std::move(cfg);
  return instrumented(self,
    [self](probe_atom) {
      auto& st = self->state;
      health_report report;
      report.dependencies.push_back(probe_one("mysql", [&]() -> caf::error {
        if (!st.mysql) {
          auto conn = persistence::mysql_connection::connect(st.cfg.mysql);
          if (!conn)
            return conn.error();
          st.mysql.emplace(std::move(*conn));
        }
        auto err = st.mysql->ping();
        if (err)
          st.mysql.reset();
        return err;
      }));
      report.dependencies.push_back(probe_one("redis", [&]() -> caf::error {
        if (!st.redis) {
          auto conn = persistence::redis_connection::connect(st.cfg.redis);
          if (!conn)
            return conn.error();
          st.redis.emplace(std::move(*conn));
        }
        auto err = st.redis->ping();
        if (err)
          st.redis.reset();
        return err;
      }));
      report.checked_at = caf::make_timestamp();
      return report;
    }
  );
}

dependency_probe_actor spawn_dependency_probe(caf::actor_system& sys,
                                             dependency_probe_config cfg) {
  return sys.spawn<caf::detached>(dependency_probe, std::move(cfg));
}

} // namespace herald
