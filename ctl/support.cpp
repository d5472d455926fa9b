#include "ctl/support.hpp"

#include "config/herald_config.hpp"
#include "core/errc.hpp"
#include "persistence/audit.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

namespace herald::ctl {

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

caf::expected<config::settings> load_settings(const std::string& flag) {
  auto path = config_path(flag);
  if (!path)
    return path.error();
  config::herald_config cfg;
  if (auto err = config::load_file(cfg, *path))
    return err;
  return cfg.make_settings();
}

caf::expected<persistence::mysql_connection>
connect_db(const config::settings& cfg) {
  auto db = persistence::mysql_connection::connect(cfg.mysql);
  if (!db)
    return make_error(errc::database_failure,
                      render(db.error())
                        + "; check the [mysql] settings and that the server "
                          "runs");
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

void audit(persistence::mysql_connection& db, const std::string& action,
           const std::string& target, bool ok, const std::string& detail) {
  persistence::audit_event event;
  if (auto sudo = std::getenv("SUDO_USER"); sudo != nullptr && *sudo != 0) {
    event.actor = sudo;
  } else if (auto pw = getpwuid(geteuid()); pw != nullptr) {
    event.actor = pw->pw_name;
  } else {
    event.actor = "uid " + std::to_string(geteuid());
  }
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  event.source = std::string{"heraldctl@"} + host;
  event.action = action;
  event.target = target;
  event.outcome = ok ? "ok" : "failed";
  event.detail = detail;
  if (auto err = persistence::append_audit(db, event))
    std::cerr << "heraldctl: warning: the audit log did not record " << action
              << " " << target << ": " << render(err)
              << "; run heraldctl db migrate if the table is missing\n";
}

int fail_audited(persistence::mysql_connection& db, const std::string& action,
                 const std::string& target, const caf::error& err,
                 const std::string& hint) {
  audit(db, action, target, false, render(err));
  return fail(render(err) + hint);
}

} // namespace herald::ctl
