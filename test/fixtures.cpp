#include "test/fixtures.hpp"

#include "core/errc.hpp"
#include "persistence/mysql.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <unistd.h>

namespace herald::test {

deterministic_config::deterministic_config() {
  set("scheduler.policy", caf::atom("testing"));
}

deterministic_fixture::deterministic_fixture()
  : sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
  // nop
}

deterministic_fixture::~deterministic_fixture() {
  for (auto& x : spawned)
    self->send_exit(x, caf::exit_reason::user_shutdown);
  run();
}

std::string require_env(const char* name) {
  auto value = std::getenv(name);
  if (value == nullptr || *value == '\0')
    BOOST_FAIL(std::string{name}
               + " is not set: run the integration tests through ops/test, "
                 "which starts MariaDB and Redis for them");
  return value;
}

config::mysql_config test_mysql(const std::string& database) {
  config::mysql_config result;
  result.socket = require_env("HERALD_TEST_MYSQL_SOCKET");
  result.user = "root";
  result.database = database;
  return result;
}

config::redis_config test_redis() {
  config::redis_config result;
  result.host = "127.0.0.1";
  result.port = static_cast<uint16_t>(
    std::stoi(require_env("HERALD_TEST_REDIS_PORT")));
  return result;
}

std::string create_test_database(const std::string& prefix) {
  static std::atomic<int> counter{0};
  auto name = prefix + "_" + std::to_string(getpid()) + "_"
              + std::to_string(++counter);
  auto db = persistence::mysql_connection::connect(test_mysql());
  if (!db)
    BOOST_FAIL("cannot connect to the test MariaDB: " + render(db.error()));
  if (auto err = db->execute("CREATE DATABASE `" + name + "`"))
    BOOST_FAIL("cannot create database " + name + ": " + render(err));
  return name;
}

} // namespace herald::test
