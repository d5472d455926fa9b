#pragma once

#include "config/herald_config.hpp"
#include "config/settings.hpp"
#include "core/messages.hpp"
#include "persistence/mysql.hpp"

#include <caf/expected.hpp>

#include <memory>
#include <string>

namespace herald::ctl {

/// Prints "heraldctl: WHAT" to stderr and returns exit code 1.
int fail(const std::string& what);

/// The config file: --config-file, else $HERALD_CONFIG.
caf::expected<std::string> config_path(const std::string& flag);

/// Loads the configuration named by --config-file without turning it into
/// settings: for commands that need its paths before its secrets exist.
caf::expected<std::unique_ptr<config::herald_config>>
load_config(const std::string& flag);

/// Loads and validates the configuration named by --config-file.
caf::expected<config::settings> load_settings(const std::string& flag);

/// Connects to the database of `cfg`; the error says what to check. Fails
/// unless the audit log can be written (its key set, its table there), so
/// that no command changes anything it cannot audit.
caf::expected<persistence::mysql_connection>
connect_db(const config::settings& cfg);

/// The configuration named by --config-file and a connection to its
/// database, for commands that need both.
struct session {
  config::settings cfg;
  persistence::mysql_connection db;
};

caf::expected<session> open_session(const std::string& flag);

/// Loads the configuration named by --config-file and connects to its
/// database.
caf::expected<persistence::mysql_connection> open_db(const std::string& flag);

/// Appends an action of this heraldctl run to the audit log, HMAC-chained
/// under crypto.audit-key-file (actor: the real user, and the login user
/// behind sudo from the kernel's login uid; source: heraldctl@host).
/// Returns 0, or 3 after saying on stderr that the action is not recorded:
/// commands return it, so an unaudited change never exits 0.
int audit(persistence::mysql_connection& db, const std::string& action,
          const std::string& target, bool ok, const std::string& detail = "");

/// An audit event of this heraldctl run for `action`: its actor and
/// source as audit() sets them, for commands that append batches.
audit_event this_run_event(const std::string& action);

/// Audits that `action` on `target` failed with `err`, then reports it
/// (with `hint` appended) like fail(): returns 1.
int fail_audited(persistence::mysql_connection& db, const std::string& action,
                 const std::string& target, const caf::error& err,
                 const std::string& hint = "");

/// Tells running nodes that clients, certificates, the CRL or the data keys
/// changed (persistence::announce_change): a cluster applies it on every
/// member within a second. When Redis cannot be told, says on stderr that
/// nodes apply it on their own timers; the change itself stands.
void announce_change(const std::string& flag);

} // namespace herald::ctl
