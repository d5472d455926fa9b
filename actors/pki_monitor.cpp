#include "actors/pki_monitor.hpp"

#include "core/errc.hpp"
#include "core/metrics.hpp"
#include "net/crl.hpp"
#include "persistence/certificates.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include <ctime>

namespace herald {

namespace {

void check_crl(pki_monitor_state& st, int64_t now) {
  auto err = st.crl->refresh();
  auto problem = err ? render(err) : std::string{};
  if (problem != st.crl_problem) {
    if (err)
      spdlog::error("pki-monitor: {}", problem);
    else
      spdlog::info("pki-monitor: CRL '{}' in force, next update due in {} h",
                   st.crl->path(), (st.crl->next_update() - now) / 3600);
    st.crl_problem = std::move(problem);
  }
  if (st.stats == nullptr)
    return;
  auto this_update = st.crl->this_update();
  st.stats->crl_age.Set(
    this_update != 0 ? static_cast<double>(now - this_update) : 0.0);
  st.stats->crl_current.Set(err ? 0 : 1);
}

caf::error count_certificates(pki_monitor_state& st, int64_t now) {
  if (!st.db) {
    auto db = persistence::mysql_connection::connect(st.cfg.mysql);
    if (!db)
      return db.error();
    st.db.emplace(std::move(*db));
  }
  auto stats = persistence::certificate_statistics(*st.db);
  if (!stats)
    return stats.error();
  if (st.stats == nullptr)
    return caf::none;
  auto& family = st.stats->certificates;
  family.Add({{"status", "active"}}).Set(static_cast<double>(stats->active));
  family.Add({{"status", "revoked"}}).Set(static_cast<double>(stats->revoked));
  family.Add({{"status", "expired"}}).Set(static_cast<double>(stats->expired));
  st.stats->client_certificate_expiry.Set(
    stats->earliest_client_expiry != 0
      ? static_cast<double>(stats->earliest_client_expiry - now)
      : 0.0);
  return caf::none;
}

} // namespace

pki_monitor_actor::behavior_type
pki_monitor(pki_monitor_actor::stateful_pointer<pki_monitor_state> self,
            pki_monitor_config cfg, std::shared_ptr<net::crl_store> crl,
            metrics* stats) {
  self->state.cfg = std::move(cfg);
  self->state.crl = std::move(crl);
  self->state.stats = stats;
  self->send(self, tick_atom::value);
  return {
    [self](tick_atom) {
      auto& st = self->state;
      auto now = static_cast<int64_t>(std::time(nullptr));
      if (st.crl)
        check_crl(st, now);
      if (auto err = count_certificates(st, now)) {
        st.db.reset();
        spdlog::warn("pki-monitor: cannot count certificates: {}", render(err));
      }
      self->delayed_send(self, st.cfg.interval, tick_atom::value);
    },
  };
}

pki_monitor_actor spawn_pki_monitor(caf::actor_system& sys,
                                    pki_monitor_config cfg,
                                    std::shared_ptr<net::crl_store> crl,
                                    metrics* stats) {
  return sys.spawn<caf::detached>(pki_monitor, std::move(cfg), std::move(crl),
                                  stats);
}

} // namespace herald
