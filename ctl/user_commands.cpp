#include "ctl/user_commands.hpp"

#include "config/secrets.hpp"
#include "core/errc.hpp"
#include "ctl/support.hpp"
#include "persistence/passwords.hpp"
#include "persistence/users.hpp"

#include <CLI/CLI.hpp>
#include <openssl/crypto.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <tuple>

namespace herald::ctl {

namespace {

struct user_options {
  std::string name;
  std::string role = "user";
  std::string password_file;
  bool generate = false;
  bool json = false;
};

void wipe(std::string& secret) {
  OPENSSL_cleanse(secret.data(), secret.size());
}

/// One line from the terminal on stdin, not echoed; the prompt goes to
/// stderr so that stdout stays clean.
caf::expected<std::string> read_hidden(const std::string& prompt) {
  termios old{};
  if (tcgetattr(STDIN_FILENO, &old) != 0)
    return make_error(errc::io_failure, "cannot read the terminal settings");
  auto quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  // Echo off before the prompt: nothing typed after it is ever shown.
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  std::cerr << prompt << std::flush;
  std::string line;
  auto read = static_cast<bool>(std::getline(std::cin, line));
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  std::cerr << '\n';
  if (!read)
    return make_error(errc::invalid_input, "no password typed");
  return line;
}

/// The password to set for opt.name, checked against the policy: a
/// generated one (--generate), else $HERALD_USER_PASSWORD, else the
/// --password-file, else typed twice on the terminal.
caf::expected<std::string> choose_password(const user_options& opt) {
  if (opt.generate)
    return persistence::generate_password_for(opt.name);
  auto given = config::read_secret("--password-file", opt.password_file,
                                   "HERALD_USER_PASSWORD");
  if (!given)
    return given.error();
  auto typed = given->empty();
  if (typed) {
    if (!opt.password_file.empty())
      return make_error(errc::invalid_input,
                        "--password-file: '" + opt.password_file
                          + "' is empty");
    if (isatty(STDIN_FILENO) == 0)
      return make_error(errc::invalid_input,
                        "no password: pass --password-file FILE (mode 0600), "
                        "set HERALD_USER_PASSWORD, run on a terminal, or use "
                        "--generate");
    given = read_hidden("password for " + opt.name + ": ");
    if (!given)
      return given;
  }
  // Before the second prompt: a refused password is not typed twice.
  if (auto err = persistence::check_password(*given, opt.name))
    return err;
  if (typed) {
    auto again = read_hidden("the same again: ");
    if (!again)
      return again;
    auto same = *again == *given;
    wipe(*again);
    if (!same)
      return make_error(errc::invalid_input, "the two passwords differ");
  }
  return given;
}

/// A password for opt.name and its hash; the password is kept only when
/// generated, to be printed once.
struct new_password {
  std::string hash;
  std::string generated;
};

caf::expected<new_password> make_password(const user_options& opt) {
  auto password = choose_password(opt);
  if (!password)
    return password.error();
  auto hash = persistence::hash_password(*password);
  if (!opt.generate)
    wipe(*password);
  if (!hash)
    return hash.error();
  return new_password{std::move(*hash),
                      opt.generate ? std::move(*password) : std::string{}};
}

void print_generated(new_password& pw) {
  if (pw.generated.empty())
    return;
  std::cout << "password: " << pw.generated
            << "\n(shown only now: Herald keeps a hash of it, nothing "
               "else)\n";
  wipe(pw.generated);
}

int user_add(const std::string& file, const user_options& opt) {
  if (auto err = persistence::check_username(opt.name))
    return fail(render(err));
  auto db = open_db(file);
  if (!db)
    return fail(render(db.error()));
  auto pw = make_password(opt);
  if (!pw)
    return fail(render(pw.error()));
  auto id = persistence::add_user(*db, opt.name, opt.role, pw->hash);
  if (!id)
    return fail_audited(*db, "user.add", opt.name, id.error());
  if (auto code = audit(*db, "user.add", opt.name, true, "role " + opt.role))
    return code;
  std::cout << "user '" << opt.name << "' added (id " << *id << ", role "
            << opt.role << ")\n";
  print_generated(*pw);
  return 0;
}

int user_passwd(const std::string& file, const user_options& opt) {
  if (auto err = persistence::check_username(opt.name))
    return fail(render(err));
  auto db = open_db(file);
  if (!db)
    return fail(render(db.error()));
  auto pw = make_password(opt);
  if (!pw)
    return fail(render(pw.error()));
  if (auto err = persistence::set_user_password(*db, opt.name, pw->hash))
    return fail_audited(*db, "user.passwd", opt.name, err);
  if (auto code = audit(*db, "user.passwd", opt.name, true,
                        opt.generate ? "generated" : ""))
    return code;
  std::cout << "password of '" << opt.name << "' changed\n";
  print_generated(*pw);
  return 0;
}

int user_set_status(const std::string& file, const user_options& opt,
                    const std::string& status) {
  if (auto err = persistence::check_username(opt.name))
    return fail(render(err));
  auto db = open_db(file);
  if (!db)
    return fail(render(db.error()));
  auto action = status == "active" ? "user.enable" : "user.disable";
  if (auto err = persistence::set_user_status(*db, opt.name, status))
    return fail_audited(*db, action, opt.name, err);
  if (auto code = audit(*db, action, opt.name, true))
    return code;
  std::cout << "user '" << opt.name << "' is " << status << '\n';
  return 0;
}

int user_role(const std::string& file, const user_options& opt) {
  if (auto err = persistence::check_username(opt.name))
    return fail(render(err));
  auto db = open_db(file);
  if (!db)
    return fail(render(db.error()));
  if (auto err = persistence::set_user_role(*db, opt.name, opt.role))
    return fail_audited(*db, "user.role", opt.name, err);
  if (auto code = audit(*db, "user.role", opt.name, true, "role " + opt.role))
    return code;
  std::cout << "user '" << opt.name << "' is " << opt.role << '\n';
  return 0;
}

int user_list(const std::string& file, bool json) {
  auto db = open_db(file);
  if (!db)
    return fail(render(db.error()));
  auto users = persistence::list_users(*db);
  if (!users)
    return fail(render(users.error()));
  if (json) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    w.StartArray();
    for (const auto& u : *users) {
      w.StartObject();
      w.Key("id");
      w.Uint64(u.id);
      w.Key("name");
      w.String(u.name.c_str());
      w.Key("role");
      w.String(u.role.c_str());
      w.Key("status");
      w.String(u.status.c_str());
      w.Key("clients");
      w.Uint64(u.clients);
      w.Key("password_changed_at");
      if (u.password_changed_at.empty())
        w.Null();
      else
        w.String(u.password_changed_at.c_str());
      w.Key("created_at");
      w.String(u.created_at.c_str());
      w.EndObject();
    }
    w.EndArray();
    std::cout << buf.GetString() << '\n';
    return 0;
  }
  std::printf("%-6s %-24s %-6s %-9s %-7s %-21s %s\n", "ID", "NAME", "ROLE",
              "STATUS", "CLIENTS", "PASSWORD SET", "CREATED");
  for (const auto& u : *users)
    std::printf("%-6llu %-24s %-6s %-9s %-7llu %-21s %s\n",
                static_cast<unsigned long long>(u.id), u.name.c_str(),
                u.role.c_str(), u.status.c_str(),
                static_cast<unsigned long long>(u.clients),
                u.password_changed_at.empty() ? "-"
                                              : u.password_changed_at.c_str(),
                u.created_at.c_str());
  return 0;
}

} // namespace

void add_user_commands(CLI::App& app, std::string& config_file, int& result) {
  // CLI11 binds references into the options; the callbacks keep them
  // alive as long as the app.
  auto opts = std::make_shared<user_options>();
  auto& opt = *opts;
  auto* file = &config_file;
  auto* code = &result;
  auto roles = CLI::IsMember({"admin", "user"});
  auto add_common = [file, &opt](CLI::App* cmd, bool named) {
    cmd->add_option("--config-file", *file,
                    "node configuration (INI); default: $HERALD_CONFIG");
    if (named)
      cmd->add_option("NAME", opt.name, "user name")->required();
  };
  auto add_password_options = [&opt](CLI::App* cmd) {
    auto from_file = cmd->add_option(
      "--password-file", opt.password_file,
      "file with the password (mode 0600); else HERALD_USER_PASSWORD, else "
      "it is asked twice on the terminal");
    cmd->add_flag("--generate", opt.generate,
                  "generate a strong password and print it once")
      ->excludes(from_file);
  };

  auto user_cmd = app.add_subcommand(
    "user", "manage portal users and admins (passwords: yescrypt)");
  user_cmd->require_subcommand(1);

  auto add = user_cmd->add_subcommand(
    "add", "create a user; the password must have 12+ characters, not be "
           "common and not contain the name");
  add_common(add, true);
  add->add_option("--role", opt.role, "admin or user (default user)")
    ->check(roles);
  add_password_options(add);
  add->callback([file, code, opts] { *code = user_add(*file, *opts); });

  auto list = user_cmd->add_subcommand("list", "list users");
  add_common(list, false);
  list->add_flag("--json", opt.json, "print JSON");
  list->callback([file, code, opts] { *code = user_list(*file, opts->json); });

  for (auto [verb, status, help] :
       {std::tuple{"disable", "disabled",
                   "disable a user (never the last active admin)"},
        std::tuple{"enable", "active", "enable a user again"}}) {
    auto cmd = user_cmd->add_subcommand(verb, help);
    add_common(cmd, true);
    cmd->callback([file, code, opts, status = std::string{status}] {
      *code = user_set_status(*file, *opts, status);
    });
  }

  auto passwd = user_cmd->add_subcommand(
    "passwd", "set a user's password");
  add_common(passwd, true);
  add_password_options(passwd);
  passwd->callback([file, code, opts] { *code = user_passwd(*file, *opts); });

  auto role = user_cmd->add_subcommand(
    "role", "make a user admin or user (the last active admin stays one)");
  add_common(role, true);
  role->add_option("ROLE", opt.role, "admin or user")
    ->required()
    ->check(roles);
  role->callback([file, code, opts] { *code = user_role(*file, *opts); });
}

} // namespace herald::ctl
