#pragma once

#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace herald {

/// A message's id: a time-ordered UUID (version 7, RFC 9562), 48-bit Unix
/// milliseconds then random bits, so ids sort by creation time and index
/// well. Raw form (16 bytes) for BINARY(16) columns and messages between
/// actors; text form (canonical UUID) for APIs, logs and Redis.
struct message_id {
  std::array<uint8_t, 16> bytes{};

  /// Makes a new id for now.
  static message_id make_v7();

  /// Parses the canonical 36-character form.
  static caf::expected<message_id> parse(std::string_view text);

  /// Takes the 16 raw bytes of raw(); fails on any other length.
  static caf::expected<message_id> from_raw(std::string_view raw);

  /// The text form of the raw id `raw`; empty when `raw` has not 16 bytes.
  static std::string text_of(std::string_view raw);

  /// The canonical lower-case form, e.g. "01890a5d-ac96-774b-bcce-b302099a8057".
  std::string to_string() const;

  /// The 16 raw bytes as a string.
  std::string raw() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }

  /// Milliseconds since the epoch encoded in a v7 id.
  int64_t unix_ms() const;

  friend bool operator==(const message_id& x, const message_id& y) {
    return x.bytes == y.bytes;
  }

  friend bool operator<(const message_id& x, const message_id& y) {
    return x.bytes < y.bytes;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_id& x) {
  return f(caf::meta::type_name("herald.message_id"), x.bytes);
}

} // namespace herald
