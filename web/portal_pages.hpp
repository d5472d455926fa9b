#pragma once

#include "actors/actors.hpp"
#include "actors/ingress.hpp"
#include "core/errc.hpp"
#include "net/router.hpp"
#include "web/download_vault.hpp"
#include "web/portal_session.hpp"

#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include <kainjow/mustache.hpp>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace herald::web {

// What every page and API route of the portal shares: the context, the
// layout, the answers that are the same everywhere (login, 403, 404, 503)
// and the session checks that guard the routes.

namespace mustache = kainjow::mustache;

/// Everything the portal's routes use, shared by all requests. The routes
/// run inside the portal listener's ingress actor, one request at a time;
/// blocking work goes to the portal workers.
struct portal_context {
  std::shared_ptr<const ingress_calls> calls;
  /// Taken in turn.
  std::vector<portal_actor> workers;
  size_t next_worker = 0;
  /// The admin pages' workers on messages, failed messages, the audit log
  /// and the overview; taken in turn.
  std::vector<message_admin_actor> message_admins;
  size_t next_message_admin = 0;
  std::shared_ptr<const session_tokens> tokens;
  /// Keys the sender search (the same HMAC the validator stores).
  std::string pepper;
  /// Debian's bootstrap.min.css, read at start.
  std::string bootstrap_css;
  /// Debian's Chart.js (portal.chartjs-file), read at start.
  std::string chartjs;
  /// How long a route waits for a worker (a login waits for a hash).
  caf::timespan timeout = std::chrono::seconds{10};
  /// The admin pages' workers (users, clients, certificates), in turn.
  std::vector<account_admin_actor> account_admins;
  size_t next_account_admin = 0;
  /// Issued keys waiting for their one download.
  download_vault downloads;
};

using headers = std::vector<std::pair<std::string, std::string>>;

/// __Host-: the browser keeps it for this origin only, over HTTPS, Path=/.
inline constexpr const char* session_cookie = "__Host-herald_session";

/// The security headers of every page.
headers page_headers();

/// A Set-Cookie value: Secure, HttpOnly, SameSite=Strict, Path=/.
std::string cookie(const char* name, const std::string& value,
                   int64_t max_age);

/// A page: template `body` rendered inside the layout. Mustache escapes
/// every {{value}}; the templates have no unescaped ones.
net::http_response page(unsigned status, const std::string& title,
                        std::string_view body, mustache::data data,
                        headers extra = {});

/// The signed-in user for the layout (name, role, CSRF token of the
/// logout form, and whether the admin links show).
mustache::data user_data(const portal_user& user, const std::string& csrf);

net::http_response error_page(unsigned status, const std::string& heading,
                              const std::string& detail,
                              mustache::data data = {});

/// 303 to `location`.
net::http_response redirect(const std::string& location, headers extra = {});

/// To the login page; drops the session cookie the browser sent, if any.
net::http_response to_login(bool drop_cookie);

/// 503 with Retry-After: a worker or a database did not answer.
net::http_response unavailable();

/// 404 for a page of `what` ("message", "user", ...) that is not there.
net::http_response not_found(const std::string& what = "page");

/// 403 for a signed-in user without the role a page needs.
net::http_response forbidden();

/// A static file the portal serves (read at start), or an error naming
/// the setting and the Debian package that ships it.
caf::expected<std::string> read_asset(const std::string& path,
                                      const char* setting,
                                      const char* package);

/// The next worker, in turn.
const portal_actor& next_worker(portal_context& ctx);

/// Unix seconds now.
int64_t now_s();

/// The address without its port ("[::1]:443" or "1.2.3.4:443").
std::string ip_of(const std::string& remote);

/// The query string of `req`'s target, without the '?'.
std::string query_of(const net::http_request& req);

/// The fields of a POSTed form, at most `max_fields`; an error when the
/// body is not application/x-www-form-urlencoded or does not decode.
caf::expected<std::map<std::string, std::string>>
read_form(const net::http_request& req, size_t max_fields = 32);

/// Field `name` of `form`, empty when missing.
std::string form_field(const std::map<std::string, std::string>& form,
                       const char* name);

/// The session token of the request's cookie, or empty.
std::string session_token_of(const net::http_request& req);

/// Verifies `token` and asks a worker whether its session still holds;
/// calls `f(user, session, respond)` when it does, else `refused(status)`
/// with 401 (no, bad or revoked session) or 503.
template <class F, class Refused>
void check_session(const std::shared_ptr<portal_context>& ctx,
                   const std::string& token, net::responder respond, F f,
                   Refused refused) {
  auto now = now_s();
  auto session = ctx->tokens->verify(token, now);
  if (!session)
    return refused(401u);
  ctx->calls->ask(
    next_worker(*ctx), ctx->timeout,
    [session = *session, respond, f](portal_user& user) {
      f(user, session, respond);
    },
    [refused](caf::error& err) {
      refused(err == errc::unauthorized ? 401u : 503u);
    },
    session_atom::value, session->claims);
}

/// Runs `f(user, session, respond)` for a browser request with a valid
/// session cookie; without one: to the login page. A token in its second
/// half gets a fresh cookie with the answer (sliding refresh).
template <class F>
void with_session(const std::shared_ptr<portal_context>& ctx,
                  const net::http_request& req, net::responder respond, F f) {
  auto token = session_token_of(req);
  check_session(
    ctx, token, respond,
    [ctx, f](const portal_user& user, const verified_session& session,
             net::responder respond) {
      auto now = now_s();
      net::responder out = respond;
      if (ctx->tokens->needs_refresh(session, now))
        if (auto fresh = ctx->tokens->refresh(session, now))
          out = [respond, set = cookie(session_cookie, *fresh,
                                       ctx->tokens->ttl_seconds())](
                  net::http_response resp) {
            resp.headers.emplace_back("Set-Cookie", set);
            respond(std::move(resp));
          };
      f(user, session, std::move(out));
    },
    [respond, sent = !token.empty()](unsigned status) {
      respond(status == 401 ? to_login(sent) : unavailable());
    });
}

/// with_session for the admin pages: a signed-in user without the admin
/// role gets 403 and `f` never runs.
template <class F>
void with_admin(const std::shared_ptr<portal_context>& ctx,
                const net::http_request& req, net::responder respond, F f) {
  with_session(ctx, req, std::move(respond),
               [f](const portal_user& user, const verified_session& session,
                   net::responder respond) {
                 if (user.role != "admin")
                   return respond(forbidden());
                 f(user, session, std::move(respond));
               });
}

/// The answers of the JSON API's session checks.
net::http_response api_unauthorized();
net::http_response api_forbidden();
net::http_response api_unavailable();

/// The bearer token of an Authorization header, or empty.
std::string bearer_token_of(const net::http_request& req);

/// Runs `f(user, session, respond)` for a request of the JSON admin API:
/// a bearer token (Authorization: Bearer) of an admin's valid session.
/// No token, a bad or revoked one: 401 problem+json; a user without the
/// admin role: 403. Cookies are never read here, so no CSRF is possible.
/// A token in its second half comes back renewed in the answer's
/// X-Herald-Session-Token header (sliding refresh).
template <class F>
void with_api_admin(const std::shared_ptr<portal_context>& ctx,
                    const net::http_request& req, net::responder respond,
                    F f) {
  check_session(
    ctx, bearer_token_of(req), respond,
    [ctx, f](const portal_user& user, const verified_session& session,
             net::responder respond) {
      if (user.role != "admin")
        return respond(api_forbidden());
      auto now = now_s();
      net::responder out = respond;
      if (ctx->tokens->needs_refresh(session, now))
        if (auto fresh = ctx->tokens->refresh(session, now))
          out = [respond, fresh = *fresh](net::http_response resp) {
            resp.headers.emplace_back("X-Herald-Session-Token", fresh);
            respond(std::move(resp));
          };
      f(user, session, std::move(out));
    },
    [respond](unsigned status) {
      respond(status == 401 ? api_unauthorized() : api_unavailable());
    });
}

} // namespace herald::web
