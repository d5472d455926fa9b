#pragma once

#include "actors/actors.hpp"
#include "net/router.hpp"
#include "web/portal_pages.hpp"

#include <caf/expected.hpp>

#include <memory>
#include <string>
#include <vector>

namespace herald::web {

/// Reads bootstrap.min.css from `bootstrap_dir` (libjs-bootstrap5).
caf::expected<std::string> load_bootstrap_css(const std::string& bootstrap_dir);

/// Adds every route of the portal: GET and POST /login, POST /logout, GET
/// /, GET /messages (search, keyset pages), GET /messages.csv, GET
/// /messages/{id}, the static files under /static/, the admin API's
/// sessions, the account and admin pages and the rest of the admin API
/// (web/account_routes.hpp, web/admin_message_routes.hpp). Every page but
/// the login and the static files needs a session, every admin page and
/// admin API call an admin's; every POST of a page a CSRF token.
void add_portal_routes(net::router& r, std::shared_ptr<portal_context> ctx);

} // namespace herald::web

namespace herald::web {

/// A search of "My messages" as the query string gave it: the filter for
/// the portal actor, the values to show in the form again, and the query
/// without the page cursor (for the export link and the next page).
struct message_search {
  user_message_filter filter;
  std::string sender;
  std::string status;
  std::string client;
  std::string from;
  std::string to;
  std::string query;
};

/// Parses the query string of /messages: sender (E.164, matched exactly
/// through its HMAC under `pepper`), status, client (an id), from and to
/// (YYYY-MM-DD, UTC, both inclusive) and after (the cursor of a next-page
/// link). Errors name the field; nothing is guessed.
caf::expected<message_search> parse_search(std::string_view query,
                                           const std::string& pepper);

/// "YYYY-MM-DD" as Unix seconds at its midnight (UTC), checked to be a
/// real day; the error names `field`.
caf::expected<int64_t> parse_day(const std::string& text, const char* field);

/// Unix seconds as "YYYY-MM-DD HH:MM:SS" (UTC), as MySQL compares them.
std::string sql_day(int64_t unix_s);

/// What templates/messages.mustache shows of a search and its page: the
/// form again, the rows, the next page's link; `base` is the list's path
/// ("/messages", "/admin/messages").
mustache::data message_list_data(const message_search& search,
                                 const message_page& result,
                                 const std::string& base);

/// One message row for the templates.
mustache::data message_row_data(const message_row& row);

/// What templates/message.mustache shows of a message: its fields, the
/// body (shown only where the caller sets has_body) and its attempts.
mustache::data message_detail_data(const message_detail& detail);

/// The cursor of a next-page link after `row`.
std::string cursor_of(const message_row& row);

/// One CSV line (RFC 4180) of `fields`, each quoted; a field that a
/// spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a
/// leading apostrophe.
std::string csv_line(const std::vector<std::string>& fields);

} // namespace herald::web
