#pragma once

#include "net/router.hpp"
#include "web/portal_pages.hpp"

#include <caf/expected.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace herald::web {

/// Adds the account pages and their JSON admin API:
/// - /account: a signed-in user changes their own password;
/// - /admin/users, /admin/clients, /admin/certificates/{id}/revoke and
///   /admin/downloads/{token}: admins only (403 for other users);
/// - /admin/api/v1/users, clients and certificates: the same operations
///   for a bearer token of an admin (docs/api/openapi.yaml).
/// Every form that changes something needs the session's CSRF token; the
/// work runs on the portal context's account_admin workers.
void add_account_routes(net::router& r, std::shared_ptr<portal_context> ctx);

/// A list filter from a query string: status, owner (clients only) and
/// expiring_days (0 to 3650). Errors name the field.
caf::expected<client_filter> parse_client_filter(std::string_view query,
                                                 bool clients);

} // namespace herald::web
