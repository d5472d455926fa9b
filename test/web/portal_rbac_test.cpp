// The RBAC matrix of the portal: every admin page and admin API operation
// the router serves, asked with a user's session and with none. The routes
// come from the router itself, so a new admin route is covered the day it
// is added.

#include "web/portal_routes.hpp"

#include "core/errc.hpp"
#include "net/problem.hpp"
#include "test/fixtures.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <regex>
#include <string>

using namespace herald;
using namespace std::chrono_literals;

namespace {

/// A portal worker whose every session is bob's, a user without the admin
/// role; everything else fails (an admin route must not get that far).
portal_actor::behavior_type users_only_worker(portal_actor::pointer,
                                              uint32_t generation) {
  auto refuse = [] { return make_error(errc::unauthorized, "not in test"); };
  return {
    [refuse](login_atom, const login_request&) -> caf::result<login_result> {
      return refuse();
    },
    [generation](session_atom,
                 const session_claims& claims) -> caf::result<portal_user> {
      return portal_user{claims.user_id, "bob", "user", generation};
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

struct rbac_fixture : test::deterministic_fixture {
  test::test_ingress in{*this};
  std::shared_ptr<web::portal_context> ctx
    = std::make_shared<web::portal_context>();
  std::string token;
  std::string csrf;

  rbac_fixture() {
    ctx->calls = in.calls;
    ctx->workers.push_back(spawn(users_only_worker, uint32_t{3}));
    ctx->tokens = std::make_shared<web::session_tokens>(
      std::string(32, 'k'), 15min, 12h);
    web::add_portal_routes(*in.routes, ctx);
    auto issued = ctx->tokens->issue({2, "bob", "user", 3}, web::now_s());
    BOOST_REQUIRE(issued);
    token = *issued;
    auto session = ctx->tokens->verify(token, web::now_s());
    BOOST_REQUIRE(session);
    csrf = ctx->tokens->csrf_token(session->claims.token_id);
  }

  /// Every registered admin route ("METHOD /path") but the API's login and
  /// logout, which any user may call.
  std::vector<std::pair<std::string, std::string>> admin_routes() const {
    std::vector<std::pair<std::string, std::string>> result;
    static const std::regex placeholder{R"(\{[^}]+\})"};
    for (const auto& route : in.routes->routes()) {
      auto space = route.find(' ');
      auto method = route.substr(0, space);
      auto pattern = route.substr(space + 1);
      if ((pattern != "/admin" && pattern.rfind("/admin/", 0) != 0)
          || pattern.rfind("/admin/api/v1/sessions", 0) == 0)
        continue;
      result.emplace_back(method, std::regex_replace(pattern, placeholder, "1"));
    }
    return result;
  }

  /// A request as a browser (cookie, form with the CSRF token) or as an API
  /// client (bearer token, JSON) would send it; `with_session` false sends
  /// neither cookie nor token.
  net::http_request request(const std::string& method, const std::string& path,
                            bool with_session) const {
    net::http_request req;
    req.method = method;
    req.target = path;
    req.remote_address = "192.0.2.7:40000";
    bool api = path.rfind("/admin/api/", 0) == 0;
    if (with_session)
      req.headers.emplace_back(api ? "authorization" : "cookie",
                               api ? "Bearer " + token
                                   : std::string{web::session_cookie} + "="
                                       + token);
    if (method != "GET") {
      req.headers.emplace_back("content-type",
                               api ? "application/json"
                                   : "application/x-www-form-urlencoded");
      req.body = api ? "{}" : "csrf=" + csrf;
    }
    return req;
  }
};

std::string header_of(const net::http_response& resp, const std::string& name) {
  for (const auto& [key, value] : resp.headers)
    if (key == name)
      return value;
  return {};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(portal_rbac_suite, rbac_fixture)

BOOST_AUTO_TEST_CASE(the_portal_serves_admin_routes) {
  // The matrix below is only as good as its rows: 34 admin pages and API
  // operations when this was written.
  BOOST_TEST(admin_routes().size() >= 30u);
}

BOOST_AUTO_TEST_CASE(a_user_session_gets_403_on_every_admin_route) {
  for (const auto& [method, path] : admin_routes()) {
    auto resp = in.exchange(request(method, path, true));
    auto name = method + " " + path;
    BOOST_TEST(resp.status == 403u, name << " answered " << resp.status);
    if (path.rfind("/admin/api/", 0) == 0)
      BOOST_TEST(resp.body.find(net::problem_type("forbidden"))
                   != std::string::npos,
                 name << ": " << resp.body);
    else
      BOOST_TEST(resp.body.find("for administrators") != std::string::npos,
                 name << " is not the forbidden page");
  }
}

BOOST_AUTO_TEST_CASE(no_session_gets_the_login_page_or_401) {
  for (const auto& [method, path] : admin_routes()) {
    auto resp = in.exchange(request(method, path, false));
    auto name = method + " " + path;
    if (path.rfind("/admin/api/", 0) == 0) {
      BOOST_TEST(resp.status == 401u, name << " answered " << resp.status);
      BOOST_TEST(resp.body.find(net::problem_type("unauthorized"))
                   != std::string::npos,
                 name << ": " << resp.body);
    } else {
      BOOST_TEST(resp.status == 303u, name << " answered " << resp.status);
      BOOST_TEST(header_of(resp, "Location") == "/login", name);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_tampered_token_counts_as_none) {
  auto tampered = token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  for (const auto& [method, path] : admin_routes()) {
    auto req = request(method, path, false);
    bool api = path.rfind("/admin/api/", 0) == 0;
    req.headers.emplace_back(api ? "authorization" : "cookie",
                             api ? "Bearer " + tampered
                                 : std::string{web::session_cookie} + "="
                                     + tampered);
    auto resp = in.exchange(req);
    BOOST_TEST(resp.status == (api ? 401u : 303u),
               method << " " << path << " answered " << resp.status);
  }
}

BOOST_AUTO_TEST_CASE(unknown_pages_get_html_and_unknown_api_paths_json) {
  auto page = in.exchange(request("GET", "/no/such/page", true));
  BOOST_TEST(page.status == 404u);
  BOOST_TEST(page.content_type == "text/html; charset=utf-8");
  auto api = in.exchange(request("GET", "/admin/api/v1/no-such", true));
  BOOST_TEST(api.status == 404u);
  BOOST_TEST(api.content_type == "application/problem+json");
}

BOOST_AUTO_TEST_SUITE_END()
