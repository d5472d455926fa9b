#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace herald::json {

/// Nesting of arrays and objects that Herald's inputs never need more of.
constexpr size_t max_depth = 16;

/// Parses untrusted `text` into `doc`. Iterative (no recursion, however
/// deep the input), at most `depth_limit` nested arrays and objects, and
/// every string strictly UTF-8: RapidJSON lets a lone low surrogate escape
/// such as "\udc00" through as bytes that are no UTF-8, this refuses it.
/// Returns an empty string on success, otherwise why the text was refused.
std::string parse(std::string_view text, rapidjson::Document& doc,
                  size_t depth_limit = max_depth);

} // namespace herald::json
