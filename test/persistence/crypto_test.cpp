#include "persistence/crypto.hpp"

#include "core/errc.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

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

BOOST_AUTO_TEST_CASE(hashes_match_published_vectors) {
  // RFC 4231, test case 2.
  BOOST_TEST(hex(hmac_sha256("Jefe", "what do ya want for nothing?"))
             == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  BOOST_TEST(hex(sha256("abc"))
             == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_CASE(numbers_are_masked_for_display) {
  BOOST_TEST(mask_e164("+4915112345678") == "+49151****678");
  BOOST_TEST(mask_e164("+12345678") == "+12****");
}

BOOST_AUTO_TEST_CASE(uuid_v7_ids_are_time_ordered_and_round_trip) {
  auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  std::vector<uuid> ids;
  for (int i = 0; i < 10000; ++i)
    ids.push_back(uuid::make_v7());
  for (size_t i = 1; i < ids.size(); ++i)
    BOOST_REQUIRE(ids[i - 1].bytes < ids[i].bytes);
  const auto& id = ids.front();
  BOOST_TEST((id.bytes[6] >> 4) == 7);      // version
  BOOST_TEST((id.bytes[8] >> 6) == 2);      // variant
  BOOST_TEST(id.unix_ms() >= before);
  BOOST_TEST(id.unix_ms() - before < 5000);
  auto text = id.to_string();
  BOOST_TEST(text.size() == 36u);
  auto parsed = uuid::parse(text);
  BOOST_REQUIRE(parsed);
  BOOST_TEST((*parsed == id));
  BOOST_TEST(!uuid::parse("not-a-uuid"));
  BOOST_TEST(!uuid::parse("0189Xa5d-ac96-774b-bcce-b302099a8057"));
}

BOOST_AUTO_TEST_SUITE_END()
