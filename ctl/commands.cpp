#include "ctl/commands.hpp"

#include "config/herald_config.hpp"
#include "core/errc.hpp"
#include "core/version.hpp"
#include "ctl/backup_commands.hpp"
#include "ctl/cluster_commands.hpp"
#include "ctl/console_commands.hpp"
#include "ctl/message_commands.hpp"
#include "ctl/pki_commands.hpp"
#include "ctl/support.hpp"
#include "ctl/user_commands.hpp"
#include "net/tls.hpp"
#include "persistence/clients.hpp"
#include "persistence/crypto.hpp"
#include "persistence/migrations.hpp"
#include "persistence/mysql.hpp"

#include <CLI/CLI.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

namespace herald::ctl {

namespace {

int config_check(const std::string& file) {
  auto cfg = load_settings(file);
  if (!cfg)
    return fail(file + ": " + render(cfg.error()));
  std::string roles;
  for (const auto& role : cfg->node.roles)
    roles += (roles.empty() ? "" : ",") + role;
  std::cout << file << ": ok (node '" << cfg->node.name << "', roles "
            << (roles.empty() ? "none" : roles) << ")\n";
  return 0;
}

int db_migrate(const std::string& file) {
  auto cfg = load_settings(file);
  if (!cfg)
    return fail(render(cfg.error()));
  std::cout << "connecting to MariaDB database '" << cfg->mysql.database
            << "'...\n";
  auto db = persistence::mysql_connection::connect_with_retry(
    cfg->mysql, nullptr, true);
  if (!db)
    return fail(render(db.error())
                + "; check the [mysql] settings and that the server runs");
  auto before = persistence::current_version(*db);
  if (!before)
    return fail(render(before.error()));
  auto after = persistence::migrate(*db, [](const persistence::migration& m) {
    std::cout << "applying " << m.name << "..." << std::endl;
  });
  if (!after)
    return fail(render(after.error()));
  if (*after == *before)
    std::cout << "schema is up to date at version " << *after << '\n';
  else
    std::cout << "schema migrated from version " << *before << " to "
              << *after << '\n';
  return 0;
}

int client_add(const std::string& file, const std::string& name,
               const std::string& user, const std::string& cert_file) {
  if (name.empty() || name.size() > 64)
    return fail("client name must have 1 to 64 characters");
  auto cert = net::read_certificate(cert_file);
  if (!cert)
    return fail(render(cert.error()));
  // A node certificate as a client's would let that client deliver to
  // receivers; issue client certificates with heraldctl cert client.
  if (cert->server_auth)
    return fail("'" + cert_file
                + "' is a node certificate (extended key usage serverAuth); "
                  "register a client certificate from heraldctl cert client");
  auto db = open_db(file);
  if (!db)
    return fail(render(db.error()));
  auto id = persistence::add_client(*db, name, user, *cert);
  if (!id)
    return fail_audited(*db, "client.add", name, id.error());
  if (auto code = audit(*db, "client.add", name, true,
                        "fingerprint " + cert->fingerprint))
    return code;
  announce_change(file);
  std::cout << "client '" << name << "' added (id " << *id
            << "), certificate " << cert->fingerprint << '\n'
            << "running nodes accept it within a few seconds\n";
  return 0;
}

int client_set_status(const std::string& file, const std::string& name,
                      const std::string& status) {
  auto db = open_db(file);
  if (!db)
    return fail(render(db.error()));
  auto action = status == "active" ? "client.enable" : "client.disable";
  if (auto err = persistence::set_client_status(*db, name, status))
    return fail_audited(*db, action, name, err);
  if (auto code = audit(*db, action, name, true))
    return code;
  announce_change(file);
  std::cout << "client '" << name << "' is " << status << '\n';
  return 0;
}

int client_list(const std::string& file, bool json) {
  auto db = open_db(file);
  if (!db)
    return fail(render(db.error()));
  auto clients = persistence::list_clients(*db);
  if (!clients)
    return fail(render(clients.error()));
  if (json) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    w.StartArray();
    for (const auto& c : *clients) {
      w.StartObject();
      w.Key("id");
      w.Uint64(c.id);
      w.Key("name");
      w.String(c.name.c_str());
      w.Key("status");
      w.String(c.status.c_str());
      w.Key("owner");
      w.String(c.owner.c_str());
      w.Key("active_certificates");
      w.Uint64(c.active_certificates);
      w.Key("created_at");
      w.String(c.created_at.c_str());
      w.EndObject();
    }
    w.EndArray();
    std::cout << buf.GetString() << '\n';
    return 0;
  }
  std::printf("%-6s %-24s %-9s %-16s %-6s %s\n", "ID", "NAME", "STATUS",
              "OWNER", "CERTS", "CREATED");
  for (const auto& c : *clients)
    std::printf("%-6llu %-24s %-9s %-16s %-6llu %s\n",
                static_cast<unsigned long long>(c.id), c.name.c_str(),
                c.status.c_str(), c.owner.empty() ? "-" : c.owner.c_str(),
                static_cast<unsigned long long>(c.active_certificates),
                c.created_at.c_str());
  return 0;
}

int keys_rotate(const std::string& flag) {
  auto path = config_path(flag);
  if (!path)
    return fail(render(path.error()));
  config::herald_config cfg;
  if (auto err = config::load_file(cfg, *path))
    return fail(render(err));
  if (cfg.keys_file().empty())
    return fail("crypto.keys-file is not set in " + *path);
  // The first key is made while setting up, before the database exists;
  // every later rotation is audited, and refused when it cannot be.
  std::optional<persistence::mysql_connection> db;
  if (std::ifstream existing{cfg.keys_file()}; existing) {
    auto opened = open_db(*path);
    if (!opened)
      return fail(render(opened.error()));
    db.emplace(std::move(*opened));
  }
  auto id = persistence::key_ring::rotate(cfg.keys_file());
  if (!id)
    return db ? fail_audited(*db, "keys.rotate", cfg.keys_file(), id.error())
              : fail(render(id.error()));
  if (db)
    if (auto code = audit(*db, "keys.rotate", cfg.keys_file(), true,
                          "active key " + std::to_string(*id)))
      return code;
  if (db)
    announce_change(flag);
  std::cout << "data key " << *id << " added to " << cfg.keys_file()
            << " and active for new messages; older keys stay for reading.\n"
            << "Running nodes load it within pki.crl-refresh (2 s); copy "
               "the file to every node first, and back it up.\n";
  return 0;
}

int db_status(const std::string& file) {
  auto cfg = load_settings(file);
  if (!cfg)
    return fail(render(cfg.error()));
  auto db = persistence::mysql_connection::connect(cfg->mysql);
  if (!db)
    return fail(render(db.error()));
  auto version = persistence::current_version(*db);
  if (!version)
    return fail(render(version.error()));
  auto latest = persistence::latest_known_version();
  std::cout << "database schema version " << *version
            << ", this build knows " << latest << '\n';
  if (*version < latest)
    std::cout << "pending: run heraldctl db migrate\n";
  return *version > latest ? 1 : 0;
}

} // namespace

int run(int argc, char** argv) {
  CLI::App app{"heraldctl: administer a Herald message broker"};
  app.set_version_flag("--version",
                       std::string{"heraldctl "} + herald::version + " ("
                         + herald::git_commit + ")");
  app.require_subcommand(1);
  std::string config_file;
  auto add_config_option = [&config_file](CLI::App* cmd) {
    cmd->add_option("--config-file", config_file,
                    "node configuration (INI); default: $HERALD_CONFIG");
  };
  int result = 0;

  auto config_cmd = app.add_subcommand("config", "inspect configuration");
  config_cmd->require_subcommand(1);
  std::string check_file;
  config_cmd
    ->add_subcommand("check", "validate a configuration file: values, "
                              "files, secrets")
    ->callback([&] { result = config_check(check_file); })
    ->add_option("FILE", check_file, "the INI file")
    ->required();

  auto db_cmd = app.add_subcommand("db", "manage the database schema");
  db_cmd->require_subcommand(1);
  auto migrate = db_cmd->add_subcommand(
    "migrate", "apply pending schema migrations (safe to re-run)");
  add_config_option(migrate);
  migrate->callback([&] { result = db_migrate(config_file); });
  auto status = db_cmd->add_subcommand(
    "status", "show the schema version of the database and of this build");
  add_config_option(status);
  status->callback([&] { result = db_status(config_file); });

  auto client_cmd = app.add_subcommand("client",
                                       "manage client applications");
  client_cmd->require_subcommand(1);
  std::string client_name;
  std::string client_user;
  std::string client_cert;
  auto client_add_cmd = client_cmd->add_subcommand(
    "add", "register a client and its certificate");
  add_config_option(client_add_cmd);
  client_add_cmd->add_option("NAME", client_name, "client name")->required();
  client_add_cmd
    ->add_option("--certificate", client_cert,
                 "the client's certificate (PEM)")
    ->required();
  client_add_cmd->add_option("--user", client_user,
                             "owning portal user (optional)");
  client_add_cmd->callback([&] {
    result = client_add(config_file, client_name, client_user, client_cert);
  });
  bool client_json = false;
  auto client_list_cmd = client_cmd->add_subcommand("list", "list clients");
  add_config_option(client_list_cmd);
  client_list_cmd->add_flag("--json", client_json, "print JSON");
  client_list_cmd->callback(
    [&] { result = client_list(config_file, client_json); });
  for (auto [verb, status] : {std::pair{"disable", "disabled"},
                              std::pair{"enable", "active"}}) {
    auto cmd = client_cmd->add_subcommand(
      verb, std::string{verb} + " a client (takes effect within seconds)");
    add_config_option(cmd);
    cmd->add_option("NAME", client_name, "client name")->required();
    cmd->callback([&, status = std::string{status}] {
      result = client_set_status(config_file, client_name, status);
    });
  }

  auto keys_cmd = app.add_subcommand("keys", "manage data encryption keys");
  keys_cmd->require_subcommand(1);
  auto rotate = keys_cmd->add_subcommand(
    "rotate", "add a new active data key; old messages stay readable");
  add_config_option(rotate);
  rotate->callback([&] { result = keys_rotate(config_file); });

  add_pki_commands(app, config_file, result);
  add_backup_commands(app, config_file, result);
  add_message_commands(app, config_file, result);
  add_cluster_commands(app, config_file, result);
  add_console_commands(app, config_file, result);
  add_user_commands(app, config_file, result);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return result;
}

} // namespace herald::ctl
