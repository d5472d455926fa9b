#pragma once

#include "core/messages.hpp"

#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace herald::web {

/// A session token that verified: signature, algorithm and lifetimes.
/// Whether it was revoked or its user changed is the portal actor's check.
struct verified_session {
  session_claims claims;
  std::string name;
  std::string role;
  /// Unix seconds.
  int64_t expires_at = 0;
  int64_t started_at = 0;
};

/// Issues and verifies the portal's session tokens: JWTs (libjwt), HS256
/// under the portal's session key, with the user (sub, name, role, gen),
/// a token id (jti) that names the session, its start (sst), iat and exp.
/// Also derives each session's CSRF token. Cheap (HMACs only): runs in the
/// portal's routes.
class session_tokens {
public:
  session_tokens(std::string key, caf::timespan ttl, caf::timespan max_age);

  /// A token for a new session of `user` at `now` (Unix seconds).
  caf::expected<std::string> issue(const portal_user& user, int64_t now) const;

  /// A fresh token of the same session (same id and start) with a new
  /// expiry, never past the session's maximum age.
  caf::expected<std::string> refresh(const verified_session& session,
                                     int64_t now) const;

  /// Verifies `token` at `now`; an error for anything but an unexpired
  /// HS256 token signed with the key, in a session not older than the
  /// maximum age.
  caf::expected<verified_session> verify(std::string_view token,
                                         int64_t now) const;

  /// Whether a request at `now` should get a fresh token: the token is in
  /// the second half of its lifetime (sliding refresh).
  bool needs_refresh(const verified_session& session, int64_t now) const;

  /// The CSRF token of session `token_id`: an HMAC of it under the key, so
  /// it needs no storage and is worthless for another session.
  std::string csrf_token(const std::string& token_id) const;

  /// Compares `given` with the session's CSRF token in constant time.
  bool check_csrf(const std::string& token_id, std::string_view given) const;

  /// Seconds a token lives.
  int64_t ttl_seconds() const {
    return ttl_;
  }

private:
  caf::expected<std::string> sign(const portal_user& user,
                                  const std::string& token_id,
                                  int64_t started, int64_t now) const;

  std::string key_;
  int64_t ttl_;
  int64_t max_age_;
};

/// 32 random bytes (OpenSSL's RAND_bytes) as 64 hex digits.
caf::expected<std::string> random_hex_token();

/// Compares two strings in constant time for their length (OpenSSL's
/// CRYPTO_memcmp); false when the lengths differ or either is empty.
bool same_secret(std::string_view a, std::string_view b);

} // namespace herald::web
