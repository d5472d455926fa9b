#pragma once

#include <cstddef>

namespace herald::persistence {

// Sizes of the columns that store what clients send, so that configuration
// can refuse limits the schema cannot hold (persistence/migrations).

/// messages.body_ciphertext and received_messages.body_ciphertext.
constexpr size_t max_sealed_bytes = 8192;

/// The sealed plaintext is "<sender>\n<body>" plus a 16-byte tag; a sender
/// has at most 16 bytes and a code point at most 4.
constexpr size_t max_message_chars = (max_sealed_bytes - 16 - 1 - 16) / 4;

/// delivery_attempts.node and the names of clients.
constexpr size_t max_name_chars = 64;

} // namespace herald::persistence
