#pragma once

#include "core/messages.hpp"

#include <caf/expected.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace herald::web {

// The admin pages' and admin API's inputs, parsed and limited before any
// worker sees them. Errors name the field; nothing is guessed.

/// Failed messages shown on one page at most.
inline constexpr uint32_t failed_page_rows = 100;

/// A search of the failed messages: the filter, the values to show in the
/// form again and the canonical query (for links).
struct failed_search {
  failed_filter filter;
  std::string client;
  std::string since;
  std::string query;
};

/// Parses client (a client's name, 1 to 64 characters) and since
/// (YYYY-MM-DD, UTC).
caf::expected<failed_search> parse_failed_search(std::string_view query);

/// A search of the audit log, like failed_search.
struct audit_search {
  audit_filter filter;
  std::string actor;
  std::string action;
  std::string target;
  std::string outcome;
  std::string from;
  std::string to;
  std::string query;
};

/// Parses actor (up to 128 characters), action (a prefix of letters,
/// digits, '.', '_', '-', up to 64), target (up to 255), outcome (ok or
/// failed), from and to (YYYY-MM-DD, UTC, both inclusive) and before (the
/// row id a next page starts below).
caf::expected<audit_search> parse_audit_search(std::string_view query);

/// Message ids in text form as raw ids, each once, at most `max` of them;
/// an error names the first one that is not a message id.
caf::expected<std::vector<std::string>>
parse_message_ids(const std::vector<std::string>& texts, size_t max);

/// The values of the fields "id0", "id1", ... of a form (the checkboxes of
/// the failed page; parse_form keeps one value per name).
std::vector<std::string>
numbered_fields(const std::map<std::string, std::string>& form,
                std::string_view prefix);

} // namespace herald::web
