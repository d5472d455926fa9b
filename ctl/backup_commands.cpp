#include "ctl/backup_commands.hpp"

#include "core/errc.hpp"
#include "ctl/support.hpp"
#include "persistence/audit.hpp"

#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <iostream>
#include <vector>

extern char** environ;

namespace fs = std::filesystem;

namespace herald::ctl {

namespace {

/// A private folder for the client's option file, removed at the end: the
/// password never appears on a command line or in the environment.
class client_options {
public:
  explicit client_options(const config::mysql_config& db) {
    char tmpl[] = "/tmp/heraldctl-XXXXXX";
    if (mkdtemp(tmpl) == nullptr)
      return;
    dir_ = tmpl;
    path_ = dir_ + "/client.cnf";
    auto fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
      return;
    std::string text = "[client]\nuser=" + db.user + "\npassword=\""
                       + db.password + "\"\n";
    if (!db.socket.empty()) {
      text += "socket=" + db.socket + "\n";
    } else {
      text += "host=" + db.host + "\nport=" + std::to_string(db.port) + "\n";
      text += "protocol=tcp\n";
    }
    if (!db.tls.ca.empty()) {
      text += "ssl-ca=" + db.tls.ca + "\nssl-verify-server-cert\n";
      if (!db.tls.certificate.empty())
        text += "ssl-cert=" + db.tls.certificate + "\nssl-key=" + db.tls.key
                + "\n";
    }
    ok_ = ::write(fd, text.data(), text.size())
          == static_cast<ssize_t>(text.size());
    ::close(fd);
  }

  ~client_options() {
    std::error_code ec;
    if (!dir_.empty())
      fs::remove_all(dir_, ec);
  }

  client_options(const client_options&) = delete;
  client_options& operator=(const client_options&) = delete;

  bool ok() const {
    return ok_;
  }

  /// The option that names the file; must come first.
  std::string flag() const {
    return "--defaults-extra-file=" + path_;
  }

private:
  std::string dir_;
  std::string path_;
  bool ok_ = false;
};

/// Runs `argv` with stdin from `in` and stdout to `out` (empty: inherited);
/// returns its exit code, or an error when it could not run.
caf::expected<int> run_tool(const std::vector<std::string>& argv,
                            const std::string& in, const std::string& out) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!in.empty())
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, in.c_str(),
                                     O_RDONLY, 0);
  if (!out.empty())
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args;
  for (const auto& x : argv)
    args.push_back(const_cast<char*>(x.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  auto rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(),
                         environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return make_error(errc::invalid_config,
                      "cannot run " + argv[0] + ": " + std::strerror(rc)
                        + "; install the MariaDB client (apt install "
                          "mariadb-client)");
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    // retry
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// "herald-20261130T200102Z.sql" for now.
std::string backup_name() {
  auto now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "herald-%Y%m%dT%H%M%SZ.sql", &tm);
  return buf;
}

/// The backups in `dir`, oldest first (their names sort by time).
std::vector<fs::path> backups_in(const fs::path& dir) {
  std::vector<fs::path> result;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator{dir, ec}) {
    auto name = entry.path().filename().string();
    if (name.rfind("herald-", 0) == 0 && entry.path().extension() == ".sql")
      result.push_back(entry.path());
  }
  std::sort(result.begin(), result.end());
  return result;
}

int backup(const std::string& config_file, const std::string& out_dir,
           int keep) {
  if (keep < 1)
    return fail("--keep must be at least 1");
  auto s = open_session(config_file);
  if (!s)
    return fail(render(s.error()));
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec)
    return fail("cannot create " + out_dir + ": " + ec.message());
  client_options options{s->cfg.mysql};
  if (!options.ok())
    return fail("cannot write the client's option file in /tmp");
  auto final_path = fs::path{out_dir} / backup_name();
  auto part = final_path.string() + ".part";
  std::cerr << "dumping database " << s->cfg.mysql.database << " to "
            << final_path.string() << " ...\n";
  auto start = std::chrono::steady_clock::now();
  // One transaction (InnoDB): a consistent snapshot while nodes write.
  auto rc = run_tool({"mariadb-dump", options.flag(), "--single-transaction",
                      "--quick", "--hex-blob", "--routines", "--triggers",
                      "--no-tablespaces", s->cfg.mysql.database},
                     "", part);
  if (!rc || *rc != 0) {
    fs::remove(part, ec);
    auto err = rc ? make_error(errc::database_failure,
                               "mariadb-dump exited with " + std::to_string(*rc))
                  : rc.error();
    return fail_audited(s->db, "backup.create", final_path.string(), err,
                        "; check the [mysql] settings and that the user may "
                        "dump the database");
  }
  fs::rename(part, final_path, ec);
  if (ec)
    return fail("cannot rename " + part + ": " + ec.message());
  auto size = fs::file_size(final_path, ec);
  auto seconds = std::chrono::duration<double>(
                   std::chrono::steady_clock::now() - start)
                   .count();
  std::vector<fs::path> removed;
  auto all = backups_in(out_dir);
  for (size_t i = 0; i + keep < all.size(); ++i) {
    fs::remove(all[i], ec);
    removed.push_back(all[i]);
  }
  std::cout << final_path.string() << " (" << size << " bytes, "
            << static_cast<int>(seconds * 1000) << " ms)";
  if (!removed.empty())
    std::cout << "; removed " << removed.size() << " older backups (--keep "
              << keep << ")";
  std::cout << '\n';
  return audit(s->db, "backup.create", final_path.string(), true,
               std::to_string(size) + " bytes");
}

int restore(const std::string& config_file, const std::string& from,
            bool replace) {
  std::error_code ec;
  if (!fs::is_regular_file(from, ec))
    return fail("no backup at " + from);
  auto s = open_session(config_file);
  if (!s)
    return fail(render(s.error()));
  auto rows = s->db.query("SELECT COUNT(*) FROM messages", {});
  if (rows && !rows->empty() && (*rows)[0][0] && *(*rows)[0][0] != "0"
      && !replace)
    return fail("database " + s->cfg.mysql.database + " holds "
                + *(*rows)[0][0]
                + " messages; stop every node and pass --replace to "
                  "overwrite it with the backup");
  client_options options{s->cfg.mysql};
  if (!options.ok())
    return fail("cannot write the client's option file in /tmp");
  std::cerr << "restoring " << from << " into database "
            << s->cfg.mysql.database << " ...\n";
  auto rc = run_tool({"mariadb", options.flag(), s->cfg.mysql.database}, from,
                     "");
  // The audit log itself came back with the backup: reconnect and record
  // the restore at the end of the restored chain.
  auto db = connect_db(s->cfg);
  if (!db)
    return fail(render(db.error()));
  if (!rc || *rc != 0)
    return fail_audited(*db, "backup.restore", from,
                        rc ? make_error(errc::database_failure,
                                        "mariadb exited with "
                                          + std::to_string(*rc))
                           : rc.error());
  auto chain = persistence::verify_audit(*db, s->cfg.crypto.audit_key);
  if (!chain)
    return fail(render(chain.error()));
  if (chain->first_broken != 0)
    return fail_audited(*db, "backup.restore", from,
                        make_error(errc::invalid_input,
                                   "the restored audit log breaks at row "
                                     + std::to_string(chain->first_broken)
                                     + ": " + chain->why));
  std::cout << "restored " << from << "; audit log intact (" << chain->rows
            << " rows). Start the nodes: the recovery sweep queues every "
               "undelivered message in Redis again.\n";
  return audit(*db, "backup.restore", from, true);
}

} // namespace

void add_backup_commands(CLI::App& app, std::string& config_file,
                         int& result) {
  // CLI11 binds references into the options; the callbacks keep them
  // alive as long as the app.
  struct options {
    std::string out_dir = "/var/lib/herald/backups";
    int keep = 14;
    std::string from;
    bool replace = false;
  };
  auto opts = std::make_shared<options>();
  auto* file = &config_file;
  auto* code = &result;
  auto backup_cmd = app.add_subcommand(
    "backup", "dump the database (consistent, while nodes run) to "
              "--out-dir/herald-<UTC time>.sql, mode 0600");
  backup_cmd->add_option("--config-file", config_file,
                         "node configuration (INI); default: $HERALD_CONFIG");
  backup_cmd->add_option("--out-dir", opts->out_dir, "where backups go")
    ->capture_default_str();
  backup_cmd->add_option("--keep", opts->keep,
                         "backups to keep; older ones go")
    ->capture_default_str();
  backup_cmd->callback([opts, file, code] {
    *code = backup(*file, opts->out_dir, opts->keep);
  });
  auto restore_cmd = app.add_subcommand(
    "restore", "load a backup into the database (stop every node first)");
  restore_cmd->add_option("--config-file", config_file,
                          "node configuration (INI); default: "
                          "$HERALD_CONFIG");
  restore_cmd->add_option("BACKUP", opts->from,
                          "a file heraldctl backup wrote")
    ->required();
  restore_cmd->add_flag("--replace", opts->replace,
                        "overwrite a database that holds messages");
  restore_cmd->callback([opts, file, code] {
    *code = restore(*file, opts->from, opts->replace);
  });
}

} // namespace herald::ctl
