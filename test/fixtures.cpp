#include "test/fixtures.hpp"

#include "core/errc.hpp"
#include "persistence/mysql.hpp"

#include <caf/send.hpp>

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

namespace {

std::filesystem::path fresh_folder(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path()
             / ("herald-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

pki::authority new_authority(const std::filesystem::path& dir) {
  auto result = pki::authority::create((dir / "ca").string(),
                                       pki::key_algorithm::ec_p256, "");
  BOOST_REQUIRE_MESSAGE(result, why(result));
  return std::move(*result);
}

} // namespace

net::http_response dispatch(const net::router& r, net::http_request req) {
  net::http_response result;
  bool answered = false;
  r.dispatch(std::move(req), [&](net::http_response resp) {
    result = std::move(resp);
    answered = true;
  });
  BOOST_REQUIRE(answered);
  return result;
}

test_ingress::test_ingress(deterministic_fixture& fix)
  : fix(fix),
    routes(std::make_shared<net::router>(nullptr)),
    calls(std::make_shared<ingress_calls>()),
    waiting(std::make_shared<waiting_requests>()) {
  // Spawned on the scheduler, not detached, so that the test coordinator
  // runs it; it never listens.
  handle = fix.spawn(ingress, ingress_config{{}, nullptr, routes, waiting,
                                             nullptr},
                     calls, caf::timespan{std::chrono::milliseconds{250}});
  fix.run();
}

uint64_t test_ingress::send(net::http_request req) {
  // The responder learns its request id once the table assigned it.
  auto id = std::make_shared<uint64_t>(0);
  req.id = waiting->add([this, id](net::http_response resp) {
    answers[*id] = std::move(resp);
  });
  *id = req.id;
  caf::anon_send(handle, request_atom::value, std::move(req));
  return *id;
}

net::http_response test_ingress::exchange(net::http_request req) {
  auto id = send(std::move(req));
  fix.run();
  BOOST_REQUIRE_MESSAGE(answers.count(id) == 1, "the ingress did not answer");
  return answers[id];
}

temp_ca::temp_ca(const std::string& name)
  : dir(fresh_folder(name)), ca(new_authority(dir)) {
  // nop
}

temp_ca::~temp_ca() {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

} // namespace herald::test
