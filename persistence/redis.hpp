#pragma once

#include "config/settings.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;

namespace herald::persistence {

namespace detail {
class tls_tunnel;
} // namespace detail

/// A Redis reply, copied out of hiredis.
struct redis_reply {
  enum class kind { nil, status, string, integer, array };
  kind type = kind::nil;
  /// Payload of status and string replies.
  std::string str;
  int64_t integer = 0;
  std::vector<redis_reply> elements;
};

/// One blocking connection to Redis (hiredis). Use it from dedicated I/O
/// threads or detached actors only. Arguments are always sent as binary-safe
/// bulk strings, never formatted into a command line.
class redis_connection {
public:
  /// Connects once (and authenticates when a password is configured).
  static caf::expected<redis_connection>
  connect(const config::redis_config& cfg);

  /// Connects, retrying every 250 ms until cfg.connect_timeout has passed.
  static caf::expected<redis_connection>
  connect_with_retry(const config::redis_config& cfg);

  redis_connection(redis_connection&& other) noexcept;
  redis_connection& operator=(redis_connection&& other) noexcept;
  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;
  ~redis_connection();

  /// Sends one command and waits for its reply. An error reply from Redis
  /// becomes an error; so does a broken connection (reconnect then).
  caf::expected<redis_reply> command(const std::vector<std::string>& argv);

  /// Sends all `commands` in one round trip and returns their replies in
  /// order. Fails when any of them fails.
  caf::expected<std::vector<redis_reply>>
  pipeline(const std::vector<std::vector<std::string>>& commands);

  /// Checks that the server answers PING.
  caf::error ping();

private:
  redis_connection(redisContext* ctx,
                   std::unique_ptr<detail::tls_tunnel> tunnel);

  redisContext* ctx_ = nullptr;
  /// Carries the connection over TLS when redis.tls-ca is set.
  std::unique_ptr<detail::tls_tunnel> tunnel_;
};

} // namespace herald::persistence
