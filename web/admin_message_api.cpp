#include "web/admin_message_routes.hpp"

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/message_id.hpp"
#include "core/time.hpp"
#include "net/problem.hpp"
#include "persistence/dead_letters.hpp"
#include "web/admin_queries.hpp"
#include "web/form.hpp"
#include "web/portal_routes.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace herald::web {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void field(writer& w, const char* name, const std::string& value) {
  w.Key(name);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

/// A string, or null when empty.
void optional_field(writer& w, const char* name, const std::string& value) {
  if (value.empty()) {
    w.Key(name);
    w.Null();
  } else {
    field(w, name, value);
  }
}

void write_row(writer& w, const message_row& r) {
  field(w, "message_id", r.id);
  field(w, "client", r.client);
  optional_field(w, "owner", r.owner);
  field(w, "sender_masked", r.sender_masked);
  field(w, "status", r.status);
  w.Key("attempts");
  w.Uint(r.attempts);
  field(w, "created_at", r.created_at);
  field(w, "updated_at", r.updated_at);
}

/// A message with its attempts; the body only when `with_body`.
std::string detail_json(const message_detail& d, bool with_body) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  write_row(w, d.message);
  optional_field(w, "delivered_at", d.delivered_at);
  optional_field(w, "next_attempt_at", d.next_attempt_at);
  optional_field(w, "last_error", d.last_error);
  if (with_body)
    field(w, "message_body", d.body);
  w.Key("attempt_log");
  w.StartArray();
  for (const auto& a : d.attempts) {
    w.StartObject();
    w.Key("attempt");
    w.Uint(a.attempt);
    field(w, "attempted_at", a.attempted_at);
    field(w, "outcome", a.outcome);
    w.Key("http_status");
    if (a.http_status == 0)
      w.Null();
    else
      w.Uint(a.http_status);
    optional_field(w, "error", a.error);
    w.Key("latency_ms");
    w.Uint(a.latency_ms);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

net::http_response json_answer(unsigned status, std::string body) {
  return {status, "application/json", std::move(body),
          {{"Cache-Control", "no-store"}}};
}

net::http_response invalid_query(const caf::error& why) {
  return net::problem(400, "invalid-query", "Invalid query", render(why));
}

/// The problem for a worker's error.
net::http_response problem_of(const caf::error& err) {
  if (err == errc::not_found)
    return net::problem(404, "message-not-found", "Message not found",
                        "There is no message with this id.");
  if (err == errc::invalid_input)
    return invalid_query(err);
  return api_unavailable();
}

/// Runs `f(user, respond)` for an admin's API request.
template <class F>
void as_api_admin(const std::shared_ptr<portal_context>& ctx,
                  const net::http_request& req, net::responder respond, F f) {
  with_api_admin(ctx, req, std::move(respond),
                 [f](const portal_user& user, const verified_session&,
                     net::responder respond) { f(user, std::move(respond)); });
}

void api_messages(const std::shared_ptr<portal_context>& ctx,
                  const net::http_request& req, net::responder respond) {
  as_api_admin(
    ctx, req, std::move(respond),
    [ctx, query = query_of(req)](const portal_user&, net::responder respond) {
      auto search = parse_search(query, ctx->pepper);
      if (!search)
        return respond(invalid_query(search.error()));
      ctx->calls->ask(
        next_message_admin(*ctx), ctx->timeout,
        [respond](message_page& result) {
          rapidjson::StringBuffer buf;
          writer w{buf};
          w.StartObject();
          w.Key("messages");
          w.StartArray();
          for (const auto& r : result.rows) {
            w.StartObject();
            write_row(w, r);
            w.EndObject();
          }
          w.EndArray();
          optional_field(w, "next_cursor",
                         result.more && !result.rows.empty()
                           ? cursor_of(result.rows.back())
                           : std::string{});
          w.EndObject();
          respond(json_answer(200, buf.GetString()));
        },
        [respond](caf::error& err) { respond(problem_of(err)); },
        page_atom::value, search->filter);
    });
}

/// GET /admin/api/v1/messages/{id}, or with `reveal` the audited POST
/// .../reveal that adds the body.
void api_message(const std::shared_ptr<portal_context>& ctx,
                 const net::http_request& req, const net::route_params& params,
                 net::responder respond, bool reveal) {
  as_api_admin(
    ctx, req, std::move(respond),
    [ctx, text = params.at("id"), reveal](const portal_user& user,
                                          net::responder respond) {
      auto id = message_id::parse(text);
      if (!id)
        return respond(problem_of(make_error(errc::not_found, "")));
      auto answer = [respond, reveal](message_detail& found) {
        respond(json_answer(200, detail_json(found, reveal)));
      };
      auto refused = [respond, reveal](caf::error& err) {
        if (!reveal || err == errc::not_found)
          return respond(problem_of(err));
        // Fail closed: without its audit row, no body.
        auto resp = net::problem(503, "unavailable", "Service unavailable",
                                 "The body was not revealed: the audit log "
                                 "could not record it; retry in a moment.");
        resp.headers.emplace_back("Retry-After", "2");
        respond(std::move(resp));
      };
      if (reveal)
        ctx->calls->ask(next_message_admin(*ctx), ctx->timeout, answer,
                        refused, reveal_atom::value, user.name, id->raw());
      else
        ctx->calls->ask(next_message_admin(*ctx), ctx->timeout, answer,
                        refused, caf::get_atom::value, id->raw());
    });
}

void api_failed(const std::shared_ptr<portal_context>& ctx,
                const net::http_request& req, net::responder respond) {
  as_api_admin(
    ctx, req, std::move(respond),
    [ctx, query = query_of(req)](const portal_user&, net::responder respond) {
      auto search = parse_failed_search(query);
      if (!search)
        return respond(invalid_query(search.error()));
      ctx->calls->ask(
        next_message_admin(*ctx), ctx->timeout,
        [respond](failed_page& result) {
          rapidjson::StringBuffer buf;
          writer w{buf};
          w.StartObject();
          w.Key("messages");
          w.StartArray();
          for (const auto& f : result.rows) {
            w.StartObject();
            write_row(w, f.message);
            optional_field(w, "last_error", f.last_error);
            w.EndObject();
          }
          w.EndArray();
          w.Key("more");
          w.Bool(result.more);
          w.EndObject();
          respond(json_answer(200, buf.GetString()));
        },
        [respond](caf::error& err) { respond(problem_of(err)); },
        failed_atom::value, search->filter);
    });
}

/// The requeue a JSON body asks for: {"ids": [...]} or {"all_matching":
/// true, "client": ..., "since": "YYYY-MM-DD"}.
caf::expected<requeue_request> requeue_of_json(const rapidjson::Document& doc) {
  auto bad = [](std::string why) {
    return make_error(errc::invalid_input, std::move(why));
  };
  if (!doc.IsObject())
    return bad("send a JSON object");
  requeue_request result;
  auto all = doc.FindMember("all_matching");
  if (all != doc.MemberEnd() && all->value.IsTrue()) {
    std::string query;
    for (const char* name : {"client", "since"}) {
      auto m = doc.FindMember(name);
      if (m == doc.MemberEnd())
        continue;
      if (!m->value.IsString())
        return bad(std::string{name} + ": expected a string");
      query += std::string{query.empty() ? "" : "&"} + name + "="
               + url_encode({m->value.GetString(), m->value.GetStringLength()});
    }
    auto search = parse_failed_search(query);
    if (!search)
      return search.error();
    result.all_matching = true;
    result.filter = search->filter;
    return result;
  }
  auto ids = doc.FindMember("ids");
  if (ids == doc.MemberEnd() || !ids->value.IsArray() || ids->value.Empty())
    return bad("send \"ids\" (1 to "
               + std::to_string(persistence::max_requeue_batch)
               + " message ids) or \"all_matching\": true");
  std::vector<std::string> texts;
  for (const auto& v : ids->value.GetArray()) {
    if (!v.IsString())
      return bad("ids: expected strings");
    texts.emplace_back(v.GetString(), v.GetStringLength());
  }
  auto raw = parse_message_ids(texts, persistence::max_requeue_batch);
  if (!raw)
    return raw.error();
  result.ids = std::move(*raw);
  return result;
}

void api_requeue(const std::shared_ptr<portal_context>& ctx,
                 const net::http_request& req, net::responder respond) {
  as_api_admin(
    ctx, req, std::move(respond),
    [ctx, req](const portal_user& user, net::responder respond) {
      auto type = req.header("content-type");
      if (type == nullptr || type->rfind("application/json", 0) != 0)
        return respond(net::problem(415, "unsupported-media-type",
                                    "Unsupported media type",
                                    "Send the requeue as application/json."));
      rapidjson::Document doc;
      if (auto why = json::parse(req.body, doc); !why.empty())
        return respond(
          net::problem(400, "malformed-json", "Malformed JSON", why));
      auto request = requeue_of_json(doc);
      if (!request)
        return respond(net::problem(422, "invalid-requeue", "Invalid requeue",
                                    render(request.error())));
      request->admin = user.name;
      ctx->calls->ask(
        next_message_admin(*ctx), ctx->timeout,
        [respond](requeue_result& result) {
          rapidjson::StringBuffer buf;
          writer w{buf};
          w.StartObject();
          w.Key("requeued");
          w.StartArray();
          for (const auto& id : result.requeued)
            w.String(id.c_str());
          w.EndArray();
          w.Key("skipped");
          w.Uint64(result.skipped);
          optional_field(w, "warning", result.warning);
          w.EndObject();
          respond(json_answer(200, buf.GetString()));
        },
        [respond](caf::error& err) {
          if (err == errc::invalid_input)
            return respond(net::problem(422, "invalid-requeue",
                                        "Invalid requeue", render(err)));
          respond(problem_of(err));
        },
        requeue_atom::value, std::move(*request));
    });
}

void api_audit(const std::shared_ptr<portal_context>& ctx,
               const net::http_request& req, net::responder respond) {
  as_api_admin(
    ctx, req, std::move(respond),
    [ctx, query = query_of(req)](const portal_user&, net::responder respond) {
      auto search = parse_audit_search(query);
      if (!search)
        return respond(invalid_query(search.error()));
      ctx->calls->ask(
        next_message_admin(*ctx), ctx->timeout,
        [respond](audit_page& result) {
          rapidjson::StringBuffer buf;
          writer w{buf};
          w.StartObject();
          w.Key("events");
          w.StartArray();
          for (const auto& r : result.rows) {
            w.StartObject();
            w.Key("id");
            w.Uint64(r.id);
            field(w, "at", r.at);
            field(w, "actor", r.event.actor);
            field(w, "action", r.event.action);
            field(w, "target", r.event.target);
            field(w, "outcome", r.event.outcome);
            field(w, "source", r.event.source);
            field(w, "detail", r.event.detail);
            w.EndObject();
          }
          w.EndArray();
          optional_field(w, "next_cursor",
                         result.more && !result.rows.empty()
                           ? std::to_string(result.rows.back().id)
                           : std::string{});
          w.EndObject();
          respond(json_answer(200, buf.GetString()));
        },
        [respond](caf::error& err) { respond(problem_of(err)); },
        audit_atom::value, search->filter);
    });
}

void api_verify(const std::shared_ptr<portal_context>& ctx,
                const net::http_request& req, net::responder respond) {
  as_api_admin(ctx, req, std::move(respond),
               [ctx](const portal_user&, net::responder respond) {
                 ctx->calls->ask(
                   next_message_admin(*ctx), ctx->timeout,
                   [respond](audit_status& x) {
                     rapidjson::StringBuffer buf;
                     writer w{buf};
                     w.StartObject();
                     field(w, "status",
                           x.first_broken == 0 ? "verified" : "broken");
                     w.Key("rows");
                     w.Uint64(x.rows);
                     w.Key("first_broken");
                     if (x.first_broken == 0)
                       w.Null();
                     else
                       w.Uint64(x.first_broken);
                     optional_field(w, "why", x.why);
                     field(w, "checked_at", iso8601_ms(x.checked_at_ms));
                     w.EndObject();
                     respond(json_answer(200, buf.GetString()));
                   },
                   [respond](caf::error& err) { respond(problem_of(err)); },
                   verify_atom::value);
               });
}

void api_overview(const std::shared_ptr<portal_context>& ctx,
                  const net::http_request& req, net::responder respond) {
  as_api_admin(ctx, req, std::move(respond),
               [ctx](const portal_user&, net::responder respond) {
                 ctx->calls->ask(
                   next_message_admin(*ctx), ctx->timeout,
                   [respond](overview& x) {
                     respond(json_answer(200, overview_json(x)));
                   },
                   [respond](caf::error& err) { respond(problem_of(err)); },
                   overview_atom::value);
               });
}

} // namespace

std::string overview_json(const overview& x) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  field(w, "first_minute", iso8601_s(x.first_minute));
  for (auto [name, series] : {std::pair{"accepted", &x.accepted},
                              std::pair{"delivered", &x.delivered},
                              std::pair{"failed", &x.failed}}) {
    w.Key(name);
    w.StartArray();
    for (auto n : *series)
      w.Int64(n);
    w.EndArray();
  }
  w.Key("queue_depth");
  w.Int64(x.queue_depth);
  w.Key("retry_backlog");
  w.Int64(x.retry_backlog);
  w.Key("nodes");
  w.StartArray();
  for (const auto& n : x.nodes) {
    w.StartObject();
    field(w, "name", n.name);
    w.Key("roles");
    w.StartArray();
    for (const auto& role : n.roles)
      w.String(role.c_str());
    w.EndArray();
    w.Key("healthy");
    w.Bool(n.healthy);
    w.Key("heartbeat_age_s");
    if (n.heartbeat_age_s < 0)
      w.Null();
    else
      w.Int64(n.heartbeat_age_s);
    w.Key("in_flight");
    w.Int64(n.in_flight);
    w.EndObject();
  }
  w.EndArray();
  w.Key("expiring_certificates");
  w.StartArray();
  for (const auto& c : x.expiring) {
    w.StartObject();
    field(w, "serial", c.serial);
    field(w, "subject", c.subject);
    optional_field(w, "client", c.client);
    field(w, "not_after", iso8601_s(c.not_after));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

void add_admin_message_api(net::router& r,
                           std::shared_ptr<portal_context> ctx) {
  using params = const net::route_params&;
  using request = const net::http_request&;
  r.add("GET", "/admin/api/v1/messages",
        [ctx](request req, params, net::responder respond) {
          api_messages(ctx, req, std::move(respond));
        });
  r.add("GET", "/admin/api/v1/messages/{id}",
        [ctx](request req, params p, net::responder respond) {
          api_message(ctx, req, p, std::move(respond), false);
        });
  r.add("POST", "/admin/api/v1/messages/{id}/reveal",
        [ctx](request req, params p, net::responder respond) {
          api_message(ctx, req, p, std::move(respond), true);
        });
  r.add("GET", "/admin/api/v1/failed",
        [ctx](request req, params, net::responder respond) {
          api_failed(ctx, req, std::move(respond));
        });
  r.add("POST", "/admin/api/v1/failed/requeue",
        [ctx](request req, params, net::responder respond) {
          api_requeue(ctx, req, std::move(respond));
        });
  r.add("GET", "/admin/api/v1/audit",
        [ctx](request req, params, net::responder respond) {
          api_audit(ctx, req, std::move(respond));
        });
  r.add("GET", "/admin/api/v1/audit/verify",
        [ctx](request req, params, net::responder respond) {
          api_verify(ctx, req, std::move(respond));
        });
  r.add("GET", "/admin/api/v1/overview",
        [ctx](request req, params, net::responder respond) {
          api_overview(ctx, req, std::move(respond));
        });
}

} // namespace herald::web
