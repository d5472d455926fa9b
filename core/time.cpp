#include "core/time.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace herald {

namespace {

/// Formats whole seconds; returns the length written.
size_t format_seconds(int64_t unix_seconds, char* buf, size_t size) {
  auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return std::strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
}

} // namespace

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string iso8601_ms(int64_t unix_ms) {
  char buf[40];
  auto n = format_seconds(unix_ms / 1000, buf, sizeof(buf));
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ",
                static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string iso8601_s(int64_t unix_seconds) {
  char buf[40];
  auto n = format_seconds(unix_seconds, buf, sizeof(buf));
  std::snprintf(buf + n, sizeof(buf) - n, "Z");
  return buf;
}

} // namespace herald
