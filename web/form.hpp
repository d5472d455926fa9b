#pragma once

#include <caf/expected.hpp>

#include <map>
#include <string>
#include <string_view>

namespace herald::web {

/// Fields of an application/x-www-form-urlencoded body or a query string
/// (WHATWG URL standard: '&'-separated name=value, '+' is a space, %XX a
/// byte). A field given twice keeps its first value. Boost 1.74 has no
/// Boost.URL, hence this small decoder; malformed escapes, NUL bytes and
/// more than `max_fields` fields are errors, never guesses.
caf::expected<std::map<std::string, std::string>>
parse_form(std::string_view text, size_t max_fields = 32);

/// Percent-encodes `value` for a query string (unreserved characters
/// stay).
std::string url_encode(std::string_view value);

/// The value of cookie `name` in a Cookie header ("a=1; b=2"), or empty.
std::string cookie_value(std::string_view header, std::string_view name);

} // namespace herald::web
