#include "persistence/crypto.hpp"

#include "config/secrets.hpp"
#include "core/errc.hpp"
#include "core/hex.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

namespace herald::persistence {

namespace {

constexpr size_t nonce_size = 12;
constexpr size_t tag_size = 16;

using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

caf::error crypto_error(const char* what) {
  return make_error(errc::invalid_input, std::string{"crypto: "} + what);
}

} // namespace

// -- key ring -------------------------------------------------------------------

caf::expected<key_ring> key_ring::parse(std::string_view text,
                                        const std::string& origin) {
  key_ring result;
  std::istringstream in{std::string{text}};
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    auto hash = line.find('#');
    if (hash != std::string::npos)
      line.erase(hash);
    std::istringstream fields{line};
    std::string id_text;
    std::string hex;
    if (!(fields >> id_text))
      continue;
    data_key key;
    auto bad = [&](const std::string& why) {
      return make_error(errc::invalid_config, origin + ", line "
                                                + std::to_string(line_no)
                                                + ": " + why);
    };
    char* end = nullptr;
    auto id = std::strtoul(id_text.c_str(), &end, 10);
    if (*end != '\0' || id == 0 || id > 0xFFFFFFFFul)
      return bad("key id must be a number from 1 to 4294967295");
    key.id = static_cast<uint32_t>(id);
    if (!(fields >> hex) || !decode_hex(hex, key.bytes))
      return bad("key must be 64 hex digits (32 bytes)");
    if (result.find(key.id) != nullptr)
      return bad("duplicate key id " + id_text);
    result.keys_.push_back(key);
  }
  if (result.keys_.empty())
    return make_error(errc::invalid_config,
                      origin + ": no keys; create one with heraldctl keys "
                               "rotate");
  std::sort(result.keys_.begin(), result.keys_.end(),
            [](const auto& x, const auto& y) { return x.id < y.id; });
  return result;
}

caf::expected<key_ring> key_ring::load(const std::string& path) {
  auto text = config::read_secret("crypto.keys-file", path,
                                  "HERALD_DATA_KEYS");
  if (!text)
    return text.error();
  if (text->empty())
    return make_error(errc::invalid_config,
                      "crypto.keys-file: not set; point it at a key file or "
                      "set HERALD_DATA_KEYS");
  return parse(*text, "crypto.keys-file");
}

caf::expected<uint32_t> key_ring::rotate(const std::string& path) {
  auto lock_path = path + ".lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0)
    return make_error(errc::io_failure, "cannot open " + lock_path);
  // Released when the descriptor closes, also on every early return.
  std::unique_ptr<int, void (*)(int*)> unlock{&lock_fd,
                                              [](int* fd) { ::close(*fd); }};
  if (::flock(lock_fd, LOCK_EX) != 0)
    return make_error(errc::io_failure, "cannot lock " + lock_path);
  std::string existing;
  uint32_t next_id = 1;
  if (std::ifstream in{path}; in) {
    existing.assign(std::istreambuf_iterator<char>{in}, {});
    auto ring = parse(existing, path);
    if (!ring)
      return ring.error();
    next_id = ring->active().id + 1;
  }
  std::array<uint8_t, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    return crypto_error("no randomness for a new key");
  if (!existing.empty() && existing.back() != '\n')
    existing += '\n';
  existing += std::to_string(next_id) + " "
              + encode_hex(bytes.data(), bytes.size()) + "\n";
  auto tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0)
    return make_error(errc::io_failure, "cannot write " + tmp);
  ::fchmod(fd, 0600);
  bool ok = ::write(fd, existing.data(), existing.size())
              == static_cast<ssize_t>(existing.size())
            && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return make_error(errc::io_failure, "cannot write " + path);
  }
  return next_id;
}

// -- live key ring ---------------------------------------------------------------

namespace {

/// Modification time (ns), size and inode of `path`; all -1 when it has
/// none.
std::array<int64_t, 3> file_version(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0)
    return {-1, -1, -1};
  return {static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000
            + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_size), static_cast<int64_t>(st.st_ino)};
}

} // namespace

live_key_ring::live_key_ring(std::string path, key_ring ring)
  : path_(std::move(path)),
    ring_(std::make_shared<const key_ring>(std::move(ring))),
    version_(file_version(path_)) {
  // nop
}

caf::expected<std::shared_ptr<live_key_ring>>
live_key_ring::load(const std::string& path) {
  auto ring = key_ring::load(path);
  if (!ring)
    return ring.error();
  return std::shared_ptr<live_key_ring>{
    new live_key_ring(path, std::move(*ring))};
}

std::shared_ptr<const key_ring> live_key_ring::current() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return ring_;
}

caf::error live_key_ring::refresh() {
  auto version = file_version(path_);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (version == version_)
      return caf::none;
  }
  auto ring = key_ring::load(path_);
  if (!ring)
    return ring.error();
  std::lock_guard<std::mutex> guard{mtx_};
  ring_ = std::make_shared<const key_ring>(std::move(*ring));
  version_ = version;
  return caf::none;
}

const data_key* key_ring::find(uint32_t id) const {
  for (const auto& key : keys_)
    if (key.id == id)
      return &key;
  return nullptr;
}

// -- AES-256-GCM ------------------------------------------------------------------

caf::expected<sealed_body> seal(const data_key& key, std::string_view plaintext,
                                std::string_view aad) {
  sealed_body result;
  result.key_id = key.id;
  result.nonce.resize(nonce_size);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(result.nonce.data()),
                 nonce_size)
      != 1)
    return crypto_error("no randomness for a nonce");
  cipher_ctx ctx{EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free};
  result.ciphertext.resize(plaintext.size() + tag_size);
  auto* out = reinterpret_cast<unsigned char*>(result.ciphertext.data());
  int len = 0;
  int total = 0;
  bool ok
    = ctx
      && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                            key.bytes.data(),
                            reinterpret_cast<const unsigned char*>(
                              result.nonce.data()))
           == 1
      && EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                           reinterpret_cast<const unsigned char*>(aad.data()),
                           static_cast<int>(aad.size()))
           == 1
      && EVP_EncryptUpdate(
           ctx.get(), out, &len,
           reinterpret_cast<const unsigned char*>(plaintext.data()),
           static_cast<int>(plaintext.size()))
           == 1
      && (total = len, EVP_EncryptFinal_ex(ctx.get(), out + total, &len) == 1)
      && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_size,
                             out + total + len)
           == 1;
  if (!ok)
    return crypto_error("encryption failed");
  return result;
}

caf::expected<std::string> open(const key_ring& keys, const sealed_body& body,
                                std::string_view aad) {
  auto key = keys.find(body.key_id);
  if (key == nullptr)
    return make_error(errc::not_found,
                      "crypto: unknown data key id "
                        + std::to_string(body.key_id)
                        + "; copy the key file from the node that rotated "
                          "it (heraldctl keys rotate)");
  return open(*key, body, aad);
}

caf::expected<std::string> open(const data_key& key, const sealed_body& body,
                                std::string_view aad) {
  if (body.nonce.size() != nonce_size || body.ciphertext.size() < tag_size)
    return crypto_error("malformed sealed body");
  auto size = body.ciphertext.size() - tag_size;
  std::string result(size, '\0');
  auto* in = reinterpret_cast<const unsigned char*>(body.ciphertext.data());
  auto* out = reinterpret_cast<unsigned char*>(result.data());
  cipher_ctx ctx{EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free};
  int len = 0;
  bool ok
    = ctx
      && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                            key.bytes.data(),
                            reinterpret_cast<const unsigned char*>(
                              body.nonce.data()))
           == 1
      && EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                           reinterpret_cast<const unsigned char*>(aad.data()),
                           static_cast<int>(aad.size()))
           == 1
      && EVP_DecryptUpdate(ctx.get(), out, &len, in, static_cast<int>(size))
           == 1
      && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_size,
                             const_cast<unsigned char*>(in + size))
           == 1
      && EVP_DecryptFinal_ex(ctx.get(), out + len, &len) == 1;
  if (!ok)
    return crypto_error("authentication failed: wrong key or tampered data");
  return result;
}

// -- hashes -------------------------------------------------------------------------

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md,
       &len);
  return {reinterpret_cast<const char*>(md), len};
}

std::string sha256(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return {reinterpret_cast<const char*>(md), sizeof(md)};
}

std::string request_hash(std::string_view pepper, std::string_view sender,
                         std::string_view body) {
  std::string input{"herald.request\0", 15};
  input += sender;
  input += '\0';
  input += body;
  return hmac_sha256(pepper, input);
}

size_t e164_country_code_length(std::string_view number) {
  if (number.size() < 3 || number[0] != '+')
    return 0;
  if (number[1] == '1' || number[1] == '7')
    return 1;
  static constexpr std::string_view two_digit_codes[]
    = {"20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41",
       "43", "44", "45", "46", "47", "48", "49", "51", "52", "53", "54",
       "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66",
       "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"};
  auto prefix = number.substr(1, 2);
  for (auto code : two_digit_codes)
    if (prefix == code)
      return 2;
  return 3;
}

std::string mask_e164(std::string_view number) {
  auto cc = e164_country_code_length(number);
  // Never show more than the country code and two digits, also of numbers
  // too short to be valid.
  if (cc == 0 || number.size() < 1 + cc + 4)
    return "+****";
  return std::string{number.substr(0, 1 + cc)} + "****"
         + std::string{number.substr(number.size() - 2)};
}

} // namespace herald::persistence
