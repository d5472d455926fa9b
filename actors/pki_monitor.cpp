#include "actors/pki_monitor.hpp"
#include "actors/detail/instrument.hpp"

#include "actors/audit.hpp"
#include "core/errc.hpp"
#include "core/metrics.hpp"
#include "core/time.hpp"
#include "net/crl.hpp"
#include "persistence/certificates.hpp"
#include "pki/ca.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <iterator>

namespace herald {

namespace {

/// Events per CRL reload at most that name one serial each; more are
/// counted in one event (a CRL is not a bulk import).
constexpr size_t max_serial_events = 100;

void tell(pki_monitor_state& st, audit_event x) {
  if (st.audit)
    caf::anon_send(st.audit, std::move(x));
}

/// Logs `err` for `file` once, and its recovery, and audits a file it
/// rejects (`action` failed, once per problem); returns whether it is ok.
bool report(pki_monitor_state& st, const std::string& file,
            const char* action, const caf::error& err,
            const std::string& recovered) {
  auto problem = err ? render(err) : std::string{};
  auto& last = st.problems[file];
  if (problem != last) {
    if (err) {
      spdlog::error("pki-monitor: {}", problem);
      tell(st, node_event(action, file, problem, false));
    } else {
      spdlog::info("pki-monitor: {}", recovered);
    }
    last = std::move(problem);
  }
  return !err;
}

std::string serial_hex(const ASN1_INTEGER* serial) {
  std::string result;
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  if (bn == nullptr)
    return result;
  if (char* hex = BN_bn2hex(bn)) {
    result = hex;
    OPENSSL_free(hex);
  }
  BN_free(bn);
  return result;
}

/// The serials the CRL in force revokes, as heraldctl records them
/// (BN_bn2hex: upper-case hex).
std::set<std::string> revoked_serials(const net::crl_store& crl) {
  std::set<std::string> result;
  X509_CRL* x = crl.current_crl();
  if (x == nullptr)
    return result;
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(x);
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i)
    result.insert(serial_hex(
      X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
  X509_CRL_free(x);
  return result;
}

/// Notes the CRL in force in `crl`; unless this is the first look (what
/// the node started with), audits a reload and every serial it newly
/// revokes.
void note_crl(pki_monitor_state& st, const net::crl_store& crl,
              bool announce) {
  auto& seen = st.crls[&crl];
  if (crl.number() == seen.number && crl.this_update() == seen.this_update)
    return;
  auto serials = revoked_serials(crl);
  if (announce) {
    std::vector<std::string> added;
    std::set_difference(serials.begin(), serials.end(), seen.serials.begin(),
                        seen.serials.end(), std::back_inserter(added));
    size_t gone = 0;
    for (const auto& x : seen.serials)
      gone += serials.count(x) == 0 ? 1 : 0;
    auto which = "CRL number " + std::to_string(crl.number()) + " of "
                 + crl.path();
    tell(st, node_event("crl.reload", crl.path(),
                        "CRL number " + std::to_string(crl.number())
                          + ", thisUpdate " + iso8601_s(crl.this_update())
                          + ", " + std::to_string(serials.size())
                          + " serials revoked (" + std::to_string(added.size())
                          + " new, " + std::to_string(gone)
                          + " no longer listed)"));
    for (size_t i = 0; i < added.size() && i < max_serial_events; ++i)
      tell(st, node_event("revocation.enforce", added[i], which));
    if (added.size() > max_serial_events)
      tell(st, node_event("revocation.enforce",
                          std::to_string(added.size() - max_serial_events)
                            + " more serials",
                          which + " (one event each for the first "
                            + std::to_string(max_serial_events) + ")"));
  }
  seen = {crl.number(), crl.this_update(), std::move(serials)};
}

/// Notes the key ring in force; audits a reload unless `announce` is off.
void note_keys(pki_monitor_state& st, bool announce) {
  auto ring = st.files.keys->current();
  if (ring == st.keys)
    return;
  if (announce && st.keys)
    tell(st, node_event("keys.reload", "crypto.keys-file",
                        "active key " + std::to_string(ring->active().id)
                          + " (was "
                          + std::to_string(st.keys->active().id) + ")"));
  st.keys = std::move(ring);
}

/// Reloads what changed; returns whether every CRL is current.
bool check_files(pki_monitor_state& st, int64_t now) {
  bool current = true;
  double oldest = 0;
  for (const auto& crl : st.files.crls) {
    auto err = crl->refresh();
    current &= report(st, crl->path(), "crl.reload", err,
                      "CRL '" + crl->path() + "' in force, next update due in "
                        + std::to_string((crl->next_update() - now) / 3600)
                        + " h");
    note_crl(st, *crl, true);
    if (auto this_update = crl->this_update(); this_update != 0)
      oldest = std::max(oldest, static_cast<double>(now - this_update));
  }
  if (st.files.keys) {
    report(st, "crypto.keys-file", "keys.reload", st.files.keys->refresh(),
           "data keys reloaded, active key "
             + std::to_string(st.files.keys->current()->active().id));
    note_keys(st, true);
  }
  if (st.stats != nullptr && !st.files.crls.empty()) {
    st.stats->crl_age.Set(oldest);
    st.stats->crl_current.Set(current ? 1 : 0);
  }
  return current;
}

/// Sets herald_tls_certificate_expiry_seconds for each of the node's own
/// certificates; a file that cannot be read is logged once and its value
/// dropped, so that no stale number hides the problem.
void report_expiry(pki_monitor_state& st, int64_t now) {
  if (st.stats == nullptr)
    return;
  for (const auto& [purpose, path] : st.cfg.certificates) {
    auto& gauge = st.stats->tls_certificate_expiry;
    auto& last = st.problems["expiry:" + path];
    auto pem = pki::read_file(path);
    auto info = pem ? pki::inspect(*pem)
                    : caf::expected<pki::cert_info>{pem.error()};
    if (!info) {
      gauge.Remove(&gauge.Add({{"certificate", purpose}}));
      if (last.empty())
        spdlog::warn("pki-monitor: cannot read the {} certificate: {}",
                     purpose, render(info.error()));
      last = render(info.error());
      continue;
    }
    last.clear();
    gauge.Add({{"certificate", purpose}})
      .Set(static_cast<double>(info->not_after - now));
  }
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
            pki_monitor_config cfg, watched_files files, audit_actor audit,
            metrics* stats) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.files = std::move(files);
  st.stats = stats;
  st.audit = std::move(audit);
  // What the node started with (node.start records the start): only later
  // changes are events.
  for (const auto& crl : st.files.crls)
    note_crl(st, *crl, false);
  if (st.files.keys)
    note_keys(st, false);
  self->send(self, tick_atom::value);
  return instrumented(self,
    [self](tick_atom) {
      auto& st = self->state;
      auto now = static_cast<int64_t>(std::time(nullptr));
      check_files(st, now);
      report_expiry(st, now);
      if (auto err = count_certificates(st, now)) {
        st.db.reset();
        spdlog::warn("pki-monitor: cannot count certificates: {}", render(err));
      }
      self->delayed_send(self, st.cfg.interval, tick_atom::value);
    },
    [self](reload_atom) {
      return check_files(self->state,
                         static_cast<int64_t>(std::time(nullptr)));
    }
  );
}

pki_monitor_actor spawn_pki_monitor(caf::actor_system& sys,
                                    pki_monitor_config cfg,
                                    watched_files files, audit_actor audit,
                                    metrics* stats) {
  return sys.spawn<caf::detached>(pki_monitor, std::move(cfg),
                                  std::move(files), std::move(audit), stats);
}

} // namespace herald
