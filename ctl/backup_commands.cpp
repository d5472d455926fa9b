#include "ctl/backup_commands.hpp"

#include "config/secrets.hpp"
#include "core/errc.hpp"
#include "core/hex.hpp"
#include "ctl/support.hpp"
#include "persistence/audit.hpp"
#include "persistence/backup_archive.hpp"
#include "persistence/crypto.hpp"
#include "persistence/delivery_store.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/redis.hpp"
#include "pki/ca.hpp"

#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
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

/// Starts `argv` with stdin from the file `in` (empty: inherited) and
/// stdout to `out_fd` (-1: inherited); returns its pid.
caf::expected<pid_t> start_tool(const std::vector<std::string>& argv,
                                const std::string& in, int out_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!in.empty())
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, in.c_str(),
                                     O_RDONLY, 0);
  if (out_fd >= 0)
    posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
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
  return pid;
}

/// Waits for `pid`; its exit code, 128 + the signal when one ended it.
int wait_tool(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    // retry
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// "12.3 MiB" for humans on stderr.
std::string human(uint64_t bytes) {
  char buf[32];
  if (bytes < 1024)
    std::snprintf(buf, sizeof(buf), "%llu bytes",
                  static_cast<unsigned long long>(bytes));
  else if (bytes < 1024 * 1024)
    std::snprintf(buf, sizeof(buf), "%.1f KiB", bytes / 1024.0);
  else
    std::snprintf(buf, sizeof(buf), "%.1f MiB", bytes / 1048576.0);
  return buf;
}

/// Progress on stderr: "heraldctl: [2/5] pki: ...".
struct progress {
  int total;
  int step = 0;

  void stage(const std::string& what) {
    std::cerr << "heraldctl: [" << ++step << '/' << total << "] " << what
              << '\n';
  }

  static void note(const std::string& what) {
    std::cerr << "heraldctl:       " << what << '\n';
  }
};

/// The archive's key: --key-file (or HERALD_BACKUP_KEY), 64 hex digits, or
/// else a passphrase from --passphrase-file (or HERALD_BACKUP_PASSPHRASE).
/// Never from the command line.
caf::expected<persistence::archive_secret>
archive_secret_from(const std::string& passphrase_file,
                    const std::string& key_file, bool creating) {
  using kind = persistence::archive_secret::kind;
  if (!passphrase_file.empty() && !key_file.empty())
    return make_error(errc::invalid_input,
                      "give either --passphrase-file or --key-file, not both");
  if (!key_file.empty() || std::getenv("HERALD_BACKUP_KEY") != nullptr) {
    auto text = config::read_secret("--key-file", key_file,
                                    "HERALD_BACKUP_KEY");
    if (!text)
      return text.error();
    std::array<uint8_t, 32> key{};
    if (!decode_hex(*text, key))
      return make_error(errc::invalid_input,
                        "--key-file: the key must be 64 hex digits; make one "
                        "with: openssl rand -hex 32 > FILE; chmod 600 FILE");
    return persistence::archive_secret{
      kind::key, std::string{key.begin(), key.end()}};
  }
  auto text = config::read_secret("--passphrase-file", passphrase_file,
                                  "HERALD_BACKUP_PASSPHRASE");
  if (!text)
    return text.error();
  if (text->empty())
    return make_error(errc::invalid_input,
                      "no passphrase or key: pass --passphrase-file FILE "
                      "(mode 0600) or --key-file FILE, or set "
                      "HERALD_BACKUP_PASSPHRASE");
  if (creating && text->size() < 12)
    return make_error(errc::invalid_input,
                      "the passphrase must have at least 12 characters");
  return persistence::archive_secret{kind::passphrase, std::move(*text)};
}

/// Writes all of `data` to `fd`.
caf::error write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return make_error(errc::io_failure,
                        std::string{"cannot write the archive: "}
                          + std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

/// The regular files directly in `dir`, sorted; none when it is missing.
std::vector<fs::path> files_in(const std::string& dir) {
  std::vector<fs::path> result;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator{dir, ec})
    if (entry.is_regular_file(ec))
      result.push_back(entry.path());
  std::sort(result.begin(), result.end());
  return result;
}

/// The folder of the CRL: the PKI files nodes use (CRL, node and server
/// certificates and keys); empty when it is the CA's folder itself.
std::string pki_dir_of(const config::state_paths& paths) {
  auto dir = fs::path{paths.crl_file}.parent_path();
  std::error_code ec;
  if (dir.empty() || fs::equivalent(dir, paths.ca_dir, ec))
    return {};
  return dir.string();
}

/// "herald-20261130T200102Z.hbk" for now.
std::string backup_name() {
  auto now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "herald-%Y%m%dT%H%M%SZ.hbk", &tm);
  return buf;
}

/// The archives in `dir`, oldest first (their names sort by time).
std::vector<fs::path> backups_in(const fs::path& dir) {
  std::vector<fs::path> result;
  for (auto& path : files_in(dir.string())) {
    auto name = path.filename().string();
    if (name.rfind("herald-", 0) == 0 && path.extension() == ".hbk")
      result.push_back(path);
  }
  return result;
}

struct backup_options {
  std::string out;
  std::string out_dir = "/var/lib/herald/backups";
  int keep = 14;
  std::string passphrase_file;
  std::string key_file;
};

/// Streams mariadb-dump's output into the member begun last.
caf::error dump_database(const config::mysql_config& my,
                         persistence::archive_writer& writer) {
  client_options options{my};
  if (!options.ok())
    return make_error(errc::io_failure,
                      "cannot write the client's option file in /tmp");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return make_error(errc::io_failure, "cannot make a pipe");
  // One transaction (InnoDB): a consistent snapshot while nodes write.
  auto pid = start_tool({"mariadb-dump", options.flag(),
                         "--single-transaction", "--quick", "--hex-blob",
                         "--routines", "--triggers", "--no-tablespaces",
                         my.database},
                        "", fds[1]);
  ::close(fds[1]);
  if (!pid) {
    ::close(fds[0]);
    return pid.error();
  }
  caf::error err;
  uint64_t total = 0;
  uint64_t next_note = 64 << 20;
  std::vector<char> buf(1 << 16);
  for (;;) {
    auto n = ::read(fds[0], buf.data(), buf.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if ((err = writer.write({buf.data(), static_cast<size_t>(n)})))
      break;
    total += static_cast<uint64_t>(n);
    if (total >= next_note) {
      progress::note("database: " + human(total) + " so far");
      next_note += 64 << 20;
    }
  }
  // Closing the pipe ends a dump we stopped reading (SIGPIPE).
  ::close(fds[0]);
  auto rc = wait_tool(*pid);
  if (err)
    return err;
  if (rc != 0)
    return make_error(errc::database_failure,
                      "mariadb-dump exited with " + std::to_string(rc)
                        + "; check the [mysql] settings and that the user "
                          "may dump the database");
  progress::note("database: " + human(total) + " (mariadb-dump "
                 "--single-transaction)");
  return {};
}

/// Adds one small member.
caf::error add_member(persistence::archive_writer& writer,
                      const std::string& name, uint32_t mode,
                      std::string_view content) {
  if (auto err = writer.begin(name, mode))
    return err;
  if (auto err = writer.write(content))
    return err;
  return writer.end();
}

/// Writes every member: the secrets, the PKI, Redis (before the database,
/// so that every id it queues has its row in the dump), the database.
caf::error write_members(const config::settings& cfg,
                         const config::state_paths& paths,
                         persistence::archive_writer& writer,
                         progress& steps) {
  steps.stage("secrets: data keys, sender pepper, audit key");
  struct secret {
    const char* member;
    const char* setting;
    const std::string& path;
    const char* env;
  };
  for (const auto& s :
       {secret{"secrets/data-keys", "crypto.keys-file", paths.keys_file,
               "HERALD_DATA_KEYS"},
        secret{"secrets/sender-pepper", "crypto.pepper-file",
               paths.pepper_file, "HERALD_SENDER_PEPPER"},
        secret{"secrets/audit-key", "crypto.audit-key-file",
               paths.audit_key_file, "HERALD_AUDIT_KEY"}}) {
    auto value = config::read_secret(s.setting, s.path, s.env);
    if (!value)
      return value.error();
    if (value->empty())
      return make_error(errc::invalid_config,
                        std::string{s.setting}
                          + ": not set; a backup without it is of no use");
    if (auto err = add_member(writer, s.member, 0600, *value + '\n'))
      return err;
  }
  auto pki_dir = pki_dir_of(paths);
  size_t count = 0;
  for (const auto& [prefix, dir] :
       {std::pair{std::string{"ca/"}, paths.ca_dir},
        std::pair{std::string{"pki/"}, pki_dir}}) {
    if (dir.empty())
      continue;
    for (const auto& path : files_in(dir)) {
      auto content = pki::read_file(path.string());
      if (!content)
        return content.error();
      struct stat st {};
      ::stat(path.c_str(), &st);
      if (auto err = add_member(writer, prefix + path.filename().string(),
                                st.st_mode & 0777, *content))
        return err;
      ++count;
    }
  }
  steps.stage("pki: " + std::to_string(count) + " files of " + paths.ca_dir
              + (pki_dir.empty() ? "" : " and " + pki_dir));
  steps.stage("redis: the queue, in-flight lists and retry schedule");
  auto redis = persistence::redis_connection::connect(cfg.redis);
  if (!redis)
    return redis.error();
  auto queue = persistence::dump_queue_state(*redis);
  if (!queue)
    return queue.error();
  if (auto err = add_member(writer, "redis-queue", 0600, *queue))
    return err;
  progress::note("redis: " + human(queue->size()));
  steps.stage("database " + cfg.mysql.database);
  if (auto err = writer.begin("database.sql", 0600))
    return err;
  if (auto err = dump_database(cfg.mysql, writer))
    return err;
  return writer.end();
}

int backup(const std::string& config_file, const backup_options& opt) {
  if (opt.keep < 1)
    return fail("--keep must be at least 1");
  auto loaded = load_config(config_file);
  if (!loaded)
    return fail(render(loaded.error()));
  auto paths = (*loaded)->state_files();
  auto secret = archive_secret_from(opt.passphrase_file, opt.key_file, true);
  if (!secret)
    return fail(render(secret.error()));
  auto s = open_session(config_file);
  if (!s)
    return fail(render(s.error()));
  fs::path final_path = opt.out;
  std::error_code ec;
  if (final_path.empty()) {
    fs::create_directories(opt.out_dir, ec);
    if (ec)
      return fail("cannot create " + opt.out_dir + ": " + ec.message());
    final_path = fs::path{opt.out_dir} / backup_name();
  }
  if (fs::exists(final_path, ec))
    return fail(final_path.string()
                + " exists; choose another name or move it away");
  // Written under a temporary name (mkstemp: mode 0600) and renamed when
  // complete: the final name never holds a partial archive.
  auto tmpl = final_path.string() + ".part-XXXXXX";
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0)
    return fail("cannot create " + tmpl + ": " + std::strerror(errno));
  const std::string part = tmpl;
  auto start = std::chrono::steady_clock::now();
  progress steps{5};
  auto run = [&]() -> caf::expected<uint64_t> {
    auto writer = persistence::archive_writer::start(
      *secret, [fd](std::string_view bytes) { return write_all(fd, bytes); });
    if (!writer)
      return writer.error();
    if (auto err = write_members(s->cfg, paths, *writer, steps))
      return err;
    auto members = writer->finish();
    if (!members)
      return members.error();
    if (::fsync(fd) != 0)
      return make_error(errc::io_failure, std::string{"cannot sync: "}
                                            + std::strerror(errno));
    steps.stage("archive: " + std::to_string(members->size())
                + " members and the manifest, " + human(writer->written())
                + " encrypted");
    return writer->written();
  };
  auto size = run();
  ::close(fd);
  if (!size || ::rename(part.c_str(), final_path.c_str()) != 0) {
    auto err = size ? make_error(errc::io_failure,
                                 "cannot rename " + part + ": "
                                   + std::strerror(errno))
                    : size.error();
    ::unlink(part.c_str());
    return fail_audited(s->db, "backup.create", final_path.string(), err,
                        "; no archive was written");
  }
  if (int dir = ::open(final_path.parent_path().empty()
                         ? "."
                         : final_path.parent_path().c_str(),
                       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  auto seconds = std::chrono::duration<double>(
                   std::chrono::steady_clock::now() - start)
                   .count();
  std::vector<fs::path> removed;
  if (opt.out.empty()) {
    auto all = backups_in(opt.out_dir);
    for (size_t i = 0; i + opt.keep < all.size(); ++i) {
      fs::remove(all[i], ec);
      removed.push_back(all[i]);
    }
  }
  std::cout << final_path.string() << " (" << *size << " bytes, "
            << static_cast<int>(seconds * 1000) << " ms)";
  if (!removed.empty())
    std::cout << "; removed " << removed.size() << " older backups (--keep "
              << opt.keep << ")";
  std::cout << '\n';
  return audit(s->db, "backup.create", final_path.string(), true,
               std::to_string(*size) + " bytes");
}

// -- restore ------------------------------------------------------------------------

struct restore_options {
  std::string from;
  std::string passphrase_file;
  std::string key_file;
  bool force = false;
  bool check = false;
};

/// A private folder for the decrypted members until they are in place,
/// removed at the end.
class staging {
public:
  staging() {
    auto base = std::getenv("TMPDIR");
    auto tmpl = std::string{base && *base ? base : "/tmp"}
                + "/heraldctl-restore-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr)
      dir_ = tmpl;
  }

  ~staging() {
    std::error_code ec;
    if (!dir_.empty())
      fs::remove_all(dir_, ec);
  }

  staging(const staging&) = delete;
  staging& operator=(const staging&) = delete;

  const std::string& dir() const {
    return dir_;
  }

private:
  std::string dir_;
};

/// Where member `name` goes in this installation, or an error for a member
/// it has no place for.
caf::expected<std::string> target_of(const std::string& name,
                                     const config::state_paths& paths) {
  auto need = [&](const std::string& path,
                  const char* setting) -> caf::expected<std::string> {
    if (path.empty())
      return make_error(errc::invalid_config,
                        std::string{setting}
                          + ": not set; the restore needs a file to write "
                          + name + " to");
    return path;
  };
  if (name == "secrets/data-keys")
    return need(paths.keys_file, "crypto.keys-file");
  if (name == "secrets/sender-pepper")
    return need(paths.pepper_file, "crypto.pepper-file");
  if (name == "secrets/audit-key")
    return need(paths.audit_key_file, "crypto.audit-key-file");
  auto file = name.substr(name.find('/') + 1);
  if (name.rfind("ca/", 0) == 0 && file.find('/') == std::string::npos)
    return paths.ca_dir + "/" + file;
  if (name.rfind("pki/", 0) == 0 && file.find('/') == std::string::npos) {
    auto dir = fs::path{paths.crl_file}.parent_path().string();
    return (dir.empty() ? std::string{"."} : dir) + "/" + file;
  }
  return make_error(errc::invalid_input,
                    "the archive holds a member this heraldctl does not "
                    "know: " + name);
}

/// Secrets and private keys are 0600 whatever the archive says; other
/// files keep their mode without write or execute bits for others.
unsigned restored_mode(const std::string& name, uint32_t mode) {
  auto is_key = name.size() > 4
                && name.compare(name.size() - 4, 4, ".key") == 0;
  if (name.rfind("secrets/", 0) == 0 || is_key)
    return 0600;
  return mode & 0644;
}

/// Why the database is not empty, or nothing when it is: no tables, or
/// Herald's schema without a message, client or audit row.
caf::expected<std::string> database_contents(persistence::mysql_connection& db,
                                             const std::string& name) {
  auto tables = db.query_int("SELECT COUNT(*) FROM information_schema.tables "
                             "WHERE table_schema = DATABASE()");
  if (!tables)
    return tables.error();
  if (!*tables || **tables == 0)
    return std::string{};
  auto rows = db.query_int("SELECT (SELECT COUNT(*) FROM messages) + "
                           "(SELECT COUNT(*) FROM clients) + "
                           "(SELECT COUNT(*) FROM audit_log)");
  if (!rows)
    return "database " + name + " has tables that are not Herald's schema";
  if (*rows && **rows > 0)
    return "database " + name + " holds " + std::to_string(**rows)
           + " messages, clients and audit rows";
  return std::string{};
}

/// The checks after a restore: the audit chain, every body against the
/// restored keys and pepper, every certificate against the restored CA.
/// Returns 0, or 1 after saying what is wrong.
int verify_restored(const std::string& config_file, const std::string& from,
                    const std::map<std::string, std::string>& written,
                    const config::state_paths& paths, progress& steps) {
  steps.stage("checks: audit chain, message bodies, certificates");
  auto s = open_session(config_file);
  if (!s)
    return fail(render(s.error()) + "; the files and databases are restored, "
                                    "the checks could not run");
  auto chain = persistence::verify_audit(s->db, s->cfg.crypto.audit_key);
  if (!chain)
    return fail(render(chain.error()));
  if (chain->first_broken != 0)
    return fail_audited(s->db, "backup.restore", from,
                        make_error(errc::invalid_input,
                                   "the restored audit log breaks at row "
                                     + std::to_string(chain->first_broken)
                                     + ": " + chain->why));
  progress::note("audit log: " + std::to_string(chain->rows)
                 + " rows, chain intact");
  auto keys = persistence::key_ring::load(paths.keys_file);
  if (!keys)
    return fail(render(keys.error()));
  auto pepper = config::read_secret("crypto.pepper-file", paths.pepper_file,
                                    "HERALD_SENDER_PEPPER");
  if (!pepper)
    return fail(render(pepper.error()));
  auto bodies = persistence::check_bodies(s->db, *keys, *pepper);
  if (!bodies)
    return fail(render(bodies.error()));
  if (bodies->failed > 0)
    return fail_audited(s->db, "backup.restore", from,
                        make_error(errc::invalid_input,
                                   std::to_string(bodies->failed)
                                     + " stored messages do not open with "
                                       "the restored keys and pepper, e.g. "
                                     + bodies->first_failure));
  progress::note("messages: all " + std::to_string(bodies->opened)
                 + " bodies open with the restored data keys and match "
                   "the pepper");
  auto ca = written.find("ca/ca.crt");
  if (ca == written.end()) {
    progress::note("certificates: no ca/ca.crt in the archive, not checked");
  } else {
    auto ca_pem = pki::read_file(ca->second);
    std::string crl_pem;
    if (auto crl = pki::read_file(paths.crl_file))
      crl_pem = std::move(*crl);
    size_t valid = 0;
    std::vector<std::string> invalid;
    for (const auto& [name, path] : written) {
      if (name == "ca/ca.crt" || path.size() < 4
          || path.compare(path.size() - 4, 4, ".crt") != 0)
        continue;
      auto pem = pki::read_file(path);
      auto v = pem && ca_pem ? pki::verify(*pem, *ca_pem, crl_pem)
                             : pki::verdict{false, "unreadable"};
      if (v.valid)
        ++valid;
      else
        invalid.push_back(path + ": " + v.reason);
    }
    progress::note("certificates: " + std::to_string(valid)
                   + " valid under the restored CA and CRL, "
                   + std::to_string(invalid.size()) + " not");
    for (const auto& x : invalid)
      progress::note("  " + x);
  }
  std::cout << "restored " << from << ": " << written.size()
            << " files, database, Redis queue; audit log intact ("
            << chain->rows << " rows), " << bodies->opened
            << " message bodies readable. Start the nodes.\n";
  return audit(s->db, "backup.restore", from, true);
}

int restore(const std::string& config_file, const restore_options& opt) {
  auto loaded = load_config(config_file);
  if (!loaded)
    return fail(render(loaded.error()));
  auto paths = (*loaded)->state_files();
  auto secret = archive_secret_from(opt.passphrase_file, opt.key_file, false);
  if (!secret)
    return fail(render(secret.error()));
  std::ifstream in{opt.from, std::ios::binary};
  if (!in)
    return fail("no backup at " + opt.from + ": " + std::strerror(errno));
  progress steps{opt.check ? 1 : 5};
  // 1. Decrypt and check everything into a private folder: nothing of the
  // installation changes unless the whole archive is intact.
  steps.stage("checking " + opt.from + " (every chunk, the manifest)");
  staging stage;
  if (stage.dir().empty())
    return fail("cannot create a private folder in $TMPDIR or /tmp");
  std::map<std::string, std::string> staged;
  std::map<std::string, uint32_t> modes;
  std::ofstream out;
  size_t index = 0;
  persistence::archive_visitor visitor{
    [&](const std::string& name, uint32_t mode) -> caf::error {
      auto path = stage.dir() + "/" + std::to_string(index++);
      staged[name] = path;
      modes[name] = mode;
      out.open(path, std::ios::binary | std::ios::trunc);
      return out ? caf::error{}
                 : make_error(errc::io_failure, "cannot write " + path);
    },
    [&](std::string_view data) -> caf::error {
      out.write(data.data(), static_cast<std::streamsize>(data.size()));
      return out ? caf::error{}
                 : make_error(errc::io_failure,
                              "cannot write to " + stage.dir()
                                + " (disk full?)");
    },
    [&]() -> caf::error {
      out.close();
      return {};
    }};
  auto members = persistence::read_archive(in, *secret, visitor);
  if (!members)
    return fail(render(members.error()) + "; nothing was restored");
  uint64_t total = 0;
  for (const auto& m : *members)
    total += m.size;
  progress::note(std::to_string(members->size()) + " members, "
                 + human(total) + ", all authentic");
  if (opt.check) {
    for (const auto& m : *members)
      std::cout << m.sha256 << ' ' << m.size << ' ' << m.name << '\n';
    return 0;
  }
  if (!staged.count("database.sql") || !staged.count("redis-queue"))
    return fail("the archive has no database.sql or redis-queue member; "
                "nothing was restored");
  // 2. Only into an empty installation unless --force: files, database and
  // Redis are all checked before the first write.
  std::map<std::string, std::string> targets;
  std::vector<std::string> occupied;
  for (const auto& [name, path] : staged) {
    if (name == "database.sql" || name == "redis-queue")
      continue;
    auto target = target_of(name, paths);
    if (!target)
      return fail(render(target.error()) + "; nothing was restored");
    targets[name] = *target;
    std::error_code ec;
    if (fs::exists(*target, ec))
      occupied.push_back(*target);
  }
  auto my = (*loaded)->make_mysql_settings();
  if (!my)
    return fail(render(my.error()));
  auto db = persistence::mysql_connection::connect(*my);
  if (!db)
    return fail(render(db.error()) + "; check the [mysql] settings and that "
                                     "the server runs");
  auto contents = database_contents(*db, my->database);
  if (!contents)
    return fail(render(contents.error()));
  if (!contents->empty())
    occupied.push_back(*contents);
  auto rd = (*loaded)->make_redis_settings();
  if (!rd)
    return fail(render(rd.error()));
  auto redis = persistence::redis_connection::connect(*rd);
  if (!redis)
    return fail(render(redis.error()) + "; check the [redis] settings");
  auto keys = persistence::scan_keys(*redis, "herald:*");
  if (!keys)
    return fail(render(keys.error()));
  if (!keys->empty())
    occupied.push_back("Redis holds " + std::to_string(keys->size())
                       + " herald:* keys (" + keys->front() + ", ...)");
  if (!occupied.empty() && !opt.force) {
    std::string list;
    for (const auto& x : occupied)
      list += "\n  " + x;
    return fail("this installation is not empty:" + list
                + "\nnothing was restored. Restore into an empty "
                  "installation, or stop every node and pass --force to "
                  "overwrite all of it with the backup");
  }
  // 3. Files, 4. database, 5. Redis.
  steps.stage("files: " + std::to_string(targets.size())
              + " secrets and PKI files");
  for (const auto& [name, target] : targets) {
    auto content = pki::read_file(staged[name]);
    if (!content)
      return fail(render(content.error()));
    auto parent = fs::path{target}.parent_path();
    std::error_code ec;
    if (!parent.empty() && !fs::exists(parent, ec)) {
      fs::create_directories(parent, ec);
      fs::permissions(parent, fs::perms::owner_all, ec);
    }
    auto mode = restored_mode(name, modes[name]);
    auto err = opt.force ? pki::replace_file(target, *content, mode)
                         : pki::write_new_file(target, *content, mode);
    if (err)
      return fail(render(err));
    // Run as root, the files belong to whoever owns their folder (herald).
    struct stat st {};
    if (::geteuid() == 0 && ::stat(parent.c_str(), &st) == 0
        && ::chown(target.c_str(), st.st_uid, st.st_gid) != 0)
      return fail("cannot hand " + target + " to its folder's owner");
  }
  steps.stage("database " + my->database + ": loading "
              + human(fs::file_size(staged["database.sql"])));
  client_options options{*my};
  if (!options.ok())
    return fail("cannot write the client's option file in /tmp");
  auto pid = start_tool({"mariadb", options.flag(), my->database},
                        staged["database.sql"], -1);
  if (!pid)
    return fail(render(pid.error()));
  if (auto rc = wait_tool(*pid); rc != 0)
    return fail("mariadb exited with " + std::to_string(rc)
                + " while loading the dump; the files are restored: fix the "
                  "cause and run the restore again with --force");
  steps.stage("redis: the queue and retry schedule");
  auto queue = pki::read_file(staged["redis-queue"]);
  if (!queue)
    return fail(render(queue.error()));
  auto restored = persistence::restore_queue_state(*redis, *queue);
  if (!restored)
    return fail(render(restored.error())
                + "; the files and database are restored; the recovery "
                  "sweep queues undelivered messages again without it");
  progress::note("redis: " + std::to_string(*restored) + " keys");
  return verify_restored(config_file, opt.from, targets, paths, steps);
}

} // namespace

void add_backup_commands(CLI::App& app, std::string& config_file,
                         int& result) {
  // CLI11 binds references into the options; the callbacks keep them
  // alive as long as the app.
  auto bopts = std::make_shared<backup_options>();
  auto ropts = std::make_shared<restore_options>();
  auto* file = &config_file;
  auto* code = &result;
  auto add_secret_options = [](CLI::App* cmd, std::string& passphrase_file,
                               std::string& key_file) {
    cmd->add_option("--passphrase-file", passphrase_file,
                    "file (mode 0600) holding the archive's passphrase; or "
                    "set HERALD_BACKUP_PASSPHRASE");
    cmd->add_option("--key-file", key_file,
                    "file (mode 0600) holding a 256-bit key as 64 hex "
                    "digits (openssl rand -hex 32); or set HERALD_BACKUP_KEY");
  };
  auto backup_cmd = app.add_subcommand(
    "backup", "write one encrypted archive (AES-256-GCM) of the database "
              "(consistent, while nodes run), the Redis queue, the data "
              "keys, pepper, audit key and the PKI; mode 0600");
  backup_cmd->add_option("--config-file", config_file,
                         "node configuration (INI); default: $HERALD_CONFIG");
  backup_cmd->add_option("--out", bopts->out,
                         "the archive to write (instead of --out-dir)");
  backup_cmd->add_option("--out-dir", bopts->out_dir,
                         "folder for herald-<UTC time>.hbk")
    ->capture_default_str();
  backup_cmd->add_option("--keep", bopts->keep,
                         "archives to keep in --out-dir; older ones go")
    ->capture_default_str();
  add_secret_options(backup_cmd, bopts->passphrase_file, bopts->key_file);
  backup_cmd->callback([bopts, file, code] {
    *code = backup(*file, *bopts);
  });
  auto restore_cmd = app.add_subcommand(
    "restore", "check a backup archive whole, then bring it back into an "
               "empty installation (stop every node first)");
  restore_cmd->add_option("--config-file", config_file,
                          "node configuration (INI); default: "
                          "$HERALD_CONFIG");
  restore_cmd->add_option("ARCHIVE", ropts->from,
                          "a file heraldctl backup wrote")
    ->required();
  add_secret_options(restore_cmd, ropts->passphrase_file, ropts->key_file);
  restore_cmd->add_flag("--force", ropts->force,
                        "overwrite existing keys, PKI files, database and "
                        "Redis queue");
  restore_cmd->add_flag("--check", ropts->check,
                        "only check the archive and list its members");
  restore_cmd->callback([ropts, file, code] {
    *code = restore(*file, *ropts);
  });
}

} // namespace herald::ctl
