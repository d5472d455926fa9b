#include "config/herald_config.hpp"

#include "config/secrets.hpp"
#include "core/errc.hpp"

#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace herald;

namespace {

/// A temp folder with the files a valid ingress configuration names.
struct config_files {
  fs::path dir;

  config_files() {
    dir = fs::temp_directory_path()
          / ("herald-config-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    write("server.crt", "cert", 0644);
    write("server.key", "key", 0600);
    write("ca.crt", "ca", 0644);
    write("mysql-password", "s3cret\n", 0600);
    write("data-keys", "1 " + std::string(64, 'a') + "\n", 0600);
    write("pepper", "a-pepper-of-sixteen-or-more\n", 0600);
  }

  ~config_files() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  std::string write(const std::string& name, const std::string& content,
                    mode_t mode) {
    auto path = (dir / name).string();
    std::ofstream{path} << content;
    ::chmod(path.c_str(), mode);
    return path;
  }

  /// An INI file: the valid base plus `extra` lines appended.
  std::string ini(const std::string& extra = "") {
    return write("herald.ini",
                 "[node]\nname=\"n1\"\nroles=[\"ingress\"]\n"
                 "[ingress]\nport=9443\n"
                 "certificate=\"" + (dir / "server.crt").string() + "\"\n"
                 "key=\"" + (dir / "server.key").string() + "\"\n"
                 "ca=\"" + (dir / "ca.crt").string() + "\"\n"
                 "[mysql]\npassword-file=\""
                   + (dir / "mysql-password").string() + "\"\n"
                   + "[crypto]\nkeys-file=\"" + (dir / "data-keys").string()
                   + "\"\npepper-file=\"" + (dir / "pepper").string()
                   + "\"\n" + extra,
                 0644);
  }
};

caf::expected<config::settings> load(const std::string& path) {
  config::herald_config cfg;
  if (auto err = config::load_file(cfg, path))
    return err;
  return cfg.make_settings();
}

std::string error_of(const std::string& path) {
  auto result = load(path);
  BOOST_REQUIRE(!result);
  return render(result.error());
}

} // namespace

BOOST_AUTO_TEST_SUITE(config_suite)

BOOST_AUTO_TEST_CASE(a_valid_file_yields_typed_settings) {
  config_files files;
  auto cfg = load(files.ini("[redis]\nport=7000\nio-timeout=250ms\n"));
  BOOST_REQUIRE_MESSAGE(cfg, test::why(cfg));
  BOOST_TEST(cfg->node.name == "n1");
  BOOST_TEST(cfg->has_role("ingress"));
  BOOST_TEST(cfg->ingress.port == 9443);
  BOOST_TEST(cfg->redis.port == 7000);
  BOOST_TEST(cfg->redis.io_timeout.count() == 250'000'000);
  BOOST_TEST(cfg->mysql.password == "s3cret");
  // Defaults where the file is silent.
  BOOST_TEST(cfg->metrics.port == 9464);
  BOOST_TEST(cfg->ingress.max_body_bytes == 16u * 1024);
}

BOOST_AUTO_TEST_CASE(errors_name_the_setting) {
  config_files files;
  BOOST_TEST(error_of(files.ini("[metrics]\nport=70000\n")).find("metrics.port")
             == 0u);
  BOOST_TEST(error_of(files.ini("[node]\nroles=[\"juggler\"]\n"))
               .find("node.roles: unknown role 'juggler'")
             != std::string::npos);
  BOOST_TEST(error_of(files.ini("[log]\nlevel=\"loud\"\n")).find("log.level")
             == 0u);
  BOOST_TEST(error_of(files.ini("[health]\ninterval=0s\n"))
               .find("health.interval")
             == 0u);
}

BOOST_AUTO_TEST_CASE(receiver_nodes_read_their_group_commit_settings) {
  config_files files;
  const std::string receiver = "[node]\nroles=[\"receiver\"]\n[receiver]\n";
  auto cfg = load(files.ini(receiver
                            + "batch-size=64\nbatch-delay=5ms\n"
                              "max-pending=500\n"));
  BOOST_REQUIRE_MESSAGE(cfg, test::why(cfg));
  BOOST_TEST(cfg->receiver.batch_size == 64u);
  BOOST_TEST(cfg->receiver.batch_delay.count() == 5'000'000);
  BOOST_TEST(cfg->receiver.max_pending == 500u);
  BOOST_TEST(cfg->receiver.writers == 4u);
  BOOST_TEST(error_of(files.ini(receiver + "batch-size=0\n"))
               .find("receiver.batch-size")
             == 0u);
  BOOST_TEST(error_of(files.ini(receiver + "max-pending=10\n"))
               .find("receiver.max-pending")
             == 0u);
}

BOOST_AUTO_TEST_CASE(receiver_callers_are_sha256_fingerprints) {
  config_files files;
  const std::string receiver = "[node]\nroles=[\"receiver\"]\n[receiver]\n";
  auto cfg = load(files.ini(receiver));
  BOOST_REQUIRE_MESSAGE(cfg, test::why(cfg));
  BOOST_TEST(cfg->receiver.callers.empty());
  // Upper case (openssl x509 -fingerprint) is taken as lower case.
  cfg = load(files.ini(receiver + "callers=[\"" + std::string(64, 'a')
                       + "\", \"" + std::string(64, 'B') + "\"]\n"));
  BOOST_REQUIRE_MESSAGE(cfg, test::why(cfg));
  BOOST_TEST(cfg->receiver.callers
             == (std::vector<std::string>{std::string(64, 'a'),
                                          std::string(64, 'b')}));
  auto msg = error_of(files.ini(receiver + "callers=[\"" + std::string(63, 'a')
                                + "\"]\n"));
  BOOST_TEST(msg.find("receiver.callers: '" + std::string(63, 'a')) == 0u, msg);
  BOOST_TEST(msg.find("64 hex digits") != std::string::npos, msg);
  auto colons = std::string(64, 'a');
  colons[2] = ':';
  BOOST_TEST(error_of(files.ini(receiver + "callers=[\"" + colons + "\"]\n"))
               .find("receiver.callers")
             == 0u);
  BOOST_TEST(error_of(files.ini(receiver + "callers=[\"" + std::string(64, 'g')
                                + "\"]\n"))
               .find("receiver.callers")
             == 0u);
}

BOOST_AUTO_TEST_CASE(ingress_nodes_need_data_keys_and_a_pepper) {
  config_files files;
  files.write("pepper", "short", 0600);
  BOOST_TEST(error_of(files.ini()).find("crypto.pepper-file") == 0u);
  files.write("pepper", "a-pepper-of-sixteen-or-more", 0600);
  files.write("data-keys", "1 nothex\n", 0600);
  BOOST_TEST(error_of(files.ini()).find("crypto.keys-file, line 1") == 0u);
}

BOOST_AUTO_TEST_CASE(limits_must_fit_the_columns_that_store_them) {
  config_files files;
  // 2039 code points of 4 bytes, the number and the tag fill the 8 KiB
  // body_ciphertext column; one more could not be stored.
  BOOST_TEST(static_cast<bool>(
    load(files.ini("[ingress]\nmax-message-chars=2039\n"))));
  auto msg = error_of(files.ini("[ingress]\nmax-message-chars=2040\n"));
  BOOST_TEST(msg.find("ingress.max-message-chars") == 0u, msg);
  BOOST_TEST(msg.find("body_ciphertext") != std::string::npos, msg);
  BOOST_TEST(error_of(files.ini("[node]\nname=\"" + std::string(65, 'n')
                                + "\"\n"))
               .find("node.name")
             == 0u);
}

BOOST_AUTO_TEST_CASE(revocation_and_audit_settings_are_checked) {
  config_files files;
  auto cfg = load(files.ini());
  BOOST_REQUIRE_MESSAGE(cfg, test::why(cfg));
  // The default checks the CRL heraldctl publishes.
  BOOST_TEST(cfg->pki.crl_file == "/etc/herald/pki/crl.pem");
  BOOST_TEST(error_of(files.ini("[pki]\ncrl-file=\"\"\n")).find("pki.crl-file")
             == 0u);
  auto key = files.write("audit-key", std::string(64, 'k'), 0600);
  cfg = load(files.ini("audit-key-file=\"" + key + "\"\n"));
  BOOST_REQUIRE_MESSAGE(cfg, test::why(cfg));
  BOOST_TEST(cfg->crypto.audit_key == std::string(64, 'k'));
  files.write("audit-key", "short", 0600);
  BOOST_TEST(error_of(files.ini("audit-key-file=\"" + key + "\"\n"))
               .find("crypto.audit-key-file")
             == 0u);
  // TLS to MariaDB and Redis: a client certificate needs the CA.
  BOOST_TEST(error_of(files.ini("[redis]\ntls-certificate=\"x\"\n"))
               .find("redis.tls-ca")
             == 0u);
  BOOST_TEST(error_of(files.ini("[mysql]\ntls-ca=\"/nonexistent\"\n"))
               .find("mysql.tls-ca: cannot read")
             == 0u);
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_rejected) {
  config_files files;
  auto msg = error_of(files.ini("[mysql]\npasword-file=\"x\"\n"));
  BOOST_TEST(msg.find("mysql.pasword-file: unknown setting") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(syntax_errors_explain_the_syntax) {
  config_files files;
  auto msg = error_of(files.ini("[log]\nlevel=info\n"));
  BOOST_TEST(msg.find("strings in double quotes") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unreadable_files_and_open_keys_are_refused) {
  config_files files;
  fs::remove(files.dir / "ca.crt");
  BOOST_TEST(error_of(files.ini()).find("ingress.ca: cannot read") == 0u);
  files.write("ca.crt", "ca", 0644);
  ::chmod((files.dir / "server.key").c_str(), 0644);
  BOOST_TEST(error_of(files.ini()).find("ingress.key: ") == 0u);
  BOOST_TEST(error_of(files.ini()).find("chmod 600") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(heraldctl_does_not_need_the_roles_tls_files) {
  // A node set up from scratch: heraldctl issues its certificate later.
  config_files files;
  fs::remove(files.dir / "server.crt");
  fs::remove(files.dir / "server.key");
  auto path = files.ini();
  BOOST_TEST(error_of(path).find("ingress.certificate: cannot read") == 0u);
  config::herald_config cfg;
  BOOST_REQUIRE(!config::load_file(cfg, path));
  auto settings = cfg.make_settings(config::role_files::unchecked);
  BOOST_REQUIRE_MESSAGE(settings, test::why(settings));
  BOOST_TEST(settings->has_role("ingress"));
  // Values are still checked.
  auto bad = files.ini("[store]\nwriters=0\n");
  config::herald_config cfg2;
  BOOST_REQUIRE(!config::load_file(cfg2, bad));
  BOOST_TEST(!cfg2.make_settings(config::role_files::unchecked));
}

BOOST_AUTO_TEST_CASE(secrets_come_from_files_or_environment) {
  config_files files;
  auto path = files.write("redis-password", "from-file\n", 0600);
  auto secret = config::read_secret("redis.password-file", path,
                                    "HERALD_TEST_UNSET_VARIABLE");
  BOOST_REQUIRE(secret);
  BOOST_TEST(*secret == "from-file");
  ::setenv("HERALD_TEST_SECRET", "from-env", 1);
  secret = config::read_secret("redis.password-file", path,
                               "HERALD_TEST_SECRET");
  BOOST_REQUIRE(secret);
  BOOST_TEST(*secret == "from-env");
  // Taken out of the environment (child processes, /proc/PID/environ) at
  // the first read, and still known to later reads.
  BOOST_TEST(::getenv("HERALD_TEST_SECRET") == nullptr);
  secret = config::read_secret("redis.password-file", path,
                               "HERALD_TEST_SECRET");
  BOOST_REQUIRE(secret);
  BOOST_TEST(*secret == "from-env");
  ::chmod(path.c_str(), 0640);
  secret = config::read_secret("redis.password-file", path,
                               "HERALD_TEST_UNSET_VARIABLE");
  BOOST_REQUIRE(!secret);
  BOOST_TEST(render(secret.error()).find("chmod 600") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(example_config_suite)

// The documented example must stay in step with the options.
BOOST_AUTO_TEST_CASE(the_example_file_names_only_known_settings) {
  config::herald_config cfg;
  auto err = config::load_file(cfg, HERALD_SOURCE_DIR
                                    "/config/herald.example.ini");
  BOOST_TEST(!err, render(err));
}

BOOST_AUTO_TEST_SUITE_END()
