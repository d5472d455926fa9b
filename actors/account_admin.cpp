#include "actors/account_admin.hpp"
#include "actors/detail/instrument.hpp"

#include "core/errc.hpp"
#include "core/logging.hpp"
#include "persistence/certificates.hpp"
#include "persistence/clients.hpp"
#include "persistence/cluster_view.hpp"
#include "persistence/passwords.hpp"
#include "persistence/portal_store.hpp"
#include "persistence/reconnect.hpp"
#include "persistence/users.hpp"
#include "pki/ca.hpp"
#include "pki/client_certificates.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <map>

namespace herald {

namespace {

void wipe(std::string& secret) {
  OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

void audit(account_admin_state& st, const std::string& admin,
           const std::string& action, const std::string& target,
           const caf::error& err, std::string detail = {}) {
  audit_event x;
  x.actor = admin;
  x.action = action;
  x.target = target;
  x.outcome = err ? "failed" : "ok";
  x.detail = err ? render(err) : std::move(detail);
  caf::anon_send(st.cfg.audit, std::move(x));
}

template <class F>
auto with_db(account_admin_state& st, F f) {
  return persistence::with_connection(st.db, st.cfg.mysql, f);
}

/// Tells every node to reload clients, certificates and the CRL now; when
/// Redis cannot be told, they do on their own timers (the change stands).
void announce(account_admin_state& st) {
  auto told = persistence::with_connection(
    st.redis, st.cfg.redis,
    [](auto& redis) { return persistence::announce_change(redis); });
  if (!told)
    spdlog::warn("account_admin failed to announce a change (nodes apply it "
                 "on their timers): {}",
                 render(told.error()));
}

caf::expected<pki::authority> load_ca(const account_admin_state& st) {
  auto ca = pki::authority::load(st.cfg.pki.ca_dir, st.cfg.pki.ca_passphrase);
  if (!ca)
    return make_error(errc::invalid_config,
                      "this portal node cannot issue certificates: the CA "
                      "key of pki.ca-dir does not load ("
                        + render(ca.error())
                        + "); issue with heraldctl cert issue on the CA's "
                          "machine");
  return ca;
}

int64_t unix_now() {
  return static_cast<int64_t>(std::time(nullptr));
}

certificate_entry to_entry(const persistence::certificate_row& c) {
  auto status = c.status;
  if (status == "active" && c.not_after != 0 && c.not_after <= unix_now())
    status = "expired";
  return {c.serial,     c.fingerprint, c.client,
          status,       c.not_after,   c.revoked_at,
          c.revocation_reason};
}

/// Whether `c` is active and expires within `days` days from now.
bool expiring(const certificate_entry& c, int64_t days) {
  auto now = unix_now();
  return c.status == "active" && c.not_after > now
         && c.not_after <= now + days * 86400;
}

caf::expected<std::vector<user_entry>> users(account_admin_state& st) {
  auto listed = with_db(st, [](auto& db) { return persistence::list_users(db); });
  if (!listed)
    return listed.error();
  std::vector<user_entry> result;
  for (auto& u : *listed)
    result.push_back({u.id, std::move(u.name), std::move(u.role),
                      std::move(u.status), u.clients, std::move(u.created_at),
                      std::move(u.password_changed_at)});
  return result;
}

/// The hash of the password the admin typed, checked against the policy,
/// or of a generated one, which goes into `generated`.
caf::expected<std::string> new_hash(user_change& x, std::string& generated) {
  if (x.password.empty()) {
    auto drawn = persistence::generate_password_for(x.name);
    if (!drawn)
      return drawn.error();
    generated = std::move(*drawn);
    return persistence::hash_password(generated);
  }
  if (auto err = persistence::check_password(x.password, x.name))
    return err;
  return persistence::hash_password(x.password);
}

caf::expected<std::string> change_user(account_admin_state& st,
                                       user_change& x) {
  if (auto err = check_user_change(x))
    return err;
  std::string generated;
  auto action = "user." + (x.action == "password" ? std::string{"passwd"}
                                                  : x.action);
  caf::error err;
  std::string detail;
  if (x.action == "add" || x.action == "password") {
    auto hash = new_hash(x, generated);
    if (!hash)
      return hash.error();
    detail = x.action == "add" ? "role " + x.role : "";
    if (!generated.empty())
      detail += std::string{detail.empty() ? "" : ", "} + "generated";
    auto stored = with_db(st, [&](auto& db) -> caf::expected<bool> {
      if (x.action == "add") {
        auto id = persistence::add_user(db, x.name, x.role, *hash);
        if (!id)
          return id.error();
        return true;
      }
      return persistence::done(persistence::set_user_password(db, x.name, *hash));
    });
    if (!stored)
      err = stored.error();
  } else {
    auto stored = with_db(st, [&](auto& db) {
      if (x.action == "role")
        return persistence::done(persistence::set_user_role(db, x.name, x.role));
      return persistence::done(persistence::set_user_status(
        db, x.name, x.action == "enable" ? "active" : "disabled"));
    });
    if (!stored)
      err = stored.error();
    if (x.action == "role")
      detail = "role " + x.role;
  }
  audit(st, x.admin, action, x.name, err, detail);
  if (err) {
    wipe(generated);
    return err;
  }
  return generated;
}

caf::expected<portal_user> change_own_password(account_admin_state& st,
                                               own_password_change& x) {
  auto account = with_db(st, [&](auto& db) {
    return persistence::find_login_account(db, x.name);
  });
  if (!account)
    return account.error();
  if (!*account || (*account)->user.id != x.user_id
      || (*account)->status != "active"
      || !persistence::verify_password(x.current, (*account)->password_hash)) {
    audit(st, x.name, "user.passwd", x.name,
          make_error(errc::unauthorized, "own password: wrong current password"));
    return make_error(errc::unauthorized, "the current password is wrong");
  }
  if (auto err = persistence::check_password(x.next, x.name))
    return err;
  auto hash = persistence::hash_password(x.next);
  if (!hash)
    return hash.error();
  auto stored = with_db(st, [&](auto& db) {
    return persistence::done(persistence::set_user_password(db, x.name, *hash));
  });
  audit(st, x.name, "user.passwd", x.name,
        stored ? caf::error{} : stored.error(), "own password");
  if (!stored)
    return stored.error();
  auto user = with_db(st, [&](auto& db) {
    return persistence::find_active_user(db, x.user_id);
  });
  if (!user)
    return user.error();
  if (!*user)
    return make_error(errc::unauthorized, "the account was disabled");
  return std::move(**user);
}

caf::expected<std::vector<certificate_entry>>
certificates(account_admin_state& st, const client_filter& filter) {
  if (!filter.status.empty() && filter.status != "active"
      && filter.status != "revoked" && filter.status != "expired")
    return make_error(errc::invalid_input,
                      "status: expected active, revoked or expired");
  auto rows = with_db(st, [&](auto& db) {
    return persistence::list_certificates(
      db, filter.status,
      filter.expiring_days < 0 ? -1 : filter.expiring_days * 86400);
  });
  if (!rows)
    return rows.error();
  std::vector<certificate_entry> result;
  for (const auto& row : *rows)
    result.push_back(to_entry(row));
  return result;
}

caf::expected<client_listing> clients(account_admin_state& st,
                                      const client_filter& filter) {
  if (!filter.status.empty() && filter.status != "active"
      && filter.status != "disabled")
    return make_error(errc::invalid_input,
                      "status: expected active or disabled");
  auto listed = with_db(st, [](auto& db) { return persistence::list_clients(db); });
  if (!listed)
    return listed.error();
  auto rows = with_db(st, [](auto& db) {
    return persistence::list_certificates(db, "", -1);
  });
  if (!rows)
    return rows.error();
  std::map<std::string, std::vector<certificate_entry>> by_client;
  for (const auto& row : *rows)
    if (!row.client.empty())
      by_client[row.client].push_back(to_entry(row));
  client_listing result;
  for (auto& c : *listed) {
    if ((!filter.status.empty() && c.status != filter.status)
        || (!filter.owner.empty() && c.owner != filter.owner))
      continue;
    auto& certs = by_client[c.name];
    if (filter.expiring_days >= 0
        && std::none_of(certs.begin(), certs.end(), [&](const auto& cert) {
             return expiring(cert, filter.expiring_days);
           }))
      continue;
    result.clients.push_back({c.id, c.name, c.owner, c.status, c.created_at,
                              std::move(certs)});
  }
  auto ca = load_ca(st);
  result.can_issue = static_cast<bool>(ca);
  if (!ca)
    result.ca_problem = render(ca.error());
  return result;
}

caf::expected<issued_bundle> issue(account_admin_state& st,
                                   const client_change& x) {
  auto action = x.action == "add" ? "cert.issue" : "cert.renew";
  auto ca = load_ca(st);
  if (!ca)
    return ca.error();
  issued_bundle result;
  std::string detail;
  auto err = [&]() -> caf::error {
    auto issued = with_db(st, [&](auto& db) {
      return pki::issue_client_certificate(db, *ca, x.name, x.days,
                                           x.action == "renew");
    });
    if (!issued)
      return issued.error();
    if (x.action == "add" && !issued->new_client)
      return make_error(errc::invalid_input,
                        "client '" + x.name
                          + "' exists already; renew its certificate");
    auto registered = with_db(st, [&](auto& db) {
      return persistence::done(
        pki::register_client_certificate(db, *issued, x.owner));
    });
    if (!registered)
      return registered.error();
    const auto& info = issued->cert.info;
    detail = pki::issue_detail(info)
             + (x.owner.empty() ? "" : " owner " + x.owner);
    result.client = x.name;
    result.certificate = {info.serial, info.fingerprint, x.name, "active",
                          info.not_after, 0, {}};
    result.certificate_pem = issued->cert.certificate_pem;
    result.key_pem = issued->cert.key_pem;
    result.ca_pem = ca->certificate_pem();
    if (x.format == "p12") {
      auto password = persistence::generate_password();
      if (!password)
        return password.error();
      auto p12 = pki::make_pkcs12(issued->cert, result.ca_pem, *password);
      if (!p12)
        return p12.error();
      result.pkcs12 = std::move(*p12);
      result.pkcs12_password = std::move(*password);
      wipe(result.key_pem);
    }
    wipe(issued->cert.key_pem);
    return caf::none;
  }();
  audit(st, x.admin, action, x.name, err, detail);
  if (err)
    return err;
  announce(st);
  return result;
}

caf::expected<issued_bundle> change_client(account_admin_state& st,
                                           const client_change& x) {
  if (auto err = check_client_change(x))
    return err;
  if (x.action == "add" || x.action == "renew")
    return issue(st, x);
  auto stored = with_db(st, [&](auto& db) {
    return persistence::done(persistence::set_client_status(
      db, x.name, x.action == "enable" ? "active" : "disabled"));
  });
  audit(st, x.admin, "client." + x.action, x.name,
        stored ? caf::error{} : stored.error());
  if (!stored)
    return stored.error();
  announce(st);
  return issued_bundle{x.name, {}, {}, {}, {}, {}, {}};
}

caf::expected<revocation_result> revoke(account_admin_state& st,
                                        const revocation& x) {
  auto revoked = with_db(st, [&](auto& db) {
    return pki::revoke_certificate(db, x.id, x.reason);
  });
  if (!revoked) {
    audit(st, x.admin, "cert.revoke", x.id, revoked.error());
    return revoked.error();
  }
  audit(st, x.admin, "cert.revoke", revoked->serial, caf::error{},
        pki::revoke_detail(*revoked, x.reason));
  announce(st);
  revocation_result result;
  result.certificate = to_entry(*revoked);
  result.certificate.status = "revoked";
  result.certificate.revocation_reason = x.reason;
  // Without the CA key the registry alone refuses it; heraldctl crl
  // publishes the CRL on the CA's machine.
  if (auto ca = load_ca(st)) {
    auto published = with_db(st, [&](auto& db) {
      return persistence::done(pki::publish_crl(db, *ca, st.cfg.pki.crl_file,
                                                st.cfg.pki.crl_days));
    });
    audit(st, x.admin, "crl.publish", st.cfg.pki.crl_file,
          published ? caf::error{} : published.error());
    if (published) {
      result.crl_published = true;
      announce(st);
    }
  }
  return result;
}

/// Logs failures other than what the admin can fix (bad input, missing
/// records, a refused password, no CA).
template <class T>
caf::result<T> answer(caf::expected<T> x, const char* what) {
  if (x)
    return std::move(*x);
  const auto& err = x.error();
  if (!(err == errc::invalid_input) && !(err == errc::not_found)
      && !(err == errc::unauthorized) && !(err == errc::invalid_config))
    spdlog::warn("account_admin failed to {}: {}", what, render(err));
  return err;
}

} // namespace

caf::error validate(const account_admin_config& cfg) {
  if (!cfg.audit)
    return make_error(errc::invalid_config, "account_admin: no audit actor");
  if (cfg.pki.crl_file.empty() || cfg.pki.crl_days < 1)
    return make_error(errc::invalid_config,
                      "account_admin: pki.crl-file and crl-days are needed");
  return caf::none;
}

caf::error check_user_change(const user_change& x) {
  if (x.action != "add" && x.action != "password" && x.action != "disable"
      && x.action != "enable" && x.action != "role")
    return make_error(errc::invalid_input, "unknown user change");
  if (auto err = persistence::check_username(x.name))
    return err;
  if ((x.action == "add" || x.action == "role") && x.role != "admin"
      && x.role != "user")
    return make_error(errc::invalid_input, "the role must be admin or user");
  if (x.password.size() > persistence::max_password_bytes)
    return make_error(errc::invalid_input, "the password is too long");
  if (x.name == x.admin && x.action == "disable")
    return make_error(errc::invalid_input,
                      "you cannot disable your own account; another admin "
                      "can");
  if (x.name == x.admin && x.action == "role" && x.role != "admin")
    return make_error(errc::invalid_input,
                      "you cannot take the admin role from yourself; another "
                      "admin can");
  return caf::none;
}

caf::error check_client_change(const client_change& x) {
  if (x.action != "add" && x.action != "renew" && x.action != "disable"
      && x.action != "enable")
    return make_error(errc::invalid_input, "unknown client change");
  if (auto err = pki::check_client_name(x.name))
    return err;
  if (!x.owner.empty())
    if (auto err = persistence::check_username(x.owner))
      return make_error(errc::invalid_input, "owner: " + render(err));
  if (x.days < 1 || x.days > 3650)
    return make_error(errc::invalid_input, "validity: 1 to 3650 days");
  if (x.format != "p12" && x.format != "pem")
    return make_error(errc::invalid_input, "format: p12 or pem");
  return caf::none;
}

account_admin_actor::behavior_type
account_admin(account_admin_pointer self, account_admin_config cfg) {
  self->state.cfg = std::move(cfg);
  auto& st = self->state;
  return instrumented(self,
    [&st](users_atom) -> caf::result<std::vector<user_entry>> {
      return answer(users(st), "list users");
    },
    [&st](user_change& x) -> caf::result<std::string> {
      auto result = change_user(st, x);
      wipe(x.password);
      return answer(std::move(result), "change a user");
    },
    [&st](passwd_atom, own_password_change& x) -> caf::result<portal_user> {
      auto result = change_own_password(st, x);
      wipe(x.current);
      wipe(x.next);
      return answer(std::move(result), "change a password");
    },
    [&st](clients_atom,
          const client_filter& filter) -> caf::result<client_listing> {
      return answer(clients(st, filter), "list clients");
    },
    [&st](certs_atom, const client_filter& filter)
      -> caf::result<std::vector<certificate_entry>> {
      return answer(certificates(st, filter), "list certificates");
    },
    [&st](const client_change& x) -> caf::result<issued_bundle> {
      return answer(change_client(st, x), "change a client");
    },
    [&st](const revocation& x) -> caf::result<revocation_result> {
      return answer(revoke(st, x), "revoke a certificate");
    });
}

account_admin_actor spawn_account_admin(caf::actor_system& sys,
                                        account_admin_config cfg) {
  return sys.spawn<caf::detached>(account_admin, std::move(cfg));
}

} // namespace herald
