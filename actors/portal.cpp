#include "actors/portal.hpp"
#include "actors/detail/instrument.hpp"

#include "core/errc.hpp"
#include "core/logging.hpp"
#include "persistence/crypto.hpp"
#include "persistence/delivery_store.hpp"
#include "persistence/passwords.hpp"
#include "persistence/portal_store.hpp"
#include "persistence/reconnect.hpp"
#include "persistence/users.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

namespace herald {

namespace {

void audit(portal_state& st, const std::string& actor, const char* action,
           const std::string& target, bool ok, std::string detail) {
  audit_event x;
  x.actor = actor;
  x.action = action;
  x.target = target;
  x.outcome = ok ? "ok" : "failed";
  x.detail = std::move(detail);
  caf::anon_send(st.cfg.audit, std::move(x));
}

caf::expected<login_result> check_login(portal_state& st,
                                        const login_request& req) {
  // Only a valid name can be an account; others are counted per address.
  auto name = persistence::check_username(req.username) ? std::string{}
                                                        : req.username;
  auto shown = name.empty() ? std::string{"(invalid name)"} : name;
  auto from = "from " + req.remote_ip;
  auto locked = persistence::with_connection(st.redis, st.cfg.redis, [&](auto& redis) {
    return persistence::lock_remaining_ms(redis, name, req.remote_ip);
  });
  if (!locked)
    return locked.error();
  if (*locked > 0) {
    audit(st, shown, "login.failed", shown, false, from + ": locked");
    return login_result{"locked", {}, (*locked + 999) / 1000};
  }
  std::optional<persistence::login_account> account;
  if (!name.empty()) {
    auto found = persistence::with_connection(st.db, st.cfg.mysql, [&](auto& db) {
      return persistence::find_login_account(db, name);
    });
    if (!found)
      return found.error();
    account = std::move(*found);
  }
  bool usable = account && account->status == "active"
                && !account->password_hash.empty();
  if (!usable && st.decoy_hash.empty()) {
    auto decoy = persistence::generate_password();
    if (!decoy)
      return decoy.error();
    auto hash = persistence::hash_password(*decoy);
    if (!hash)
      return hash.error();
    st.decoy_hash = std::move(*hash);
  }
  bool matches = persistence::verify_password(
    req.password, usable ? account->password_hash : st.decoy_hash);
  if (usable && matches) {
    auto cleared = persistence::with_connection(st.redis, st.cfg.redis, [&](auto& redis) {
      return persistence::done(persistence::clear_failures(redis, name));
    });
    if (!cleared)
      return cleared.error();
    audit(st, name, "login.ok", name, true, from);
    return login_result{"ok", account->user, 0};
  }
  // Failures of unknown names lock the address only: counting them per
  // name would let anyone fill Redis with made-up accounts.
  auto counted = account ? name : std::string{};
  auto outcome = persistence::with_connection(st.redis, st.cfg.redis, [&](auto& redis) {
    return persistence::record_failure(redis, st.cfg.limits, counted,
                                       req.remote_ip);
  });
  if (!outcome)
    return outcome.error();
  const char* why = !account               ? ": no such account"
                    : account->status != "active" ? ": account disabled"
                    : account->password_hash.empty() ? ": no password set"
                                                     : ": wrong password";
  audit(st, shown, "login.failed", shown, false, from + why);
  auto lock_s = std::chrono::duration_cast<std::chrono::seconds>(
                  st.cfg.limits.window)
                  .count();
  if (outcome->account_locked_now)
    audit(st, shown, "login.lockout", name, true,
          from + ": account locked for " + std::to_string(lock_s) + " s");
  if (outcome->ip_locked_now)
    audit(st, shown, "login.lockout", req.remote_ip, true,
          "address locked for " + std::to_string(lock_s) + " s");
  if (outcome->account_locked_now || outcome->ip_locked_now)
    return login_result{"locked", {}, lock_s};
  return login_result{"refused", {}, 0};
}

caf::expected<portal_user> check_session(portal_state& st,
                                         const session_claims& claims) {
  auto revoked = persistence::with_connection(st.redis, st.cfg.redis, [&](auto& redis) {
    return persistence::session_revoked(redis, claims.token_id);
  });
  if (!revoked)
    return revoked.error();
  if (*revoked)
    return make_error(errc::unauthorized, "session revoked");
  auto user = persistence::with_connection(st.db, st.cfg.mysql, [&](auto& db) {
    return persistence::find_active_user(db, claims.user_id);
  });
  if (!user)
    return user.error();
  if (!*user || (*user)->generation != claims.generation)
    return make_error(errc::unauthorized, "user changed or disabled");
  return std::move(**user);
}

caf::expected<std::vector<owned_client>> clients_of(portal_state& st,
                                                    uint64_t user_id) {
  return persistence::with_connection(st.db, st.cfg.mysql, [&](auto& db) {
    return persistence::owned_clients(db, user_id);
  });
}

caf::expected<message_detail> detail_of(portal_state& st, uint64_t user_id,
                                        const std::string& id) {
  auto clients = clients_of(st, user_id);
  if (!clients)
    return clients.error();
  auto found = persistence::with_connection(st.db, st.cfg.mysql, [&](auto& db) {
    return persistence::find_user_message(db, *clients, id);
  });
  if (!found)
    return found.error();
  if (!*found)
    return make_error(errc::not_found, "no such message of this user");
  auto& stored = **found;
  auto payload = persistence::open_payload(*st.cfg.keys->current(),
                                          {stored.key_id, stored.nonce,
                                           stored.ciphertext},
                                          id);
  if (!payload)
    return payload.error();
  // The page shows the body only, never the full sender number.
  stored.detail.body = std::move(payload->second);
  return std::move(stored.detail);
}

} // namespace

caf::error validate(const portal_worker_config& cfg) {
  if (cfg.keys == nullptr)
    return make_error(errc::invalid_config, "portal: no data keys");
  if (!cfg.audit)
    return make_error(errc::invalid_config, "portal: no audit actor");
  if (cfg.limits.per_account < 1 || cfg.limits.per_ip < 1
      || cfg.limits.window <= caf::timespan::zero())
    return make_error(errc::invalid_config, "portal: bad login limits");
  return caf::none;
}

portal_actor::behavior_type portal(portal_pointer self,
                                   portal_worker_config cfg) {
  self->state.cfg = std::move(cfg);
  auto& st = self->state;
  auto log_failure = [](const char* what, const caf::error& err) {
    spdlog::warn("portal failed to {}: {}", what, render(err));
  };
  return instrumented(self,
    [&st, log_failure](login_atom,
                       login_request& req) -> caf::result<login_result> {
      auto result = check_login(st, req);
      // The password is needed no longer than the check.
      std::fill(req.password.begin(), req.password.end(), '\0');
      if (!result) {
        log_failure("check a login", result.error());
        return result.error();
      }
      return std::move(*result);
    },
    [&st, log_failure](session_atom, const session_claims& claims)
      -> caf::result<portal_user> {
      auto result = check_session(st, claims);
      if (!result) {
        if (!(result.error() == errc::unauthorized))
          log_failure("check a session", result.error());
        return result.error();
      }
      return std::move(*result);
    },
    [&st, log_failure](logout_atom, const session_claims& claims,
                       const std::string& name) -> caf::result<bool> {
      auto revoked = persistence::with_connection(st.redis, st.cfg.redis, [&](auto& redis) {
        return persistence::done(persistence::revoke_session(redis, claims.token_id,
                                                claims.ends_at_ms));
      });
      if (!revoked) {
        log_failure("revoke a session", revoked.error());
        return revoked.error();
      }
      audit(st, name, "logout", name, true, {});
      return true;
    },
    [&st, log_failure](page_atom, uint64_t user_id,
                       const user_message_filter& filter)
      -> caf::result<message_page> {
      auto clients = clients_of(st, user_id);
      if (!clients) {
        log_failure("list clients", clients.error());
        return clients.error();
      }
      auto page = persistence::with_connection(st.db, st.cfg.mysql, [&](auto& db) {
        return persistence::find_user_messages(db, *clients, filter);
      });
      if (!page) {
        log_failure("list messages", page.error());
        return page.error();
      }
      return std::move(*page);
    },
    [&st, log_failure](caf::get_atom, uint64_t user_id,
                       const std::string& id) -> caf::result<message_detail> {
      auto detail = detail_of(st, user_id, id);
      if (!detail) {
        if (!(detail.error() == errc::not_found))
          log_failure("read a message", detail.error());
        return detail.error();
      }
      return std::move(*detail);
    }
  );
}

portal_actor spawn_portal(caf::actor_system& sys, portal_worker_config cfg) {
  return sys.spawn<caf::detached>(portal, std::move(cfg));
}

} // namespace herald
