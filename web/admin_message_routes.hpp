#pragma once

#include "actors/actors.hpp"
#include "net/router.hpp"
#include "web/portal_pages.hpp"

#include <memory>
#include <string>

namespace herald::web {

/// The next message admin worker, in turn.
const message_admin_actor& next_message_admin(portal_context& ctx);

/// The overview as JSON: per-minute series, queues, nodes, certificates
/// (GET /admin/overview.json for the charts, GET /admin/api/v1/overview).
std::string overview_json(const overview& x);

/// Adds the admin pages on messages: GET /admin (overview) and
/// /admin/overview.json (its charts' data), GET /admin/messages and
/// /admin/messages/{id}, POST /admin/messages/{id}/reveal, GET
/// /admin/failed and /admin/failed/{id}, POST /admin/failed/requeue, GET
/// /admin/audit, and /static/chart.min.js and /static/overview.js. Every
/// one needs an admin's session; every POST its CSRF token.
void add_admin_message_routes(net::router& r,
                              std::shared_ptr<portal_context> ctx);

/// Adds the JSON admin API on messages under /admin/api/v1 (messages,
/// reveal, failed, requeue, audit, audit/verify, overview; bearer tokens
/// of admins, problem+json errors; docs/api/openapi.yaml).
void add_admin_message_api(net::router& r,
                           std::shared_ptr<portal_context> ctx);

} // namespace herald::web
