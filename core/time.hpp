#pragma once

#include <cstdint>
#include <string>

namespace herald {

/// The system clock in Unix milliseconds.
int64_t unix_now_ms();

/// RFC 3339 UTC with milliseconds: "2026-01-31T12:34:56.789Z".
std::string iso8601_ms(int64_t unix_ms);

/// RFC 3339 UTC to the second: "2026-01-31T12:34:56Z".
std::string iso8601_s(int64_t unix_seconds);

} // namespace herald
