#include "web/admin_queries.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "web/form.hpp"
#include "web/portal_routes.hpp"

#include <set>

namespace herald::web {

namespace {

/// Appends name=value to a canonical query when the value is set.
void keep(std::string& query, const char* name, const std::string& value) {
  if (value.empty())
    return;
  query += (query.empty() ? "" : "&") + std::string{name} + "="
           + url_encode(value);
}

caf::error too_long(const std::string& field, size_t max) {
  return make_error(errc::invalid_input, field + ": at most "
                                           + std::to_string(max)
                                           + " characters");
}

} // namespace

caf::expected<failed_search> parse_failed_search(std::string_view query) {
  auto fields = parse_form(query, 4);
  if (!fields)
    return make_error(errc::invalid_input, "the search could not be read: "
                                             + render(fields.error()));
  failed_search result;
  result.filter.limit = failed_page_rows;
  for (const auto& [name, value] : *fields) {
    if (value.empty())
      continue;
    if (name == "client") {
      if (value.size() > 64)
        return too_long(name, 64);
      result.client = value;
      result.filter.client = value;
    } else if (name == "since") {
      auto day = parse_day(value, "since");
      if (!day)
        return day.error();
      result.since = value;
      result.filter.since_ms = *day * 1000;
    } else {
      return make_error(errc::invalid_input, "unknown search field " + name);
    }
  }
  keep(result.query, "client", result.client);
  keep(result.query, "since", result.since);
  return result;
}

caf::expected<audit_search> parse_audit_search(std::string_view query) {
  auto fields = parse_form(query, 8);
  if (!fields)
    return make_error(errc::invalid_input, "the search could not be read: "
                                             + render(fields.error()));
  audit_search result;
  auto& f = result.filter;
  for (const auto& [name, value] : *fields) {
    if (value.empty())
      continue;
    if (name == "actor" || name == "target") {
      size_t max = name == "actor" ? 128 : 255;
      if (value.size() > max)
        return too_long(name, max);
      (name == "actor" ? result.actor : result.target) = value;
      (name == "actor" ? f.actor : f.target) = value;
    } else if (name == "action") {
      if (value.size() > 64)
        return too_long(name, 64);
      if (value.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
          != std::string::npos)
        return make_error(errc::invalid_input,
                          "action: letters, digits, '.', '_' and '-' only");
      result.action = value;
      f.action_prefix = value;
    } else if (name == "outcome") {
      if (value != "ok" && value != "failed")
        return make_error(errc::invalid_input, "outcome: ok or failed");
      result.outcome = value;
      f.outcome = value;
    } else if (name == "from" || name == "to") {
      auto day = parse_day(value, name.c_str());
      if (!day)
        return day.error();
      // "to" is inclusive: before the next midnight.
      (name == "from" ? f.from : f.to)
        = sql_day(name == "from" ? *day : *day + 86400);
      (name == "from" ? result.from : result.to) = value;
    } else if (name == "before") {
      if (value.size() > 19
          || value.find_first_not_of("0123456789") != std::string::npos)
        return make_error(errc::invalid_input, "before: not a page cursor");
      f.before_id = std::stoull(value);
    } else {
      return make_error(errc::invalid_input, "unknown search field " + name);
    }
  }
  keep(result.query, "actor", result.actor);
  keep(result.query, "action", result.action);
  keep(result.query, "target", result.target);
  keep(result.query, "outcome", result.outcome);
  keep(result.query, "from", result.from);
  keep(result.query, "to", result.to);
  return result;
}

caf::expected<std::vector<std::string>>
parse_message_ids(const std::vector<std::string>& texts, size_t max) {
  std::vector<std::string> result;
  std::set<std::string> seen;
  for (const auto& text : texts) {
    auto id = message_id::parse(text);
    if (!id)
      return make_error(errc::invalid_input,
                        "'" + text.substr(0, 40) + "' is not a message id");
    if (seen.insert(id->raw()).second)
      result.push_back(id->raw());
  }
  if (result.size() > max)
    return make_error(errc::invalid_input,
                      "at most " + std::to_string(max) + " ids at once");
  return result;
}

std::vector<std::string>
numbered_fields(const std::map<std::string, std::string>& form,
                std::string_view prefix) {
  std::vector<std::string> result;
  for (const auto& [name, value] : form)
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0
        && name.find_first_not_of("0123456789", prefix.size())
             == std::string::npos)
      result.push_back(value);
  return result;
}

} // namespace herald::web
