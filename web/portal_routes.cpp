#include "web/portal_routes.hpp"

#include "actors/validator.hpp"
#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "net/problem.hpp"
#include "persistence/crypto.hpp"
#include "persistence/passwords.hpp"
#include "persistence/portal_store.hpp"
#include "web/account_routes.hpp"
#include "web/admin_message_routes.hpp"
#include "web/form.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <ctime>

namespace herald::web {

namespace detail {

// The pages' templates and stylesheet, embedded at build time from
// web/templates/ and web/static/ (cmake/EmbedText.cmake).
extern const std::string_view template_login;
extern const std::string_view template_messages;
extern const std::string_view template_message;
extern const std::string_view portal_css;

} // namespace detail

namespace {

/// The login form's CSRF token (no session exists yet): double submit.
constexpr const char* login_cookie = "__Host-herald_login";

const std::vector<std::string> statuses{"queued", "delivering", "delivered",
                                        "failed"};

net::http_response login_page(unsigned status, const std::string& nonce,
                              const std::string& username,
                              const std::string& problem) {
  mustache::data data;
  data.set("csrf", nonce);
  data.set("username", username);
  if (!problem.empty())
    data.set("problem", problem);
  return page(status, "Log in", detail::template_login, std::move(data),
              {{"Set-Cookie", cookie(login_cookie, nonce, 3600)}});
}

/// The login form's CSRF nonce: the browser's, or a new one.
caf::expected<std::string> login_nonce(const net::http_request& req) {
  auto header = req.header("cookie");
  auto nonce = header != nullptr ? cookie_value(*header, login_cookie)
                                 : std::string{};
  if (nonce.size() == 64
      && nonce.find_first_not_of("0123456789abcdef") == std::string::npos)
    return nonce;
  return random_hex_token();
}

void show_login(const net::http_request& req, net::responder respond) {
  auto nonce = login_nonce(req);
  if (!nonce)
    return respond(unavailable());
  respond(login_page(200, *nonce, {}, {}));
}

void login(const std::shared_ptr<portal_context>& ctx,
           const net::http_request& req, net::responder respond) {
  auto nonce = login_nonce(req);
  if (!nonce)
    return respond(unavailable());
  auto form = read_form(req);
  if (!form)
    return respond(login_page(400, *nonce, {}, "The form could not be read."));
  auto header = req.header("cookie");
  auto sent = header != nullptr ? cookie_value(*header, login_cookie)
                                : std::string{};
  if (!same_secret(sent, form_field(*form, "csrf")))
    return respond(login_page(403, *nonce, {},
                              "The form expired; please log in again."));
  login_request attempt{form_field(*form, "username"),
                        form_field(*form, "password"), ip_of(req.remote_address)};
  if (attempt.username.empty() || attempt.username.size() > 64
      || attempt.password.empty()
      || attempt.password.size() > persistence::max_password_bytes)
    return respond(login_page(400, *nonce, {},
                              "Enter a user name and a password."));
  auto shown_name = attempt.username;
  ctx->calls->ask(
    next_worker(*ctx), ctx->timeout,
    [ctx, respond, nonce = *nonce, shown_name](login_result& result) {
      if (result.outcome == "ok") {
        auto token = ctx->tokens->issue(result.user, now_s());
        if (!token)
          return respond(unavailable());
        return respond(redirect(
          "/messages",
          {{"Set-Cookie",
            cookie(session_cookie, *token, ctx->tokens->ttl_seconds())},
           {"Set-Cookie", cookie(login_cookie, "", 0)}}));
      }
      if (result.outcome == "locked") {
        auto minutes = (result.retry_after_s + 59) / 60;
        auto resp = login_page(429, nonce, shown_name,
                               "Too many failed logins. Try again in "
                                 + std::to_string(minutes) + " minutes.");
        resp.headers.emplace_back("Retry-After",
                                  std::to_string(result.retry_after_s));
        return respond(std::move(resp));
      }
      respond(login_page(401, nonce, shown_name,
                         "Wrong user name or password."));
    },
    [respond](caf::error&) { respond(unavailable()); }, login_atom::value,
    std::move(attempt));
}

void logout(const std::shared_ptr<portal_context>& ctx,
            const net::http_request& req, net::responder respond) {
  auto form = read_form(req);
  if (!form)
    return respond(error_page(400, "Bad request", "The form could not be read."));
  auto csrf = form_field(*form, "csrf");
  with_session(ctx, req, respond,
               [ctx, csrf](const portal_user& user,
                           const verified_session& session,
                           net::responder respond) {
                 if (!ctx->tokens->check_csrf(session.claims.token_id, csrf))
                   return respond(error_page(
                     403, "Forbidden",
                     "The form expired; reload the page and try again."));
                 ctx->calls->ask(
                   next_worker(*ctx), ctx->timeout,
                   [respond](bool) { respond(to_login(true)); },
                   [respond](caf::error&) { respond(unavailable()); },
                   logout_atom::value, session.claims, user.name);
               });
}

/// POST /admin/api/v1/sessions: the JSON API's login. The same check,
/// lockout and audit as the form; the token goes back in the body, for an
/// Authorization: Bearer header (the API reads no cookies).
void api_login(const std::shared_ptr<portal_context>& ctx,
               const net::http_request& req, net::responder respond) {
  rapidjson::Document doc;
  auto type = req.header("content-type");
  if (type == nullptr || type->rfind("application/json", 0) != 0)
    return respond(net::problem(415, "unsupported-media-type",
                                "Unsupported media type",
                                "Send the login as application/json."));
  if (auto why = json::parse(req.body, doc); !why.empty())
    return respond(net::problem(400, "malformed-json", "Malformed JSON", why));
  auto text = [&doc](const char* name) {
    return doc.IsObject() && doc.HasMember(name) && doc[name].IsString()
             ? std::string{doc[name].GetString(),
                           doc[name].GetStringLength()}
             : std::string{};
  };
  login_request attempt{text("username"), text("password"),
                        ip_of(req.remote_address)};
  if (attempt.username.empty() || attempt.username.size() > 64
      || attempt.password.empty()
      || attempt.password.size() > persistence::max_password_bytes)
    return respond(net::problem(
      422, "invalid-login", "Invalid login",
      "Send {\"username\": ..., \"password\": ...}, both non-empty strings.",
      {{"username", "1 to 64 characters"},
       {"password", "1 to " + std::to_string(persistence::max_password_bytes)
                      + " bytes"}}));
  ctx->calls->ask(
    next_worker(*ctx), ctx->timeout,
    [ctx, respond](login_result& result) {
      if (result.outcome == "locked") {
        auto resp = net::problem(429, "login-locked", "Too many failed logins",
                                 "Try again in "
                                   + std::to_string(result.retry_after_s)
                                   + " s.");
        resp.headers.emplace_back("Retry-After",
                                  std::to_string(result.retry_after_s));
        return respond(std::move(resp));
      }
      if (result.outcome != "ok")
        return respond(net::problem(401, "login-refused", "Login refused",
                                    "Wrong user name or password."));
      auto now = now_s();
      auto token = ctx->tokens->issue(result.user, now);
      if (!token)
        return respond(api_unavailable());
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w{buf};
      w.StartObject();
      w.Key("token");
      w.String(token->c_str());
      w.Key("expires_at");
      w.Int64(now + ctx->tokens->ttl_seconds());
      w.Key("user");
      w.String(result.user.name.c_str());
      w.Key("role");
      w.String(result.user.role.c_str());
      w.EndObject();
      respond({201, "application/json", buf.GetString(),
               {{"Cache-Control", "no-store"}}});
    },
    [respond](caf::error&) { respond(api_unavailable()); }, login_atom::value,
    std::move(attempt));
}

/// DELETE /admin/api/v1/sessions/current: revokes the bearer's session
/// (on every portal node) and audits the logout.
void api_logout(const std::shared_ptr<portal_context>& ctx,
                const net::http_request& req, net::responder respond) {
  check_session(
    ctx, bearer_token_of(req), respond,
    [ctx](const portal_user& user, const verified_session& session,
          net::responder respond) {
      ctx->calls->ask(
        next_worker(*ctx), ctx->timeout,
        [respond](bool) { respond({204, "", "", {}}); },
        [respond](caf::error&) { respond(api_unavailable()); },
        logout_atom::value, session.claims, user.name);
    },
    [respond](unsigned status) {
      respond(status == 401 ? api_unauthorized() : api_unavailable());
    });
}

/// A search that does not parse: 400 for a signed-in user (the session is
/// checked first, so no one learns anything without one).
void refuse_search(const std::shared_ptr<portal_context>& ctx,
                   const net::http_request& req, net::responder respond,
                   const caf::error& why) {
  with_session(ctx, req, std::move(respond),
               [err = render(why)](const portal_user&, const verified_session&,
                                   net::responder respond) {
                 respond(error_page(400, "Bad search", err));
               });
}

void list_messages(const std::shared_ptr<portal_context>& ctx,
                   const net::http_request& req, net::responder respond) {
  auto search = parse_search(query_of(req), ctx->pepper);
  if (!search)
    return refuse_search(ctx, req, std::move(respond), search.error());
  with_session(
    ctx, req, respond,
    [ctx, search = *search](const portal_user& user,
                            const verified_session& session,
                            net::responder respond) {
      auto csrf = ctx->tokens->csrf_token(session.claims.token_id);
      ctx->calls->ask(
        next_worker(*ctx), ctx->timeout,
        [user, csrf, search, respond](message_page& result) {
          auto data = message_list_data(search, result, "/messages");
          data.set("user", user_data(user, csrf));
          data.set("heading", "My messages");
          data.set("export", true);
          respond(page(200, "My messages", detail::template_messages,
                       std::move(data)));
        },
        [respond](caf::error&) { respond(unavailable()); }, page_atom::value,
        user.id, search.filter);
    });
}

void export_messages(const std::shared_ptr<portal_context>& ctx,
                     const net::http_request& req, net::responder respond) {
  auto search = parse_search(query_of(req), ctx->pepper);
  if (!search)
    return refuse_search(ctx, req, std::move(respond), search.error());
  search->filter.limit = persistence::max_page_rows;
  with_session(
    ctx, req, respond,
    [ctx, filter = search->filter](const portal_user& user,
                                   const verified_session&,
                                   net::responder respond) {
      ctx->calls->ask(
        next_worker(*ctx), ctx->timeout,
        [respond](message_page& result) {
          std::string csv = csv_line({"message_id", "created_at", "client",
                                      "sender", "status", "attempts",
                                      "updated_at"});
          for (const auto& r : result.rows)
            csv += csv_line({r.id, r.created_at, r.client, r.sender_masked,
                             r.status, std::to_string(r.attempts),
                             r.updated_at});
          auto headers = page_headers();
          headers.emplace_back("Content-Disposition",
                               "attachment; filename=\"messages.csv\"");
          if (result.more)
            headers.emplace_back("X-Herald-Truncated",
                                 std::to_string(persistence::max_page_rows));
          respond({200, "text/csv; charset=utf-8", std::move(csv),
                   std::move(headers)});
        },
        [respond](caf::error&) { respond(unavailable()); }, page_atom::value,
        user.id, filter);
    });
}

void show_message(const std::shared_ptr<portal_context>& ctx,
                  const net::http_request& req,
                  const net::route_params& params, net::responder respond) {
  auto id = message_id::parse(params.at("id"));
  with_session(
    ctx, req, respond,
    [ctx, id](const portal_user& user, const verified_session& session,
              net::responder respond) {
      if (!id)
        return respond(not_found("message"));
      auto csrf = ctx->tokens->csrf_token(session.claims.token_id);
      ctx->calls->ask(
        next_worker(*ctx), ctx->timeout,
        [user, csrf, respond](message_detail& detail) {
          auto data = message_detail_data(detail);
          data.set("user", user_data(user, csrf));
          data.set("back", "/messages");
          data.set("back_label", "My messages");
          data.set("has_body", true);
          respond(page(200, "Message", detail::template_message,
                       std::move(data)));
        },
        [respond](caf::error& err) {
          respond(err == errc::not_found ? not_found("message") : unavailable());
        },
        caf::get_atom::value, user.id, id->raw());
    });
}

net::http_response stylesheet(std::string css) {
  return {200, "text/css; charset=utf-8", std::move(css),
          {{"Cache-Control", "public, max-age=86400"},
           {"Cross-Origin-Resource-Policy", "same-origin"}}};
}

} // namespace

caf::expected<int64_t> parse_day(const std::string& text, const char* field) {
  auto bad = [field] {
    return make_error(errc::invalid_input,
                      std::string{field} + ": expected a date YYYY-MM-DD");
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-')
    return bad();
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (text[i] < '0' || text[i] > '9')
      return bad();
  std::tm tm{};
  tm.tm_year = std::stoi(text.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(text.substr(5, 2)) - 1;
  tm.tm_mday = std::stoi(text.substr(8, 2));
  auto t = timegm(&tm);
  std::tm back{};
  gmtime_r(&t, &back);
  if (tm.tm_year < 70 || back.tm_mday != std::stoi(text.substr(8, 2))
      || back.tm_mon != std::stoi(text.substr(5, 2)) - 1)
    return bad();
  return static_cast<int64_t>(t);
}

std::string sql_day(int64_t unix_s) {
  std::time_t t = unix_s;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

mustache::data message_list_data(const message_search& search,
                                 const message_page& result,
                                 const std::string& base) {
  mustache::data data;
  data.set("base", base);
  mustache::data filter;
  filter.set("sender", search.sender);
  filter.set("from", search.from);
  filter.set("to", search.to);
  data.set("filter", filter);
  mustache::list status_list;
  for (const auto& s : statuses) {
    mustache::data item;
    item.set("value", s);
    item.set("selected", s == search.status);
    status_list.push_back(item);
  }
  data.set("statuses", status_list);
  mustache::list clients;
  for (const auto& c : result.clients) {
    mustache::data item;
    item.set("id", std::to_string(c.id));
    item.set("name", c.name);
    item.set("selected", std::to_string(c.id) == search.client);
    clients.push_back(item);
  }
  data.set("clients", clients);
  mustache::list rows;
  for (const auto& r : result.rows)
    rows.push_back(message_row_data(r));
  data.set("rows", rows);
  data.set("query", search.query);
  if (result.more && !result.rows.empty())
    data.set("next", search.query + (search.query.empty() ? "" : "&")
                       + "after=" + cursor_of(result.rows.back()));
  return data;
}

mustache::data message_row_data(const message_row& r) {
  mustache::data row;
  row.set("id", r.id);
  row.set("client", r.client);
  row.set("owner", r.owner);
  row.set("sender_masked", r.sender_masked);
  row.set("status", r.status);
  row.set("attempts", std::to_string(r.attempts));
  row.set("created_at", r.created_at);
  row.set("updated_at", r.updated_at);
  return row;
}

mustache::data message_detail_data(const message_detail& detail) {
  mustache::data data;
  data.set("message", message_row_data(detail.message));
  data.set("body", detail.body);
  for (auto [key, value] :
       {std::pair{"delivered_at", &detail.delivered_at},
        std::pair{"next_attempt_at", &detail.next_attempt_at},
        std::pair{"last_error", &detail.last_error}})
    if (!value->empty())
      data.set(key, *value);
  mustache::list attempts;
  for (const auto& a : detail.attempts) {
    mustache::data row;
    row.set("attempt", std::to_string(a.attempt));
    row.set("attempted_at", a.attempted_at);
    row.set("outcome", a.outcome);
    row.set("http_status", a.http_status == 0 ? std::string{"-"}
                                              : std::to_string(a.http_status));
    row.set("error", a.error);
    row.set("latency_ms", std::to_string(a.latency_ms));
    attempts.push_back(row);
  }
  data.set("attempts", attempts);
  return data;
}

caf::expected<message_search> parse_search(std::string_view query,
                                           const std::string& pepper) {
  auto fields = parse_form(query, 8);
  if (!fields)
    return make_error(errc::invalid_input,
                      "the search could not be read: " + render(fields.error()));
  message_search result;
  std::string canonical;
  auto keep = [&canonical](const char* name, const std::string& value) {
    if (value.empty())
      return;
    canonical += (canonical.empty() ? "" : "&") + std::string{name} + "="
                 + url_encode(value);
  };
  for (const auto& [name, value] : *fields) {
    if (value.empty())
      continue;
    if (name == "sender") {
      if (!is_e164(value))
        return make_error(errc::invalid_input,
                          "sender: expected an E.164 number, + then 8 to 15 "
                          "digits");
      result.sender = value;
      result.filter.sender_hash = persistence::hmac_sha256(pepper, value);
    } else if (name == "status") {
      if (std::find(statuses.begin(), statuses.end(), value) == statuses.end())
        return make_error(errc::invalid_input,
                          "status: expected queued, delivering, delivered or "
                          "failed");
      result.status = value;
      result.filter.status = value;
    } else if (name == "client") {
      if (value.size() > 19
          || value.find_first_not_of("0123456789") != std::string::npos)
        return make_error(errc::invalid_input, "client: expected a client id");
      result.client = value;
      result.filter.client_id = std::stoull(value);
    } else if (name == "from" || name == "to") {
      auto day = parse_day(value, name.c_str());
      if (!day)
        return day.error();
      // "to" is inclusive: before the next midnight.
      (name == "from" ? result.filter.from : result.filter.to)
        = sql_day(name == "from" ? *day : *day + 86400);
      (name == "from" ? result.from : result.to) = value;
    } else if (name == "after") {
      // 20 digits of created_at (YYYYMMDDHHMMSSffffff), '.', the id.
      auto bad = [] {
        return make_error(errc::invalid_input, "after: not a page cursor");
      };
      if (value.size() != 57 || value[20] != '.'
          || value.find_first_not_of("0123456789") < 20)
        return bad();
      auto id = message_id::parse(value.substr(21));
      if (!id)
        return bad();
      const auto& d = value;
      result.filter.after_created = d.substr(0, 4) + "-" + d.substr(4, 2) + "-"
                                    + d.substr(6, 2) + " " + d.substr(8, 2)
                                    + ":" + d.substr(10, 2) + ":"
                                    + d.substr(12, 2) + "." + d.substr(14, 6);
      result.filter.after_id = id->raw();
    } else {
      return make_error(errc::invalid_input, "unknown search field");
    }
  }
  keep("sender", result.sender);
  keep("status", result.status);
  keep("client", result.client);
  keep("from", result.from);
  keep("to", result.to);
  result.query = std::move(canonical);
  return result;
}

std::string cursor_of(const message_row& row) {
  std::string digits;
  for (auto c : row.created_at)
    if (c >= '0' && c <= '9')
      digits += c;
  return digits + "." + row.id;
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string line;
  for (const auto& field : fields) {
    if (!line.empty())
      line += ',';
    line += '"';
    if (!field.empty()
        && std::string_view{"=+-@\t\r"}.find(field.front())
             != std::string_view::npos)
      line += '\'';
    for (auto c : field) {
      if (c == '"')
        line += '"';
      line += c;
    }
    line += '"';
  }
  line += "\r\n";
  return line;
}

caf::expected<std::string> load_bootstrap_css(const std::string& dir) {
  return read_asset(dir + "/css/bootstrap.min.css", "portal.bootstrap-dir",
                    "libjs-bootstrap5");
}

void add_portal_routes(net::router& r, std::shared_ptr<portal_context> ctx) {
  r.add("GET", "/",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          with_session(ctx, req, std::move(respond),
                       [](const portal_user&, const verified_session&,
                          net::responder respond) {
                         respond(redirect("/messages"));
                       });
        });
  r.add("GET", "/login",
        [](const net::http_request& req, const net::route_params&,
           net::responder respond) { show_login(req, std::move(respond)); });
  r.add("POST", "/login",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) { login(ctx, req, std::move(respond)); });
  r.add("POST", "/logout",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          logout(ctx, req, std::move(respond));
        });
  r.add("GET", "/messages",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          list_messages(ctx, req, std::move(respond));
        });
  r.add("GET", "/messages.csv",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          export_messages(ctx, req, std::move(respond));
        });
  r.add("GET", "/messages/{id}",
        [ctx](const net::http_request& req, const net::route_params& params,
              net::responder respond) {
          show_message(ctx, req, params, std::move(respond));
        });
  r.add("POST", "/admin/api/v1/sessions",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          api_login(ctx, req, std::move(respond));
        });
  r.add("DELETE", "/admin/api/v1/sessions/current",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          api_logout(ctx, req, std::move(respond));
        });
  add_account_routes(r, ctx);
  add_admin_message_routes(r, ctx);
  add_admin_message_api(r, ctx);
  r.set_not_found([](const net::http_request& req) {
    if (req.path().rfind("/admin/api/", 0) == 0)
      return net::problem(404, "not-found", "Not found",
                          "There is no such resource in the admin API.");
    return not_found();
  });
  r.add("GET", "/static/bootstrap.min.css",
        [ctx](const net::http_request&, const net::route_params&,
              net::responder respond) {
          respond(stylesheet(ctx->bootstrap_css));
        });
  r.add("GET", "/static/portal.css",
        [](const net::http_request&, const net::route_params&,
           net::responder respond) {
          respond(stylesheet(std::string{detail::portal_css}));
        });
}

} // namespace herald::web
