#include "core/messages.hpp"

#include "core/inspection.hpp"
#include "test/fixtures.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <set>
#include <string>

#include <boost/test/unit_test.hpp>

using namespace herald;
using namespace std::chrono_literals;

namespace {

/// Serializes `x` and reads it back, as a message crossing nodes would be.
template <class T>
T round_trip(caf::actor_system& sys, T x) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  BOOST_REQUIRE(!sink(x));
  T result;
  caf::binary_deserializer source{sys, buf};
  BOOST_REQUIRE(!source(result));
  return result;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(messages_suite, test::threaded_fixture)

BOOST_AUTO_TEST_CASE(dependency_status_round_trips) {
  dependency_status x{"redis", false, "connection refused", 1500us};
  auto y = round_trip(sys, x);
  BOOST_TEST(y.name == x.name);
  BOOST_TEST(y.up == x.up);
  BOOST_TEST(y.error == x.error);
  BOOST_TEST(y.latency.count() == x.latency.count());
}

BOOST_AUTO_TEST_CASE(health_report_round_trips) {
  health_report x;
  x.dependencies.push_back({"mysql", true, "", 1ms});
  x.dependencies.push_back({"redis", false, "down", 2ms});
  x.checked_at = caf::make_timestamp();
  auto y = round_trip(sys, x);
  BOOST_REQUIRE(y.dependencies.size() == 2u);
  BOOST_TEST(y.dependencies[1].error == "down");
  BOOST_TEST(y.checked_at.time_since_epoch().count()
             == x.checked_at.time_since_epoch().count());
  BOOST_TEST(!y.healthy());
}

BOOST_AUTO_TEST_CASE(message_types_are_registered_by_name) {
  BOOST_TEST(sys.types().portable_name(
               caf::make_rtti_pair<health_report>())
             == "herald.health_report");
  BOOST_TEST(sys.types().portable_name(
               caf::make_rtti_pair<std::vector<received_message>>())
             == "std::vector<herald.received_message>");
  BOOST_TEST(sys.types().portable_name(
               caf::make_rtti_pair<std::vector<bool>>())
             == "std::vector<bool>");
}

BOOST_AUTO_TEST_CASE(a_batch_of_received_messages_round_trips) {
  received_message x;
  x.id = std::string(15, '\0') + '\x07';
  x.sender_hash = std::string(32, 'h');
  x.sender_masked = "+49****78";
  x.key_id = 3;
  x.nonce = std::string(12, 'n');
  x.ciphertext = "sealed";
  x.created_ms = 1767225600123;
  x.attempt = 2;
  auto y = round_trip(sys, std::vector<received_message>{x, x});
  BOOST_REQUIRE(y.size() == 2u);
  BOOST_TEST(y[1].id == x.id);
  BOOST_TEST(y[1].sender_hash == x.sender_hash);
  BOOST_TEST(y[1].sender_masked == x.sender_masked);
  BOOST_TEST(y[1].key_id == x.key_id);
  BOOST_TEST(y[1].nonce == x.nonce);
  BOOST_TEST(y[1].ciphertext == x.ciphertext);
  BOOST_TEST(y[1].created_ms == x.created_ms);
  BOOST_TEST(y[1].attempt == x.attempt);
}

BOOST_AUTO_TEST_CASE(receiver_store_flags_round_trip) {
  std::vector<bool> x{true, false, false, true, true, false, true, false,
                      true};
  BOOST_TEST((round_trip(sys, x) == x));
}

/// Round-trips `x` and compares every field (CAF renders them all).
template <class T>
void check_round_trip(caf::actor_system& sys, const T& x) {
  BOOST_TEST(caf::deep_to_string(round_trip(sys, x)) == caf::deep_to_string(x));
}

BOOST_AUTO_TEST_CASE(submission_types_round_trip) {
  stored_message msg;
  msg.id = std::string(15, '\0') + '\x01';
  msg.client_id = 7;
  msg.sender_hash = std::string(32, 'h');
  msg.sender_masked = "+49****78";
  msg.key_id = 2;
  msg.nonce = std::string(12, 'n');
  msg.ciphertext = std::string("sealed\0bytes", 12);
  msg.idempotency_key = "k-1";
  msg.request_hash = std::string(32, 'r');
  check_round_trip(sys, msg);
  check_round_trip(sys, std::vector<stored_message>{msg, msg});
  check_round_trip(sys, submit_result{submit_outcome::key_reused, msg.id});
  check_round_trip(sys, std::vector<submit_result>{
                          {submit_outcome::replayed, msg.id}});
  check_round_trip(sys, message_status{"id", "queued", 3, "a", "b", "c", "d",
                                       "HTTP 503"});
  check_round_trip(sys, sweep_report{true, 1, 2, 3});
}

BOOST_AUTO_TEST_CASE(http_types_round_trip) {
  http_request req;
  req.id = 42;
  req.method = "POST";
  req.target = "/api/v1/messages?x=1";
  req.headers = {{"content-type", "application/json"}, {"x", "\xff"}};
  req.body = R"({"message_body":"h\u00e9"})";
  req.client_fingerprint = std::string(64, 'f');
  req.client_is_node = true;
  req.remote_address = "192.0.2.1";
  check_round_trip(sys, req);
  auto back = round_trip(sys, req);
  BOOST_TEST(back.id == 42u);
  BOOST_TEST(*back.header("x") == "\xff");
  http_response resp{422, "application/problem+json", "{}",
                     {{"Retry-After", "1"}}};
  check_round_trip(sys, resp);
}

BOOST_AUTO_TEST_CASE(member_info_round_trips_with_its_handles) {
  auto peer = sys.spawn([] {
    return caf::behavior{[](int) {
      // nop
    }};
  });
  member_info x;
  x.name = "node-2";
  x.roles = {"delivery", "receiver"};
  x.address = "10.0.0.12:7443";
  x.protocol = cluster_protocol;
  x.version = "0.1.0";
  x.started_at_ms = 1767225600000;
  x.cluster = peer;
  x.delivery = {peer, caf::actor{}};
  auto y = round_trip(sys, x);
  BOOST_TEST(y.name == x.name);
  BOOST_TEST(y.roles == x.roles);
  BOOST_TEST(y.address == x.address);
  BOOST_TEST(y.protocol == cluster_protocol);
  BOOST_TEST(y.version == x.version);
  BOOST_TEST(y.started_at_ms == x.started_at_ms);
  BOOST_TEST((y.cluster == peer));
  BOOST_REQUIRE_EQUAL(y.delivery.size(), 2u);
  BOOST_TEST((y.delivery[0] == peer));
  BOOST_TEST(!y.delivery[1]);
  check_round_trip(sys, std::vector<member_info>{x, x});
  caf::anon_send_exit(peer, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(a_login_round_trips) {
  login_request x{"alice", "correct horse battery", "192.0.2.7"};
  auto y = round_trip(sys, x);
  BOOST_TEST(y.username == "alice");
  BOOST_TEST(y.password == x.password);
  BOOST_TEST(y.remote_ip == "192.0.2.7");
  login_result r{"locked", {42, "alice", "admin", 3}, 900};
  auto s = round_trip(sys, r);
  BOOST_TEST(s.outcome == "locked");
  BOOST_TEST(s.user.id == 42u);
  BOOST_TEST(s.user.name == "alice");
  BOOST_TEST(s.user.role == "admin");
  BOOST_TEST(s.user.generation == 3u);
  BOOST_TEST(s.retry_after_s == 900);
  session_claims c{42, 3, std::string(64, 'a'), 1767225600123};
  auto d = round_trip(sys, c);
  BOOST_TEST(d.user_id == 42u);
  BOOST_TEST(d.generation == 3u);
  BOOST_TEST(d.token_id == c.token_id);
  BOOST_TEST(d.ends_at_ms == c.ends_at_ms);
}

BOOST_AUTO_TEST_CASE(a_message_search_and_its_page_round_trip) {
  user_message_filter f;
  f.client_id = 7;
  f.status = "failed";
  f.sender_hash = std::string(32, 'h');
  f.from = "2026-01-01 00:00:00";
  f.to = "2026-02-01 00:00:00";
  f.after_created = "2026-01-31 12:34:56.789012";
  f.after_id = std::string(16, 'i');
  f.limit = 20;
  auto g = round_trip(sys, f);
  BOOST_TEST(g.client_id == 7u);
  BOOST_TEST(g.status == "failed");
  BOOST_TEST(g.sender_hash == f.sender_hash);
  BOOST_TEST(g.from == f.from);
  BOOST_TEST(g.to == f.to);
  BOOST_TEST(g.after_created == f.after_created);
  BOOST_TEST(g.after_id == f.after_id);
  BOOST_TEST(g.limit == 20u);
  message_row row{"id", "app", "+49****78", "delivered", 2, "c", "u"};
  message_page p{{row, row}, true, {{7, "app"}}};
  auto q = round_trip(sys, p);
  BOOST_REQUIRE(q.rows.size() == 2u);
  BOOST_TEST(q.rows[1].sender_masked == "+49****78");
  BOOST_TEST(q.rows[1].attempts == 2u);
  BOOST_TEST(q.rows[1].updated_at == "u");
  BOOST_TEST(q.more);
  BOOST_REQUIRE(q.clients.size() == 1u);
  BOOST_TEST(q.clients[0].id == 7u);
  BOOST_TEST(q.clients[0].name == "app");
  message_detail m{row, "<b>body</b>", "d", "n", "e",
                   {{1, "t", "retry", 503, "busy", 12}}};
  auto n = round_trip(sys, m);
  BOOST_TEST(n.message.id == "id");
  BOOST_TEST(n.body == "<b>body</b>");
  BOOST_TEST(n.delivered_at == "d");
  BOOST_TEST(n.next_attempt_at == "n");
  BOOST_TEST(n.last_error == "e");
  BOOST_REQUIRE(n.attempts.size() == 1u);
  BOOST_TEST(n.attempts[0].http_status == 503u);
  BOOST_TEST(n.attempts[0].error == "busy");
  BOOST_TEST(n.attempts[0].latency_ms == 12u);
  row.owner = "alice";
  auto owned = round_trip(sys, row);
  BOOST_TEST(owned.owner == "alice");
  BOOST_TEST(round_trip(sys, owned_client{7, "app", "bob"}).owner == "bob");
}

BOOST_AUTO_TEST_CASE(admin_page_types_round_trip) {
  failed_filter filter{"app", 1700000000000, 20};
  auto f = round_trip(sys, filter);
  BOOST_TEST(f.client == "app");
  BOOST_TEST(f.since_ms == 1700000000000);
  BOOST_TEST(f.limit == 20u);
  message_row row{"id", "app", "+49****78", "failed", 3, "c", "u", "alice"};
  failed_page page{{{row, "HTTP 400"}}, true};
  auto p = round_trip(sys, page);
  BOOST_REQUIRE(p.rows.size() == 1u);
  BOOST_TEST(p.rows[0].message.owner == "alice");
  BOOST_TEST(p.rows[0].last_error == "HTTP 400");
  BOOST_TEST(p.more);
  BOOST_TEST(round_trip(sys, failed_message{row, "e"}).last_error == "e");
  requeue_request req{"root", {std::string(16, 'i')}, true, filter};
  auto r = round_trip(sys, req);
  BOOST_TEST(r.admin == "root");
  BOOST_TEST(r.ids == req.ids);
  BOOST_TEST(r.all_matching);
  BOOST_TEST(r.filter.client == "app");
  auto done = round_trip(sys, requeue_result{{"a", "b"}, 2, "redis down"});
  BOOST_TEST(done.requeued.size() == 2u);
  BOOST_TEST(done.skipped == 2u);
  BOOST_TEST(done.warning == "redis down");
  audit_filter af{"root", "message.", "t", "ok", "f", "to", 99, 10};
  auto a = round_trip(sys, af);
  BOOST_TEST(a.action_prefix == "message.");
  BOOST_TEST(a.before_id == 99u);
  BOOST_TEST(a.to == "to");
  audit_row ar{5, "2026-01-01 00:00:00.000000", {}};
  ar.event.actor = "root";
  audit_page ap{{ar}, true};
  auto b = round_trip(sys, ap);
  BOOST_REQUIRE(b.rows.size() == 1u);
  BOOST_TEST(b.rows[0].id == 5u);
  BOOST_TEST(b.rows[0].event.actor == "root");
  BOOST_TEST(round_trip(sys, ar).at == ar.at);
  auto st = round_trip(sys, audit_status{10, 4, "edited", 123});
  BOOST_TEST(st.first_broken == 4u);
  BOOST_TEST(st.why == "edited");
  BOOST_TEST(st.checked_at_ms == 123);
  overview o;
  o.first_minute = 60;
  o.accepted = {1, 2};
  o.delivered = {0, 2};
  o.failed = {1, 0};
  o.queue_depth = 3;
  o.retry_backlog = 4;
  o.nodes = {{"n1", {"ingress"}, true, 2, 1}};
  o.expiring = {{"0a", "CN=x", "app", 1800000000}};
  auto v = round_trip(sys, o);
  BOOST_TEST(v.accepted == o.accepted);
  BOOST_TEST(v.failed == o.failed);
  BOOST_TEST(v.retry_backlog == 4);
  BOOST_REQUIRE(v.nodes.size() == 1u);
  BOOST_TEST(v.nodes[0].heartbeat_age_s == 2);
  BOOST_REQUIRE(v.expiring.size() == 1u);
  BOOST_TEST(v.expiring[0].client == "app");
  BOOST_TEST(round_trip(sys, o.nodes[0]).name == "n1");
  BOOST_TEST(round_trip(sys, o.expiring[0]).not_after == 1800000000);
}

BOOST_AUTO_TEST_CASE(every_registered_type_has_a_round_trip_test) {
  // A type added to register_message_types() needs a round-trip test above
  // and its name here.
  static const std::set<std::string> tested{
    "herald.dependency_status", "herald.health_report",
    "herald.stored_message",    "herald.submit_result",
    "herald.message_status",    "herald.sweep_report",
    "herald.received_message",  "herald.work",
    "herald.http_request",      "herald.http_response",
    "herald.audit_event",       "herald.schedule_retry",
    "herald.retry_page",        "herald.member_info",
    "herald.login_request",     "herald.login_result",
    "herald.portal_user",       "herald.session_claims",
    "herald.user_message_filter", "herald.message_row",
    "herald.owned_client",      "herald.message_page",
    "herald.attempt_row",       "herald.message_detail",
    "herald.failed_filter",     "herald.failed_message",
    "herald.failed_page",       "herald.requeue_request",
    "herald.requeue_result",    "herald.audit_filter",
    "herald.audit_row",         "herald.audit_page",
    "herald.audit_status",      "herald.node_health",
    "herald.expiring_certificate", "herald.overview",
    // account_admin_types_round_trip
    "herald.user_entry",        "herald.user_change",
    "herald.own_password_change", "herald.certificate_entry",
    "herald.client_entry",      "herald.client_filter",
    "herald.client_listing",    "herald.client_change",
    "herald.issued_bundle",     "herald.revocation",
    "herald.revocation_result",
    // inspector_answers_round_trip
    "herald.actor_report",      "herald.node_report",
    "herald.queue_report",      "herald.trace_hop",
    "herald.trace_report",
  };
  std::set<std::string> registered;
  for (const auto& kv : cfg.value_factories_by_name)
    if (kv.first.rfind("herald.", 0) == 0)
      registered.insert(kv.first);
  for (const auto& name : registered)
    BOOST_TEST(tested.count(name) == 1u,
               name << " is registered without a round-trip test");
  for (const auto& name : tested)
    BOOST_TEST(registered.count(name) == 1u, name << " is not registered");
}

BOOST_AUTO_TEST_CASE(audit_event_round_trips) {
  audit_event x;
  x.actor = "heraldd";
  x.action = "revocation.enforce";
  x.target = "7F3A";
  x.outcome = "failed";
  x.source = "heraldd@node-1";
  x.detail = "CRL number 4 of /etc/herald/pki/crl.pem";
  x.at_ms = 1767225600123;
  auto y = round_trip(sys, x);
  BOOST_TEST(y.actor == x.actor);
  BOOST_TEST(y.action == x.action);
  BOOST_TEST(y.target == x.target);
  BOOST_TEST(y.outcome == x.outcome);
  BOOST_TEST(y.source == x.source);
  BOOST_TEST(y.detail == x.detail);
  BOOST_TEST(y.at_ms == x.at_ms);
  BOOST_TEST(sys.types().portable_name(caf::make_rtti_pair<audit_event>())
             == "herald.audit_event");
}

BOOST_AUTO_TEST_CASE(work_round_trips) {
  work x{{"0190f5c2-7a1e-7c3d-9b2a-4f1e2d3c4b5a", "second"}};
  auto y = round_trip(sys, x);
  BOOST_TEST((y.ids == x.ids));
  BOOST_TEST(round_trip(sys, work{}).ids.empty());
}

BOOST_AUTO_TEST_CASE(schedule_retry_round_trips) {
  schedule_retry x{{"a", "b", "c"}, 1767225630123};
  auto y = round_trip(sys, x);
  BOOST_TEST((y.ids == x.ids));
  BOOST_TEST(y.due_ms == x.due_ms);
}

BOOST_AUTO_TEST_CASE(retry_page_round_trips) {
  retry_page x{{1767225630000, 1767225630500, 1767225691000},
               1767225691000,
               false};
  auto y = round_trip(sys, x);
  BOOST_TEST((y.due_ms == x.due_ms));
  BOOST_TEST(y.scanned_to_ms == x.scanned_to_ms);
  BOOST_TEST(y.complete == x.complete);
}

BOOST_AUTO_TEST_CASE(delivery_message_types_are_registered_by_name) {
  BOOST_TEST(sys.types().portable_name(caf::make_rtti_pair<work>())
             == "herald.work");
  BOOST_TEST(sys.types().portable_name(caf::make_rtti_pair<schedule_retry>())
             == "herald.schedule_retry");
  BOOST_TEST(sys.types().portable_name(caf::make_rtti_pair<retry_page>())
             == "herald.retry_page");
}

BOOST_AUTO_TEST_CASE(account_admin_types_round_trip) {
  client_entry client{7, "app-a", "alice", "active", "2026-01-01T00:00:00Z",
                      {{"0A", "ff00", "app-a", "revoked", 1800000000,
                        1790000000, "keyCompromise"}}};
  auto c = round_trip(sys, client);
  BOOST_TEST(c.owner == "alice");
  BOOST_REQUIRE(c.certificates.size() == 1u);
  BOOST_TEST(c.certificates[0].revocation_reason == "keyCompromise");
  BOOST_TEST(c.certificates[0].revoked_at == 1790000000);
  user_change change{"root", "role", "carol", "admin", ""};
  auto u = round_trip(sys, change);
  BOOST_TEST(u.admin == "root");
  BOOST_TEST(u.role == "admin");
  client_change cc{"root", "add", "app-b", "bob", 30, "p12"};
  auto d = round_trip(sys, cc);
  BOOST_TEST(d.days == 30);
  BOOST_TEST(d.format == "p12");
  issued_bundle bundle;
  bundle.client = "app-b";
  bundle.pkcs12 = std::string{"\0\x30\x82", 3};
  BOOST_TEST(round_trip(sys, bundle).pkcs12 == bundle.pkcs12);
  BOOST_TEST(round_trip(sys, revocation_result{{}, true}).crl_published);
  BOOST_TEST(round_trip(sys, client_filter{"active", "bob", 30}).expiring_days
             == 30);
  BOOST_TEST(round_trip(sys, own_password_change{1, "a", "b", "c"}).next
             == "c");
  BOOST_TEST(round_trip(sys, revocation{"root", "0A", "superseded"}).reason
             == "superseded");
  user_entry entry{3, "carol", "user", "active", 2, "2026-01-01T00:00:00Z", ""};
  BOOST_TEST(round_trip(sys, entry).clients == 2u);
  client_listing listing{{client}, false, "no CA key"};
  auto l = round_trip(sys, listing);
  BOOST_REQUIRE(l.clients.size() == 1u);
  BOOST_TEST(l.ca_problem == "no CA key");
}

BOOST_AUTO_TEST_CASE(inspector_answers_round_trip) {
  actor_report actor{7,  "delivery", "delivery-2", "node-a", 1767225630000,
                     42, 3.5,        1200,         8000,     2,
                     9,  "timeout",  1767225631000, 1,       0,
                     ""};
  check_round_trip(sys, actor);
  check_round_trip(sys, std::vector<actor_report>{actor, actor});
  node_report node{"node-a", {"ingress", "delivery"}, "127.0.0.1:17001",
                   "0.9.0",  1767225630000,           250,
                   true,     3,                       "sha256:ab",
                   true};
  check_round_trip(sys, std::vector<node_report>{node});
  check_round_trip(sys, queue_report{5, {"node-a", "node-b"}, {1, 2}, 3,
                                     1767225690000, 1});
  check_round_trip(sys, trace_report{"01890a5d-ac96-774b-bcce-b302099a8057",
                                     "delivered",
                                     {{1, "accepted", "", "a"},
                                      {2, "attempt", "node-b", "b"}},
                                     "none"});
  BOOST_TEST(sys.types().portable_name(caf::make_rtti_pair<trace_report>())
             == "herald.trace_report");
}

BOOST_AUTO_TEST_SUITE_END()
