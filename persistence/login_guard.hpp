#pragma once

#include "persistence/redis.hpp"

#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include <cstdint>
#include <string>

namespace herald::persistence {

/// Limits of the login throttle.
struct login_limits {
  /// Failures within `window` that lock an account...
  int64_t per_account = 5;
  /// ...or an IP address.
  int64_t per_ip = 20;
  /// The window failures are counted in, and how long a lock lasts.
  caf::timespan window = std::chrono::minutes{15};
};

/// What a failed login changed.
struct failure_outcome {
  bool account_locked_now = false;
  bool ip_locked_now = false;
};

/// Milliseconds until the lock of account `name` or of address `ip` ends
/// (the longer one); 0 when neither is locked. In Redis, so that every
/// portal node sees the same locks and counts, across restarts.
caf::expected<int64_t> lock_remaining_ms(redis_connection& redis,
                                         const std::string& name,
                                         const std::string& ip);

/// Counts a failed login of `name` (empty: no such account is counted)
/// from `ip`; locks the account or the address when it reaches its limit.
caf::expected<failure_outcome> record_failure(redis_connection& redis,
                                              const login_limits& limits,
                                              const std::string& name,
                                              const std::string& ip);

/// Forgets the account's failures after a successful login.
caf::error clear_failures(redis_connection& redis, const std::string& name);

/// Revokes session `token_id` on every portal node until `ends_at_ms`
/// (Unix ms), when its tokens expire anyway.
caf::error revoke_session(redis_connection& redis, const std::string& token_id,
                          int64_t ends_at_ms);

/// Whether session `token_id` was revoked.
caf::expected<bool> session_revoked(redis_connection& redis,
                                    const std::string& token_id);

} // namespace herald::persistence
