#include "actors/dependency_probe.hpp"

#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald;
using namespace std::chrono_literals;

namespace {

health_report probe_now(caf::scoped_actor& self,
                        const dependency_probe_actor& probe) {
  health_report result;
  self->request(probe, 10s, probe_atom::value)
    .receive([&](health_report& r) { result = std::move(r); },
             [](caf::error& err) {
               BOOST_FAIL("probe failed: " + caf::to_string(err));
             });
  return result;
}

const dependency_status& find(const health_report& r, const std::string& name) {
  for (const auto& dep : r.dependencies)
    if (dep.name == name)
      return dep;
  BOOST_FAIL("no dependency " + name);
  return r.dependencies.front();
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(dependency_probe_suite, test::threaded_fixture)

BOOST_AUTO_TEST_CASE(reports_real_servers_up) {
  auto probe = spawn_dependency_probe(sys, {test::test_mysql(),
                                            test::test_redis()});
  auto report = probe_now(self, probe);
  BOOST_TEST(report.healthy());
  BOOST_TEST(find(report, "mysql").up);
  BOOST_TEST(find(report, "redis").up);
  self->send_exit(probe, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(reports_an_unreachable_server_down_with_the_reason) {
  auto redis = test::test_redis();
  redis.port = 1; // nothing listens on port 1
  redis.io_timeout = 500ms;
  auto probe = spawn_dependency_probe(sys, {test::test_mysql(), redis});
  auto report = probe_now(self, probe);
  BOOST_TEST(!report.healthy());
  BOOST_TEST(find(report, "mysql").up);
  const auto& down = find(report, "redis");
  BOOST_TEST(!down.up);
  BOOST_TEST(down.error.find("127.0.0.1:1") != std::string::npos);
  self->send_exit(probe, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
