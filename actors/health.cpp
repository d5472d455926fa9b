#include "actors/health.hpp"
#include "actors/detail/instrument.hpp"

#include "core/errc.hpp"
#include "core/metrics.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace herald {

namespace {

void publish(health_state& st) {
  if (st.stats == nullptr)
    return;
  for (const auto& dep : st.report.dependencies) {
    st.stats->dependency_up.Add({{"dependency", dep.name}})
      .Set(dep.up ? 1 : 0);
    st.stats->dependency_probe_seconds.Add({{"dependency", dep.name}})
      .Set(std::chrono::duration<double>(dep.latency).count());
  }
}

/// Logs a dependency that changed state, once per change.
void log_changes(const health_report& before, const health_report& after) {
  for (const auto& dep : after.dependencies) {
    auto prev = std::find_if(before.dependencies.begin(),
                             before.dependencies.end(),
                             [&](const auto& x) { return x.name == dep.name; });
    bool was_up = prev != before.dependencies.end() && prev->up;
    bool known = prev != before.dependencies.end();
    if (dep.up && !was_up)
      spdlog::info("health: {} is up", dep.name);
    else if (!dep.up && (was_up || !known))
      spdlog::warn("health: {} is down: {}", dep.name, dep.error);
  }
}

} // namespace

health_actor::behavior_type
health(health_actor::stateful_pointer<health_state> self,
       dependency_probe_actor probe, health_actor_config cfg,
       metrics* metrics) {
  self->state.cfg = cfg;
  self->state.probe = std::move(probe);
  self->state.stats = metrics;
  self->send(self, tick_atom::value);
  auto update = [self](health_report next) {
    auto& st = self->state;
    log_changes(st.report, next);
    st.report = std::move(next);
    publish(st);
    self->delayed_send(self, st.cfg.interval, tick_atom::value);
  };
  return instrumented(self,
    [self](caf::get_atom) { return self->state.report; },
    [self, update](tick_atom) {
      auto& st = self->state;
      metrics::sample_mailbox(st.stats, self);
      self->request(st.probe, st.cfg.probe_timeout, probe_atom::value)
        .then(update, [self, update](caf::error& err) {
          // Keep the names of the dependencies, mark all of them down.
          health_report down;
          for (auto dep : self->state.report.dependencies) {
            dep.up = false;
            down.dependencies.push_back(std::move(dep));
          }
          if (down.dependencies.empty())
            down.dependencies.push_back({"probe", false, {}, {}});
          for (auto& dep : down.dependencies)
            dep.error = "probe did not answer: " + render(err);
          down.checked_at = caf::make_timestamp();
          update(std::move(down));
        });
    }
  );
}

health_actor spawn_health(caf::actor_system& sys, dependency_probe_actor probe,
                          health_actor_config cfg, metrics* metrics) {
  return sys.spawn(health, std::move(probe), cfg, metrics);
}

} // namespace herald
