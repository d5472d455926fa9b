#include "web/portal_pages.hpp"

#include "core/time.hpp"
#include "net/problem.hpp"
#include "web/form.hpp"

#include <fstream>
#include <iterator>

namespace herald::web {

namespace detail {

// The layout and error templates, embedded at build time from
// web/templates/ (cmake/EmbedText.cmake).
extern const std::string_view template_layout;
extern const std::string_view template_error;

} // namespace detail

namespace {

/// No script but the portal's own files; styles and images from the
/// portal itself (Bootstrap draws some controls with data: SVGs); forms
/// post to the portal only.
constexpr const char* content_security_policy
  = "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";

} // namespace

headers page_headers() {
  return {{"Content-Security-Policy", content_security_policy},
          {"Referrer-Policy", "no-referrer"},
          {"Cross-Origin-Opener-Policy", "same-origin"},
          {"Cross-Origin-Resource-Policy", "same-origin"},
          {"Permissions-Policy", "camera=(), microphone=(), geolocation=()"}};
}

std::string cookie(const char* name, const std::string& value,
                   int64_t max_age) {
  return std::string{name} + "=" + value
         + "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age="
         + std::to_string(max_age);
}

net::http_response page(unsigned status, const std::string& title,
                        std::string_view body, mustache::data data,
                        headers extra) {
  mustache::mustache layout{std::string{detail::template_layout}};
  std::string body_text{body};
  data.set("title", title);
  data.set("content", mustache::partial{[body_text] { return body_text; }});
  auto all = page_headers();
  all.insert(all.end(), extra.begin(), extra.end());
  return {status, "text/html; charset=utf-8", layout.render(data),
          std::move(all)};
}

mustache::data user_data(const portal_user& user, const std::string& csrf) {
  mustache::data result;
  result.set("name", user.name);
  result.set("role", user.role);
  result.set("csrf", csrf);
  result.set("admin", user.role == "admin");
  return result;
}

net::http_response error_page(unsigned status, const std::string& heading,
                              const std::string& detail,
                              mustache::data data) {
  data.set("heading", heading);
  data.set("detail", detail);
  return page(status, heading, detail::template_error, std::move(data));
}

net::http_response redirect(const std::string& location, headers extra) {
  auto resp = error_page(303, "See other", "Continue at " + location + ".");
  resp.headers.emplace_back("Location", location);
  resp.headers.insert(resp.headers.end(), extra.begin(), extra.end());
  return resp;
}

net::http_response to_login(bool drop_cookie) {
  if (!drop_cookie)
    return redirect("/login");
  return redirect("/login", {{"Set-Cookie", cookie(session_cookie, "", 0)}});
}

net::http_response unavailable() {
  auto resp = error_page(503, "Service unavailable",
                         "The portal cannot answer right now; try again in "
                         "a moment.");
  resp.headers.emplace_back("Retry-After", "2");
  return resp;
}

net::http_response not_found(const std::string& what) {
  return error_page(404, "Not found", "There is no such " + what + ".");
}

net::http_response forbidden() {
  return error_page(403, "Forbidden",
                    "This page is for administrators. Ask one if you need "
                    "it.");
}

caf::expected<std::string> read_asset(const std::string& path,
                                      const char* setting,
                                      const char* package) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_error(errc::invalid_config,
                      std::string{setting} + ": cannot read '" + path
                        + "'; install " + package + " (ops/setup)");
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

const portal_actor& next_worker(portal_context& ctx) {
  return ctx.workers[ctx.next_worker++ % ctx.workers.size()];
}

int64_t now_s() {
  return unix_now_ms() / 1000;
}

std::string ip_of(const std::string& remote) {
  auto colon = remote.rfind(':');
  auto ip = colon == std::string::npos ? remote : remote.substr(0, colon);
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']')
    ip = ip.substr(1, ip.size() - 2);
  return ip;
}

std::string query_of(const net::http_request& req) {
  auto q = req.target.find('?');
  return q == std::string::npos ? std::string{} : req.target.substr(q + 1);
}

caf::expected<std::map<std::string, std::string>>
read_form(const net::http_request& req, size_t max_fields) {
  auto type = req.header("content-type");
  if (type == nullptr
      || type->rfind("application/x-www-form-urlencoded", 0) != 0)
    return make_error(errc::invalid_input, "not a form");
  return parse_form(req.body, max_fields);
}

std::string form_field(const std::map<std::string, std::string>& form,
                       const char* name) {
  auto i = form.find(name);
  return i == form.end() ? std::string{} : i->second;
}

std::string session_token_of(const net::http_request& req) {
  auto header = req.header("cookie");
  return header != nullptr ? cookie_value(*header, session_cookie)
                           : std::string{};
}

std::string bearer_token_of(const net::http_request& req) {
  auto header = req.header("authorization");
  constexpr std::string_view scheme = "Bearer ";
  if (header == nullptr || header->size() <= scheme.size()
      || header->compare(0, scheme.size(), scheme) != 0)
    return {};
  return header->substr(scheme.size());
}

net::http_response api_unauthorized() {
  auto resp = net::problem(401, "unauthorized", "Unauthorized",
                           "Send an admin's session token as Authorization: "
                           "Bearer; get one with POST /admin/api/v1/sessions.");
  resp.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"herald\"");
  return resp;
}

net::http_response api_forbidden() {
  return net::problem(403, "forbidden", "Forbidden",
                      "This API is for users with the admin role.");
}

net::http_response api_unavailable() {
  auto resp = net::problem(503, "unavailable", "Service unavailable",
                           "The portal cannot answer right now; retry in a "
                           "moment.");
  resp.headers.emplace_back("Retry-After", "2");
  return resp;
}

} // namespace herald::web
