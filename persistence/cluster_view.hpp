#pragma once

#include "persistence/redis.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace herald::persistence {

/// What a cluster member records about itself in Redis (hash
/// `herald:cluster`, one field per node name) every rejoin interval, for
/// `heraldctl cluster status`, which is no member and reads it from there.
struct member_record {
  std::string name;
  std::vector<std::string> roles;
  std::string address;
  std::string version;
  uint32_t protocol = 0;
  /// Unix ms.
  int64_t started_at_ms = 0;
  /// When the member last wrote this record (Unix ms).
  int64_t heartbeat_ms = 0;
  /// The member's own health probe (MariaDB and Redis reachable).
  bool healthy = false;
  /// The members it is linked with.
  std::vector<std::string> peers;
  /// SHA-256 fingerprint of its node certificate (cluster.certificate): the
  /// inspector matches it with the certificates its links verified.
  std::string fingerprint;
  /// Ids in its processing list (not stored: read_members counts them).
  int64_t in_flight = 0;
};

/// Writes (or replaces) `x`.
caf::error record_member(redis_connection& redis, const member_record& x);

/// Removes the record of `name` (a member that left).
caf::error forget_member(redis_connection& redis, const std::string& name);

/// Every record with in_flight counted; a record that cannot be parsed
/// keeps only its name (heartbeat 0: heraldctl shows it unreadable).
caf::expected<std::vector<member_record>> read_members(redis_connection& redis);

/// The cluster's one lease (key `herald:cluster:lease`): its holder writes
/// the audit chain for every member and passes announced changes on.
/// Takes the lease for `name` when it is free, or renews it when `name`
/// holds it, for `ttl_ms`; returns the holder either way.
caf::expected<std::string> hold_lease(redis_connection& redis,
                                      const std::string& name, int64_t ttl_ms);

/// Frees the lease if `name` holds it (a member that was lost), so that a
/// live member takes it at once rather than when it lapses.
caf::error free_lease_of(redis_connection& redis, const std::string& name);

/// Announces that heraldctl changed what nodes reload (clients,
/// certificates, the CRL, the data keys): counts up `herald:changes`.
/// Returns the new count.
caf::expected<int64_t> announce_change(redis_connection& redis);

/// The count of changes announced so far (0: none yet).
caf::expected<int64_t> changes_announced(redis_connection& redis);

} // namespace herald::persistence
