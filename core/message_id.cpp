#include "core/message_id.hpp"

#include "core/errc.hpp"
#include "core/hex.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <mutex>

namespace herald {

message_id message_id::make_v7() {
  // Monotonic within a process: a clock step back or two ids in the same
  // millisecond still sort in creation order.
  static std::mutex mtx;
  static int64_t last_ms = 0;
  static uint16_t counter = 0;
  message_id result;
  RAND_bytes(result.bytes.data(), static_cast<int>(result.bytes.size()));
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  uint16_t seq = 0;
  {
    std::lock_guard<std::mutex> guard{mtx};
    if (ms <= last_ms) {
      ms = last_ms;
      if (++counter == 0x1000) {
        // 4096 ids in one millisecond: borrow the next millisecond.
        ms = ++last_ms;
        counter = 0;
      }
    } else {
      last_ms = ms;
      counter = static_cast<uint16_t>(result.bytes[6] & 0x07) << 8
                | result.bytes[7];
    }
    seq = counter;
  }
  for (int i = 0; i < 6; ++i)
    result.bytes[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  // Version 7 and a 12-bit sequence in rand_a; variant 10 in byte 8.
  result.bytes[6] = static_cast<uint8_t>(0x70 | ((seq >> 8) & 0x0f));
  result.bytes[7] = static_cast<uint8_t>(seq & 0xff);
  result.bytes[8] = static_cast<uint8_t>(0x80 | (result.bytes[8] & 0x3f));
  return result;
}

caf::expected<message_id> message_id::parse(std::string_view text) {
  auto bad = make_error(errc::invalid_input, "not a UUID: expected "
                                             "8-4-4-4-12 hex digits");
  if (text.size() != 36 || text[8] != '-' || text[13] != '-'
      || text[18] != '-' || text[23] != '-')
    return bad;
  std::string hex;
  for (auto c : text)
    if (c != '-')
      hex += c;
  message_id result;
  if (!decode_hex(hex, result.bytes))
    return bad;
  return result;
}

std::string message_id::to_string() const {
  auto hex = encode_hex(bytes.data(), bytes.size());
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4)
         + "-" + hex.substr(16, 4) + "-" + hex.substr(20);
}

int64_t message_id::unix_ms() const {
  int64_t ms = 0;
  for (int i = 0; i < 6; ++i)
    ms = ms << 8 | bytes[i];
  return ms;
}

caf::expected<message_id> message_id::from_raw(std::string_view raw) {
  message_id result;
  if (raw.size() != result.bytes.size())
    return make_error(errc::invalid_input, "not a message id: expected 16 "
                                           "bytes, got "
                                             + std::to_string(raw.size()));
  std::copy(raw.begin(), raw.end(), result.bytes.begin());
  return result;
}

std::string message_id::text_of(std::string_view raw) {
  auto id = from_raw(raw);
  return id ? id->to_string() : std::string{};
}

} // namespace herald
