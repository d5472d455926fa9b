#include "web/portal_session.hpp"

#include "core/errc.hpp"
#include "core/hex.hpp"
#include "persistence/crypto.hpp"

#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstdlib>
#include <memory>

namespace herald::web {

namespace {

/// Longer tokens are not ours: refused before parsing.
constexpr size_t max_token_chars = 2048;

struct jwt_deleter {
  void operator()(jwt_t* x) const {
    jwt_free(x);
  }
};

using jwt_ptr = std::unique_ptr<jwt_t, jwt_deleter>;

int64_t seconds(caf::timespan t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t).count();
}

caf::error invalid(const char* why) {
  return make_error(errc::unauthorized, std::string{"session token: "} + why);
}

} // namespace

session_tokens::session_tokens(std::string key, caf::timespan ttl,
                               caf::timespan max_age)
  : key_(std::move(key)), ttl_(seconds(ttl)), max_age_(seconds(max_age)) {
  // nop
}

caf::expected<std::string>
session_tokens::sign(const portal_user& user, const std::string& token_id,
                     int64_t started, int64_t now) const {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0)
    return make_error(errc::io_failure, "jwt_new failed");
  jwt_ptr token{raw};
  auto expires = std::min(now + ttl_, started + max_age_);
  auto sub = std::to_string(user.id);
  bool ok = jwt_add_grant(raw, "sub", sub.c_str()) == 0
            && jwt_add_grant(raw, "name", user.name.c_str()) == 0
            && jwt_add_grant(raw, "role", user.role.c_str()) == 0
            && jwt_add_grant_int(raw, "gen", user.generation) == 0
            && jwt_add_grant(raw, "jti", token_id.c_str()) == 0
            && jwt_add_grant_int(raw, "sst", started) == 0
            && jwt_add_grant_int(raw, "iat", now) == 0
            && jwt_add_grant_int(raw, "exp", expires) == 0
            && jwt_set_alg(raw, JWT_ALG_HS256,
                           reinterpret_cast<const unsigned char*>(key_.data()),
                           static_cast<int>(key_.size()))
                 == 0;
  if (!ok)
    return make_error(errc::io_failure, "cannot build a session token");
  auto* text = jwt_encode_str(raw);
  if (text == nullptr)
    return make_error(errc::io_failure, "cannot sign a session token");
  std::string result{text};
  std::free(text);
  return result;
}

caf::expected<std::string> session_tokens::issue(const portal_user& user,
                                                 int64_t now) const {
  auto id = random_hex_token();
  if (!id)
    return id.error();
  return sign(user, *id, now, now);
}

caf::expected<std::string>
session_tokens::refresh(const verified_session& session, int64_t now) const {
  portal_user user{session.claims.user_id, session.name, session.role,
                   session.claims.generation};
  return sign(user, session.claims.token_id, session.started_at, now);
}

caf::expected<verified_session> session_tokens::verify(std::string_view token,
                                                       int64_t now) const {
  if (token.empty() || token.size() > max_token_chars)
    return invalid("missing or too long");
  std::string text{token};
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, text.c_str(),
                 reinterpret_cast<const unsigned char*>(key_.data()),
                 static_cast<int>(key_.size()))
        != 0
      || raw == nullptr)
    return invalid("bad signature or format");
  jwt_ptr jwt{raw};
  // Only HS256: never "none" or another algorithm a token names itself.
  if (jwt_get_alg(raw) != JWT_ALG_HS256)
    return invalid("wrong algorithm");
  verified_session result;
  auto text_grant = [raw](const char* name) -> std::string {
    auto* value = jwt_get_grant(raw, name);
    return value == nullptr ? std::string{} : std::string{value};
  };
  auto sub = text_grant("sub");
  result.claims.token_id = text_grant("jti");
  result.name = text_grant("name");
  result.role = text_grant("role");
  auto gen = jwt_get_grant_int(raw, "gen");
  result.started_at = jwt_get_grant_int(raw, "sst");
  result.expires_at = jwt_get_grant_int(raw, "exp");
  if (sub.empty() || sub.size() > 19
      || sub.find_first_not_of("0123456789") != std::string::npos
      || result.claims.token_id.size() != 64 || result.name.empty()
      || gen < 0 || result.started_at <= 0 || result.expires_at <= 0)
    return invalid("claims missing");
  result.claims.user_id = std::stoull(sub);
  result.claims.generation = static_cast<uint32_t>(gen);
  result.claims.ends_at_ms = (result.started_at + max_age_) * 1000;
  if (result.expires_at <= now)
    return invalid("expired");
  if (result.started_at + max_age_ <= now
      || result.expires_at > result.started_at + max_age_)
    return invalid("session too old");
  return result;
}

bool session_tokens::needs_refresh(const verified_session& session,
                                   int64_t now) const {
  return session.expires_at - now < ttl_ / 2
         && session.expires_at < session.started_at + max_age_;
}

std::string session_tokens::csrf_token(const std::string& token_id) const {
  auto mac = persistence::hmac_sha256(key_, "csrf:" + token_id);
  return encode_hex(reinterpret_cast<const uint8_t*>(mac.data()), mac.size());
}

bool session_tokens::check_csrf(const std::string& token_id,
                                std::string_view given) const {
  return same_secret(csrf_token(token_id), given);
}

caf::expected<std::string> random_hex_token() {
  uint8_t bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1)
    return make_error(errc::io_failure, "RAND_bytes failed");
  return encode_hex(bytes, sizeof(bytes));
}

bool same_secret(std::string_view a, std::string_view b) {
  return !a.empty() && a.size() == b.size()
         && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace herald::web
