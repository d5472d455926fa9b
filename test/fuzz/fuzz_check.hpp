#pragma once

// Helpers shared by the fuzz targets: an invariant check that aborts (so
// libFuzzer records the input) and a JSON validity check for responses.

#include "net/http_types.hpp"

#include <rapidjson/document.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

// Sanitizer defaults, so that a crash file reproduces with the bare
// binary too: every finding is fatal, with the repository's suppressions.
extern "C" const char* __ubsan_default_options() {
  return "print_stacktrace=1:halt_on_error=1:suppressions=" HERALD_SOURCE_DIR
         "/test/sanitizer/ubsan.supp";
}

namespace herald::fuzz {

/// Aborts with `what` when `ok` is false: libFuzzer saves the input.
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

/// Whether `text` is one well-formed JSON value; with `utf8`, also whether
/// every string in it is valid UTF-8.
inline bool is_json(const std::string& text, bool utf8) {
  rapidjson::Document doc;
  if (utf8)
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  else
    doc.Parse(text.data(), text.size());
  return !doc.HasParseError();
}

/// Whether `text` is well-formed UTF-8 (RFC 3629: shortest forms, no
/// surrogates, nothing above U+10FFFF).
inline bool is_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3
                 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > text.size())
      return false;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      auto t = static_cast<unsigned char>(text[i + k]);
      if ((t & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (t & 0x3F);
    }
    static constexpr uint32_t min_of[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_of[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

/// Checks what every Herald response must look like: a real HTTP status and,
/// for problem+json, an RFC 9457 body that is valid JSON.
inline void check_response(const net::http_response& resp) {
  check(resp.status >= 100 && resp.status <= 599, "status out of range");
  if (resp.content_type == "application/problem+json")
    check(is_json(resp.body, false), "problem+json body is not JSON");
}

} // namespace herald::fuzz
