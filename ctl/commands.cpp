#include "ctl/commands.hpp"

#include "config/herald_config.hpp"
#include "core/errc.hpp"
#include "core/version.hpp"
#include "persistence/migrations.hpp"
#include "persistence/mysql.hpp"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

namespace herald::ctl {

namespace {

int fail(const std::string& what) {
  std::cerr << "heraldctl: " << what << '\n';
  return 1;
}

/// The config file: --config-file, else $HERALD_CONFIG.
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return result;
}

} // namespace herald::ctl
