#include "persistence/backup_archive.hpp"

#include "core/errc.hpp"
#include "core/hex.hpp"
#include "persistence/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace herald::persistence {

namespace {

constexpr char magic[8] = {'H', 'E', 'R', 'A', 'L', 'D', 'B', 'K'};
constexpr uint8_t format_version = 1;
constexpr size_t salt_size = 32;
constexpr size_t check_size = 16;
/// magic, version, kind, log2_n, r, p, salt, key check.
constexpr size_t header_size = 8 + 1 + 1 + 1 + 4 + 4 + salt_size + check_size;
constexpr size_t chunk_size = 64 * 1024;
constexpr size_t nonce_size = 12;
constexpr size_t tag_size = 16;
constexpr uint8_t final_flag = 1;
/// A member's data goes in pieces of at most this size.
constexpr size_t piece_size = 64 * 1024;
/// Bounds on scrypt parameters read from a header (at most 2 GiB of memory):
/// a forged header must not make a restore allocate without limit.
constexpr uint8_t max_log2_n = 20;
constexpr uint32_t max_r = 16;
constexpr uint32_t max_p = 4;

caf::error archive_error(const std::string& what) {
  return make_error(errc::invalid_input, "backup archive: " + what);
}

void put_u32(std::string& out, uint32_t x) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out += static_cast<char>((x >> shift) & 0xff);
}

void put_u64(std::string& out, uint64_t x) {
  put_u32(out, static_cast<uint32_t>(x >> 32));
  put_u32(out, static_cast<uint32_t>(x));
}

uint32_t get_u32(std::string_view in) {
  uint32_t x = 0;
  for (size_t i = 0; i < 4; ++i)
    x = x << 8 | static_cast<uint8_t>(in[i]);
  return x;
}

/// 32 bytes of archive key and 16 bytes of key check, from the secret:
/// scrypt(passphrase) or the key itself, through HKDF-SHA-256 with the
/// archive's salt (so a key file yields a fresh key per archive).
caf::expected<std::array<uint8_t, 48>>
derive(const archive_secret& secret, const std::string& salt,
       const scrypt_params& params) {
  std::string ikm;
  if (secret.type == archive_secret::kind::passphrase) {
    if (secret.value.empty())
      return archive_error("empty passphrase");
    ikm.resize(32);
    uint64_t n = uint64_t{1} << params.log2_n;
    uint64_t maxmem = 128 * uint64_t{params.r} * n * params.p + (1 << 20);
    auto* kdf = EVP_KDF_fetch(nullptr, "SCRYPT", nullptr);
    auto* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
    EVP_KDF_free(kdf);
    OSSL_PARAM p[] = {
      OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_PASSWORD, const_cast<char*>(secret.value.data()),
        secret.value.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                        const_cast<char*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R,
                                  const_cast<uint32_t*>(&params.r)),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P,
                                  const_cast<uint32_t*>(&params.p)),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end()};
    bool ok = ctx
              && EVP_KDF_derive(ctx, reinterpret_cast<uint8_t*>(ikm.data()),
                                ikm.size(), p)
                   == 1;
    EVP_KDF_CTX_free(ctx);
    if (!ok)
      return archive_error("scrypt failed (out of memory?)");
  } else {
    if (secret.value.size() != 32)
      return archive_error("the key must have 32 bytes");
    ikm = secret.value;
  }
  std::array<uint8_t, 48> out{};
  auto* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  auto* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  EVP_KDF_free(kdf);
  char digest[] = "SHA256";
  char info[] = "herald backup archive v1";
  OSSL_PARAM p[] = {
    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm.data(),
                                      ikm.size()),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                      const_cast<char*>(salt.data()),
                                      salt.size()),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info,
                                      sizeof(info) - 1),
    OSSL_PARAM_construct_end()};
  bool ok = ctx && EVP_KDF_derive(ctx, out.data(), out.size(), p) == 1;
  EVP_KDF_CTX_free(ctx);
  OPENSSL_cleanse(ikm.data(), ikm.size());
  if (!ok)
    return archive_error("HKDF failed");
  return out;
}

/// The associated data of chunk `index`: it binds the chunk to this
/// archive's header, its position and whether it is the last one.
std::string chunk_aad(const std::string& header, uint64_t index,
                      uint8_t flags) {
  auto result = header;
  put_u64(result, index);
  result += static_cast<char>(flags);
  return result;
}

/// Streaming SHA-256.
class sha256_stream {
public:
  sha256_stream() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }

  void update(std::string_view data) {
    EVP_DigestUpdate(ctx_.get(), data.data(), data.size());
  }

  std::string hex() {
    uint8_t md[32];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    return encode_hex(md, len);
  }

private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

std::string manifest_text(const std::vector<archive_member>& members) {
  std::ostringstream out;
  for (const auto& m : members) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", m.mode & 07777);
    out << m.sha256 << ' ' << m.size << ' ' << mode << ' ' << m.name << '\n';
  }
  return out.str();
}

} // namespace

bool valid_member_name(std::string_view name) {
  if (name.empty() || name.size() > 255)
    return false;
  size_t start = 0;
  while (start <= name.size()) {
    auto slash = name.find('/', start);
    auto part = name.substr(start, slash == std::string_view::npos
                                     ? std::string_view::npos
                                     : slash - start);
    if (part.empty() || part == "." || part == "..")
      return false;
    for (char c : part)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_'
          && c != '-')
        return false;
    if (slash == std::string_view::npos)
      break;
    start = slash + 1;
  }
  return true;
}

// -- writer -----------------------------------------------------------------------

struct archive_writer::impl {
  sink out;
  std::string header;
  data_key key;
  /// Plaintext not yet sealed into a chunk.
  std::string pending;
  uint64_t next_chunk = 0;
  uint64_t written = 0;
  std::vector<archive_member> members;
  bool in_member = false;
  bool finished = false;
  std::unique_ptr<sha256_stream> hash;

  ~impl() {
    OPENSSL_cleanse(key.bytes.data(), key.bytes.size());
  }

  caf::error emit(std::string_view bytes) {
    written += bytes.size();
    return out(bytes);
  }

  caf::error seal_chunk(std::string_view plain, uint8_t flags) {
    auto sealed = seal(key, plain, chunk_aad(header, next_chunk, flags));
    if (!sealed)
      return sealed.error();
    ++next_chunk;
    std::string record;
    record += static_cast<char>(flags);
    put_u32(record, static_cast<uint32_t>(sealed->ciphertext.size()));
    record += sealed->nonce;
    record += sealed->ciphertext;
    return emit(record);
  }

  /// Seals every full chunk of `pending`.
  caf::error flush_full() {
    size_t pos = 0;
    while (pending.size() - pos > chunk_size) {
      if (auto err = seal_chunk(std::string_view{pending}.substr(pos,
                                                                 chunk_size),
                                0))
        return err;
      pos += chunk_size;
    }
    pending.erase(0, pos);
    return {};
  }

  caf::error add_plain(std::string_view bytes) {
    pending.append(bytes.data(), bytes.size());
    return pending.size() > chunk_size ? flush_full() : caf::error{};
  }

  caf::error begin(const std::string& name, uint32_t mode) {
    if (finished || in_member)
      return archive_error("member '" + name + "' begun out of order");
    if (!valid_member_name(name))
      return archive_error("invalid member name '" + name + "'");
    std::string head;
    head += static_cast<char>(name.size() >> 8);
    head += static_cast<char>(name.size() & 0xff);
    head += name;
    put_u32(head, mode);
    in_member = true;
    hash = std::make_unique<sha256_stream>();
    members.push_back({name, mode, 0, {}});
    return add_plain(head);
  }

  caf::error write(std::string_view data) {
    if (!in_member)
      return archive_error("data outside a member");
    hash->update(data);
    members.back().size += data.size();
    while (!data.empty()) {
      auto n = std::min(data.size(), piece_size);
      std::string len;
      put_u32(len, static_cast<uint32_t>(n));
      if (auto err = add_plain(len))
        return err;
      if (auto err = add_plain(data.substr(0, n)))
        return err;
      data.remove_prefix(n);
    }
    return {};
  }

  caf::error end() {
    if (!in_member)
      return archive_error("end without a member");
    in_member = false;
    members.back().sha256 = hash->hex();
    std::string zero;
    put_u32(zero, 0);
    return add_plain(zero);
  }
};

archive_writer::archive_writer(std::unique_ptr<impl> ptr)
  : impl_(std::move(ptr)) {
  // nop
}

archive_writer::archive_writer(archive_writer&&) noexcept = default;
archive_writer& archive_writer::operator=(archive_writer&&) noexcept
  = default;
archive_writer::~archive_writer() = default;

caf::expected<archive_writer>
archive_writer::start(const archive_secret& secret, sink out,
                      scrypt_params params) {
  if (secret.type == archive_secret::kind::key)
    params = {0, 0, 0};
  std::string salt(salt_size, '\0');
  if (RAND_bytes(reinterpret_cast<uint8_t*>(salt.data()), salt_size) != 1)
    return archive_error("no randomness for a salt");
  auto okm = derive(secret, salt, params);
  if (!okm)
    return okm.error();
  auto ptr = std::make_unique<impl>();
  ptr->out = std::move(out);
  std::copy_n(okm->begin(), 32, ptr->key.bytes.begin());
  auto& h = ptr->header;
  h.assign(magic, sizeof(magic));
  h += static_cast<char>(format_version);
  h += static_cast<char>(secret.type);
  h += static_cast<char>(params.log2_n);
  put_u32(h, params.r);
  put_u32(h, params.p);
  h += salt;
  h.append(reinterpret_cast<const char*>(okm->data()) + 32, check_size);
  OPENSSL_cleanse(okm->data(), okm->size());
  if (auto err = ptr->emit(h))
    return err;
  return archive_writer{std::move(ptr)};
}

caf::error archive_writer::begin(const std::string& name, uint32_t mode) {
  if (name == manifest_name)
    return archive_error("the member name MANIFEST is reserved");
  return impl_->begin(name, mode);
}

caf::error archive_writer::write(std::string_view data) {
  return impl_->write(data);
}

caf::error archive_writer::end() {
  return impl_->end();
}

caf::expected<std::vector<archive_member>> archive_writer::finish() {
  auto members = impl_->members;
  auto text = manifest_text(members);
  if (auto err = impl_->begin(manifest_name, 0600))
    return err;
  if (auto err = impl_->write(text))
    return err;
  if (auto err = impl_->end())
    return err;
  impl_->finished = true;
  if (auto err = impl_->flush_full())
    return err;
  if (auto err = impl_->seal_chunk(impl_->pending, final_flag))
    return err;
  impl_->pending.clear();
  return members;
}

uint64_t archive_writer::written() const {
  return impl_->written;
}

// -- reader -----------------------------------------------------------------------

namespace {

/// The archive's plaintext, decrypted chunk by chunk on demand.
class plain_stream {
public:
  plain_stream(std::istream& in, std::string header, const data_key& key)
    : in_(in), header_(std::move(header)), key_(key) {
    // nop
  }

  /// Bytes decrypted and not yet taken.
  size_t available() const {
    return buf_.size() - pos_;
  }

  bool at_end() const {
    return final_seen_ && available() == 0;
  }

  /// Decrypts the next chunk; an error when there is none or it fails.
  caf::error pull() {
    if (final_seen_)
      return archive_error("it ends inside a member (chunk "
                           + std::to_string(index_) + " is the last)");
    char head[5];
    if (!in_.read(head, sizeof(head)))
      return archive_error("it ends early, after chunk "
                           + std::to_string(index_)
                           + ", without its final chunk: truncated");
    auto flags = static_cast<uint8_t>(head[0]);
    auto len = get_u32({head + 1, 4});
    if ((flags & ~final_flag) != 0 || len < tag_size
        || len > chunk_size + tag_size)
      return archive_error("chunk " + std::to_string(index_)
                           + " has a damaged record header");
    sealed_body body;
    body.nonce.resize(nonce_size);
    body.ciphertext.resize(len);
    if (!in_.read(body.nonce.data(), nonce_size)
        || !in_.read(body.ciphertext.data(), len))
      return archive_error("it ends inside chunk " + std::to_string(index_)
                           + ": truncated");
    auto plain = open(key_, body, chunk_aad(header_, index_, flags));
    if (!plain)
      return archive_error("chunk " + std::to_string(index_)
                           + " fails authentication: the archive was "
                             "damaged or altered");
    ++index_;
    buf_.erase(0, pos_);
    pos_ = 0;
    buf_ += *plain;
    if ((flags & final_flag) != 0) {
      final_seen_ = true;
      if (in_.peek() != std::char_traits<char>::eof())
        return archive_error("bytes follow its final chunk");
    }
    return {};
  }

  /// Takes exactly `n` bytes.
  caf::expected<std::string> take(size_t n) {
    while (available() < n)
      if (auto err = pull())
        return err;
    auto result = buf_.substr(pos_, n);
    pos_ += n;
    return result;
  }

  /// Takes up to `n` bytes (at least one).
  caf::expected<std::string_view> take_some(size_t n) {
    if (available() == 0)
      if (auto err = pull())
        return err;
    auto k = std::min(n, available());
    std::string_view result{buf_.data() + pos_, k};
    pos_ += k;
    return result;
  }

private:
  std::istream& in_;
  std::string header_;
  const data_key& key_;
  std::string buf_;
  size_t pos_ = 0;
  uint64_t index_ = 0;
  bool final_seen_ = false;
};

/// Parses the manifest's lines.
caf::expected<std::vector<archive_member>>
parse_manifest(const std::string& text) {
  std::vector<archive_member> result;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields{line};
    archive_member m;
    std::string mode;
    if (!(fields >> m.sha256 >> m.size >> mode >> m.name))
      return archive_error("malformed manifest line '" + line + "'");
    // Octal permission bits, at most 07777; never throws on bad text.
    char* end = nullptr;
    auto bits = std::strtoul(mode.c_str(), &end, 8);
    if (mode.empty() || *end != '\0' || bits > 07777)
      return archive_error("malformed mode in manifest line '" + line + "'");
    m.mode = static_cast<uint32_t>(bits);
    result.push_back(std::move(m));
  }
  return result;
}

} // namespace

caf::expected<std::vector<archive_member>>
read_archive(std::istream& in, const archive_secret& secret,
             const archive_visitor& visitor) {
  std::string header(header_size, '\0');
  if (!in.read(header.data(), header_size)
      || std::memcmp(header.data(), magic, sizeof(magic)) != 0)
    return archive_error("not a Herald backup archive (no HERALDBK header)");
  if (static_cast<uint8_t>(header[8]) != format_version)
    return archive_error("format version "
                         + std::to_string(static_cast<uint8_t>(header[8]))
                         + " is not known to this heraldctl; use a newer "
                           "one");
  auto type = static_cast<archive_secret::kind>(header[9]);
  if (type != secret.type)
    return archive_error(
      type == archive_secret::kind::passphrase
        ? "it was made with a passphrase: give --passphrase-file or "
          "HERALD_BACKUP_PASSPHRASE"
        : "it was made with a key file: give --key-file");
  scrypt_params params{static_cast<uint8_t>(header[10]),
                       get_u32({header.data() + 11, 4}),
                       get_u32({header.data() + 15, 4})};
  if (type == archive_secret::kind::passphrase
      && (params.log2_n < 10 || params.log2_n > max_log2_n || params.r == 0
          || params.r > max_r || params.p == 0 || params.p > max_p))
    return archive_error("its scrypt parameters are out of bounds: damaged "
                         "header");
  auto salt = header.substr(19, salt_size);
  auto okm = derive(secret, salt, params);
  if (!okm)
    return okm.error();
  data_key key;
  std::copy_n(okm->begin(), 32, key.bytes.begin());
  bool match = CRYPTO_memcmp(okm->data() + 32,
                             header.data() + 19 + salt_size, check_size)
               == 0;
  OPENSSL_cleanse(okm->data(), okm->size());
  if (!match) {
    OPENSSL_cleanse(key.bytes.data(), key.bytes.size());
    return archive_error("wrong passphrase or key for this archive (its key "
                         "check does not match)");
  }
  plain_stream plain{in, header, key};
  std::vector<archive_member> seen;
  std::string manifest;
  auto run = [&]() -> caf::error {
    for (;;) {
      auto name_len = plain.take(2);
      if (!name_len)
        return name_len.error();
      auto n = static_cast<size_t>(static_cast<uint8_t>((*name_len)[0])) << 8
               | static_cast<uint8_t>((*name_len)[1]);
      auto name = plain.take(n);
      if (!name)
        return name.error();
      if (!valid_member_name(*name))
        return archive_error("invalid member name");
      auto mode = plain.take(4);
      if (!mode)
        return mode.error();
      bool is_manifest = *name == manifest_name;
      archive_member m{*name, get_u32(*mode), 0, {}};
      if (!is_manifest)
        if (auto err = visitor.begin(m.name, m.mode))
          return err;
      sha256_stream hash;
      for (;;) {
        auto len = plain.take(4);
        if (!len)
          return len.error();
        auto remaining = static_cast<size_t>(get_u32(*len));
        if (remaining == 0)
          break;
        if (remaining > piece_size)
          return archive_error("member '" + m.name
                               + "' has an oversized piece");
        while (remaining > 0) {
          auto part = plain.take_some(remaining);
          if (!part)
            return part.error();
          remaining -= part->size();
          m.size += part->size();
          if (is_manifest) {
            manifest.append(part->data(), part->size());
          } else {
            hash.update(*part);
            if (auto err = visitor.data(*part))
              return err;
          }
        }
      }
      if (is_manifest)
        break;
      m.sha256 = hash.hex();
      if (auto err = visitor.end())
        return err;
      seen.push_back(std::move(m));
    }
    if (!plain.at_end())
      return plain.available() > 0
               ? archive_error("data follows the manifest")
               : archive_error("no final chunk after the manifest");
    return {};
  };
  auto err = run();
  OPENSSL_cleanse(key.bytes.data(), key.bytes.size());
  if (err)
    return err;
  auto listed = parse_manifest(manifest);
  if (!listed)
    return listed.error();
  if (listed->size() != seen.size())
    return archive_error("the manifest lists " + std::to_string(listed->size())
                         + " members, the archive holds "
                         + std::to_string(seen.size()));
  for (size_t i = 0; i < seen.size(); ++i) {
    const auto& a = (*listed)[i];
    const auto& b = seen[i];
    if (a.name != b.name || a.size != b.size || a.sha256 != b.sha256
        || a.mode != (b.mode & 07777))
      return archive_error("member '" + b.name
                           + "' does not match the manifest");
  }
  return seen;
}

} // namespace herald::persistence
