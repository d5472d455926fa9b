#pragma once

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace herald::persistence {

/// Shortest password the policy accepts, in characters (UTF-8 code points).
constexpr size_t min_password_chars = 12;

/// Longest password the policy accepts, in bytes: libxcrypt refuses
/// passphrases of CRYPT_MAX_PASSPHRASE_SIZE (512) bytes or more, and a
/// password it cannot hash must not be accepted.
constexpr size_t max_password_bytes = 511;

/// The yescrypt cost: 7 ("$y$jBT$") takes 64 MiB and about 100 ms of CPU
/// per hash or verification on the development machine (Debian's default
/// for /etc/shadow, 5, takes 16 MiB and 28 ms; each step doubles both).
/// Callers run them on threads of their own, never on an actor thread
/// (docs/OPERATIONS.md, "Users").
constexpr unsigned long yescrypt_cost = 7;

/// Checks `password` for account `username` against the policy: at least
/// min_password_chars characters, at most max_password_bytes bytes, no NUL
/// byte, not the user name and (for names of 3 or more characters) not
/// containing it, ignoring case; not a common password, nor one followed by
/// digits and symbols only, nor one repeated. The error names the rule.
caf::error check_password(std::string_view password,
                          std::string_view username);

/// A yescrypt hash of `password` with a fresh random salt, in the crypt(5)
/// format ("$y$jBT$<salt>$<hash>"). Blocks for the cost of one hash.
caf::expected<std::string> hash_password(std::string_view password);

/// Whether `password` matches `hash`, a yescrypt hash from hash_password
/// (any cost). Anything else (empty, "*", other methods, tampered) never
/// matches. Compares in constant time; blocks for the cost of one hash.
bool verify_password(std::string_view password, const std::string& hash);

/// A random password of 24 characters from a-z, A-Z and 2-9 without the
/// look-alikes l, I, O (~140 bits).
caf::expected<std::string> generate_password();

/// A generate_password() that passes check_password() for `username`
/// (a draw contains a short name about once in a thousand: a few draws).
caf::expected<std::string> generate_password_for(std::string_view username);

} // namespace herald::persistence
