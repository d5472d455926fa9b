#include "web/account_routes.hpp"

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "net/problem.hpp"
#include "persistence/passwords.hpp"
#include "pki/ca.hpp"
#include "web/form.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <openssl/crypto.h>

#include <optional>

namespace herald::web {

namespace detail {

// The pages' templates, embedded at build time from web/templates/.
extern const std::string_view template_users;
extern const std::string_view template_clients;
extern const std::string_view template_issued;
extern const std::string_view template_account;

} // namespace detail

namespace {

using form_fields = std::map<std::string, std::string>;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Longest filter or form value other than passwords (names are at most
/// 64 characters; reasons and formats shorter).
constexpr size_t max_field_bytes = 64;

const account_admin_actor& next_admin(portal_context& ctx) {
  return ctx.account_admins[ctx.next_account_admin++
                            % ctx.account_admins.size()];
}

void wipe(std::string& secret) {
  OPENSSL_cleanse(secret.data(), secret.size());
}

std::string day_of(int64_t unix_s) {
  return unix_s == 0 ? std::string{"-"} : iso8601_s(unix_s).substr(0, 10);
}

net::http_response form_expired() {
  return error_page(403, "Forbidden",
                    "The form expired; reload the page and try again.");
}

/// Whether every field but the passwords is short.
bool fields_fit(const form_fields& form) {
  for (const auto& [name, value] : form) {
    auto limit = name.find("password") == std::string::npos
                   ? max_field_bytes
                   : persistence::max_password_bytes;
    if (value.size() > limit)
      return false;
  }
  return true;
}

/// Runs `f(user, session, form, respond)` for an admin's POSTed form with
/// the session's CSRF token; no session: to the login page; no admin: 403.
template <class F>
void admin_form(const std::shared_ptr<portal_context>& ctx,
                const net::http_request& req, net::responder respond, F f) {
  auto form = read_form(req);
  with_admin(ctx, req, std::move(respond),
             [ctx, form, f](const portal_user& user,
                            const verified_session& session,
                            net::responder respond) {
               if (!form || !fields_fit(*form))
                 return respond(error_page(400, "Bad request",
                                           "The form could not be read."));
               if (!ctx->tokens->check_csrf(session.claims.token_id,
                                            form_field(*form, "csrf")))
                 return respond(form_expired());
               f(user, session, *form, std::move(respond));
             });
}

unsigned status_of(const caf::error& err) {
  if (err == errc::not_found)
    return 404;
  if (err == errc::invalid_input || err == errc::unauthorized)
    return 400;
  if (err == errc::invalid_config)
    return 409;
  return 503;
}

// -- users (HTML) ----------------------------------------------------------------

/// What a users page says above the list after a change.
struct users_note {
  unsigned status = 200;
  std::string notice;
  std::string problem;
  /// A password generated for `generated_for`, shown this once.
  std::string generated_for;
  std::string generated;
  /// The create form as sent, shown again after a refusal.
  std::string name;
};

void show_users(const std::shared_ptr<portal_context>& ctx,
                const portal_user& user, const verified_session& session,
                net::responder respond, users_note note) {
  auto csrf = ctx->tokens->csrf_token(session.claims.token_id);
  ctx->calls->ask(
    next_admin(*ctx), ctx->timeout,
    [user, csrf, respond, note](std::vector<user_entry>& users) {
      mustache::data data;
      data.set("user", user_data(user, csrf));
      data.set("csrf", csrf);
      if (!note.notice.empty())
        data.set("notice", note.notice);
      if (!note.problem.empty())
        data.set("problem", note.problem);
      if (!note.generated.empty()) {
        mustache::data generated;
        generated.set("name", note.generated_for);
        generated.set("password", note.generated);
        data.set("generated", generated);
      }
      data.set("form_name", note.name);
      mustache::list rows;
      for (const auto& u : users) {
        mustache::data row;
        row.set("name", u.name);
        row.set("role", u.role);
        row.set("status", u.status);
        row.set("clients", std::to_string(u.clients));
        row.set("created_at", u.created_at);
        row.set("password_changed_at",
                u.password_changed_at.empty() ? "-" : u.password_changed_at);
        row.set("active", u.status == "active");
        row.set("admin", u.role == "admin");
        row.set("self", u.name == user.name);
        rows.push_back(row);
      }
      data.set("users", rows);
      auto resp = page(note.status, "Users", detail::template_users,
                       std::move(data), {{"Cache-Control", "no-store"}});
      respond(std::move(resp));
    },
    [respond](caf::error&) { respond(unavailable()); }, users_atom::value);
}

/// Sends `change` to a worker and shows the users page with the outcome.
void apply_user_change(const std::shared_ptr<portal_context>& ctx,
                       const portal_user& user,
                       const verified_session& session,
                       net::responder respond, user_change change,
                       std::string done) {
  auto name = change.name;
  auto generate = change.password.empty()
                  && (change.action == "add" || change.action == "password");
  ctx->calls->ask(
    next_admin(*ctx), ctx->timeout,
    [ctx, user, session, respond, name, done,
     generate](std::string& generated) {
      users_note note;
      note.notice = done;
      if (generate) {
        note.generated_for = name;
        note.generated = std::move(generated);
      }
      show_users(ctx, user, session, respond, std::move(note));
    },
    [ctx, user, session, respond, name](caf::error& err) {
      if (status_of(err) == 503)
        return respond(unavailable());
      users_note note;
      note.status = status_of(err);
      note.problem = render(err);
      note.name = name;
      show_users(ctx, user, session, respond, std::move(note));
    },
    std::move(change));
}

void add_user_pages(net::router& r, const std::shared_ptr<portal_context>& ctx) {
  r.add("GET", "/admin/users",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          with_admin(ctx, req, std::move(respond),
                     [ctx](const portal_user& user,
                           const verified_session& session,
                           net::responder respond) {
                       show_users(ctx, user, session, std::move(respond), {});
                     });
        });
  r.add("POST", "/admin/users",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          admin_form(ctx, req, std::move(respond),
                     [ctx](const portal_user& user,
                           const verified_session& session,
                           const form_fields& form, net::responder respond) {
                       user_change change{user.name, "add",
                                          form_field(form, "name"),
                                          form_field(form, "role"),
                                          form_field(form, "password")};
                       auto done = "User " + change.name + " created.";
                       apply_user_change(ctx, user, session,
                                         std::move(respond), std::move(change),
                                         done);
                     });
        });
  for (std::string action : {"disable", "enable", "password", "role"}) {
    r.add("POST", "/admin/users/{name}/" + action,
          [ctx, action](const net::http_request& req,
                        const net::route_params& params,
                        net::responder respond) {
            admin_form(
              ctx, req, std::move(respond),
              [ctx, action, name = params.at("name")](
                const portal_user& user, const verified_session& session,
                const form_fields& form, net::responder respond) {
                user_change change{user.name, action, name,
                                   form_field(form, "role"),
                                   form_field(form, "password")};
                std::string done
                  = action == "disable"    ? "User " + name + " disabled."
                    : action == "enable"   ? "User " + name + " enabled."
                    : action == "password" ? "Password of " + name + " set."
                                           : "Role of " + name + " changed.";
                apply_user_change(ctx, user, session, std::move(respond),
                                  std::move(change),
                                  done + " Their sessions have ended.");
              });
          });
  }
}

// -- own account (HTML) ------------------------------------------------------------

net::http_response account_page(unsigned status, const portal_user& user,
                                const std::string& csrf,
                                const std::string& notice,
                                const std::string& problem,
                                headers extra = {}) {
  mustache::data data;
  data.set("user", user_data(user, csrf));
  data.set("csrf", csrf);
  data.set("name", user.name);
  data.set("role", user.role);
  if (!notice.empty())
    data.set("notice", notice);
  if (!problem.empty())
    data.set("problem", problem);
  extra.emplace_back("Cache-Control", "no-store");
  return page(status, "Account", detail::template_account, std::move(data),
              std::move(extra));
}

void add_account_pages(net::router& r,
                       const std::shared_ptr<portal_context>& ctx) {
  r.add("GET", "/account",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          with_session(ctx, req, std::move(respond),
                       [ctx](const portal_user& user,
                             const verified_session& session,
                             net::responder respond) {
                         respond(account_page(
                           200, user,
                           ctx->tokens->csrf_token(session.claims.token_id),
                           {}, {}));
                       });
        });
  r.add(
    "POST", "/account/password",
    [ctx](const net::http_request& req, const net::route_params&,
          net::responder respond) {
      auto form = read_form(req);
      with_session(
        ctx, req, std::move(respond),
        [ctx, form](const portal_user& user, const verified_session& session,
                    net::responder respond) {
          auto csrf = ctx->tokens->csrf_token(session.claims.token_id);
          if (!form || !fields_fit(*form))
            return respond(account_page(400, user, csrf, {},
                                        "The form could not be read."));
          if (!ctx->tokens->check_csrf(session.claims.token_id,
                                       form_field(*form, "csrf")))
            return respond(form_expired());
          auto next = form_field(*form, "new_password");
          if (next != form_field(*form, "repeat_password"))
            return respond(account_page(400, user, csrf, {},
                                        "The two new passwords differ."));
          own_password_change change{user.id, user.name,
                                     form_field(*form, "current_password"),
                                     std::move(next)};
          ctx->calls->ask(
            next_admin(*ctx), ctx->timeout,
            [ctx, respond](portal_user& changed) {
              // The change ended every session, this one too: a new one
              // for this browser only.
              auto now = now_s();
              auto token = ctx->tokens->issue(changed, now);
              if (!token)
                return respond(unavailable());
              auto fresh = *token;
              auto claims = ctx->tokens->verify(fresh, now);
              auto csrf = claims ? ctx->tokens->csrf_token(
                                     claims->claims.token_id)
                                 : std::string{};
              respond(account_page(
                200, changed, csrf,
                "Password changed. Your other sessions have ended.", {},
                {{"Set-Cookie", cookie(session_cookie, fresh,
                                       ctx->tokens->ttl_seconds())}}));
            },
            [user, csrf, respond](caf::error& err) {
              if (status_of(err) == 503)
                return respond(unavailable());
              respond(account_page(400, user, csrf, {}, render(err)));
            },
            passwd_atom::value, std::move(change));
        });
    });
}

// -- clients and certificates (HTML) ----------------------------------------------

struct clients_note {
  unsigned status = 200;
  std::string notice;
  std::string problem;
};

mustache::data certificate_data(const certificate_entry& c) {
  mustache::data row;
  row.set("serial", c.serial);
  row.set("fingerprint", c.fingerprint);
  row.set("not_after", day_of(c.not_after));
  row.set("status", c.status);
  row.set("active", c.status == "active");
  // Mustache shows a section for any string, the empty one too: an
  // active certificate would read "active ()".
  if (!c.revocation_reason.empty())
    row.set("revocation_reason", c.revocation_reason);
  return row;
}

void show_clients(const std::shared_ptr<portal_context>& ctx,
                  const portal_user& user, const verified_session& session,
                  net::responder respond, client_filter filter,
                  clients_note note) {
  auto csrf = ctx->tokens->csrf_token(session.claims.token_id);
  auto asked = filter;
  ctx->calls->ask(
    next_admin(*ctx), ctx->timeout,
    [user, csrf, respond, filter, note](client_listing& listing) {
      mustache::data data;
      data.set("user", user_data(user, csrf));
      data.set("csrf", csrf);
      if (!note.notice.empty())
        data.set("notice", note.notice);
      if (!note.problem.empty())
        data.set("problem", note.problem);
      data.set("can_issue", listing.can_issue);
      data.set("ca_problem", listing.ca_problem);
      mustache::data shown;
      shown.set("owner", filter.owner);
      shown.set("active", filter.status == "active");
      shown.set("disabled", filter.status == "disabled");
      shown.set("expiring", filter.expiring_days >= 0);
      data.set("filter", shown);
      mustache::list reasons;
      for (const auto& reason : pki::revocation_reasons()) {
        mustache::data item;
        item.set("value", reason);
        reasons.push_back(item);
      }
      data.set("reasons", reasons);
      mustache::list rows;
      for (const auto& c : listing.clients) {
        mustache::data row;
        row.set("name", c.name);
        row.set("owner", c.owner.empty() ? "-" : c.owner);
        row.set("status", c.status);
        row.set("active", c.status == "active");
        row.set("created_at", c.created_at);
        mustache::list certs;
        for (const auto& cert : c.certificates)
          certs.push_back(certificate_data(cert));
        row.set("certificates", certs);
        rows.push_back(row);
      }
      data.set("clients", rows);
      respond(page(note.status, "Clients", detail::template_clients,
                   std::move(data), {{"Cache-Control", "no-store"}}));
    },
    [respond](caf::error&) { respond(unavailable()); }, clients_atom::value,
    std::move(asked));
}

/// The page after an issue: the certificate, the PKCS#12 password once,
/// and the form of the one download.
net::http_response issued_page(const portal_user& user,
                               const std::string& csrf,
                               const issued_bundle& bundle, bool p12,
                               const std::string& token) {
  mustache::data data;
  data.set("user", user_data(user, csrf));
  data.set("csrf", csrf);
  data.set("client", bundle.client);
  data.set("certificate", certificate_data(bundle.certificate));
  data.set("token", token);
  data.set("p12", p12);
  data.set("p12_password", bundle.pkcs12_password);
  data.set("minutes", std::to_string(download_vault::lifetime_s / 60));
  return page(201, "Certificate issued", detail::template_issued,
              std::move(data), {{"Cache-Control", "no-store"}});
}

/// Sends `change` to a worker: a new certificate's key goes to the vault
/// and the page offers its download; other changes show the clients.
void apply_client_change(const std::shared_ptr<portal_context>& ctx,
                         const portal_user& user,
                         const verified_session& session,
                         net::responder respond, client_change change) {
  auto action = change.action;
  auto name = change.name;
  ctx->calls->ask(
    next_admin(*ctx), ctx->timeout,
    [ctx, user, session, respond, action, name](issued_bundle& bundle) {
      if (action == "disable" || action == "enable")
        return show_clients(ctx, user, session, respond, {},
                            {200, "Client " + name + " " + action + "d.", {}});
      auto token = random_hex_token();
      if (!token)
        return respond(unavailable());
      pending_download download;
      download.admin_id = user.id;
      bool p12 = !bundle.pkcs12.empty();
      if (p12) {
        download.file_name = bundle.client + ".p12";
        download.content_type = "application/x-pkcs12";
        download.body = std::move(bundle.pkcs12);
      } else {
        download.file_name = bundle.client + ".pem";
        download.content_type = "application/x-pem-file";
        download.body = bundle.key_pem + bundle.certificate_pem;
        wipe(bundle.key_pem);
      }
      ctx->downloads.put(*token, std::move(download), now_s());
      auto resp = issued_page(user,
                              ctx->tokens->csrf_token(session.claims.token_id),
                              bundle, p12, *token);
      wipe(bundle.pkcs12_password);
      respond(std::move(resp));
    },
    [ctx, user, session, respond](caf::error& err) {
      if (status_of(err) == 503)
        return respond(unavailable());
      show_clients(ctx, user, session, respond, {},
                   {status_of(err), {}, render(err)});
    },
    std::move(change));
}

/// Validity days of a form: 365 when empty.
int64_t days_of(const std::string& text) {
  if (text.empty())
    return 365;
  if (text.size() > 4 || text.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  return std::stoll(text);
}

void add_client_pages(net::router& r,
                      const std::shared_ptr<portal_context>& ctx) {
  r.add("GET", "/admin/clients",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          auto filter = parse_client_filter(query_of(req), true);
          with_admin(ctx, req, std::move(respond),
                     [ctx, filter](const portal_user& user,
                                   const verified_session& session,
                                   net::responder respond) {
                       if (!filter)
                         return respond(error_page(400, "Bad filter",
                                                   render(filter.error())));
                       show_clients(ctx, user, session, std::move(respond),
                                    *filter, {});
                     });
        });
  r.add("POST", "/admin/clients",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          admin_form(ctx, req, std::move(respond),
                     [ctx](const portal_user& user,
                           const verified_session& session,
                           const form_fields& form, net::responder respond) {
                       client_change change{user.name,
                                            "add",
                                            form_field(form, "name"),
                                            form_field(form, "owner"),
                                            days_of(form_field(form, "days")),
                                            form_field(form, "format")};
                       apply_client_change(ctx, user, session,
                                           std::move(respond),
                                           std::move(change));
                     });
        });
  for (std::string action : {"certificates", "disable", "enable"}) {
    r.add("POST", "/admin/clients/{name}/" + action,
          [ctx, action](const net::http_request& req,
                        const net::route_params& params,
                        net::responder respond) {
            admin_form(
              ctx, req, std::move(respond),
              [ctx, action, name = params.at("name")](
                const portal_user& user, const verified_session& session,
                const form_fields& form, net::responder respond) {
                client_change change{
                  user.name, action == "certificates" ? "renew" : action,
                  name,      {},
                  days_of(form_field(form, "days")),
                  form_field(form, "format").empty()
                    ? std::string{"pem"}
                    : form_field(form, "format")};
                apply_client_change(ctx, user, session, std::move(respond),
                                    std::move(change));
              });
          });
  }
  r.add(
    "POST", "/admin/certificates/{id}/revoke",
    [ctx](const net::http_request& req, const net::route_params& params,
          net::responder respond) {
      admin_form(
        ctx, req, std::move(respond),
        [ctx, id = params.at("id")](const portal_user& user,
                                    const verified_session& session,
                                    const form_fields& form,
                                    net::responder respond) {
          ctx->calls->ask(
            next_admin(*ctx), ctx->timeout,
            [ctx, user, session, respond](revocation_result& result) {
              auto notice
                = "Certificate " + result.certificate.serial + " revoked ("
                  + result.certificate.revocation_reason + ")."
                  + (result.crl_published
                       ? " A fresh CRL is published; nodes refuse it within "
                         "seconds."
                       : " Nodes refuse it within seconds; this node has no "
                         "CA key, so run heraldctl crl on the CA's machine "
                         "to publish the CRL.");
              show_clients(ctx, user, session, respond, {},
                           {200, notice, {}});
            },
            [ctx, user, session, respond](caf::error& err) {
              if (status_of(err) == 503)
                return respond(unavailable());
              show_clients(ctx, user, session, respond, {},
                           {status_of(err), {}, render(err)});
            },
            revocation{user.name, id, form_field(form, "reason")});
        });
    });
  r.add("POST", "/admin/downloads/{token}",
        [ctx](const net::http_request& req, const net::route_params& params,
              net::responder respond) {
          admin_form(ctx, req, std::move(respond),
                     [ctx, token = params.at("token")](
                       const portal_user& user, const verified_session&,
                       const form_fields&, net::responder respond) {
                       auto download = ctx->downloads.take(token, user.id,
                                                           now_s());
                       if (!download)
                         return respond(error_page(
                           410, "Gone",
                           "This download was used already or expired (it "
                           "waits 10 minutes). Renew the certificate to get "
                           "a new key."));
                       auto headers = page_headers();
                       headers.emplace_back("Cache-Control", "no-store");
                       headers.emplace_back("Content-Disposition",
                                            "attachment; filename=\""
                                              + download->file_name + "\"");
                       respond({200, download->content_type,
                                std::move(download->body), std::move(headers)});
                     });
        });
}

// -- the JSON admin API -----------------------------------------------------------

net::http_response json_answer(unsigned status,
                               const rapidjson::StringBuffer& buf) {
  return {status, "application/json", buf.GetString(),
          {{"Cache-Control", "no-store"}}};
}

/// The problem for a refused operation on `thing` (user, client or
/// certificate).
net::http_response api_refused(const std::string& thing,
                               const caf::error& err) {
  auto why = render(err);
  if (err == errc::not_found) {
    if (thing == "user")
      return net::problem(404, "user-not-found", "No such user", why);
    if (thing == "client")
      return net::problem(404, "client-not-found", "No such client", why);
    return net::problem(404, "certificate-not-found", "No such certificate",
                        why);
  }
  if (err == errc::invalid_input)
    return net::problem(422, "invalid-change", "Change refused", why);
  if (err == errc::invalid_config)
    return net::problem(409, "ca-unavailable", "No CA key on this node", why);
  return api_unavailable();
}

/// The JSON object of a request body; an answer when there is none.
std::optional<net::http_response> read_json(const net::http_request& req,
                                            rapidjson::Document& doc) {
  auto type = req.header("content-type");
  if (req.body.empty()) {
    doc.SetObject();
    return std::nullopt;
  }
  if (type == nullptr || type->rfind("application/json", 0) != 0)
    return net::problem(415, "unsupported-media-type",
                        "Unsupported media type", "Send application/json.");
  if (auto why = json::parse(req.body, doc); !why.empty())
    return net::problem(400, "malformed-json", "Malformed JSON", why);
  if (!doc.IsObject())
    return net::problem(400, "malformed-json", "Malformed JSON",
                        "The body must be a JSON object.");
  return std::nullopt;
}

/// String member `name` of `doc`, empty when missing or not a string.
std::string text_of(const rapidjson::Document& doc, const char* name) {
  return doc.HasMember(name) && doc[name].IsString()
           ? std::string{doc[name].GetString(), doc[name].GetStringLength()}
           : std::string{};
}

/// Member "days": 365 when missing, 0 (refused later) when no integer.
int64_t days_in(const rapidjson::Document& doc) {
  if (!doc.HasMember("days"))
    return 365;
  return doc["days"].IsInt64() ? doc["days"].GetInt64() : 0;
}

/// Runs `f(user, doc, respond)` for an admin's API request with a JSON
/// object body (or none).
template <class F>
void api_call(const std::shared_ptr<portal_context>& ctx,
              const net::http_request& req, net::responder respond, F f) {
  auto doc = std::make_shared<rapidjson::Document>();
  auto refused = read_json(req, *doc);
  with_api_admin(ctx, req, std::move(respond),
                 [doc, refused, f](const portal_user& user,
                                   const verified_session&,
                                   net::responder respond) {
                   if (refused)
                     return respond(*refused);
                   f(user, *doc, std::move(respond));
                 });
}

void write_user(json_writer& w, const user_entry& u) {
  w.StartObject();
  w.Key("name");
  w.String(u.name.c_str());
  w.Key("role");
  w.String(u.role.c_str());
  w.Key("status");
  w.String(u.status.c_str());
  w.Key("clients");
  w.Uint64(u.clients);
  w.Key("created_at");
  w.String(u.created_at.c_str());
  w.Key("password_changed_at");
  if (u.password_changed_at.empty())
    w.Null();
  else
    w.String(u.password_changed_at.c_str());
  w.EndObject();
}

void write_certificate(json_writer& w, const certificate_entry& c) {
  w.StartObject();
  w.Key("serial");
  w.String(c.serial.c_str());
  w.Key("fingerprint");
  w.String(c.fingerprint.c_str());
  w.Key("client");
  w.String(c.client.c_str());
  w.Key("status");
  w.String(c.status.c_str());
  w.Key("not_after");
  w.String(iso8601_s(c.not_after).c_str());
  if (c.status == "revoked") {
    w.Key("revoked_at");
    w.String(c.revoked_at == 0 ? "" : iso8601_s(c.revoked_at).c_str());
    w.Key("revocation_reason");
    w.String(c.revocation_reason.c_str());
  }
  w.EndObject();
}

void write_client(json_writer& w, const client_entry& c) {
  w.StartObject();
  w.Key("name");
  w.String(c.name.c_str());
  w.Key("owner");
  if (c.owner.empty())
    w.Null();
  else
    w.String(c.owner.c_str());
  w.Key("status");
  w.String(c.status.c_str());
  w.Key("created_at");
  w.String(c.created_at.c_str());
  w.Key("certificates");
  w.StartArray();
  for (const auto& cert : c.certificates)
    write_certificate(w, cert);
  w.EndArray();
  w.EndObject();
}

void api_user_change(const std::shared_ptr<portal_context>& ctx,
                     net::responder respond, user_change change,
                     unsigned status) {
  auto name = change.name;
  auto action = change.action;
  ctx->calls->ask(
    next_admin(*ctx), ctx->timeout,
    [respond, name, action, status](std::string& generated) {
      rapidjson::StringBuffer buf;
      json_writer w{buf};
      w.StartObject();
      w.Key("name");
      w.String(name.c_str());
      w.Key("action");
      w.String(action.c_str());
      if (!generated.empty()) {
        w.Key("password");
        w.String(generated.c_str());
        wipe(generated);
      }
      w.EndObject();
      respond(json_answer(status, buf));
    },
    [respond](caf::error& err) { respond(api_refused("user", err)); },
    std::move(change));
}

void api_client_change(const std::shared_ptr<portal_context>& ctx,
                       net::responder respond, client_change change) {
  auto issuing = change.action == "add" || change.action == "renew";
  ctx->calls->ask(
    next_admin(*ctx), ctx->timeout,
    [respond, issuing](issued_bundle& bundle) {
      rapidjson::StringBuffer buf;
      json_writer w{buf};
      w.StartObject();
      w.Key("client");
      w.String(bundle.client.c_str());
      if (issuing) {
        w.Key("certificate");
        write_certificate(w, bundle.certificate);
        w.Key("certificate_pem");
        w.String(bundle.certificate_pem.c_str());
        w.Key("key_pem");
        w.String(bundle.key_pem.c_str());
        w.Key("ca_pem");
        w.String(bundle.ca_pem.c_str());
        wipe(bundle.key_pem);
      }
      w.EndObject();
      respond(json_answer(issuing ? 201 : 200, buf));
    },
    [respond](caf::error& err) { respond(api_refused("client", err)); },
    std::move(change));
}

/// GET of a filtered list: asks a worker with `atom` and the filter of the
/// query, answers a JSON array that `write(w, answer)` fills.
template <class Answer, class Atom, class Write>
void api_list(const std::shared_ptr<portal_context>& ctx,
              const net::http_request& req, net::responder respond,
              bool clients, Atom atom, Write write) {
  auto filter = parse_client_filter(query_of(req), clients);
  with_api_admin(
    ctx, req, std::move(respond),
    [ctx, filter, atom, write](const portal_user&, const verified_session&,
                               net::responder respond) {
      if (!filter)
        return respond(net::problem(400, "invalid-filter", "Invalid filter",
                                    render(filter.error())));
      ctx->calls->ask(
        next_admin(*ctx), ctx->timeout,
        [respond, write](Answer& x) {
          rapidjson::StringBuffer buf;
          json_writer w{buf};
          w.StartArray();
          write(w, x);
          w.EndArray();
          respond(json_answer(200, buf));
        },
        [respond](caf::error&) { respond(api_unavailable()); }, atom, *filter);
    });
}

void add_api_routes(net::router& r, const std::shared_ptr<portal_context>& ctx) {
  r.add("GET", "/admin/api/v1/users",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          with_api_admin(
            ctx, req, std::move(respond),
            [ctx](const portal_user&, const verified_session&,
                  net::responder respond) {
              ctx->calls->ask(
                next_admin(*ctx), ctx->timeout,
                [respond](std::vector<user_entry>& users) {
                  rapidjson::StringBuffer buf;
                  json_writer w{buf};
                  w.StartArray();
                  for (const auto& u : users)
                    write_user(w, u);
                  w.EndArray();
                  respond(json_answer(200, buf));
                },
                [respond](caf::error&) { respond(api_unavailable()); },
                users_atom::value);
            });
        });
  r.add("POST", "/admin/api/v1/users",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          api_call(ctx, req, std::move(respond),
                   [ctx](const portal_user& user,
                         const rapidjson::Document& doc,
                         net::responder respond) {
                     auto role = text_of(doc, "role");
                     api_user_change(ctx, std::move(respond),
                                     {user.name, "add", text_of(doc, "name"),
                                      role.empty() ? "user" : role,
                                      text_of(doc, "password")},
                                     201);
                   });
        });
  for (std::string action : {"disable", "enable", "password", "role"}) {
    r.add("POST", "/admin/api/v1/users/{name}/" + action,
          [ctx, action](const net::http_request& req,
                        const net::route_params& params,
                        net::responder respond) {
            api_call(ctx, req, std::move(respond),
                     [ctx, action, name = params.at("name")](
                       const portal_user& user, const rapidjson::Document& doc,
                       net::responder respond) {
                       api_user_change(ctx, std::move(respond),
                                       {user.name, action, name,
                                        text_of(doc, "role"),
                                        text_of(doc, "password")},
                                       200);
                     });
          });
  }
  r.add("GET", "/admin/api/v1/clients",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          api_list<client_listing>(ctx, req, std::move(respond), true,
                                   clients_atom::value,
                   [](json_writer& w, const client_listing& listing) {
                     for (const auto& c : listing.clients)
                       write_client(w, c);
                   });
        });
  r.add("POST", "/admin/api/v1/clients",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          api_call(ctx, req, std::move(respond),
                   [ctx](const portal_user& user,
                         const rapidjson::Document& doc,
                         net::responder respond) {
                     auto days = days_in(doc);
                     api_client_change(ctx, std::move(respond),
                                       {user.name, "add", text_of(doc, "name"),
                                        text_of(doc, "owner"), days, "pem"});
                   });
        });
  for (std::string action : {"certificates", "disable", "enable"}) {
    r.add("POST", "/admin/api/v1/clients/{name}/" + action,
          [ctx, action](const net::http_request& req,
                        const net::route_params& params,
                        net::responder respond) {
            api_call(
              ctx, req, std::move(respond),
              [ctx, action, name = params.at("name")](
                const portal_user& user, const rapidjson::Document& doc,
                net::responder respond) {
                auto days = days_in(doc);
                api_client_change(
                  ctx, std::move(respond),
                  {user.name, action == "certificates" ? "renew" : action,
                   name, {}, days, "pem"});
              });
          });
  }
  r.add("GET", "/admin/api/v1/certificates",
        [ctx](const net::http_request& req, const net::route_params&,
              net::responder respond) {
          api_list<std::vector<certificate_entry>>(
                   ctx, req, std::move(respond), false, certs_atom::value,
                   [](json_writer& w,
                      const std::vector<certificate_entry>& certs) {
                     for (const auto& c : certs)
                       write_certificate(w, c);
                   });
        });
  r.add("POST", "/admin/api/v1/certificates/{id}/revoke",
        [ctx](const net::http_request& req, const net::route_params& params,
              net::responder respond) {
          api_call(
            ctx, req, std::move(respond),
            [ctx, id = params.at("id")](const portal_user& user,
                                        const rapidjson::Document& doc,
                                        net::responder respond) {
              ctx->calls->ask(
                next_admin(*ctx), ctx->timeout,
                [respond](revocation_result& result) {
                  rapidjson::StringBuffer buf;
                  json_writer w{buf};
                  w.StartObject();
                  w.Key("certificate");
                  write_certificate(w, result.certificate);
                  w.Key("crl_published");
                  w.Bool(result.crl_published);
                  w.EndObject();
                  respond(json_answer(200, buf));
                },
                [respond](caf::error& err) {
                  respond(api_refused("certificate", err));
                },
                revocation{user.name, id, text_of(doc, "reason")});
            });
        });
}

} // namespace

caf::expected<client_filter> parse_client_filter(std::string_view query,
                                                 bool clients) {
  auto fields = parse_form(query, 4);
  if (!fields)
    return make_error(errc::invalid_input,
                      "the filter could not be read: " + render(fields.error()));
  client_filter result;
  for (const auto& [name, value] : *fields) {
    if (value.empty())
      continue;
    if (name == "status") {
      bool known = clients ? value == "active" || value == "disabled"
                           : value == "active" || value == "revoked"
                               || value == "expired";
      if (!known)
        return make_error(errc::invalid_input,
                          clients ? "status: expected active or disabled"
                                  : "status: expected active, revoked or "
                                    "expired");
      result.status = value;
    } else if (name == "owner" && clients) {
      if (value.size() > max_field_bytes)
        return make_error(errc::invalid_input, "owner: too long");
      result.owner = value;
    } else if (name == "expiring_days") {
      if (value.size() > 4
          || value.find_first_not_of("0123456789") != std::string::npos
          || std::stoll(value) > 3650)
        return make_error(errc::invalid_input,
                          "expiring_days: expected 0 to 3650");
      result.expiring_days = std::stoll(value);
    } else {
      return make_error(errc::invalid_input, "unknown filter field");
    }
  }
  return result;
}

void add_account_routes(net::router& r, std::shared_ptr<portal_context> ctx) {
  add_user_pages(r, ctx);
  add_account_pages(r, ctx);
  add_client_pages(r, ctx);
  add_api_routes(r, ctx);
}

} // namespace herald::web
