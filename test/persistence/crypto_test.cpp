#include "persistence/crypto.hpp"

#include "core/errc.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <thread>
#include <vector>

using namespace herald;
using namespace herald::persistence;

namespace {

std::string hex(const std::string& raw) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string result;
  for (unsigned char c : raw) {
    result += digits[c >> 4];
    result += digits[c & 0x0f];
  }
  return result;
}

key_ring ring(const std::string& text) {
  auto result = key_ring::parse(text, "test");
  BOOST_REQUIRE_MESSAGE(result, test::why(result));
  return *result;
}

const std::string key1 = "1 " + std::string(64, 'a');
const std::string key2 = "2 " + std::string(64, 'b');

} // namespace

BOOST_AUTO_TEST_SUITE(crypto_suite)

BOOST_AUTO_TEST_CASE(sealed_bodies_open_only_with_their_key_and_id) {
  auto keys = ring(key1 + "\n" + key2);
  BOOST_TEST(keys.active().id == 2u);
  auto sealed = seal(keys.active(), "Hello ☃", "message-id-1");
  BOOST_REQUIRE(sealed);
  BOOST_TEST(sealed->key_id == 2u);
  BOOST_TEST(sealed->nonce.size() == 12u);
  BOOST_TEST(sealed->ciphertext.find("Hello") == std::string::npos);
  auto opened = open(keys, *sealed, "message-id-1");
  BOOST_REQUIRE(opened);
  BOOST_TEST(*opened == "Hello ☃");
  // Another message's id as associated data: refused.
  BOOST_TEST(!open(keys, *sealed, "message-id-2"));
  // One flipped bit: refused.
  auto tampered = *sealed;
  tampered.ciphertext[0] ^= 1;
  BOOST_TEST(!open(keys, tampered, "message-id-1"));
  // A key ring without key 2 cannot read it.
  BOOST_TEST(!open(ring(key1), *sealed, "message-id-1"));
}

BOOST_AUTO_TEST_CASE(nonces_are_never_reused) {
  auto keys = ring(key1);
  auto a = seal(keys.active(), "same", "id");
  auto b = seal(keys.active(), "same", "id");
  BOOST_REQUIRE(a && b);
  BOOST_TEST(a->nonce != b->nonce);
  BOOST_TEST(a->ciphertext != b->ciphertext);
}

BOOST_AUTO_TEST_CASE(key_files_are_validated) {
  BOOST_TEST(!key_ring::parse("", "f"));
  BOOST_TEST(!key_ring::parse("1 abc", "f"));
  BOOST_TEST(!key_ring::parse("0 " + std::string(64, 'a'), "f"));
  BOOST_TEST(!key_ring::parse(key1 + "\n" + key1, "f"));
  auto err = key_ring::parse("# comment\n1 xyz", "keys");
  BOOST_REQUIRE(!err);
  BOOST_TEST(render(err.error()).find("keys, line 2") == 0u);
  BOOST_TEST(static_cast<bool>(key_ring::parse("# c\n" + key1 + " # old\n", "f")));
}

BOOST_AUTO_TEST_CASE(rotation_adds_an_active_key_and_keeps_the_old_ones) {
  auto path = (std::filesystem::temp_directory_path()
               / ("herald-keys-" + std::to_string(::getpid())))
                .string();
  std::filesystem::remove(path);
  BOOST_REQUIRE(key_ring::rotate(path));
  struct stat st {};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  auto first = key_ring::load(path);
  BOOST_REQUIRE_MESSAGE(first, test::why(first));
  auto old = seal(first->active(), "old message", "id");
  BOOST_REQUIRE(old);
  auto id = key_ring::rotate(path);
  BOOST_REQUIRE(id);
  BOOST_TEST(*id == 2u);
  auto second = key_ring::load(path);
  BOOST_REQUIRE(second);
  BOOST_TEST(second->active().id == 2u);
  auto opened = open(*second, *old, "id");
  BOOST_REQUIRE(opened);
  BOOST_TEST(*opened == "old message");
  ::chmod(path.c_str(), 0644);
  BOOST_TEST(!key_ring::load(path));
  std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(concurrent_rotations_never_lose_a_key) {
  auto path = (std::filesystem::temp_directory_path()
               / ("herald-keys-race-" + std::to_string(::getpid())))
                .string();
  std::filesystem::remove(path);
  BOOST_REQUIRE(key_ring::rotate(path));
  // Before the lock, two runs at once could both read key 1, both write
  // key 2, and one of the new keys was lost with what it had sealed.
  std::vector<std::thread> runs;
  std::vector<uint32_t> ids(8);
  for (size_t i = 0; i < ids.size(); ++i)
    runs.emplace_back([&, i] {
      auto id = key_ring::rotate(path);
      ids[i] = id ? *id : 0;
    });
  for (auto& t : runs)
    t.join();
  std::sort(ids.begin(), ids.end());
  for (size_t i = 0; i < ids.size(); ++i)
    BOOST_TEST(ids[i] == i + 2);
  auto ring = key_ring::load(path);
  BOOST_REQUIRE_MESSAGE(ring, test::why(ring));
  BOOST_TEST(ring->active().id == 9u);
  for (uint32_t id = 1; id <= 9; ++id)
    BOOST_TEST(ring->find(id) != nullptr);
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".lock");
}

BOOST_AUTO_TEST_CASE(a_live_key_ring_picks_up_a_rotation) {
  auto path = (std::filesystem::temp_directory_path()
               / ("herald-keys-live-" + std::to_string(::getpid())))
                .string();
  std::filesystem::remove(path);
  BOOST_REQUIRE(key_ring::rotate(path));
  auto live = live_key_ring::load(path);
  BOOST_REQUIRE_MESSAGE(live, test::why(live));
  auto before = (*live)->current();
  BOOST_TEST(before->active().id == 1u);
  BOOST_TEST(!(*live)->refresh());
  BOOST_TEST((*live)->current() == before); // unchanged file: no reload
  BOOST_REQUIRE(key_ring::rotate(path));
  BOOST_TEST(!(*live)->refresh());
  BOOST_TEST((*live)->current()->active().id == 2u);
  // What was sealed under the old key stays readable, and the old ring
  // still works for whoever holds it.
  BOOST_TEST(before->find(1) != nullptr);
  BOOST_TEST((*live)->current()->find(1) != nullptr);
  // A broken file keeps the ring in force.
  { std::ofstream{path} << "garbage\n"; }
  BOOST_TEST(static_cast<bool>((*live)->refresh()));
  BOOST_TEST((*live)->current()->active().id == 2u);
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".lock");
}

BOOST_AUTO_TEST_CASE(an_unknown_key_id_is_not_found_not_tampering) {
  auto keys = ring(key1);
  auto sealed = seal(keys.active(), "text", "id");
  BOOST_REQUIRE(sealed);
  sealed->key_id = 99;
  auto opened = open(keys, *sealed, "id");
  BOOST_REQUIRE(!opened);
  // Delivery retries on not_found (the key may arrive) and fails otherwise.
  BOOST_TEST((opened.error() == errc::not_found));
}

BOOST_AUTO_TEST_CASE(hashes_match_published_vectors) {
  // RFC 4231, test case 2.
  BOOST_TEST(hex(hmac_sha256("Jefe", "what do ya want for nothing?"))
             == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  BOOST_TEST(hex(sha256("abc"))
             == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_CASE(masks_keep_the_country_code_and_two_digits_only) {
  BOOST_TEST(e164_country_code_length("+4915112345678") == 2u);
  BOOST_TEST(e164_country_code_length("+12025550123") == 1u);
  BOOST_TEST(e164_country_code_length("+79161234567") == 1u);
  BOOST_TEST(e164_country_code_length("+353861234567") == 3u);
  BOOST_TEST(e164_country_code_length("+97150123456") == 3u);
  BOOST_TEST(mask_e164("+4915112345678") == "+49****78");
  BOOST_TEST(mask_e164("+12025550123") == "+1****23");
  BOOST_TEST(mask_e164("+353861234567") == "+353****67");
  // Before this change the mask kept 8 of 9 or 10 digits.
  BOOST_TEST(mask_e164("+491234567") == "+49****67");
  BOOST_TEST(mask_e164("+12345678") == "+1****78");
  BOOST_TEST(mask_e164("+123") == "+****");
  BOOST_TEST(mask_e164("") == "+****");
}

BOOST_AUTO_TEST_CASE(request_hashes_are_keyed_with_the_pepper) {
  auto a = request_hash("pepper-1", "+4915112345678", "hello");
  BOOST_TEST(a.size() == 32u);
  BOOST_TEST(a == request_hash("pepper-1", "+4915112345678", "hello"));
  BOOST_TEST(a != request_hash("pepper-2", "+4915112345678", "hello"));
  // Not the unkeyed SHA-256 it was before, which anyone can recompute.
  BOOST_TEST(a != sha256(std::string{"+4915112345678"} + '\0' + "hello"));
  // The separator keeps sender and body apart.
  BOOST_TEST(request_hash("p", "+1", "23") != request_hash("p", "+12", "3"));
}

BOOST_AUTO_TEST_SUITE_END()
