#include "persistence/passwords.hpp"

#include "core/errc.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <crypt.h>

#include <chrono>
#include <memory>
#include <string>

using namespace herald;
using namespace herald::persistence;

namespace {

const std::string good = "correct horse battery staple";

std::string hash_of(const std::string& password) {
  auto hash = hash_password(password);
  BOOST_REQUIRE_MESSAGE(hash, test::why(hash));
  return *hash;
}

/// The rule check_password names for `password` of user `name`; empty
/// when it passes.
std::string refusal(const std::string& password,
                    const std::string& name = "alice") {
  auto err = check_password(password, name);
  return err ? render(err) : std::string{};
}

bool refused_for(const std::string& password, const std::string& rule,
                 const std::string& name = "alice") {
  auto why = refusal(password, name);
  BOOST_TEST_MESSAGE("'" << password.substr(0, 40) << "': "
                         << (why.empty() ? "accepted" : why));
  return why.find(rule) != std::string::npos;
}

/// `n` copies of `x`.
std::string times(size_t n, const std::string& x) {
  std::string result;
  for (size_t i = 0; i < n; ++i)
    result += x;
  return result;
}

} // namespace

BOOST_AUTO_TEST_SUITE(passwords_suite)

BOOST_AUTO_TEST_CASE(hashes_are_yescrypt_at_the_set_cost_with_a_fresh_salt) {
  auto started = std::chrono::steady_clock::now();
  auto first = hash_of(good);
  auto took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count();
  BOOST_TEST_MESSAGE("one yescrypt hash took " << took_ms << " ms");
  // "jBT" encodes cost 7 (64 MiB): a cheaper setting fails here.
  BOOST_TEST(yescrypt_cost == 7u);
  BOOST_TEST(first.rfind("$y$jBT$", 0) == 0u, first);
  BOOST_TEST(took_ms >= 10);
  auto second = hash_of(good);
  BOOST_TEST(second.rfind("$y$jBT$", 0) == 0u);
  BOOST_TEST(first != second); // another salt
  BOOST_TEST(first.find(good) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_password_verifies_and_nothing_else_does) {
  auto hash = hash_of(good);
  BOOST_TEST(verify_password(good, hash));
  BOOST_TEST(!verify_password("correct horse battery stapl", hash));
  BOOST_TEST(!verify_password("Correct horse battery staple", hash));
  BOOST_TEST(!verify_password(good + " ", hash));
  BOOST_TEST(!verify_password("", hash));
  // A NUL byte must not cut the password short.
  BOOST_TEST(!verify_password(good + std::string{"\0x", 2}, hash));
}

BOOST_AUTO_TEST_CASE(a_tampered_hash_never_verifies) {
  auto hash = hash_of(good);
  auto last = hash.rfind('$');
  BOOST_REQUIRE(last != std::string::npos);
  auto flip = [&](size_t at) {
    auto x = hash;
    x[at] = x[at] == 'a' ? 'b' : 'a';
    return x;
  };
  BOOST_TEST(!verify_password(good, flip(hash.size() - 2))); // the hash
  BOOST_TEST(!verify_password(good, flip(last - 2)));        // the salt
  auto cheaper = hash;
  cheaper.replace(0, 7, "$y$jAT$"); // cost 6
  BOOST_TEST(!verify_password(good, cheaper));
  BOOST_TEST(!verify_password(good, hash.substr(0, hash.size() - 1)));
  BOOST_TEST(!verify_password(good, hash + "A"));
  BOOST_TEST(!verify_password(good, hash.substr(0, last + 1)));
  BOOST_TEST(!verify_password(good, ""));
  BOOST_TEST(!verify_password(good, "*"));
  BOOST_TEST(!verify_password(good, "*0"));
  // A correct hash of another (weak) method is refused too.
  auto data = std::make_unique<crypt_data>();
  std::string md5 = crypt_r(good.c_str(), "$1$saltsalt$", data.get());
  BOOST_REQUIRE(md5.rfind("$1$", 0) == 0u);
  BOOST_TEST(!verify_password(good, md5));
}

BOOST_AUTO_TEST_CASE(the_longest_password_hashes_and_a_longer_one_is_refused) {
  auto longest = std::string(max_password_bytes, 'x');
  auto hash = hash_of(longest);
  BOOST_TEST(verify_password(longest, hash));
  BOOST_TEST(!verify_password(longest + "x", hash));
  BOOST_TEST(!hash_password(longest + "x"));
  BOOST_TEST(!hash_password(std::string{"twelve chars\0and more", 21}));
}

BOOST_AUTO_TEST_CASE(a_good_passphrase_passes_the_policy) {
  BOOST_TEST(refusal(good) == "");
  BOOST_TEST(refusal("Tr0ub4dor&3x") == ""); // exactly 12
  BOOST_TEST(refusal("zebra-orbit-lantern") == "");
  // Digits and symbols alone are no common password's stem.
  BOOST_TEST(refusal("1!2@3#4$5%6^") == "");
  // Names of 1 or 2 characters may occur.
  BOOST_TEST(refusal("an aloof alpaca", "al") == "");
}

BOOST_AUTO_TEST_CASE(the_length_counts_characters_and_bytes) {
  BOOST_TEST(refused_for("Tr0ub4dor&3", "has 11 characters; at least 12"));
  // 11 and 12 two-byte characters.
  BOOST_TEST(refused_for(times(11, "ä"), "has 11 characters; at least 12"));
  BOOST_TEST(refusal("äöüßàéèêëïîô") == "");
  BOOST_TEST(
    refusal(std::string(max_password_bytes - good.size(), 'x') + good) == "");
  BOOST_TEST(
    refused_for(std::string(max_password_bytes + 1, 'x'),
                "has 512 bytes; at most 511 are allowed"));
  BOOST_TEST(refused_for(std::string(1024, 'x'), "at most 511"));
  BOOST_TEST(refused_for(std::string{"a long\0passphrase", 17},
                         "contains a NUL byte"));
}

BOOST_AUTO_TEST_CASE(the_user_name_is_neither_the_password_nor_in_it) {
  BOOST_TEST(
    refused_for("LongUserName1", "is the user name", "longusername1"));
  BOOST_TEST(
    refused_for("my-alice-passphrase", "contains the user name", "alice"));
  BOOST_TEST(
    refused_for("my-ALICE-passphrase", "contains the user name", "alice"));
  BOOST_TEST(refused_for("bob is my uncle", "contains the user name", "bob"));
}

BOOST_AUTO_TEST_CASE(common_passwords_are_refused_as_they_are_and_dressed_up) {
  BOOST_TEST(refused_for("Q1W2E3R4T5Y6", "one of the most common passwords"));
  BOOST_TEST(refused_for("qwerty123456", "one of the most common passwords"));
  BOOST_TEST(
    refused_for("Password1234!", "common password followed by digits"));
  BOOST_TEST(
    refused_for("1234567890!!", "common password followed by digits"));
  BOOST_TEST(refused_for("iloveyou2024", "common password followed by digits"));
  BOOST_TEST(refused_for("qwertyqwerty", "repeats a common password"));
  BOOST_TEST(refused_for("abcabcabcabc", "repeats a common password"));
  BOOST_TEST(refused_for(std::string(12, 'a'), "repeats a common password"));
  BOOST_TEST(refused_for("qweqweqweqwe", "repeats a common password"));
  BOOST_TEST(refused_for("Password1234!", "choose a longer passphrase"));
}

BOOST_AUTO_TEST_CASE(generated_passwords_are_long_random_and_pass) {
  auto first = generate_password();
  auto second = generate_password();
  BOOST_REQUIRE(first);
  BOOST_REQUIRE(second);
  BOOST_TEST(first->size() == 24u);
  BOOST_TEST(*first != *second);
  BOOST_TEST(first->find_first_not_of(
               "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
             == std::string::npos);
  BOOST_TEST(refusal(*first, "admin") == "");
}

BOOST_AUTO_TEST_SUITE_END()
