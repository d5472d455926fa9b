// The admin pages on accounts as HTML, through the router with stand-in
// workers: what the page shows for what the workers answer.

#include "web/portal_routes.hpp"

#include "core/errc.hpp"
#include "test/fixtures.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

using namespace herald;
using namespace std::chrono_literals;

namespace {

/// A portal worker whose every session is root's, an admin; everything
/// else fails.
portal_actor::behavior_type admin_worker(portal_actor::pointer) {
  auto refuse = [] { return make_error(errc::unauthorized, "not in test"); };
  return {
    [refuse](login_atom, const login_request&) -> caf::result<login_result> {
      return refuse();
    },
    [](session_atom,
       const session_claims& claims) -> caf::result<portal_user> {
      return portal_user{claims.user_id, "root", "admin", 1};
    },
    [refuse](logout_atom, const session_claims&,
             const std::string&) -> caf::result<bool> { return refuse(); },
    [refuse](page_atom, uint64_t,
             const user_message_filter&) -> caf::result<message_page> {
      return refuse();
    },
    [refuse](caf::get_atom, uint64_t,
             const std::string&) -> caf::result<message_detail> {
      return refuse();
    },
  };
}

/// An account admin that lists `listing` as the clients; everything else
/// fails.
account_admin_actor::behavior_type
clients_admin(account_admin_actor::pointer, client_listing listing) {
  auto refuse = [] { return make_error(errc::database_failure, "not in test"); };
  return {
    [refuse](users_atom) -> caf::result<std::vector<user_entry>> {
      return refuse();
    },
    [refuse](const user_change&) -> caf::result<std::string> {
      return refuse();
    },
    [refuse](passwd_atom,
             const own_password_change&) -> caf::result<portal_user> {
      return refuse();
    },
    [listing](clients_atom, const client_filter&) -> client_listing {
      return listing;
    },
    [refuse](certs_atom, const client_filter&)
      -> caf::result<std::vector<certificate_entry>> { return refuse(); },
    [refuse](const client_change&) -> caf::result<issued_bundle> {
      return refuse();
    },
    [refuse](const revocation&) -> caf::result<revocation_result> {
      return refuse();
    },
  };
}

certificate_entry certificate(std::string serial, std::string status,
                              std::string reason) {
  certificate_entry c;
  c.serial = std::move(serial);
  c.fingerprint = std::string(64, 'a');
  c.client = "app-a";
  c.status = std::move(status);
  c.not_after = 1'900'000'000;
  c.revocation_reason = std::move(reason);
  return c;
}

struct account_pages_fixture : test::deterministic_fixture {
  test::test_ingress in{*this};
  std::shared_ptr<web::portal_context> ctx
    = std::make_shared<web::portal_context>();
  std::string token;

  account_pages_fixture() {
    ctx->calls = in.calls;
    ctx->workers.push_back(spawn(admin_worker));
    ctx->tokens = std::make_shared<web::session_tokens>(
      std::string(32, 'k'), 15min, 12h);
    web::add_portal_routes(*in.routes, ctx);
    auto issued = ctx->tokens->issue({1, "root", "admin", 1}, web::now_s());
    BOOST_REQUIRE(issued);
    token = *issued;
  }

  /// GET `path` with root's session cookie.
  net::http_response get(const std::string& path) {
    net::http_request req;
    req.method = "GET";
    req.target = path;
    req.remote_address = "192.0.2.7:40000";
    req.headers.emplace_back("cookie",
                             std::string{web::session_cookie} + "=" + token);
    return in.exchange(std::move(req));
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(account_pages_suite, account_pages_fixture)

BOOST_AUTO_TEST_CASE(a_certificate_shows_its_revocation_reason_only_if_revoked) {
  client_entry client;
  client.id = 1;
  client.name = "app-a";
  client.owner = "alice";
  client.status = "active";
  client.certificates = {certificate("0A01", "active", ""),
                         certificate("0A02", "revoked", "keyCompromise")};
  client_listing listing;
  listing.clients = {client};
  listing.can_issue = true;
  ctx->account_admins.push_back(spawn(clients_admin, listing));
  auto resp = get("/admin/clients");
  BOOST_TEST(resp.status == 200u);
  BOOST_TEST(resp.body.find("<td>active</td>") != std::string::npos);
  BOOST_TEST(resp.body.find("()") == std::string::npos,
             "an empty reason in parentheses");
  BOOST_TEST(resp.body.find("<td>revoked (keyCompromise)</td>")
             != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
