#include "actors/health.hpp"

#include "core/metrics.hpp"
#include "test/fixtures.hpp"
#include "web/health_route.hpp"

#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

#include <memory>

using namespace herald;
using namespace std::chrono_literals;

namespace {

/// What a fake probe reports and how often it was asked.
struct probe_script {
  int calls = 0;
  bool redis_up = true;
  /// Never answers, like a probe stuck on a dead network.
  bool silent = false;
};

struct fake_probe_state {
  std::vector<caf::typed_response_promise<health_report>> pending;
};

dependency_probe_actor::behavior_type
fake_probe(dependency_probe_actor::stateful_pointer<fake_probe_state> self,
           std::shared_ptr<probe_script> script) {
  return {
    [self, script](probe_atom) {
      ++script->calls;
      auto promise = self->make_response_promise<health_report>();
      if (script->silent) {
        self->state.pending.push_back(promise);
        return promise;
      }
      health_report report;
      report.dependencies.push_back({"mysql", true, "", 1ms});
      report.dependencies.push_back(
        {"redis", script->redis_up, script->redis_up ? "" : "refused", 2ms});
      report.checked_at = caf::make_timestamp();
      promise.deliver(std::move(report));
      return promise;
    },
  };
}

struct health_fixture : test::deterministic_fixture {
  std::shared_ptr<probe_script> script = std::make_shared<probe_script>();
  metrics m{"test"};

  health_actor spawn_health_actor() {
    auto probe = spawn(fake_probe, script);
    return spawn(health, probe, health_actor_config{1s, 500ms}, &m);
  }

  health_report report_of(const health_actor& h) {
    self->send(h, caf::get_atom::value);
    run();
    health_report result;
    self->receive([&](const health_report& r) { result = r; },
                  caf::after(std::chrono::seconds(0)) >>
                    [] { BOOST_FAIL("health actor did not answer"); });
    return result;
  }

  double gauge(const char* dependency) {
    return m.dependency_up.Add({{"dependency", dependency}}).Value();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(health_suite, health_fixture)

BOOST_AUTO_TEST_CASE(probes_at_once_then_once_per_interval) {
  auto h = spawn_health_actor();
  run();
  BOOST_TEST(script->calls == 1);
  auto report = report_of(h);
  BOOST_TEST(report.healthy());
  BOOST_TEST(gauge("redis") == 1.0);
  // No time passes, no probe.
  run();
  BOOST_TEST(script->calls == 1);
  script->redis_up = false;
  sched.advance_time(1s);
  run();
  BOOST_TEST(script->calls == 2);
  report = report_of(h);
  BOOST_TEST(!report.healthy());
  BOOST_REQUIRE(report.dependencies.size() == 2u);
  BOOST_TEST(report.dependencies[1].error == "refused");
  BOOST_TEST(gauge("redis") == 0.0);
  BOOST_TEST(gauge("mysql") == 1.0);
  sched.advance_time(1s);
  run();
  BOOST_TEST(script->calls == 3);
}

BOOST_AUTO_TEST_CASE(a_silent_probe_marks_everything_down) {
  script->silent = true;
  auto h = spawn_health_actor();
  run();
  BOOST_TEST(script->calls == 1);
  BOOST_TEST(report_of(h).dependencies.empty());
  sched.advance_time(500ms);
  run();
  auto report = report_of(h);
  BOOST_TEST(!report.healthy());
  BOOST_REQUIRE(report.dependencies.size() == 1u);
  BOOST_TEST(report.dependencies[0].error.find("probe did not answer") == 0u);
  // The next probe follows one interval after the failure.
  sched.advance_time(1s);
  run();
  BOOST_TEST(script->calls == 2);
}

BOOST_AUTO_TEST_CASE(health_json_reports_each_dependency) {
  health_report report;
  auto starting = web::render_health(report, "n1");
  BOOST_TEST(starting.status == 503u);
  BOOST_TEST(starting.body.find("\"status\":\"starting\"") != std::string::npos);
  report.dependencies.push_back({"mysql", true, "", 1ms});
  report.dependencies.push_back({"redis", false, "connection refused", 2ms});
  auto degraded = web::render_health(report, "n1");
  BOOST_TEST(degraded.status == 503u);
  rapidjson::Document doc;
  doc.Parse(degraded.body.c_str());
  BOOST_REQUIRE(!doc.HasParseError());
  BOOST_TEST(doc["status"].GetString() == std::string{"degraded"});
  BOOST_TEST(doc["node"].GetString() == std::string{"n1"});
  BOOST_TEST(doc["checks"]["mysql"]["status"].GetString() == std::string{"up"});
  BOOST_TEST(doc["checks"]["redis"]["status"].GetString()
             == std::string{"down"});
  // Why it is down goes to the log, never to a caller.
  BOOST_TEST(!doc["checks"]["redis"].HasMember("error"));
  BOOST_TEST(degraded.body.find("refused") == std::string::npos);
  report.dependencies[1].up = true;
  BOOST_TEST(web::render_health(report, "n1").status == 200u);
}

BOOST_AUTO_TEST_CASE(timestamps_render_as_rfc3339_utc) {
  caf::timestamp t{std::chrono::milliseconds{1'700'000'000'123}};
  BOOST_TEST(web::iso8601(t) == "2023-11-14T22:13:20.123Z");
}

BOOST_AUTO_TEST_SUITE_END()
