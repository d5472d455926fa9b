#include "web/portal_session.hpp"

#include "core/errc.hpp"

#include <openssl/evp.h>

#include <boost/test/unit_test.hpp>

using namespace herald;
using namespace std::chrono_literals;

namespace {

const std::string key(40, 'k');
constexpr int64_t t0 = 1'800'000'000;

web::session_tokens tokens() {
  return {key, 15min, 12h};
}

portal_user alice() {
  return {42, "alice", "user", 3};
}

/// base64url without padding, as JWTs encode their parts.
std::string base64url(const std::string& text) {
  std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(text.data()),
                           static_cast<int>(text.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=')
    out.pop_back();
  for (auto& c : out)
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(portal_session_suite)

BOOST_AUTO_TEST_CASE(a_token_verifies_with_its_claims) {
  auto t = tokens();
  auto token = t.issue(alice(), t0);
  BOOST_REQUIRE(token);
  auto s = t.verify(*token, t0 + 60);
  BOOST_REQUIRE(s);
  BOOST_TEST(s->claims.user_id == 42u);
  BOOST_TEST(s->claims.generation == 3u);
  BOOST_TEST(s->claims.token_id.size() == 64u);
  BOOST_TEST(s->name == "alice");
  BOOST_TEST(s->role == "user");
  BOOST_TEST(s->expires_at == t0 + 15 * 60);
  BOOST_TEST(s->claims.ends_at_ms == (t0 + 12 * 3600) * 1000);
  // Each login is a session of its own.
  auto other = t.issue(alice(), t0);
  BOOST_REQUIRE(other);
  BOOST_TEST(t.verify(*other, t0)->claims.token_id != s->claims.token_id);
}

BOOST_AUTO_TEST_CASE(an_expired_token_is_refused) {
  auto t = tokens();
  auto token = t.issue(alice(), t0);
  BOOST_REQUIRE(token);
  BOOST_TEST(static_cast<bool>(t.verify(*token, t0 + 15 * 60 - 1)));
  auto late = t.verify(*token, t0 + 15 * 60);
  BOOST_REQUIRE(!late);
  BOOST_TEST((late.error() == errc::unauthorized));
}

BOOST_AUTO_TEST_CASE(a_tampered_token_is_refused) {
  auto t = tokens();
  auto token = t.issue(alice(), t0);
  BOOST_REQUIRE(token);
  auto first_dot = token->find('.');
  auto second_dot = token->find('.', first_dot + 1);
  // A claim changed (user 42 -> 43 in the payload) under the old signature.
  auto payload = token->substr(first_dot + 1, second_dot - first_dot - 1);
  auto forged_payload = base64url(
    R"({"exp":1800000900,"gen":3,"iat":1800000000,"jti":")"
    + t.verify(*token, t0)->claims.token_id
    + R"(","name":"alice","role":"admin","sst":1800000000,"sub":"43"})");
  BOOST_TEST(forged_payload != payload);
  auto forged = token->substr(0, first_dot + 1) + forged_payload
                + token->substr(second_dot);
  BOOST_TEST(!t.verify(forged, t0));
  // One character of the signature flipped.
  auto flipped = *token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  BOOST_TEST(!t.verify(flipped, t0));
  // Another key.
  web::session_tokens other{std::string(40, 'x'), 15min, 12h};
  BOOST_TEST(!other.verify(*token, t0));
  // Garbage, empty, oversized.
  BOOST_TEST(!t.verify("not.a.token", t0));
  BOOST_TEST(!t.verify("", t0));
  BOOST_TEST(!t.verify(std::string(5000, 'a'), t0));
}

BOOST_AUTO_TEST_CASE(an_unsigned_token_is_refused) {
  auto t = tokens();
  auto header = base64url(R"({"alg":"none","typ":"JWT"})");
  auto payload = base64url(
    R"({"exp":1900000000,"gen":3,"iat":1800000000,"jti":")"
    + std::string(64, 'a')
    + R"(","name":"alice","role":"admin","sst":1800000000,"sub":"42"})");
  BOOST_TEST(!t.verify(header + "." + payload + ".", t0));
  BOOST_TEST(!t.verify(header + "." + payload, t0));
}

BOOST_AUTO_TEST_CASE(refresh_slides_within_the_maximum_age) {
  web::session_tokens t{key, 15min, 20min};
  auto token = t.issue(alice(), t0);
  auto s = t.verify(*token, t0);
  BOOST_REQUIRE(s);
  BOOST_TEST(!t.needs_refresh(*s, t0 + 7 * 60));
  BOOST_TEST(t.needs_refresh(*s, t0 + 8 * 60));
  auto fresh = t.refresh(*s, t0 + 10 * 60);
  BOOST_REQUIRE(fresh);
  auto s2 = t.verify(*fresh, t0 + 16 * 60);
  BOOST_REQUIRE(s2);
  // Same session (a logout revokes it whatever token the browser holds),
  // capped by the maximum age.
  BOOST_TEST(s2->claims.token_id == s->claims.token_id);
  BOOST_TEST(s2->expires_at == t0 + 20 * 60);
  BOOST_TEST(!t.needs_refresh(*s2, t0 + 19 * 60));
  BOOST_TEST(!t.verify(*fresh, t0 + 20 * 60));
}

BOOST_AUTO_TEST_CASE(csrf_tokens_belong_to_their_session) {
  auto t = tokens();
  auto a = t.csrf_token(std::string(64, 'a'));
  BOOST_TEST(a.size() == 64u);
  BOOST_TEST(t.check_csrf(std::string(64, 'a'), a));
  BOOST_TEST(!t.check_csrf(std::string(64, 'b'), a));
  BOOST_TEST(!t.check_csrf(std::string(64, 'a'), ""));
  BOOST_TEST(!t.check_csrf(std::string(64, 'a'), a.substr(1)));
  BOOST_TEST(!web::same_secret("", ""));
}

BOOST_AUTO_TEST_SUITE_END()
