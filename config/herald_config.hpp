#pragma once

#include "config/settings.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace herald::config {

/// Where an installation keeps what a backup carries besides its databases,
/// as configured (an empty secret file: it comes from the environment).
struct state_paths {
  std::string keys_file;
  std::string pepper_file;
  std::string audit_key_file;
  std::string ca_dir;
  std::string crl_file;
};

/// The actor system configuration of heraldd and heraldctl. Options live in
/// single-level categories (node, ingress, metrics, mysql, redis, health,
/// log) so that they work from the INI file and the command line alike;
/// secrets are never options, only paths to files (or environment).
/// Registers every Herald message type.
class herald_config : public caf::actor_system_config {
public:
  herald_config();

  /// Converts the raw options to typed, validated settings and reads the
  /// secrets. The error names the offending setting.
  caf::expected<settings>
  make_settings(role_files files = role_files::checked) const;

  /// The [mysql] and [redis] settings alone, their passwords read: for
  /// heraldctl restore, which checks the databases before the other
  /// secrets exist. make_settings() includes them.
  caf::expected<mysql_config> make_mysql_settings() const;
  caf::expected<redis_config> make_redis_settings() const;

  /// Fills result.portal from [portal] and the ingress's limits (set
  /// before); reads the session key for the portal role only.
  caf::error make_portal_settings(settings& result) const;

  /// The files and folders of the installation's state; reads nothing.
  state_paths state_files() const;

  /// Rejects keys in Herald's categories that are no known option, so a typo
  /// in the INI file never goes unnoticed.
  caf::error check_unknown_keys() const;

  /// crypto.keys-file as configured: heraldctl keys rotate creates it, so
  /// it cannot wait for make_settings, which requires a key.
  const std::string& keys_file() const {
    return crypto_keys_file_;
  }

private:
  // Raw option values; see settings.hpp for their meaning and defaults.
  std::string node_name_;
  std::vector<std::string> node_roles_;
  caf::timespan node_shutdown_timeout_;
  std::string ingress_address_;
  int64_t ingress_port_;
  int64_t ingress_threads_;
  std::string ingress_certificate_;
  std::string ingress_key_;
  std::string ingress_ca_;
  std::string portal_address_;
  int64_t portal_port_;
  int64_t portal_threads_;
  std::string portal_certificate_;
  std::string portal_key_;
  std::string portal_session_key_file_;
  caf::timespan portal_session_ttl_;
  caf::timespan portal_session_max_age_;
  int64_t portal_max_failures_per_account_;
  int64_t portal_max_failures_per_ip_;
  caf::timespan portal_lockout_;
  std::string portal_bootstrap_dir_;
  std::string portal_chartjs_file_;
  int64_t portal_workers_;
  int64_t ingress_max_connections_;
  int64_t ingress_max_header_bytes_;
  int64_t ingress_max_body_bytes_;
  caf::timespan ingress_read_timeout_;
  std::string delivery_crl_file_;
  std::string crypto_audit_key_file_;
  std::string mysql_tls_ca_;
  std::string mysql_tls_certificate_;
  std::string mysql_tls_key_;
  std::string redis_tls_ca_;
  std::string redis_tls_certificate_;
  std::string redis_tls_key_;
  caf::timespan ingress_handshake_timeout_;
  caf::timespan ingress_max_connection_age_;
  int64_t ingress_max_connection_requests_;
  int64_t ingress_max_handshakes_per_ip_;
  caf::timespan ingress_idle_timeout_;
  int64_t ingress_max_message_chars_;
  double ingress_rate_limit_;
  double ingress_rate_burst_;
  caf::timespan ingress_accept_timeout_;
  int64_t store_batch_size_;
  caf::timespan store_batch_delay_;
  int64_t store_writers_;
  int64_t store_max_pending_;
  std::string crypto_keys_file_;
  std::string crypto_pepper_file_;
  caf::timespan recovery_interval_;
  caf::timespan recovery_accepting_grace_;
  caf::timespan recovery_clients_refresh_;
  std::string delivery_url_;
  std::string delivery_certificate_;
  std::string delivery_key_;
  std::string delivery_ca_;
  int64_t delivery_workers_;
  int64_t delivery_batch_;
  int64_t delivery_connections_;
  caf::timespan delivery_timeout_;
  caf::timespan delivery_retry_interval_;
  int64_t delivery_max_attempts_;
  caf::timespan delivery_max_age_;
  caf::timespan delivery_lease_ttl_;
  int64_t receiver_batch_size_;
  caf::timespan receiver_batch_delay_;
  int64_t receiver_writers_;
  int64_t receiver_max_pending_;
  std::vector<std::string> receiver_callers_;
  std::string metrics_address_;
  int64_t metrics_port_;
  std::string mysql_host_;
  int64_t mysql_port_;
  std::string mysql_socket_;
  std::string mysql_user_;
  std::string mysql_database_;
  std::string mysql_password_file_;
  caf::timespan mysql_connect_timeout_;
  caf::timespan mysql_io_timeout_;
  std::string redis_host_;
  int64_t redis_port_;
  std::string redis_password_file_;
  caf::timespan redis_connect_timeout_;
  caf::timespan redis_io_timeout_;
  caf::timespan health_interval_;
  caf::timespan health_probe_timeout_;
  std::string pki_ca_dir_;
  std::string pki_crl_file_;
  std::string pki_ca_passphrase_file_;
  int64_t pki_crl_days_;
  caf::timespan pki_crl_refresh_;
  std::string cluster_listen_;
  std::vector<std::string> cluster_seeds_;
  std::string cluster_certificate_;
  std::string cluster_key_;
  std::string cluster_ca_;
  caf::timespan cluster_heartbeat_interval_;
  caf::timespan cluster_connection_timeout_;
  caf::timespan cluster_rejoin_interval_;
  std::string log_level_;
  std::string log_file_;
  int64_t log_max_files_;
  bool log_json_;
};

/// Explains an error of caf::actor_system_config::parse for humans.
std::string describe_parse_error(const caf::error& err);

/// Loads the INI file `path` into `cfg`, as heraldctl does, and checks it for
/// unknown keys.
caf::error load_file(herald_config& cfg, const std::string& path);

} // namespace herald::config
