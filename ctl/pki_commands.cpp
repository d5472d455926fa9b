#include "ctl/pki_commands.hpp"

#include "config/secrets.hpp"
#include "core/errc.hpp"
#include "core/time.hpp"
#include "ctl/support.hpp"
#include "net/tls.hpp"
#include "persistence/audit.hpp"
#include "persistence/certificates.hpp"
#include "persistence/clients.hpp"
#include "persistence/passwords.hpp"
#include "pki/ca.hpp"
#include "pki/client_certificates.hpp"

#include <CLI/CLI.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <ctime>
#include <iostream>

namespace herald::ctl {

namespace {

/// Options the pki commands share; CLI11 binds them.
struct pki_options {
  std::string algorithm = "ec";
  std::string passphrase_file;
  std::string client;
  std::string user;
  int64_t days = 365;
  std::string out = ".";
  bool p12 = false;
  std::string p12_password_file;
  std::vector<std::string> dns;
  std::vector<std::string> ips;
  std::string name;
  std::string status;
  std::string expiring_within;
  bool json = false;
  std::string id;
  std::string reason;
  std::string file;
  /// cert register: an admin certificate (heraldctl console), not a node's.
  bool admin = false;
};

std::string format_time(int64_t unix_seconds) {
  return unix_seconds == 0 ? "-" : iso8601_s(unix_seconds);
}

/// The CA passphrase: HERALD_CA_PASSPHRASE, else --passphrase-file (mode
/// 0600), else none.
caf::expected<std::string> passphrase(const pki_options& opt) {
  return config::read_secret("--passphrase-file", opt.passphrase_file,
                             "HERALD_CA_PASSPHRASE");
}

caf::expected<pki::authority> load_ca(const config::settings& cfg,
                                      const pki_options& opt) {
  auto pass = passphrase(opt);
  if (!pass)
    return pass.error();
  return pki::authority::load(cfg.pki.ca_dir, *pass);
}

/// "30d", "12h", "90m", "45s" or a number of days, in seconds.
caf::expected<int64_t> parse_duration(const std::string& text) {
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  auto unit = text.substr(used);
  if (used == 0 || value < 0 || unit.size() > 1)
    return make_error(errc::invalid_input,
                      "'" + text + "' is no duration; use e.g. 30d or 12h");
  switch (unit.empty() ? 'd' : unit[0]) {
    case 'd':
      return value * 86400;
    case 'h':
      return value * 3600;
    case 'm':
      return value * 60;
    case 's':
      return value;
    default:
      return make_error(errc::invalid_input,
                        "'" + text + "': the unit must be d, h, m or s");
  }
}

/// Writes a new key pair for `name` into `dir` (created mode 0700 when
/// missing): NAME.crt, NAME.key (0600) and optionally NAME.p12 (0600).
/// Writes nothing when any of the files exists; returns the paths written.
caf::expected<std::vector<std::string>>
write_bundle(const std::string& dir, const std::string& name,
             const pki::issued& cert, const std::string& ca_pem,
             const pki_options& opt, std::string& p12_password) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return make_error(errc::io_failure, "cannot create '" + dir + "'");
  std::vector<std::pair<std::string, std::string>> files{
    {dir + "/" + name + ".crt", cert.certificate_pem},
    {dir + "/" + name + ".key", cert.key_pem}};
  if (opt.p12) {
    if (!opt.p12_password_file.empty()) {
      auto pass = config::read_secret(
        "--p12-password-file", opt.p12_password_file, "HERALD_P12_PASSWORD");
      if (!pass)
        return pass.error();
      p12_password = *pass;
    } else if (auto env = std::getenv("HERALD_P12_PASSWORD");
               env != nullptr && *env != 0) {
      p12_password = env;
    } else {
      auto drawn = persistence::generate_password();
      if (!drawn)
        return drawn.error();
      p12_password = std::move(*drawn);
    }
    auto p12 = pki::make_pkcs12(cert, ca_pem, p12_password);
    if (!p12)
      return p12.error();
    files.emplace_back(dir + "/" + name + ".p12", *p12);
  }
  for (const auto& file : files) {
    struct stat st {};
    if (::stat(file.first.c_str(), &st) == 0)
      return make_error(errc::io_failure,
                        "'" + file.first
                          + "' exists already; choose another --out folder");
  }
  std::vector<std::string> written;
  for (const auto& [path, content] : files) {
    auto mode = path.size() > 4 && path.compare(path.size() - 4, 4, ".crt") == 0
                  ? 0644u
                  : 0600u;
    if (auto err = pki::write_new_file(path, content, mode)) {
      for (const auto& done : written)
        ::unlink(done.c_str());
      return err;
    }
    written.push_back(path);
  }
  return written;
}

void remove_files(const std::vector<std::string>& paths) {
  for (const auto& path : paths)
    ::unlink(path.c_str());
}

void print_written(const std::vector<std::string>& paths,
                   const std::string& p12_password, const pki_options& opt) {
  for (const auto& path : paths)
    std::cout << "  wrote " << path << '\n';
  if (!p12_password.empty() && opt.p12_password_file.empty()
      && std::getenv("HERALD_P12_PASSWORD") == nullptr)
    std::cout << "  PKCS#12 password: " << p12_password
              << "\n  (hand it over on a different channel than the "
                 "bundle; it is not stored anywhere)\n";
}

/// Signs a fresh CRL of every revoked certificate and publishes it to
/// pki.crl-file; returns that path.
caf::expected<std::string> publish_crl(const config::settings& cfg,
                                       const pki::authority& ca,
                                       persistence::mysql_connection& db) {
  if (auto err = pki::publish_crl(db, ca, cfg.pki.crl_file, cfg.pki.crl_days))
    return err;
  return cfg.pki.crl_file;
}

// -- commands
// -------------------------------------------------------------------------

int ca_init(const std::string& file, const pki_options& opt) {
  auto cfg = load_settings(file);
  if (!cfg)
    return fail(render(cfg.error()));
  auto algorithm = pki::parse_key_algorithm(opt.algorithm);
  if (!algorithm)
    return fail(render(algorithm.error()));
  auto pass = passphrase(opt);
  if (!pass)
    return fail(render(pass.error()));
  // Fail closed: no CA that the audit log does not record.
  auto db = connect_db(*cfg);
  if (!db)
    return fail(render(db.error()));
  auto ca = pki::authority::create(cfg->pki.ca_dir, *algorithm, *pass);
  if (!ca)
    return fail_audited(*db, "ca.init", cfg->pki.ca_dir, ca.error());
  auto info = ca->info();
  std::cout << "CA created in " << cfg->pki.ca_dir << " (" << opt.algorithm
            << ", valid until " << format_time(info.not_after) << ")\n"
            << "  certificate " << cfg->pki.ca_dir << "/ca.crt, fingerprint "
            << info.fingerprint << '\n'
            << "  private key " << cfg->pki.ca_dir << "/ca.key (mode 0600"
            << (pass->empty() ? ", not encrypted" : ", encrypted") << ")\n";
  if (auto code = audit(*db, "ca.init", cfg->pki.ca_dir, true,
                        "fingerprint " + info.fingerprint))
    return code;
  if (auto crl = publish_crl(*cfg, *ca, *db))
    std::cout << "  empty CRL published to " << *crl << '\n';
  std::cout << "Next: back up ca.key (see docs/CERTIFICATES.md), set "
               "ingress.ca to "
            << cfg->pki.ca_dir << "/ca.crt on every node, and issue "
            << "certificates with heraldctl cert issue.\n";
  return 0;
}

/// Issues a client certificate for `opt.client`: new clients are created,
/// existing ones get one more certificate (`renew` requires it to exist).
int issue_client(const std::string& file, const pki_options& opt, bool renew) {
  const char* action = renew ? "cert.renew" : "cert.issue";
  if (auto err = pki::check_client_name(opt.client))
    return fail(render(err));
  auto opened = open_session(file);
  if (!opened)
    return fail(render(opened.error()));
  auto& [cfg, db] = *opened;
  auto ca = load_ca(cfg, opt);
  if (!ca)
    return fail_audited(db, action, opt.client, ca.error());
  auto issued = pki::issue_client_certificate(db, *ca, opt.client, opt.days,
                                              renew);
  if (!issued)
    return fail(render(issued.error())
                + (renew ? "; use heraldctl cert issue --client NAME" : ""));
  const auto* cert = &issued->cert;
  std::string p12_password;
  auto written = write_bundle(opt.out, opt.client, *cert, ca->certificate_pem(),
                              opt, p12_password);
  if (!written)
    return fail(render(written.error()));
  if (auto err = pki::register_client_certificate(db, *issued, opt.user)) {
    remove_files(*written);
    return fail_audited(db, action, opt.client, err, "; no files were kept");
  }
  if (auto code = audit(db, action, opt.client, true,
                        pki::issue_detail(cert->info)))
    return code;
  announce_change(file);
  std::cout << (renew ? "renewed" : "issued") << " a certificate for client '"
            << opt.client << "' (serial " << cert->info.serial
            << ", valid until " << format_time(cert->info.not_after) << ")\n";
  print_written(*written, p12_password, opt);
  std::cout << "Running nodes accept it within a few seconds."
            << (renew ? " The old certificate stays valid until it expires "
                        "or is revoked."
                      : "")
            << '\n';
  return 0;
}

/// What `cert server` and `cert admin` issue: a certificate of no client,
/// registered with its kind.
struct unowned_kind {
  /// The certificates table's kind, also the audit action's suffix.
  const char* name;
  pki::cert_kind usage;
  const char* description;
};

constexpr unowned_kind server_kind{"server", pki::cert_kind::server,
                                   "a server certificate"};
/// For heraldctl's console (clientAuth only): nodes lead its links to their
/// inspector and nowhere else (docs/CONSOLE.md).
constexpr unowned_kind admin_kind{"admin", pki::cert_kind::client,
                                  "an admin certificate"};

int cert_unowned(const std::string& file, const pki_options& opt,
                 const unowned_kind& kind) {
  auto action = std::string{"cert."} + kind.name;
  auto cfg = load_settings(file);
  if (!cfg)
    return fail(render(cfg.error()));
  auto name = opt.name;
  if (name.empty())
    name = !opt.dns.empty() ? opt.dns.front()
                            : (!opt.ips.empty() ? opt.ips.front() : "");
  if (pki::check_client_name(name))
    return fail("name '" + name
                + "': pass --name with 1 to 64 letters, digits, '.', '_' or "
                  "'-' (it names the files)");
  auto db = connect_db(*cfg);
  if (!db)
    return fail(render(db.error()));
  auto ca = load_ca(*cfg, opt);
  if (!ca)
    return fail_audited(*db, action, name, ca.error());
  pki::issue_request req;
  req.kind = kind.usage;
  req.common_name = name;
  req.dns_names = opt.dns;
  req.ip_addresses = opt.ips;
  req.days = opt.days;
  auto cert = ca->issue(req);
  if (!cert)
    return fail(render(cert.error()));
  std::string p12_password;
  auto written = write_bundle(opt.out, name, *cert, ca->certificate_pem(), opt,
                              p12_password);
  if (!written)
    return fail(render(written.error()));
  if (auto err
      = persistence::add_server_certificate(*db, pki::to_record(cert->info),
                                              kind.name)) {
    remove_files(*written);
    return fail_audited(*db, action, name, err,
                        "; no files were kept");
  }
  if (auto code = audit(*db, action, name, true,
                        pki::issue_detail(cert->info)))
    return code;
  announce_change(file);
  std::cout << "issued " << kind.description << " '" << name << "' (serial "
            << cert->info.serial << ", valid until "
            << format_time(cert->info.not_after) << ")\n";
  print_written(*written, p12_password, opt);
  return 0;
}

void write_json(rapidjson::Writer<rapidjson::StringBuffer>& w,
                const persistence::certificate_row& c) {
  auto str = [&w](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str());
  };
  w.StartObject();
  str("serial", c.serial);
  str("fingerprint", c.fingerprint);
  str("kind", c.kind);
  str("client", c.client);
  str("subject", c.subject);
  str("status", c.status);
  str("not_before", format_time(c.not_before));
  str("not_after", format_time(c.not_after));
  if (c.status == "revoked") {
    str("revoked_at", format_time(c.revoked_at));
    str("revocation_reason", c.revocation_reason);
  }
  w.EndObject();
}

/// "revoked", "expired" or "active", as the operator sees it.
std::string shown_status(const persistence::certificate_row& c) {
  if (c.status == "active" && c.not_after != 0
      && c.not_after <= static_cast<int64_t>(std::time(nullptr)))
    return "expired";
  return c.status;
}

int cert_list(const std::string& file, const pki_options& opt) {
  int64_t within = -1;
  if (!opt.expiring_within.empty()) {
    auto parsed = parse_duration(opt.expiring_within);
    if (!parsed)
      return fail(render(parsed.error()));
    within = *parsed;
  }
  auto db = open_db(file);
  if (!db)
    return fail(render(db.error()));
  auto rows = persistence::list_certificates(*db, opt.status, within);
  if (!rows)
    return fail(render(rows.error()));
  if (opt.json) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    w.StartArray();
    for (auto& c : *rows) {
      c.status = shown_status(c);
      write_json(w, c);
    }
    w.EndArray();
    std::cout << buf.GetString() << '\n';
    return 0;
  }
  std::printf("%-32s %-7s %-20s %-8s %-20s %s\n", "SERIAL", "KIND", "CLIENT",
              "STATUS", "NOT AFTER", "FINGERPRINT");
  for (const auto& c : *rows)
    std::printf("%-32s %-7s %-20s %-8s %-20s %.16s...\n", c.serial.c_str(),
                c.kind.c_str(), c.client.empty() ? "-" : c.client.c_str(),
                shown_status(c).c_str(), format_time(c.not_after).c_str(),
                c.fingerprint.c_str());
  return 0;
}

int cert_show(const std::string& file, const pki_options& opt) {
  auto db = open_db(file);
  if (!db)
    return fail(render(db.error()));
  auto c = persistence::find_certificate(*db, opt.id);
  if (!c)
    return fail(render(c.error()));
  std::cout << "serial:       " << c->serial << '\n'
            << "fingerprint:  " << c->fingerprint << " (SHA-256)\n"
            << "kind:         " << c->kind << '\n'
            << "client:       " << (c->client.empty() ? "-" : c->client) << '\n'
            << "subject:      " << c->subject << '\n'
            << "status:       " << shown_status(*c) << '\n'
            << "not before:   " << format_time(c->not_before) << '\n'
            << "not after:    " << format_time(c->not_after) << '\n'
            << "registered:   " << format_time(c->created_at) << '\n';
  if (c->status == "revoked")
    std::cout << "revoked:      " << format_time(c->revoked_at) << " ("
              << c->revocation_reason << ")\n";
  return 0;
}

int cert_revoke(const std::string& file, const pki_options& opt) {
  if (auto err = pki::check_revocation_reason(opt.reason))
    return fail(render(err));
  auto opened = open_session(file);
  if (!opened)
    return fail(render(opened.error()));
  auto& [cfg, db] = *opened;
  auto c = persistence::find_certificate(db, opt.id);
  if (!c)
    return fail(render(c.error()));
  // Load the CA first: a wrong passphrase must change nothing.
  auto ca = load_ca(cfg, opt);
  if (!ca)
    return fail_audited(db, "cert.revoke", c->serial, ca.error());
  if (auto revoked = pki::revoke_certificate(db, c->fingerprint, opt.reason);
      !revoked)
    return fail_audited(db, "cert.revoke", c->serial, revoked.error());
  if (auto code = audit(db, "cert.revoke", c->serial, true,
                        pki::revoke_detail(*c, opt.reason)))
    return code;
  announce_change(file);
  std::cout << "revoked certificate " << c->serial << " ("
            << (c->client.empty() ? c->subject : "client " + c->client) << ", "
            << opt.reason << ")\n"
            << "Running nodes refuse it within a few seconds.\n";
  auto crl = publish_crl(cfg, *ca, db);
  if (!crl)
    return fail("the revocation is recorded but the CRL was not published: "
                + render(crl.error()) + "; run heraldctl crl");
  if (auto code = audit(db, "crl.publish", *crl, true))
    return code;
  announce_change(file);
  std::cout << "CRL published to " << *crl << '\n';
  return 0;
}

int cert_verify(const std::string& file, const pki_options& opt) {
  auto cfg = load_settings(file);
  if (!cfg)
    return fail(render(cfg.error()));
  auto pem = pki::read_file(opt.file);
  if (!pem)
    return fail(render(pem.error()));
  auto ca_pem = pki::read_file(cfg->pki.ca_dir + "/ca.crt");
  if (!ca_pem)
    return fail(render(ca_pem.error()) + "; check pki.ca-dir");
  std::string crl_pem;
  auto crl_path = cfg->pki.crl_file;
  if (auto crl = pki::read_file(crl_path))
    crl_pem = std::move(*crl);
  auto v = pki::verify(*pem, *ca_pem, crl_pem);
  if (v.valid) {
    // The CRL may lag the database; the database has the last word.
    auto info = pki::inspect(*pem);
    auto db = connect_db(*cfg);
    if (info && db) {
      auto row = persistence::find_certificate(*db, info->fingerprint);
      if (row && row->status == "revoked")
        v = {false, "revoked on " + format_time(row->revoked_at) + " ("
                      + row->revocation_reason + ")"};
      else if (!row && row.error() == errc::not_found)
        v.reason += "; not registered in the database";
    } else if (!db) {
      v.reason += "; database not checked";
    }
  }
  std::cout << opt.file << ": " << (v.valid ? "valid" : "INVALID") << ": "
            << v.reason << '\n';
  return v.valid ? 0 : 1;
}

int cert_register(const std::string& file, const pki_options& opt) {
  auto opened = open_session(file);
  if (!opened)
    return fail(render(opened.error()));
  auto& [cfg, db] = *opened;
  auto pem = pki::read_file(opt.file);
  if (!pem)
    return fail(render(pem.error()));
  auto ca_pem = pki::read_file(cfg.pki.ca_dir + "/ca.crt");
  if (!ca_pem)
    return fail(render(ca_pem.error()) + "; check pki.ca-dir");
  std::string crl_pem;
  if (auto crl = pki::read_file(cfg.pki.crl_file))
    crl_pem = std::move(*crl);
  if (auto v = pki::verify(*pem, *ca_pem, crl_pem); !v.valid)
    return fail_audited(db, "cert.register", opt.file,
                        make_error(errc::invalid_input,
                                   opt.file + " is not valid: " + v.reason));
  auto cert = net::read_certificate(opt.file);
  if (!cert)
    return fail(render(cert.error()));
  if (!opt.admin && !cert->server_auth)
    return fail_audited(db, "cert.register", opt.file,
                        make_error(errc::invalid_input,
                                   opt.file + " lacks serverAuth: only node "
                                              "certificates are registered "
                                              "here; use heraldctl client "
                                              "add for clients"));
  auto kind = opt.admin ? "admin" : "server";
  if (auto err = persistence::add_server_certificate(db, *cert, kind))
    return fail_audited(db, "cert.register", opt.file, err);
  if (auto code = audit(db, "cert.register", cert->subject, true,
                        std::string{opt.admin ? "admin, " : ""} + "serial "
                          + cert->serial + " fingerprint "
                          + cert->fingerprint))
    return code;
  announce_change(file);
  std::cout << "registered " << (opt.admin ? "admin" : "node")
            << " certificate " << cert->subject << " (serial "
            << cert->serial << ")\n";
  return 0;
}

int crl(const std::string& file, const pki_options& opt) {
  auto opened = open_session(file);
  if (!opened)
    return fail(render(opened.error()));
  auto& [cfg, db] = *opened;
  auto ca = load_ca(cfg, opt);
  if (!ca)
    return fail_audited(db, "crl.publish", cfg.pki.crl_file,
                        ca.error());
  auto path = publish_crl(cfg, *ca, db);
  if (!path)
    return fail_audited(db, "crl.publish", cfg.pki.crl_file,
                        path.error());
  if (auto code = audit(db, "crl.publish", *path, true))
    return code;
  announce_change(file);
  std::cout << "CRL published to " << *path << ", valid for "
            << cfg.pki.crl_days
            << " days; nodes reload it within pki.crl-refresh. Publish "
               "again well before it expires.\n";
  return 0;
}

int audit_verify(const std::string& file) {
  auto opened = open_session(file);
  if (!opened)
    return fail(render(opened.error()));
  auto& [cfg, db] = *opened;
  auto check = persistence::verify_audit(db, cfg.crypto.audit_key);
  if (!check)
    return fail(render(check.error()));
  if (check->first_broken != 0) {
    std::cout << "audit log BROKEN at row " << check->first_broken << ": "
              << check->why << '\n';
    return 1;
  }
  std::cout << "audit log intact: " << check->rows << " rows\n";
  return 0;
}

} // namespace

void add_pki_commands(CLI::App& app, std::string& config_file, int& result) {
  // CLI11 binds references into the options; the callbacks keep them
  // alive as long as the app.
  auto opts = std::make_shared<pki_options>();
  auto& opt = *opts;
  auto* file = &config_file;
  auto* code = &result;
  auto add_config_option = [file](CLI::App* cmd) {
    cmd->add_option("--config-file", *file,
                    "node configuration (INI); default: $HERALD_CONFIG");
  };
  auto add_passphrase_option = [&opt](CLI::App* cmd) {
    cmd->add_option("--passphrase-file", opt.passphrase_file,
                    "file with the CA key's passphrase (mode 0600); or set "
                    "HERALD_CA_PASSPHRASE");
  };
  auto add_bundle_options = [&opt](CLI::App* cmd) {
    cmd->add_option("--days", opt.days, "validity in days (default 365)");
    cmd->add_option("--out", opt.out,
                    "folder for NAME.crt, NAME.key and NAME.p12 (default .)");
    cmd->add_flag("--p12", opt.p12,
                  "also write a password-protected PKCS#12 bundle");
    cmd->add_option("--p12-password-file", opt.p12_password_file,
                    "file with the bundle's password (else "
                    "HERALD_P12_PASSWORD, else a random one is printed)");
  };

  auto ca = app.add_subcommand("ca", "manage the certificate authority");
  ca->require_subcommand(1);
  auto init = ca->add_subcommand(
    "init", "create the CA in pki.ca-dir (never overwrites one)");
  add_config_option(init);
  init->add_option("--algorithm", opt.algorithm,
                   "ec (P-256, default), rsa3072 or rsa4096");
  add_passphrase_option(init);
  init->callback([opts, file, code] { *code = ca_init(*file, *opts); });

  auto cert = app.add_subcommand("cert", "issue, list and revoke "
                                         "certificates");
  cert->require_subcommand(1);
  auto issue = cert->add_subcommand(
    "issue", "issue a client certificate (creates the client if needed)");
  add_config_option(issue);
  issue->add_option("--client", opt.client, "client name")->required();
  issue->add_option("--user", opt.user, "owning portal user of a new client");
  add_bundle_options(issue);
  add_passphrase_option(issue);
  issue->callback(
    [opts, file, code] { *code = issue_client(*file, *opts, false); });

  auto renew = cert->add_subcommand(
    "renew", "issue a new certificate for an existing client; the old one "
             "stays valid until it expires or is revoked");
  add_config_option(renew);
  renew->add_option("--client", opt.client, "client name")->required();
  add_bundle_options(renew);
  add_passphrase_option(renew);
  renew->callback(
    [opts, file, code] { *code = issue_client(*file, *opts, true); });

  auto server = cert->add_subcommand(
    "server", "issue a server or node certificate (serverAuth, clientAuth)");
  add_config_option(server);
  server->add_option("--dns", opt.dns, "DNS names (subject alternative names)");
  server->add_option("--ip", opt.ips,
                     "IP addresses (subject alternative "
                     "names)");
  server->add_option("--name", opt.name,
                     "common name and file name (default: the first name)");
  add_bundle_options(server);
  add_passphrase_option(server);
  server->callback(
    [opts, file, code] { *code = cert_unowned(*file, *opts, server_kind); });

  auto admin = cert->add_subcommand(
    "admin", "issue an admin certificate (clientAuth) for heraldctl console "
             "and inspect");
  add_config_option(admin);
  admin->add_option("--name", opt.name, "common name and file name")
    ->required();
  add_bundle_options(admin);
  add_passphrase_option(admin);
  admin->callback(
    [opts, file, code] { *code = cert_unowned(*file, *opts, admin_kind); });

  auto list = cert->add_subcommand("list", "list registered certificates");
  add_config_option(list);
  list->add_option("--status", opt.status, "active, revoked or expired");
  list->add_option("--expiring-within", opt.expiring_within,
                   "only active ones expiring within e.g. 30d or 12h");
  list->add_flag("--json", opt.json, "print JSON");
  list->callback([opts, file, code] { *code = cert_list(*file, *opts); });

  auto show = cert->add_subcommand("show", "show one certificate");
  add_config_option(show);
  show->add_option("SERIAL", opt.id, "serial or SHA-256 fingerprint (hex)")
    ->required();
  show->callback([opts, file, code] { *code = cert_show(*file, *opts); });

  auto revoke = cert->add_subcommand(
    "revoke", "revoke a certificate and publish a fresh CRL");
  add_config_option(revoke);
  revoke->add_option("SERIAL", opt.id, "serial or SHA-256 fingerprint (hex)")
    ->required();
  revoke
    ->add_option("--reason", opt.reason,
                 "keyCompromise, superseded, cessationOfOperation, "
                 "affiliationChanged, cACompromise or unspecified")
    ->required();
  add_passphrase_option(revoke);
  revoke->callback([opts, file, code] { *code = cert_revoke(*file, *opts); });

  auto verify = cert->add_subcommand(
    "verify", "check a certificate file: CA, dates, revocation, key usage");
  add_config_option(verify);
  verify->add_option("FILE", opt.file, "certificate (PEM)")->required();
  verify->callback([opts, file, code] { *code = cert_verify(*file, *opts); });

  auto register_cmd = cert->add_subcommand(
    "register", "register a node certificate issued elsewhere by this CA "
                "(serverAuth), so receivers accept it");
  add_config_option(register_cmd);
  register_cmd->add_option("FILE", opt.file, "certificate (PEM)")->required();
  register_cmd->add_flag("--admin", opt.admin,
                         "register an admin certificate for heraldctl "
                         "console and inspect instead");
  register_cmd->callback(
    [opts, file, code] { *code = cert_register(*file, *opts); });

  auto crl_cmd
    = app.add_subcommand("crl", "sign and publish a fresh CRL to pki.crl-file");
  add_config_option(crl_cmd);
  add_passphrase_option(crl_cmd);
  crl_cmd->callback([opts, file, code] { *code = crl(*file, *opts); });

  auto audit_cmd = app.add_subcommand("audit", "check the audit log");
  audit_cmd->require_subcommand(1);
  auto audit_verify_cmd = audit_cmd->add_subcommand(
    "verify", "recompute the hash chain; report the first broken row");
  add_config_option(audit_verify_cmd);
  audit_verify_cmd->callback([file, code] { *code = audit_verify(*file); });
}

} // namespace herald::ctl
