#include "persistence/backup_archive.hpp"

#include "core/errc.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace herald;
using namespace herald::persistence;

namespace {

/// Cheap scrypt for tests (the default takes a quarter of a second).
const scrypt_params fast{10, 8, 1};

const archive_secret passphrase{archive_secret::kind::passphrase,
                                "correct horse battery staple"};

/// A member's contents of `size` bytes that do not repeat within a chunk.
std::string pattern(size_t size, unsigned seed) {
  std::string result(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : result) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return result;
}

using contents = std::map<std::string, std::string>;

/// An archive of `members` (written in pieces of 1000 bytes).
std::string make_archive(const contents& members,
                         const archive_secret& secret = passphrase) {
  std::string out;
  auto writer = archive_writer::start(
    secret,
    [&out](std::string_view bytes) {
      out.append(bytes.data(), bytes.size());
      return caf::error{};
    },
    fast);
  BOOST_REQUIRE_MESSAGE(writer, test::why(writer));
  for (const auto& [name, data] : members) {
    BOOST_REQUIRE(!writer->begin(name, 0640));
    for (size_t pos = 0; pos < data.size(); pos += 1000)
      BOOST_REQUIRE(!writer->write(std::string_view{data}.substr(pos, 1000)));
    BOOST_REQUIRE(!writer->end());
  }
  auto listed = writer->finish();
  BOOST_REQUIRE_MESSAGE(listed, test::why(listed));
  BOOST_TEST(listed->size() == members.size());
  BOOST_TEST(writer->written() == out.size());
  return out;
}

/// What read_archive() gave: the members it returned and what the visitor
/// saw, or the error.
struct read_result {
  caf::expected<std::vector<archive_member>> members{
    make_error(errc::invalid_input, "not read")};
  contents seen;
};

read_result read(const std::string& archive,
                 const archive_secret& secret = passphrase) {
  read_result result;
  std::istringstream in{archive};
  std::string current;
  archive_visitor visitor{
    [&](const std::string& name, uint32_t mode) {
      BOOST_TEST(mode == 0640u);
      current = name;
      result.seen[name];
      return caf::error{};
    },
    [&](std::string_view data) {
      result.seen[current].append(data.data(), data.size());
      return caf::error{};
    },
    [] { return caf::error{}; }};
  result.members = read_archive(in, secret, visitor);
  return result;
}

std::string why(const read_result& r) {
  return r.members ? std::string{"ok"} : render(r.members.error());
}

const contents sample{{"database.sql", pattern(300 * 1024 + 7, 1)},
                      {"secrets/data-keys", "1 " + std::string(64, 'a')},
                      {"ca/ca.crt", pattern(1500, 2)},
                      {"empty", ""}};

} // namespace

BOOST_AUTO_TEST_SUITE(backup_archive_suite)

BOOST_AUTO_TEST_CASE(members_round_trip_with_a_manifest) {
  auto archive = make_archive(sample);
  // Nothing of the plaintext shows in the archive.
  BOOST_TEST(archive.find("secrets/data-keys") == std::string::npos);
  BOOST_TEST(archive.find(std::string(64, 'a')) == std::string::npos);
  auto r = read(archive);
  BOOST_REQUIRE_MESSAGE(r.members, why(r));
  BOOST_TEST((r.seen == sample));
  BOOST_REQUIRE_EQUAL(r.members->size(), sample.size());
  for (const auto& m : *r.members) {
    BOOST_TEST(m.size == sample.at(m.name).size());
    BOOST_TEST(m.sha256.size() == 64u);
  }
  // In the order written (the map's); the empty one has the SHA-256 of "".
  BOOST_TEST(r.members->front().name == "ca/ca.crt");
  BOOST_TEST(r.members->at(2).name == "empty");
  BOOST_TEST(r.members->at(2).sha256
             == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
                "b855");
}

BOOST_AUTO_TEST_CASE(an_empty_archive_round_trips) {
  auto r = read(make_archive({}));
  BOOST_REQUIRE_MESSAGE(r.members, why(r));
  BOOST_TEST(r.members->empty());
}

BOOST_AUTO_TEST_CASE(a_key_file_archive_needs_that_key) {
  archive_secret key{archive_secret::kind::key, std::string(32, '\x11')};
  auto archive = make_archive(sample, key);
  auto r = read(archive, key);
  BOOST_REQUIRE_MESSAGE(r.members, why(r));
  BOOST_TEST((r.seen == sample));
  auto other = key;
  other.value[31] = '\x12';
  auto wrong = read(archive, other);
  BOOST_TEST(!wrong.members);
  BOOST_TEST(why(wrong).find("wrong passphrase or key") != std::string::npos,
             why(wrong));
  BOOST_TEST(wrong.seen.empty());
  // A passphrase for a key-file archive: told which one it needs.
  auto kind = read(archive, passphrase);
  BOOST_TEST(why(kind).find("--key-file") != std::string::npos, why(kind));
}

BOOST_AUTO_TEST_CASE(a_wrong_passphrase_is_refused_before_any_member) {
  auto archive = make_archive(sample);
  auto r = read(archive, {archive_secret::kind::passphrase, "Tr0ub4dor&3"});
  BOOST_TEST(!r.members);
  BOOST_TEST(why(r).find("wrong passphrase or key") != std::string::npos,
             why(r));
  BOOST_TEST(r.seen.empty());
}

BOOST_AUTO_TEST_CASE(every_flipped_byte_is_detected) {
  auto archive = make_archive(sample);
  // Bytes of the header, of the first chunk's record head, nonce, body and
  // tag, of a middle chunk and of the last byte.
  for (size_t pos : {size_t{0}, size_t{8}, size_t{10}, size_t{30},
                     size_t{70}, size_t{75}, size_t{90}, size_t{70 + 65536},
                     archive.size() / 2, archive.size() - 1}) {
    auto copy = archive;
    copy[pos] ^= 0x01;
    auto r = read(copy);
    BOOST_TEST(!r.members, "flipped byte " << pos << " went unnoticed");
  }
}

BOOST_AUTO_TEST_CASE(truncation_at_any_point_is_detected) {
  auto archive = make_archive(sample);
  // Chunks are 65,536 + 33 bytes: cut at chunk boundaries too.
  const size_t record = 1 + 4 + 12 + 65536 + 16;
  for (size_t len : {size_t{0}, size_t{10}, size_t{67}, size_t{67 + record},
                     size_t{67 + 2 * record}, archive.size() - 16,
                     archive.size() - 1}) {
    auto r = read(archive.substr(0, len));
    BOOST_TEST(!r.members, "cut at " << len << " went unnoticed");
  }
  auto cut = read(archive.substr(0, 67 + 2 * record));
  BOOST_TEST(why(cut).find("truncated") != std::string::npos, why(cut));
  auto appended = read(archive + "x");
  BOOST_TEST(!appended.members);
}

BOOST_AUTO_TEST_CASE(reordered_or_dropped_chunks_are_detected) {
  auto archive = make_archive(sample);
  const size_t record = 1 + 4 + 12 + 65536 + 16;
  auto header = archive.substr(0, 67);
  auto c0 = archive.substr(67, record);
  auto c1 = archive.substr(67 + record, record);
  auto rest = archive.substr(67 + 2 * record);
  auto swapped = read(header + c1 + c0 + rest);
  BOOST_TEST(!swapped.members);
  BOOST_TEST(why(swapped).find("chunk 0 fails authentication")
               != std::string::npos,
             why(swapped));
  auto dropped = read(header + c0 + rest);
  BOOST_TEST(!dropped.members);
  // A chunk of another archive under the same passphrase: another salt,
  // another key.
  auto other = make_archive(sample);
  auto spliced = read(header + c0 + other.substr(67 + record, record) + rest);
  BOOST_TEST(!spliced.members);
}

BOOST_AUTO_TEST_CASE(no_member_name_escapes_its_folder) {
  for (auto bad : {"", "/etc/passwd", "../x", "a/../b", "a//b", "a/", ".",
                   "a b", "a\nb"})
    BOOST_TEST(!valid_member_name(bad), "'" << bad << "' accepted");
  for (auto good : {"database.sql", "ca/ca.crt", "secrets/data-keys",
                    "pki/node_1.key"})
    BOOST_TEST(valid_member_name(good), "'" << good << "' refused");
  std::string out;
  auto writer = archive_writer::start(
    passphrase,
    [&out](std::string_view bytes) {
      out.append(bytes.data(), bytes.size());
      return caf::error{};
    },
    fast);
  BOOST_REQUIRE(writer);
  BOOST_TEST(writer->begin("../etc/passwd", 0600));
  BOOST_TEST(writer->begin(manifest_name, 0600));
}

BOOST_AUTO_TEST_SUITE_END()
