#include "web/portal_routes.hpp"

#include "core/errc.hpp"
#include "persistence/crypto.hpp"
#include "web/form.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald;

namespace {

const std::string pepper = "0123456789abcdef0123";

} // namespace

BOOST_AUTO_TEST_SUITE(portal_form_suite)

BOOST_AUTO_TEST_CASE(forms_decode_and_refuse_malformed_escapes) {
  auto form = web::parse_form("username=al%69ce&password=a+b%26c&csrf=");
  BOOST_REQUIRE(form);
  BOOST_TEST(form->at("username") == "alice");
  BOOST_TEST(form->at("password") == "a b&c");
  BOOST_TEST(form->at("csrf").empty());
  BOOST_TEST(!web::parse_form("a=%4"));
  BOOST_TEST(!web::parse_form("a=%zz"));
  BOOST_TEST(!web::parse_form("a=%00"));
  BOOST_TEST(!web::parse_form("a=1&b=2&c=3", 2));
  // The first of a repeated field wins.
  BOOST_TEST(web::parse_form("a=1&a=2")->at("a") == "1");
  BOOST_TEST(web::url_encode("a b&<") == "a%20b%26%3C");
}

BOOST_AUTO_TEST_CASE(cookies_are_found_by_exact_name) {
  std::string header = "x__Host-s=1; __Host-s=tok; other=2";
  BOOST_TEST(web::cookie_value(header, "__Host-s") == "tok");
  BOOST_TEST(web::cookie_value(header, "missing").empty());
}

BOOST_AUTO_TEST_CASE(searches_are_parsed_strictly) {
  auto s = web::parse_search("sender=%2B4915112345678&status=delivered"
                             "&client=7&from=2026-01-31&to=2026-02-01",
                             pepper);
  BOOST_REQUIRE(s);
  BOOST_TEST(s->filter.sender_hash
             == persistence::hmac_sha256(pepper, "+4915112345678"));
  BOOST_TEST(s->filter.status == "delivered");
  BOOST_TEST(s->filter.client_id == 7u);
  BOOST_TEST(s->filter.from == "2026-01-31 00:00:00");
  // "to" is inclusive: up to the next midnight.
  BOOST_TEST(s->filter.to == "2026-02-02 00:00:00");
  BOOST_TEST(s->query
             == "sender=%2B4915112345678&status=delivered&client=7"
                "&from=2026-01-31&to=2026-02-01");
  for (auto bad : {"sender=4915112345678", "status=accepting",
                   "client=-1", "client=x", "from=2026-02-30",
                   "to=2026-1-1", "after=123", "unknown=1", "sender=%2"})
    BOOST_TEST(!web::parse_search(bad, pepper), bad);
  BOOST_TEST(static_cast<bool>(web::parse_search("", pepper)));
}

BOOST_AUTO_TEST_CASE(cursors_round_trip) {
  message_row row;
  row.id = "01890a5d-ac96-774b-bcce-b302099a8057";
  row.created_at = "2026-01-31 12:34:56.789012";
  auto cursor = web::cursor_of(row);
  auto s = web::parse_search("after=" + cursor, pepper);
  BOOST_REQUIRE(s);
  BOOST_TEST(s->filter.after_created == row.created_at);
  BOOST_TEST(s->filter.after_id.size() == 16u);
  // The cursor is no part of the search itself.
  BOOST_TEST(s->query.empty());
}

BOOST_AUTO_TEST_CASE(csv_fields_are_quoted_and_defused) {
  BOOST_TEST(web::csv_line({"a", "b\"c", "=1+1", "+49****78"})
             == "\"a\",\"b\"\"c\",\"'=1+1\",\"'+49****78\"\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
