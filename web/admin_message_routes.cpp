#include "web/admin_message_routes.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "core/time.hpp"
#include "persistence/dead_letters.hpp"
#include "web/admin_queries.hpp"
#include "web/form.hpp"
#include "web/portal_routes.hpp"

namespace herald::web {

namespace detail {

// Embedded at build time from web/templates/ and web/static/
// (cmake/EmbedText.cmake).
extern const std::string_view template_messages;
extern const std::string_view template_message;
extern const std::string_view template_admin_overview;
extern const std::string_view template_admin_failed;
extern const std::string_view template_admin_requeued;
extern const std::string_view template_admin_audit;
extern const std::string_view overview_js;

} // namespace detail

namespace {

/// Runs `f(user, csrf, session, respond)` for an admin's browser request.
template <class F>
void as_admin(const std::shared_ptr<portal_context>& ctx,
              const net::http_request& req, net::responder respond, F f) {
  with_admin(ctx, req, std::move(respond),
             [ctx, f](const portal_user& user, const verified_session& session,
                      net::responder respond) {
               f(user, ctx->tokens->csrf_token(session.claims.token_id),
                 session, std::move(respond));
             });
}

/// The page for a worker's error: 404, 400 with the reason, else 503.
net::http_response failure_page(const caf::error& err, const char* what) {
  if (err == errc::not_found)
    return not_found(what);
  if (err == errc::invalid_input)
    return error_page(400, "Bad request", render(err));
  return unavailable();
}

/// Admin pages change what they show with every click: never cached.
net::http_response uncached(net::http_response resp) {
  resp.headers.emplace_back("Cache-Control", "no-store");
  return resp;
}

mustache::data base_data(const portal_user& user, const std::string& csrf) {
  mustache::data data;
  data.set("user", user_data(user, csrf));
  return data;
}

/// 403 for a POSTed form whose CSRF token does not match the session.
net::http_response form_expired() {
  return error_page(403, "Forbidden",
                    "The form expired; reload the page and try again.");
}

// -- overview -------------------------------------------------------------------

mustache::data overview_data(const overview& x) {
  mustache::data data;
  mustache::list minutes;
  int64_t totals[3] = {0, 0, 0};
  // Newest minute first: what an admin reads first without the chart.
  for (size_t i = x.accepted.size(); i-- > 0;) {
    mustache::data row;
    row.set("minute", iso8601_s(x.first_minute + static_cast<int64_t>(i) * 60)
                        .substr(11, 5));
    row.set("accepted", std::to_string(x.accepted[i]));
    row.set("delivered", std::to_string(x.delivered[i]));
    row.set("failed", std::to_string(x.failed[i]));
    totals[0] += x.accepted[i];
    totals[1] += x.delivered[i];
    totals[2] += x.failed[i];
    minutes.push_back(row);
  }
  data.set("minutes", minutes);
  data.set("accepted_total", std::to_string(totals[0]));
  data.set("delivered_total", std::to_string(totals[1]));
  data.set("failed_total", std::to_string(totals[2]));
  data.set("queue_depth", std::to_string(x.queue_depth));
  data.set("retry_backlog", std::to_string(x.retry_backlog));
  mustache::list nodes;
  for (const auto& n : x.nodes) {
    mustache::data row;
    row.set("name", n.name);
    std::string roles;
    for (const auto& role : n.roles)
      roles += (roles.empty() ? "" : ", ") + role;
    row.set("roles", roles);
    row.set("healthy", n.healthy);
    row.set("heartbeat", n.heartbeat_age_s < 0
                           ? std::string{"unreadable"}
                           : std::to_string(n.heartbeat_age_s) + " s ago");
    row.set("in_flight", std::to_string(n.in_flight));
    nodes.push_back(row);
  }
  data.set("nodes", nodes);
  mustache::list certs;
  for (const auto& c : x.expiring) {
    mustache::data row;
    row.set("serial", c.serial);
    row.set("subject", c.subject);
    row.set("client", c.client.empty() ? std::string{"-"} : c.client);
    row.set("not_after", iso8601_s(c.not_after));
    certs.push_back(row);
  }
  data.set("expiring", certs);
  return data;
}

void show_overview(const std::shared_ptr<portal_context>& ctx,
                   const net::http_request& req, net::responder respond) {
  as_admin(ctx, req, std::move(respond),
           [ctx](const portal_user& user, const std::string& csrf,
                 const verified_session&, net::responder respond) {
             ctx->calls->ask(
               next_message_admin(*ctx), ctx->timeout,
               [user, csrf, respond](overview& x) {
                 auto data = overview_data(x);
                 data.set("user", user_data(user, csrf));
                 respond(uncached(page(200, "Overview",
                                       detail::template_admin_overview,
                                       std::move(data))));
               },
               [respond](caf::error& err) {
                 respond(failure_page(err, "page"));
               },
               overview_atom::value);
           });
}

void overview_data_json(const std::shared_ptr<portal_context>& ctx,
                        const net::http_request& req,
                        net::responder respond) {
  as_admin(ctx, req, std::move(respond),
           [ctx](const portal_user&, const std::string&,
                 const verified_session&, net::responder respond) {
             ctx->calls->ask(
               next_message_admin(*ctx), ctx->timeout,
               [respond](overview& x) {
                 respond({200, "application/json", overview_json(x),
                          {{"Cache-Control", "no-store"}}});
               },
               [respond](caf::error&) { respond(api_unavailable()); },
               overview_atom::value);
           });
}

// -- all messages -----------------------------------------------------------------

void list_all_messages(const std::shared_ptr<portal_context>& ctx,
                       const net::http_request& req, net::responder respond) {
  as_admin(
    ctx, req, std::move(respond),
    [ctx, query = query_of(req)](const portal_user& user,
                                 const std::string& csrf,
                                 const verified_session&,
                                 net::responder respond) {
      auto search = parse_search(query, ctx->pepper);
      if (!search)
        return respond(error_page(400, "Bad search", render(search.error())));
      ctx->calls->ask(
        next_message_admin(*ctx), ctx->timeout,
        [user, csrf, search = *search, respond](message_page& result) {
          auto data = message_list_data(search, result, "/admin/messages");
          data.set("user", user_data(user, csrf));
          data.set("heading", "All messages");
          data.set("show_owner", true);
          respond(uncached(page(200, "All messages",
                                detail::template_messages, std::move(data))));
        },
        [respond](caf::error& err) { respond(failure_page(err, "page")); },
        page_atom::value, search->filter);
    });
}

/// GET /admin/messages/{id} and /admin/failed/{id}: a message without its
/// body; `peek` (the failed page's) offers a requeue instead of a reveal.
void show_admin_message(const std::shared_ptr<portal_context>& ctx,
                        const net::http_request& req,
                        const net::route_params& params,
                        net::responder respond, bool peek) {
  as_admin(
    ctx, req, std::move(respond),
    [ctx, text = params.at("id"), peek](const portal_user& user,
                                        const std::string& csrf,
                                        const verified_session&,
                                        net::responder respond) {
      auto id = message_id::parse(text);
      if (!id)
        return respond(not_found("message"));
      ctx->calls->ask(
        next_message_admin(*ctx), ctx->timeout,
        [user, csrf, peek, respond](message_detail& found) {
          auto data = message_detail_data(found);
          data.set("user", user_data(user, csrf));
          data.set("show_owner", true);
          data.set("back", peek ? "/admin/failed" : "/admin/messages");
          data.set("back_label", peek ? "Failed messages" : "All messages");
          if (!peek)
            data.set("reveal", true);
          else if (found.message.status == "failed")
            data.set("requeue", true);
          respond(uncached(page(200, "Message", detail::template_message,
                                std::move(data))));
        },
        [respond](caf::error& err) { respond(failure_page(err, "message")); },
        caf::get_atom::value, id->raw());
    });
}

void reveal_message(const std::shared_ptr<portal_context>& ctx,
                    const net::http_request& req,
                    const net::route_params& params, net::responder respond) {
  auto form = read_form(req);
  auto csrf_sent = form ? form_field(*form, "csrf") : std::string{};
  as_admin(
    ctx, req, std::move(respond),
    [ctx, text = params.at("id"), csrf_sent](const portal_user& user,
                                             const std::string& csrf,
                                             const verified_session& session,
                                             net::responder respond) {
      if (!ctx->tokens->check_csrf(session.claims.token_id, csrf_sent))
        return respond(form_expired());
      auto id = message_id::parse(text);
      if (!id)
        return respond(not_found("message"));
      ctx->calls->ask(
        next_message_admin(*ctx), ctx->timeout,
        [user, csrf, respond](message_detail& found) {
          auto data = message_detail_data(found);
          data.set("user", user_data(user, csrf));
          data.set("show_owner", true);
          data.set("back", "/admin/messages");
          data.set("back_label", "All messages");
          data.set("has_body", true);
          data.set("notice", "Revealed: the audit log records that you "
                             "read this body.");
          respond(uncached(page(200, "Message", detail::template_message,
                                std::move(data))));
        },
        [respond](caf::error& err) {
          if (err == errc::not_found)
            return respond(not_found("message"));
          // Fail closed: without its audit row, no body.
          auto resp = error_page(503, "Not revealed",
                                 "The body was not revealed: the audit log "
                                 "could not record it. Try again in a "
                                 "moment.");
          resp.headers.emplace_back("Retry-After", "2");
          respond(std::move(resp));
        },
        reveal_atom::value, user.name, id->raw());
    });
}

// -- failed messages ----------------------------------------------------------------

void list_failed(const std::shared_ptr<portal_context>& ctx,
                 const net::http_request& req, net::responder respond) {
  as_admin(
    ctx, req, std::move(respond),
    [ctx, query = query_of(req)](const portal_user& user,
                                 const std::string& csrf,
                                 const verified_session&,
                                 net::responder respond) {
      auto search = parse_failed_search(query);
      if (!search)
        return respond(error_page(400, "Bad search", render(search.error())));
      ctx->calls->ask(
        next_message_admin(*ctx), ctx->timeout,
        [user, csrf, search = *search, respond](failed_page& result) {
          auto data = base_data(user, csrf);
          mustache::data filter;
          filter.set("client", search.client);
          filter.set("since", search.since);
          data.set("filter", filter);
          mustache::list rows;
          size_t n = 0;
          for (const auto& f : result.rows) {
            auto row = message_row_data(f.message);
            row.set("field", "id" + std::to_string(n++));
            row.set("last_error", f.last_error);
            rows.push_back(row);
          }
          data.set("rows", rows);
          data.set("more", result.more);
          data.set("shown", std::to_string(result.rows.size()));
          data.set("batch", std::to_string(persistence::max_requeue_batch));
          respond(uncached(page(200, "Failed messages",
                                detail::template_admin_failed,
                                std::move(data))));
        },
        [respond](caf::error& err) { respond(failure_page(err, "page")); },
        failed_atom::value, search->filter);
    });
}

/// The requeue a form asks for: the checked ids, or all=1 with the
/// filter's client and since.
caf::expected<requeue_request>
requeue_of_form(const std::map<std::string, std::string>& form) {
  requeue_request result;
  if (form_field(form, "all") == "1") {
    auto search = parse_failed_search("client="
                                      + url_encode(form_field(form, "client"))
                                      + "&since="
                                      + url_encode(form_field(form, "since")));
    if (!search)
      return search.error();
    result.all_matching = true;
    result.filter = search->filter;
    return result;
  }
  auto ids = parse_message_ids(numbered_fields(form, "id"),
                               persistence::max_requeue_batch);
  if (!ids)
    return ids.error();
  if (ids->empty())
    return make_error(errc::invalid_input,
                      "select the messages to requeue first");
  result.ids = std::move(*ids);
  return result;
}

void requeue_failed(const std::shared_ptr<portal_context>& ctx,
                    const net::http_request& req, net::responder respond) {
  auto form = read_form(req, failed_page_rows + 8);
  as_admin(
    ctx, req, std::move(respond),
    [ctx, form](const portal_user& user, const std::string& csrf,
                const verified_session& session, net::responder respond) {
      if (!form)
        return respond(error_page(400, "Bad request",
                                  "The form could not be read."));
      if (!ctx->tokens->check_csrf(session.claims.token_id,
                                   form_field(*form, "csrf")))
        return respond(form_expired());
      auto request = requeue_of_form(*form);
      if (!request)
        return respond(error_page(400, "Nothing requeued",
                                  render(request.error())));
      request->admin = user.name;
      ctx->calls->ask(
        next_message_admin(*ctx), ctx->timeout,
        [user, csrf, respond](requeue_result& result) {
          auto data = base_data(user, csrf);
          data.set("count", std::to_string(result.requeued.size()));
          data.set("skipped", std::to_string(result.skipped));
          mustache::list ids;
          for (const auto& id : result.requeued) {
            mustache::data item;
            item.set("id", id);
            ids.push_back(item);
          }
          data.set("ids", ids);
          if (!result.warning.empty())
            data.set("warning", result.warning);
          respond(uncached(page(200, "Requeued",
                                detail::template_admin_requeued,
                                std::move(data))));
        },
        [respond](caf::error& err) {
          respond(failure_page(err, "page"));
        },
        requeue_atom::value, std::move(*request));
    });
}

// -- audit log ------------------------------------------------------------------------

mustache::data audit_status_data(const caf::expected<audit_status>& status) {
  mustache::data data;
  if (!status) {
    data.set("unknown", true);
  } else if (status->first_broken == 0) {
    data.set("verified", true);
    data.set("rows", std::to_string(status->rows));
  } else {
    data.set("broken", true);
    data.set("first_broken", std::to_string(status->first_broken));
    data.set("why", status->why);
  }
  if (status)
    data.set("checked_at", iso8601_s(status->checked_at_ms / 1000));
  return data;
}

void show_audit(const std::shared_ptr<portal_context>& ctx,
                const net::http_request& req, net::responder respond) {
  as_admin(
    ctx, req, std::move(respond),
    [ctx, query = query_of(req)](const portal_user& user,
                                 const std::string& csrf,
                                 const verified_session&,
                                 net::responder respond) {
      auto search = parse_audit_search(query);
      if (!search)
        return respond(error_page(400, "Bad search", render(search.error())));
      auto render_page = [user, csrf, search = *search,
                          respond](const audit_page& result,
                                   const caf::expected<audit_status>& status) {
        auto data = base_data(user, csrf);
        mustache::data filter;
        filter.set("actor", search.actor);
        filter.set("action", search.action);
        filter.set("target", search.target);
        filter.set("from", search.from);
        filter.set("to", search.to);
        filter.set("ok", search.outcome == "ok");
        filter.set("failed", search.outcome == "failed");
        data.set("filter", filter);
        data.set("chain", audit_status_data(status));
        mustache::list rows;
        for (const auto& r : result.rows) {
          mustache::data row;
          row.set("id", std::to_string(r.id));
          row.set("at", r.at);
          row.set("actor", r.event.actor);
          row.set("action", r.event.action);
          row.set("target", r.event.target);
          row.set("outcome", r.event.outcome);
          row.set("source", r.event.source);
          row.set("detail", r.event.detail);
          rows.push_back(row);
        }
        data.set("rows", rows);
        if (result.more && !result.rows.empty())
          data.set("next", search.query + (search.query.empty() ? "" : "&")
                             + "before="
                             + std::to_string(result.rows.back().id));
        respond(uncached(page(200, "Audit log", detail::template_admin_audit,
                              std::move(data))));
      };
      ctx->calls->ask(
        next_message_admin(*ctx), ctx->timeout,
        [ctx, render_page](audit_page& result) {
          // The chain's status from another worker, so the page does not
          // wait for two scans on one.
          ctx->calls->ask(
            next_message_admin(*ctx), ctx->timeout,
            [render_page, result](audit_status& status) {
              render_page(result, status);
            },
            [render_page, result](caf::error& err) {
              render_page(result, err);
            },
            verify_atom::value);
        },
        [respond](caf::error& err) { respond(failure_page(err, "page")); },
        audit_atom::value, search->filter);
    });
}

net::http_response script(std::string js) {
  return {200, "text/javascript; charset=utf-8", std::move(js),
          {{"Cache-Control", "public, max-age=86400"},
           {"X-Content-Type-Options", "nosniff"},
           {"Cross-Origin-Resource-Policy", "same-origin"}}};
}

} // namespace

const message_admin_actor& next_message_admin(portal_context& ctx) {
  return ctx.message_admins[ctx.next_message_admin++
                            % ctx.message_admins.size()];
}

void add_admin_message_routes(net::router& r,
                              std::shared_ptr<portal_context> ctx) {
  using params = const net::route_params&;
  using request = const net::http_request&;
  r.add("GET", "/admin", [ctx](request req, params, net::responder respond) {
    show_overview(ctx, req, std::move(respond));
  });
  r.add("GET", "/admin/overview.json",
        [ctx](request req, params, net::responder respond) {
          overview_data_json(ctx, req, std::move(respond));
        });
  r.add("GET", "/admin/messages",
        [ctx](request req, params, net::responder respond) {
          list_all_messages(ctx, req, std::move(respond));
        });
  r.add("GET", "/admin/messages/{id}",
        [ctx](request req, params p, net::responder respond) {
          show_admin_message(ctx, req, p, std::move(respond), false);
        });
  r.add("POST", "/admin/messages/{id}/reveal",
        [ctx](request req, params p, net::responder respond) {
          reveal_message(ctx, req, p, std::move(respond));
        });
  r.add("GET", "/admin/failed",
        [ctx](request req, params, net::responder respond) {
          list_failed(ctx, req, std::move(respond));
        });
  r.add("POST", "/admin/failed/requeue",
        [ctx](request req, params, net::responder respond) {
          requeue_failed(ctx, req, std::move(respond));
        });
  r.add("GET", "/admin/failed/{id}",
        [ctx](request req, params p, net::responder respond) {
          show_admin_message(ctx, req, p, std::move(respond), true);
        });
  r.add("GET", "/admin/audit",
        [ctx](request req, params, net::responder respond) {
          show_audit(ctx, req, std::move(respond));
        });
  r.add("GET", "/static/chart.min.js",
        [ctx](request, params, net::responder respond) {
          respond(script(ctx->chartjs));
        });
  r.add("GET", "/static/overview.js",
        [](request, params, net::responder respond) {
          respond(script(std::string{detail::overview_js}));
        });
}

} // namespace herald::web
