#include "actors/pki_monitor.hpp"

#include "core/errc.hpp"
#include "core/metrics.hpp"
#include "net/crl.hpp"
#include "persistence/certificates.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

namespace herald {

namespace {

/// Logs `err` for `file` once, and its recovery; returns whether it is ok.
bool report(pki_monitor_state& st, const std::string& file,
            const caf::error& err, const std::string& recovered) {
  auto problem = err ? render(err) : std::string{};
  auto& last = st.problems[file];
  if (problem != last) {
    if (err)
      spdlog::error("pki-monitor: {}", problem);
    else
      spdlog::info("pki-monitor: {}", recovered);
    last = std::move(problem);
  }
  return !err;
}

void check_files(pki_monitor_state& st, int64_t now) {
  bool current = true;
  double oldest = 0;
  for (const auto& crl : st.files.crls) {
    auto err = crl->refresh();
    current &= report(st, crl->path(), err,
                      "CRL '" + crl->path() + "' in force, next update due in "
                        + std::to_string((crl->next_update() - now) / 3600)
                        + " h");
    if (auto this_update = crl->this_update(); this_update != 0)
      oldest = std::max(oldest, static_cast<double>(now - this_update));
  }
  if (st.files.keys)
    report(st, "keys", st.files.keys->refresh(),
           "data keys reloaded, active key "
             + std::to_string(st.files.keys->current()->active().id));
  if (st.stats == nullptr || st.files.crls.empty())
    return;
  st.stats->crl_age.Set(oldest);
  st.stats->crl_current.Set(current ? 1 : 0);
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
            pki_monitor_config cfg, watched_files files, metrics* stats) {
  self->state.cfg = std::move(cfg);
  self->state.files = std::move(files);
  self->state.stats = stats;
  self->send(self, tick_atom::value);
  return {
    [self](tick_atom) {
      auto& st = self->state;
      auto now = static_cast<int64_t>(std::time(nullptr));
      check_files(st, now);
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
                                    watched_files files, metrics* stats) {
  return sys.spawn<caf::detached>(pki_monitor, std::move(cfg),
                                  std::move(files), stats);
}

} // namespace herald
