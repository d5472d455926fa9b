#pragma once

#include <caf/expected.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace herald::persistence {

/// One AES-256 key for message bodies, with the id stored beside each row.
struct data_key {
  uint32_t id = 0;
  std::array<uint8_t, 32> bytes{};
};

/// The data keys of a node: every key ever used (old rows stay readable) and
/// the active one for new rows. Loaded from a file (mode 0600) of lines
/// "<id> <64 hex digits>"; the highest id is active. '#' starts a comment.
class key_ring {
public:
  /// Parses the text of a key file; `origin` names it in errors.
  static caf::expected<key_ring> parse(std::string_view text,
                                       const std::string& origin);

  /// Loads `path` (refused when group or others may read it), or the
  /// contents of environment variable HERALD_DATA_KEYS when set.
  static caf::expected<key_ring> load(const std::string& path);

  /// Appends a new random key with the next id to `path` (created when
  /// missing), atomically and with mode 0600, holding an exclusive lock on
  /// `path`.lock so that two runs at once cannot both add the same id or
  /// lose a key. Returns the new id.
  static caf::expected<uint32_t> rotate(const std::string& path);

  const data_key& active() const {
    return keys_.back();
  }

  /// Returns the key with `id`, or nullptr.
  const data_key* find(uint32_t id) const;

private:
  /// Sorted by id; never empty.
  std::vector<data_key> keys_;
};

/// The key ring of a running node, read again when its file changes, so
/// that a key added by `heraldctl keys rotate` reaches every node without a
/// restart. Shared by the threads that seal and open; current() is cheap.
class live_key_ring {
public:
  /// Loads `path` (or HERALD_DATA_KEYS) as key_ring::load does.
  static caf::expected<std::shared_ptr<live_key_ring>>
  load(const std::string& path);

  /// The ring in force.
  std::shared_ptr<const key_ring> current() const;

  /// Reads the file again if it changed. On an error (e.g. a half-written
  /// file) the ring in force stays and the error is returned.
  caf::error refresh();

private:
  live_key_ring(std::string path, key_ring ring);

  std::string path_;
  mutable std::mutex mtx_;
  std::shared_ptr<const key_ring> ring_;
  /// What the file looked like when it was read: modification time (ns),
  /// size and inode (heraldctl replaces it by a rename).
  std::array<int64_t, 3> version_{-1, -1, -1};
};

/// A message body at rest: AES-256-GCM with a random 96-bit nonce.
struct sealed_body {
  uint32_t key_id = 0;
  std::string nonce;
  /// Ciphertext followed by the 16-byte tag.
  std::string ciphertext;
};

/// Encrypts `plaintext`, binding `aad` (the message id) to it.
caf::expected<sealed_body> seal(const data_key& key, std::string_view plaintext,
                                std::string_view aad);

/// Decrypts and authenticates; fails on a wrong key, id or any tampering.
caf::expected<std::string> open(const key_ring& keys, const sealed_body& body,
                                std::string_view aad);

/// Decrypts and authenticates under `key` itself (its id is not checked).
caf::expected<std::string> open(const data_key& key, const sealed_body& body,
                                std::string_view aad);

/// HMAC-SHA-256 of `data` under `key`, as 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

/// SHA-256 of `data`, as 32 raw bytes.
std::string sha256(std::string_view data);

/// What tells a replayed submission from a reused Idempotency-Key: an
/// HMAC under the pepper, so the stored value cannot be matched against
/// guessed numbers and bodies.
std::string request_hash(std::string_view pepper, std::string_view sender,
                         std::string_view body);

/// The length of the E.164 country code that starts `number` ("+4915..."
/// -> 2), by the ITU's assignment: 1 and 7 have one digit, a fixed list two,
/// all others three.
size_t e164_country_code_length(std::string_view number);

/// A display form of an E.164 number that keeps the country code and the
/// last two digits only: "+4915112345678" -> "+49****78". Enough to tell a
/// user's own numbers apart, too little to find or dial one.
std::string mask_e164(std::string_view number);

} // namespace herald::persistence
