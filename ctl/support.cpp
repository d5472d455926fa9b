#include "ctl/support.hpp"

#include "core/errc.hpp"
#include "persistence/audit.hpp"
#include "persistence/cluster_view.hpp"
#include "persistence/redis.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

namespace herald::ctl {

namespace {

/// The audit key of the configuration loaded last (heraldctl runs one
/// command per process).
std::string audit_key;

/// The acting user: the real uid's name, and the login uid's (the kernel
/// keeps it across sudo and su; no environment variable can change it)
/// when it differs.
std::string acting_user() {
  auto name_of = [](uid_t uid) {
    if (auto pw = getpwuid(uid); pw != nullptr)
      return std::string{pw->pw_name};
    return "uid " + std::to_string(uid);
  };
  auto result = name_of(getuid());
  std::ifstream in{"/proc/self/loginuid"};
  long long login = -1;
  if (in >> login && login >= 0 && login != 4294967295LL
      && static_cast<uid_t>(login) != getuid())
    result += " (login " + name_of(static_cast<uid_t>(login)) + ")";
  return result;
}

} // namespace

audit_event this_run_event(const std::string& action) {
  audit_event event;
  event.actor = acting_user();
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  event.source = std::string{"heraldctl@"} + host;
  event.action = action;
  return event;
}

int fail(const std::string& what) {
  std::cerr << "heraldctl: " << what << '\n';
  return 1;
}

caf::expected<std::string> config_path(const std::string& flag) {
  if (!flag.empty())
    return flag;
  if (auto env = std::getenv("HERALD_CONFIG"); env != nullptr && *env != 0)
    return std::string{env};
  return make_error(errc::invalid_config,
                    "no configuration: pass --config-file FILE or set "
                    "HERALD_CONFIG");
}

caf::expected<std::unique_ptr<config::herald_config>>
load_config(const std::string& flag) {
  auto path = config_path(flag);
  if (!path)
    return path.error();
  auto cfg = std::make_unique<config::herald_config>();
  if (auto err = config::load_file(*cfg, *path))
    return err;
  return cfg;
}

caf::expected<config::settings> load_settings(const std::string& flag) {
  auto cfg = load_config(flag);
  if (!cfg)
    return cfg.error();
  // heraldctl sets a node up before its certificates exist, and never
  // serves: the roles' TLS files are the node's to check.
  auto result = (*cfg)->make_settings(config::role_files::unchecked);
  if (result)
    audit_key = result->crypto.audit_key;
  return result;
}

caf::expected<persistence::mysql_connection>
connect_db(const config::settings& cfg) {
  auto db = persistence::mysql_connection::connect(cfg.mysql);
  if (!db)
    return make_error(errc::database_failure,
                      render(db.error())
                        + "; check the [mysql] settings and that the server "
                          "runs");
  // Fail closed: nothing changes unless it can be audited.
  if (cfg.crypto.audit_key.empty())
    return make_error(errc::invalid_config,
                      "crypto.audit-key-file: not set; heraldctl audits "
                      "every change and needs the audit key (create one "
                      "with: openssl rand -hex 32 > FILE; chmod 600 FILE)");
  if (auto table = db->query("SELECT 1 FROM audit_log LIMIT 0", {}); !table)
    return make_error(errc::schema_mismatch,
                      "the audit log is not writable ("
                        + render(table.error())
                        + "); run heraldctl db migrate");
  return db;
}

caf::expected<session> open_session(const std::string& flag) {
  auto cfg = load_settings(flag);
  if (!cfg)
    return cfg.error();
  auto db = connect_db(*cfg);
  if (!db)
    return db.error();
  return session{std::move(*cfg), std::move(*db)};
}

caf::expected<persistence::mysql_connection> open_db(const std::string& flag) {
  auto s = open_session(flag);
  if (!s)
    return s.error();
  return std::move(s->db);
}

int audit(persistence::mysql_connection& db, const std::string& action,
          const std::string& target, bool ok, const std::string& detail) {
  auto event = this_run_event(action);
  event.target = target;
  event.outcome = ok ? "ok" : "failed";
  event.detail = detail;
  if (auto err = persistence::append_audit(db, audit_key, event)) {
    std::cerr << "heraldctl: the audit log did not record " << action << " "
              << target << " (" << (ok ? "done" : "failed")
              << "): " << render(err)
              << "; record it by hand and fix the audit log before going "
                 "on\n";
    return 3;
  }
  return 0;
}

int fail_audited(persistence::mysql_connection& db, const std::string& action,
                 const std::string& target, const caf::error& err,
                 const std::string& hint) {
  auto code = audit(db, action, target, false, render(err));
  fail(render(err) + hint);
  return code != 0 ? code : 1;
}

void announce_change(const std::string& flag) {
  auto cfg = load_settings(flag);
  caf::error err;
  if (!cfg) {
    err = cfg.error();
  } else if (auto redis = persistence::redis_connection::connect(cfg->redis);
             !redis) {
    err = redis.error();
  } else if (auto announced = persistence::announce_change(*redis);
             !announced) {
    err = announced.error();
  }
  if (err)
    std::cerr << "heraldctl: note: running nodes were not told at once ("
              << render(err)
              << "); they apply the change on their own timers "
                 "(recovery.clients-refresh, pki.crl-refresh)\n";
}

} // namespace herald::ctl
