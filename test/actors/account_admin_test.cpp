#include "actors/account_admin.hpp"

#include "core/errc.hpp"
#include "web/account_routes.hpp"
#include "web/download_vault.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald;

BOOST_AUTO_TEST_SUITE(account_admin_suite)

BOOST_AUTO_TEST_CASE(an_admin_cannot_disable_or_demote_themselves) {
  BOOST_TEST((check_user_change({"root", "disable", "root", "", ""})
             == errc::invalid_input));
  BOOST_TEST((check_user_change({"root", "role", "root", "user", ""})
             == errc::invalid_input));
  BOOST_TEST(!check_user_change({"root", "role", "root", "admin", ""}));
  BOOST_TEST(!check_user_change({"root", "disable", "carol", "", ""}));
  BOOST_TEST(!check_user_change({"root", "password", "root", "", ""}));
}

BOOST_AUTO_TEST_CASE(user_changes_are_checked_before_any_database) {
  BOOST_TEST(!check_user_change({"root", "add", "carol", "user", ""}));
  BOOST_TEST((check_user_change({"root", "drop", "carol", "user", ""})
             == errc::invalid_input));
  BOOST_TEST((check_user_change({"root", "add", "<script>", "user", ""})
             == errc::invalid_input));
  BOOST_TEST((check_user_change({"root", "add", "carol", "root", ""})
             == errc::invalid_input));
  BOOST_TEST((check_user_change({"root", "add", "carol", "user",
                                std::string(512, 'x')})
             == errc::invalid_input));
}

BOOST_AUTO_TEST_CASE(client_changes_are_checked_before_any_database) {
  BOOST_TEST(!check_client_change({"root", "add", "app-a", "alice", 365,
                                   "p12"}));
  BOOST_TEST(!check_client_change({"root", "renew", "app-a", "", 1, "pem"}));
  BOOST_TEST((check_client_change({"root", "add", "-app", "", 365, "pem"})
             == errc::invalid_input));
  BOOST_TEST((check_client_change({"root", "add", "app", "", 0, "pem"})
             == errc::invalid_input));
  BOOST_TEST((check_client_change({"root", "add", "app", "", 3651, "pem"})
             == errc::invalid_input));
  BOOST_TEST((check_client_change({"root", "add", "app", "", 365, "der"})
             == errc::invalid_input));
  BOOST_TEST((check_client_change({"root", "add", "app", "Bob", 365, "pem"})
             == errc::invalid_input));
  BOOST_TEST((check_client_change({"root", "wipe", "app", "", 365, "pem"})
             == errc::invalid_input));
}

BOOST_AUTO_TEST_CASE(list_filters_parse_strictly) {
  auto f = web::parse_client_filter("status=disabled&owner=bob&expiring_days=30",
                                    true);
  BOOST_REQUIRE(f);
  BOOST_TEST(f->status == "disabled");
  BOOST_TEST(f->owner == "bob");
  BOOST_TEST(f->expiring_days == 30);
  BOOST_TEST(web::parse_client_filter("", true)->expiring_days == -1);
  BOOST_TEST(!web::parse_client_filter("status=revoked", true));
  BOOST_TEST(web::parse_client_filter("status=revoked", false).value().status
             == "revoked");
  BOOST_TEST(!web::parse_client_filter("owner=bob", false));
  BOOST_TEST(!web::parse_client_filter("expiring_days=99999", true));
  BOOST_TEST(!web::parse_client_filter("expiring_days=-1", true));
  BOOST_TEST(!web::parse_client_filter("x=1", true));
}

BOOST_AUTO_TEST_CASE(a_download_is_taken_once_by_its_admin_in_time) {
  web::download_vault vault;
  vault.put("t1", {"a.pem", "application/x-pem-file", "KEY", 7, 0}, 1000);
  BOOST_TEST(!vault.take("t1", 8, 1001));
  auto first = vault.take("t1", 7, 1001);
  BOOST_REQUIRE(first);
  BOOST_TEST(first->body == "KEY");
  BOOST_TEST(!vault.take("t1", 7, 1002));
  vault.put("t2", {"b.pem", "application/x-pem-file", "KEY", 7, 0}, 1000);
  BOOST_TEST(!vault.take("t2", 7, 1000 + web::download_vault::lifetime_s));
  BOOST_TEST(vault.size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
