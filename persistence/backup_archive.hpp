#pragma once

#include <caf/expected.hpp>

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace herald::persistence {

/// The encrypted backup archive of `heraldctl backup` (docs/OPERATIONS.md,
/// "Archive format"): a clear header (magic, version, key derivation, salt,
/// key check), then AES-256-GCM chunks of 64 KiB plaintext, each with its
/// own random nonce and tag and with the header, its index and a final flag
/// in its associated data: a changed byte, a reordered, missing or added
/// chunk and a cut-off end all fail. The plaintext is a sequence of named
/// members, the last one a manifest with each member's size and SHA-256.

/// Where an archive's key comes from.
struct archive_secret {
  enum class kind : uint8_t { passphrase = 1, key = 2 };
  kind type = kind::passphrase;
  /// The passphrase, or 32 raw key bytes.
  std::string value;
};

/// Cost of scrypt for passphrase archives: N = 2^log2_n, r, p. The default
/// takes 64 MiB and about a quarter of a second.
struct scrypt_params {
  uint8_t log2_n = 16;
  uint32_t r = 8;
  uint32_t p = 1;
};

/// One member as the manifest lists it.
struct archive_member {
  std::string name;
  uint32_t mode = 0600;
  uint64_t size = 0;
  /// SHA-256 of the contents, lower-case hex.
  std::string sha256;
};

/// The name of the last member; no other member may take it.
inline constexpr const char* manifest_name = "MANIFEST";

/// Whether `name` may name a member: 1 to 255 characters of [A-Za-z0-9._-]
/// in '/'-separated parts, none of them empty, "." or "..".
bool valid_member_name(std::string_view name);

/// Writes an archive, member by member, to a sink.
class archive_writer {
public:
  /// Receives the archive's bytes in order.
  using sink = std::function<caf::error(std::string_view)>;

  /// Derives the key (scrypt for a passphrase) and writes the header.
  static caf::expected<archive_writer> start(const archive_secret& secret,
                                             sink out,
                                             scrypt_params params = {});

  archive_writer(archive_writer&&) noexcept;
  archive_writer& operator=(archive_writer&&) noexcept;
  ~archive_writer();

  /// Starts member `name` with file mode `mode`.
  caf::error begin(const std::string& name, uint32_t mode);

  /// Appends to the member begun last.
  caf::error write(std::string_view data);

  /// Ends the member begun last.
  caf::error end();

  /// Adds the manifest and the final chunk; the archive is complete once
  /// this succeeded. Returns the members (the manifest aside).
  caf::expected<std::vector<archive_member>> finish();

  /// Bytes handed to the sink so far.
  uint64_t written() const;

private:
  struct impl;
  explicit archive_writer(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

/// Receives the members of an archive as read_archive() decrypts them.
struct archive_visitor {
  std::function<caf::error(const std::string& name, uint32_t mode)> begin;
  std::function<caf::error(std::string_view data)> data;
  std::function<caf::error()> end;
};

/// Reads and checks a whole archive: the key check, every chunk's tag and
/// position, the final chunk and nothing after it, and every member against
/// the manifest. Members go to `visitor` as they are decrypted: what it got
/// counts only once this returned the members (the manifest aside).
caf::expected<std::vector<archive_member>>
read_archive(std::istream& in, const archive_secret& secret,
             const archive_visitor& visitor);

} // namespace herald::persistence
