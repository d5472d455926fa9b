#pragma once

#include "core/logging.hpp"

#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace herald::config {

using namespace std::chrono_literals;

/// PEM files of one TLS endpoint.
struct tls_files {
  std::string certificate;
  std::string key;
  /// The CA that signs the certificates peers must present.
  std::string ca;
};

/// The node itself.
struct node_config {
  /// Name in logs, metrics and (later) the cluster.
  std::string name = "herald-1";
  /// Roles this node plays; see docs/DESIGN.md.
  std::vector<std::string> roles{"ingress"};
  /// How long an orderly shutdown may take before the process gives up.
  caf::timespan shutdown_timeout = 10s;
};

/// The client-facing HTTPS listener (mutual TLS).
struct ingress_config {
  std::string address = "127.0.0.1";
  uint16_t port = 8443;
  /// I/O threads of the listener.
  size_t threads = 2;
  tls_files tls;
  size_t max_connections = 1024;
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 16 * 1024;
  /// Deadline for a TLS handshake and for each request to arrive whole.
  caf::timespan read_timeout = 10s;
  /// A kept-alive connection with no request for this long is closed.
  caf::timespan idle_timeout = 60s;
};

/// The Prometheus scrape endpoint (plain HTTP).
struct metrics_config {
  std::string address = "127.0.0.1";
  uint16_t port = 9464;
};

/// MySQL / MariaDB.
struct mysql_config {
  std::string host = "127.0.0.1";
  uint16_t port = 3306;
  /// Unix socket; used instead of host and port when set.
  std::string socket;
  std::string user = "herald";
  std::string database = "herald";
  /// Resolved secret (from password-file or HERALD_MYSQL_PASSWORD).
  std::string password;
  /// How long a node waits for the database at start.
  caf::timespan connect_timeout = 10s;
  /// Deadline of one network read or write.
  caf::timespan io_timeout = 5s;
};

/// Redis.
struct redis_config {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  /// Resolved secret (from password-file or HERALD_REDIS_PASSWORD).
  std::string password;
  caf::timespan connect_timeout = 10s;
  caf::timespan io_timeout = 5s;
};

/// Dependency probes behind /api/v1/health.
struct health_config {
  caf::timespan interval = 1s;
  /// A probe that takes longer counts as down.
  caf::timespan probe_timeout = 2s;
};

/// Everything a node or heraldctl needs, typed and validated.
struct settings {
  node_config node;
  ingress_config ingress;
  metrics_config metrics;
  mysql_config mysql;
  redis_config redis;
  health_config health;
  log::log_config log;

  /// Returns whether `role` is among node.roles.
  bool has_role(const std::string& role) const;
};

/// The roles a node can take.
const std::vector<std::string>& known_roles();

/// Checks every value and that every configured file is readable. The error
/// names the offending setting, e.g. "ingress.port: ...".
caf::error validate(const settings& cfg);

} // namespace herald::config
