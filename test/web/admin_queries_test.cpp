#include "web/admin_queries.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald;

BOOST_AUTO_TEST_SUITE(admin_queries_suite)

BOOST_AUTO_TEST_CASE(failed_searches_parse_and_name_their_field) {
  auto all = web::parse_failed_search("");
  BOOST_REQUIRE(all);
  BOOST_TEST(all->filter.client.empty());
  BOOST_TEST(all->filter.since_ms == 0);
  BOOST_TEST(all->filter.limit == web::failed_page_rows);
  BOOST_TEST(all->query.empty());
  auto some = web::parse_failed_search("client=app+a&since=2026-01-31");
  BOOST_REQUIRE(some);
  BOOST_TEST(some->filter.client == "app a");
  BOOST_TEST(some->filter.since_ms == 1769817600000);
  BOOST_TEST(some->query == "client=app%20a&since=2026-01-31");
  auto bad_day = web::parse_failed_search("since=2026-02-30");
  BOOST_REQUIRE(!bad_day);
  BOOST_TEST(render(bad_day.error()).find("since") != std::string::npos);
  BOOST_TEST(!web::parse_failed_search("client=" + std::string(65, 'c')));
  BOOST_TEST(!web::parse_failed_search("order=1"));
  BOOST_TEST(!web::parse_failed_search("a=1&b=2&c=3&d=4&e=5"));
}

BOOST_AUTO_TEST_CASE(audit_searches_parse_into_a_filter_and_a_cursor) {
  auto s = web::parse_audit_search("actor=root&action=message.&target=x"
                                   "&outcome=failed&from=2026-01-01"
                                   "&to=2026-01-01&before=42");
  BOOST_REQUIRE(s);
  BOOST_TEST(s->filter.actor == "root");
  BOOST_TEST(s->filter.action_prefix == "message.");
  BOOST_TEST(s->filter.target == "x");
  BOOST_TEST(s->filter.outcome == "failed");
  // "to" is inclusive: up to the next midnight.
  BOOST_TEST(s->filter.from == "2026-01-01 00:00:00");
  BOOST_TEST(s->filter.to == "2026-01-02 00:00:00");
  BOOST_TEST(s->filter.before_id == 42u);
  // The cursor is not part of the canonical query (the next link adds it).
  BOOST_TEST(s->query.find("before") == std::string::npos);
  BOOST_TEST(s->query.find("outcome=failed") != std::string::npos);
  BOOST_TEST(!web::parse_audit_search("outcome=maybe"));
  BOOST_TEST(!web::parse_audit_search("action=message%25"));
  BOOST_TEST(!web::parse_audit_search("before=12a"));
  BOOST_TEST(!web::parse_audit_search("before=" + std::string(20, '9')));
  BOOST_TEST(!web::parse_audit_search("actor=" + std::string(129, 'a')));
  BOOST_TEST(!web::parse_audit_search("target=" + std::string(256, 't')));
  BOOST_TEST(!!web::parse_audit_search("target=" + std::string(255, 't')));
  BOOST_TEST(!web::parse_audit_search("sort=id"));
}

BOOST_AUTO_TEST_CASE(message_ids_are_checked_deduplicated_and_limited) {
  auto a = message_id::make_v7();
  auto b = message_id::make_v7();
  auto ids = web::parse_message_ids({a.to_string(), b.to_string(),
                                     a.to_string()},
                                    2);
  BOOST_REQUIRE(ids);
  BOOST_REQUIRE(ids->size() == 2u);
  BOOST_TEST((*ids)[0] == a.raw());
  BOOST_TEST((*ids)[1] == b.raw());
  auto bad = web::parse_message_ids({a.to_string(), "x'--"}, 10);
  BOOST_REQUIRE(!bad);
  BOOST_TEST(render(bad.error()).find("x'--") != std::string::npos);
  BOOST_TEST(!web::parse_message_ids({a.to_string(), b.to_string()}, 1));
  BOOST_TEST(web::parse_message_ids({}, 1)->empty());
}

BOOST_AUTO_TEST_CASE(numbered_fields_collect_the_checkboxes_only) {
  std::map<std::string, std::string> form{{"id0", "a"},  {"id17", "b"},
                                          {"id", "c"},   {"idx", "d"},
                                          {"csrf", "e"}, {"id1a", "f"}};
  auto values = web::numbered_fields(form, "id");
  BOOST_TEST(values.size() == 2u);
  BOOST_TEST((values == std::vector<std::string>{"a", "b"}));
}

BOOST_AUTO_TEST_SUITE_END()
