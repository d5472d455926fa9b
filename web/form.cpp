#include "web/form.hpp"

#include "core/errc.hpp"
#include "core/hex.hpp"

namespace herald::web {

namespace {

caf::expected<std::string> decode(std::string_view text) {
  std::string result;
  result.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      result += ' ';
    } else if (c == '%') {
      int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      int lo = hi >= 0 ? hex_value(text[i + 2]) : -1;
      if (lo < 0)
        return make_error(errc::invalid_input, "malformed %-escape");
      result += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      result += c;
    }
  }
  if (result.find('\0') != std::string::npos)
    return make_error(errc::invalid_input, "NUL byte in a field");
  return result;
}

} // namespace

caf::expected<std::map<std::string, std::string>>
parse_form(std::string_view text, size_t max_fields) {
  std::map<std::string, std::string> result;
  size_t fields = 0;
  while (!text.empty()) {
    auto end = text.find('&');
    auto pair = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{}
                                         : text.substr(end + 1);
    if (pair.empty())
      continue;
    if (++fields > max_fields)
      return make_error(errc::invalid_input, "too many fields");
    auto eq = pair.find('=');
    auto name = decode(pair.substr(0, eq));
    if (!name)
      return name.error();
    auto value = decode(eq == std::string_view::npos ? std::string_view{}
                                                     : pair.substr(eq + 1));
    if (!value)
      return value.error();
    result.emplace(std::move(*name), std::move(*value));
  }
  return result;
}

std::string url_encode(std::string_view value) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string result;
  for (auto c : value) {
    auto byte = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
        || c == '~') {
      result += c;
    } else {
      result += '%';
      result += hex[byte >> 4];
      result += hex[byte & 0x0f];
    }
  }
  return result;
}

std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto end = header.find(';');
    auto pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view{}
                                           : header.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ')
      pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name)
      return std::string{pair.substr(eq + 1)};
  }
  return {};
}

} // namespace herald::web
