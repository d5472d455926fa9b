#include "config/herald_config.hpp"

#include "core/messages.hpp"
#include "config/secrets.hpp"
#include "persistence/crypto.hpp"
#include "core/errc.hpp"

#include <caf/config_option_adder.hpp>
#include <caf/settings.hpp>

#include <cctype>
#include <cstring>
#include <fstream>

namespace herald::config {

namespace {

const char* const herald_categories[]
  = {"node",  "ingress", "metrics", "mysql",    "redis",
     "store", "crypto",  "health",  "recovery", "delivery", "log",
     "pki",  "receiver", "cluster", "portal"};

caf::expected<uint16_t> to_port(const char* setting, int64_t value) {
  if (value < 1 || value > 65535)
    return make_error(errc::invalid_config,
                      std::string{setting} + ": " + std::to_string(value)
                        + " is not a port between 1 and 65535");
  return static_cast<uint16_t>(value);
}

caf::expected<size_t> to_count(const char* setting, int64_t value) {
  if (value < 0)
    return make_error(errc::invalid_config,
                      std::string{setting} + ": must not be negative");
  return static_cast<size_t>(value);
}

} // namespace

herald_config::herald_config() {
  settings defaults;
  node_name_ = defaults.node.name;
  node_roles_ = defaults.node.roles;
  node_shutdown_timeout_ = defaults.node.shutdown_timeout;
  ingress_address_ = defaults.ingress.address;
  ingress_port_ = defaults.ingress.port;
  ingress_threads_ = static_cast<int64_t>(defaults.ingress.threads);
  ingress_max_connections_
    = static_cast<int64_t>(defaults.ingress.max_connections);
  ingress_max_header_bytes_
    = static_cast<int64_t>(defaults.ingress.max_header_bytes);
  ingress_max_body_bytes_
    = static_cast<int64_t>(defaults.ingress.max_body_bytes);
  ingress_read_timeout_ = defaults.ingress.read_timeout;
  ingress_handshake_timeout_ = defaults.ingress.handshake_timeout;
  ingress_max_connection_age_ = defaults.ingress.max_connection_age;
  ingress_max_connection_requests_
    = static_cast<int64_t>(defaults.ingress.max_connection_requests);
  ingress_max_handshakes_per_ip_
    = static_cast<int64_t>(defaults.ingress.max_handshakes_per_ip);
  ingress_idle_timeout_ = defaults.ingress.idle_timeout;
  ingress_max_message_chars_
    = static_cast<int64_t>(defaults.ingress.max_message_chars);
  ingress_rate_limit_ = defaults.ingress.rate_limit;
  ingress_rate_burst_ = defaults.ingress.rate_burst;
  ingress_accept_timeout_ = defaults.ingress.accept_timeout;
  const auto& portal = defaults.portal;
  portal_address_ = "127.0.0.1";
  portal_port_ = 8444;
  portal_threads_ = 2;
  portal_session_ttl_ = portal.session_ttl;
  portal_session_max_age_ = portal.session_max_age;
  portal_max_failures_per_account_
    = static_cast<int64_t>(portal.max_failures_per_account);
  portal_max_failures_per_ip_ = static_cast<int64_t>(portal.max_failures_per_ip);
  portal_lockout_ = portal.lockout;
  portal_bootstrap_dir_ = portal.bootstrap_dir;
  portal_chartjs_file_ = portal.chartjs_file;
  portal_workers_ = static_cast<int64_t>(portal.workers);
  store_batch_size_ = static_cast<int64_t>(defaults.store.batch_size);
  store_batch_delay_ = defaults.store.batch_delay;
  store_writers_ = static_cast<int64_t>(defaults.store.writers);
  store_max_pending_ = static_cast<int64_t>(defaults.store.max_pending);
  recovery_interval_ = defaults.recovery.interval;
  recovery_accepting_grace_ = defaults.recovery.accepting_grace;
  recovery_clients_refresh_ = defaults.recovery.clients_refresh;
  const auto& d = defaults.delivery;
  delivery_url_ = d.url;
  delivery_workers_ = static_cast<int64_t>(d.workers);
  delivery_batch_ = static_cast<int64_t>(d.batch);
  delivery_connections_ = static_cast<int64_t>(d.connections);
  delivery_timeout_ = d.timeout;
  delivery_retry_interval_ = d.retry_interval;
  delivery_max_attempts_ = static_cast<int64_t>(d.max_attempts);
  delivery_max_age_ = d.max_age;
  delivery_lease_ttl_ = d.lease_ttl;
  receiver_batch_size_ = static_cast<int64_t>(defaults.receiver.batch_size);
  receiver_batch_delay_ = defaults.receiver.batch_delay;
  receiver_writers_ = static_cast<int64_t>(defaults.receiver.writers);
  receiver_max_pending_ = static_cast<int64_t>(defaults.receiver.max_pending);
  receiver_callers_ = defaults.receiver.callers;
  metrics_address_ = defaults.metrics.address;
  metrics_port_ = defaults.metrics.port;
  mysql_host_ = defaults.mysql.host;
  mysql_port_ = defaults.mysql.port;
  mysql_user_ = defaults.mysql.user;
  mysql_database_ = defaults.mysql.database;
  mysql_connect_timeout_ = defaults.mysql.connect_timeout;
  mysql_io_timeout_ = defaults.mysql.io_timeout;
  redis_host_ = defaults.redis.host;
  redis_port_ = defaults.redis.port;
  redis_connect_timeout_ = defaults.redis.connect_timeout;
  redis_io_timeout_ = defaults.redis.io_timeout;
  health_interval_ = defaults.health.interval;
  health_probe_timeout_ = defaults.health.probe_timeout;
  pki_ca_dir_ = defaults.pki.ca_dir;
  pki_crl_file_ = defaults.pki.crl_file;
  pki_crl_days_ = defaults.pki.crl_days;
  pki_crl_refresh_ = defaults.pki.crl_refresh;
  cluster_heartbeat_interval_ = defaults.cluster.heartbeat_interval;
  cluster_connection_timeout_ = defaults.cluster.connection_timeout;
  cluster_rejoin_interval_ = defaults.cluster.rejoin_interval;
  log_level_ = defaults.log.level;
  log_max_files_ = defaults.log.max_files;
  log_json_ = defaults.log.json;
  opt_group{custom_options_, "node"}
    .add(node_name_, "name", "name of this node in logs and metrics")
    .add(node_roles_, "roles", "roles of this node, e.g. [\"ingress\"]")
    .add(node_shutdown_timeout_, "shutdown-timeout",
         "deadline of an orderly shutdown");
  opt_group{custom_options_, "ingress"}
    .add(ingress_address_, "address", "address of the HTTPS listener")
    .add(ingress_port_, "port", "port of the HTTPS listener")
    .add(ingress_threads_, "threads", "I/O threads of the HTTPS listener")
    .add(ingress_certificate_, "certificate", "server certificate (PEM)")
    .add(ingress_key_, "key", "server private key (PEM, mode 0600)")
    .add(ingress_ca_, "ca", "CA that signs client certificates (PEM)")
    .add(ingress_max_connections_, "max-connections",
         "open client connections at most")
    .add(ingress_max_header_bytes_, "max-header-bytes",
         "size of a request's headers at most")
    .add(ingress_max_body_bytes_, "max-body-bytes",
         "size of a request body at most")
    .add(ingress_max_handshakes_per_ip_, "max-handshakes-per-ip",
         "connections of one address still in the TLS handshake at most")
    .add(ingress_handshake_timeout_, "handshake-timeout",
         "deadline for the TLS handshake of a new connection")
    .add(ingress_read_timeout_, "read-timeout",
         "deadline for a whole request")
    .add(ingress_max_connection_age_, "max-connection-age",
         "connections are closed after an answer once this old")
    .add(ingress_max_connection_requests_, "max-connection-requests",
         "connections are closed after this many requests")
    .add(ingress_idle_timeout_, "idle-timeout",
         "idle kept-alive connections are closed after this")
    .add(ingress_max_message_chars_, "max-message-chars",
         "longest message body in Unicode code points")
    .add(ingress_rate_limit_, "rate-limit",
         "submissions per second and client (0: unlimited)")
    .add(ingress_rate_burst_, "rate-burst",
         "submissions a client may send at once above its rate")
    .add(ingress_accept_timeout_, "accept-timeout",
         "a submission not committed within this gets 503");
  opt_group{custom_options_, "portal"}
    .add(portal_address_, "address", "address of the portal's HTTPS listener")
    .add(portal_port_, "port", "port of the portal's HTTPS listener")
    .add(portal_threads_, "threads", "I/O threads of the portal's listener")
    .add(portal_certificate_, "certificate", "portal server certificate (PEM)")
    .add(portal_key_, "key", "its private key (PEM, mode 0600)")
    .add(portal_session_key_file_, "session-key-file",
         "key that signs session tokens, mode 0600 (or set "
         "HERALD_PORTAL_SESSION_KEY); the same on every portal node")
    .add(portal_session_ttl_, "session-ttl",
         "lifetime of a session token (refreshed in its second half)")
    .add(portal_session_max_age_, "session-max-age",
         "longest session after a login")
    .add(portal_max_failures_per_account_, "max-failures-per-account",
         "failed logins that lock an account")
    .add(portal_max_failures_per_ip_, "max-failures-per-ip",
         "failed logins that lock an IP address")
    .add(portal_lockout_, "lockout",
         "window of counted failures and length of a lock")
    .add(portal_bootstrap_dir_, "bootstrap-dir",
         "folder of Debian's libjs-bootstrap5")
    .add(portal_chartjs_file_, "chartjs-file",
         "Debian's Chart.js (libjs-chart.js) for the admin overview")
    .add(portal_workers_, "workers",
         "portal workers (MySQL, Redis and password checks)");
  opt_group{custom_options_, "store"}
    .add(store_batch_size_, "batch-size", "messages per group commit at most")
    .add(store_batch_delay_, "batch-delay",
         "longest wait of a message for its batch")
    .add(store_writers_, "writers", "MySQL connections writing batches")
    .add(store_max_pending_, "max-pending",
         "waiting submissions beyond this get 503");
  opt_group{custom_options_, "crypto"}
    .add(crypto_keys_file_, "keys-file",
         "data key file, mode 0600 (or set HERALD_DATA_KEYS)")
    .add(crypto_pepper_file_, "pepper-file",
         "sender-hash pepper file, mode 0600 (or set HERALD_SENDER_PEPPER)")
    .add(crypto_audit_key_file_, "audit-key-file",
         "audit chain HMAC key file, mode 0600 (or set HERALD_AUDIT_KEY)");
  opt_group{custom_options_, "recovery"}
    .add(recovery_interval_, "interval", "time between recovery sweeps")
    .add(recovery_accepting_grace_, "accepting-grace",
         "messages stuck unqueued for longer are rejected")
    .add(recovery_clients_refresh_, "clients-refresh",
         "how often clients and certificates are reloaded");
  opt_group{custom_options_, "metrics"}
    .add(metrics_address_, "address", "address of the /metrics endpoint")
    .add(metrics_port_, "port", "port of the /metrics endpoint");
  opt_group{custom_options_, "mysql"}
    .add(mysql_host_, "host", "MariaDB/MySQL host")
    .add(mysql_port_, "port", "MariaDB/MySQL port")
    .add(mysql_socket_, "socket", "Unix socket (instead of host and port)")
    .add(mysql_user_, "user", "database user")
    .add(mysql_database_, "database", "database name")
    .add(mysql_password_file_, "password-file",
         "file holding the password (or set HERALD_MYSQL_PASSWORD)")
    .add(mysql_connect_timeout_, "connect-timeout",
         "how long to wait for the database at start")
    .add(mysql_io_timeout_, "io-timeout", "deadline of one read or write")
    .add(mysql_tls_ca_, "tls-ca",
         "CA of the server's certificate: turns on verified TLS")
    .add(mysql_tls_certificate_, "tls-certificate",
         "client certificate for the server (PEM; optional)")
    .add(mysql_tls_key_, "tls-key", "its private key (PEM, mode 0600)");
  opt_group{custom_options_, "redis"}
    .add(redis_host_, "host", "Redis host")
    .add(redis_port_, "port", "Redis port")
    .add(redis_password_file_, "password-file",
         "file holding the password (or set HERALD_REDIS_PASSWORD)")
    .add(redis_connect_timeout_, "connect-timeout",
         "how long to wait for Redis at start")
    .add(redis_io_timeout_, "io-timeout", "deadline of one command")
    .add(redis_tls_ca_, "tls-ca",
         "CA of the server's certificate: turns on verified TLS")
    .add(redis_tls_certificate_, "tls-certificate",
         "client certificate for the server (PEM; optional)")
    .add(redis_tls_key_, "tls-key", "its private key (PEM, mode 0600)");
  opt_group{custom_options_, "delivery"}
    .add(delivery_url_, "url", "downstream endpoint (https://...)")
    .add(delivery_certificate_, "certificate",
         "client certificate presented downstream (PEM)")
    .add(delivery_key_, "key", "its private key (PEM, mode 0600)")
    .add(delivery_ca_, "ca", "CA that signs the downstream's certificate")
    .add(delivery_crl_file_, "crl-file",
         "CRL of that CA (empty: pki.crl-file; \"none\": no check)")
    .add(delivery_workers_, "workers", "delivery workers per node")
    .add(delivery_batch_, "batch", "messages a worker takes at once")
    .add(delivery_connections_, "connections",
         "concurrent connections (requests in flight) per worker")
    .add(delivery_timeout_, "timeout", "deadline of one attempt")
    .add(delivery_retry_interval_, "retry-interval",
         "time between attempts of a message")
    .add(delivery_max_attempts_, "max-attempts",
         "attempts at most (0: unlimited)")
    .add(delivery_max_age_, "max-age", "older messages fail as expired")
    .add(delivery_lease_ttl_, "lease-ttl",
         "a node silent for this long is dead");
  opt_group{custom_options_, "receiver"}
    .add(receiver_batch_size_, "batch-size",
         "received messages per group commit at most")
    .add(receiver_batch_delay_, "batch-delay",
         "longest wait of a received message for its batch")
    .add(receiver_writers_, "writers",
         "MySQL connections storing received messages")
    .add(receiver_max_pending_, "max-pending",
         "waiting deliveries beyond this get 503")
    .add(receiver_callers_, "callers",
         "SHA-256 fingerprints of the node certificates that may deliver "
         "(empty: every node certificate)");
  opt_group{custom_options_, "health"}
    .add(health_interval_, "interval", "time between dependency probes")
    .add(health_probe_timeout_, "probe-timeout",
         "a slower probe counts as down");
  opt_group{custom_options_, "pki"}
    .add(pki_ca_dir_, "ca-dir", "folder of ca.crt and ca.key (heraldctl)")
    .add(pki_crl_file_, "crl-file",
         "CRL that heraldctl publishes and nodes check (required)")
    .add(pki_crl_days_, "crl-days", "days a published CRL stays valid")
    .add(pki_crl_refresh_, "crl-refresh",
         "how often nodes look for a changed CRL")
    .add(pki_ca_passphrase_file_, "ca-passphrase-file",
         "file with ca.key's passphrase for the portal's certificate pages "
         "(mode 0600; or HERALD_CA_PASSPHRASE)");
  opt_group{custom_options_, "cluster"}
    .add(cluster_listen_, "listen",
         "host:port of this node's link listener (empty: no cluster)")
    .add(cluster_seeds_, "seeds", "host:port of members to join through")
    .add(cluster_certificate_, "certificate",
         "this node's certificate (heraldctl cert server)")
    .add(cluster_key_, "key", "its private key (mode 0600)")
    .add(cluster_ca_, "ca", "the CA of every member's certificate")
    .add(cluster_heartbeat_interval_, "heartbeat-interval",
         "keep-alive on idle links")
    .add(cluster_connection_timeout_, "connection-timeout",
         "silence after which a link counts as lost")
    .add(cluster_rejoin_interval_, "rejoin-interval",
         "how often a node re-announces itself and retries seeds");
  opt_group{custom_options_, "log"}
    .add(log_level_, "level", "trace, debug, info, warn, error or off")
    .add(log_file_, "file", "daily rotated log file (empty: console only)")
    .add(log_max_files_, "max-files", "rotated log files kept")
    .add(log_json_, "json", "log one JSON object per line");
  // CAF's workers poll for work, sleeping 50 us between attempts, before
  // they wait on a condition variable. On two cores shared with MariaDB
  // that polling costs more than it saves: wait almost at once.
  set("work-stealing.aggressive-poll-attempts", 10);
  set("work-stealing.moderate-poll-attempts", 0);
  add_error_category(caf::atom("herald"),
                     [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                       return render(make_error(static_cast<errc>(code),
                                                ctx.empty() ? std::string{}
                                                            : ctx.get_as<std::string>(0)));
                     });
  register_message_types(*this);
}

caf::expected<mysql_config> herald_config::make_mysql_settings() const {
  mysql_config my;
  my.host = mysql_host_;
  my.socket = mysql_socket_;
  if (my.socket.empty()) {
    auto port = to_port("mysql.port", mysql_port_);
    if (!port)
      return port.error();
    my.port = *port;
  }
  my.user = mysql_user_;
  my.database = mysql_database_;
  my.connect_timeout = mysql_connect_timeout_;
  my.io_timeout = mysql_io_timeout_;
  my.tls = {mysql_tls_certificate_, mysql_tls_key_, mysql_tls_ca_};
  auto mysql_password = read_secret("mysql.password-file",
                                    mysql_password_file_,
                                    "HERALD_MYSQL_PASSWORD");
  if (!mysql_password)
    return mysql_password.error();
  my.password = std::move(*mysql_password);
  return my;
}

caf::expected<redis_config> herald_config::make_redis_settings() const {
  redis_config rd;
  rd.host = redis_host_;
  auto redis_port = to_port("redis.port", redis_port_);
  if (!redis_port)
    return redis_port.error();
  rd.port = *redis_port;
  rd.connect_timeout = redis_connect_timeout_;
  rd.io_timeout = redis_io_timeout_;
  rd.tls = {redis_tls_certificate_, redis_tls_key_, redis_tls_ca_};
  auto redis_password = read_secret("redis.password-file",
                                    redis_password_file_,
                                    "HERALD_REDIS_PASSWORD");
  if (!redis_password)
    return redis_password.error();
  rd.password = std::move(*redis_password);
  return rd;
}

caf::error herald_config::make_portal_settings(settings& result) const {
  auto& p = result.portal;
  // Limits and deadlines as the ingress has them; no client certificate.
  p.listener = result.ingress;
  p.listener.setting = "portal";
  p.listener.require_client_certificate = false;
  p.listener.address = portal_address_;
  p.listener.tls = {portal_certificate_, portal_key_, {}};
  if (result.has_role("portal")) {
    auto port = to_port("portal.port", portal_port_);
    if (!port)
      return port.error();
    p.listener.port = *port;
    auto key = read_secret("portal.session-key-file", portal_session_key_file_,
                           "HERALD_PORTAL_SESSION_KEY");
    if (!key)
      return key.error();
    p.session_key = std::move(*key);
    // The admin pages issue certificates with the CA of pki.ca-dir.
    auto passphrase = read_secret("pki.ca-passphrase-file",
                                  pki_ca_passphrase_file_,
                                  "HERALD_CA_PASSPHRASE");
    if (!passphrase)
      return passphrase.error();
    result.pki.ca_passphrase = std::move(*passphrase);
  }
  auto threads = to_count("portal.threads", portal_threads_);
  if (!threads)
    return threads.error();
  p.listener.threads = *threads;
  auto workers = to_count("portal.workers", portal_workers_);
  if (!workers)
    return workers.error();
  p.workers = *workers;
  auto per_account = to_count("portal.max-failures-per-account",
                              portal_max_failures_per_account_);
  if (!per_account)
    return per_account.error();
  p.max_failures_per_account = *per_account;
  auto per_ip = to_count("portal.max-failures-per-ip",
                         portal_max_failures_per_ip_);
  if (!per_ip)
    return per_ip.error();
  p.max_failures_per_ip = *per_ip;
  p.session_ttl = portal_session_ttl_;
  p.session_max_age = portal_session_max_age_;
  p.lockout = portal_lockout_;
  p.bootstrap_dir = portal_bootstrap_dir_;
  p.chartjs_file = portal_chartjs_file_;
  return caf::none;
}

state_paths herald_config::state_files() const {
  return {crypto_keys_file_, crypto_pepper_file_, crypto_audit_key_file_,
          pki_ca_dir_, pki_crl_file_};
}

caf::expected<settings>
herald_config::make_settings(role_files files) const {
  settings result;
  result.node.name = node_name_;
  result.node.roles = node_roles_;
  result.node.shutdown_timeout = node_shutdown_timeout_;
  auto& in = result.ingress;
  in.address = ingress_address_;
  in.tls = {ingress_certificate_, ingress_key_, ingress_ca_};
  in.read_timeout = ingress_read_timeout_;
  in.handshake_timeout = ingress_handshake_timeout_;
  in.max_connection_age = ingress_max_connection_age_;
  in.idle_timeout = ingress_idle_timeout_;
  // Ports are only checked for the roles that listen.
  if (result.has_role("ingress") || result.has_role("receiver")) {
    auto port = to_port("ingress.port", ingress_port_);
    if (!port)
      return port.error();
    in.port = *port;
  }
  auto threads = to_count("ingress.threads", ingress_threads_);
  if (!threads)
    return threads.error();
  auto max_conns = to_count("ingress.max-connections",
                            ingress_max_connections_);
  if (!max_conns)
    return max_conns.error();
  auto max_handshakes = to_count("ingress.max-handshakes-per-ip",
                                 ingress_max_handshakes_per_ip_);
  if (!max_handshakes)
    return max_handshakes.error();
  in.max_handshakes_per_ip = *max_handshakes;
  auto max_requests = to_count("ingress.max-connection-requests",
                               ingress_max_connection_requests_);
  if (!max_requests)
    return max_requests.error();
  in.max_connection_requests = *max_requests;
  auto max_header = to_count("ingress.max-header-bytes",
                             ingress_max_header_bytes_);
  if (!max_header)
    return max_header.error();
  auto max_body = to_count("ingress.max-body-bytes", ingress_max_body_bytes_);
  if (!max_body)
    return max_body.error();
  auto metrics_port = to_port("metrics.port", metrics_port_);
  if (!metrics_port)
    return metrics_port.error();
  in.threads = *threads;
  auto max_chars = to_count("ingress.max-message-chars",
                            ingress_max_message_chars_);
  if (!max_chars)
    return max_chars.error();
  in.max_message_chars = *max_chars;
  in.rate_limit = ingress_rate_limit_;
  in.rate_burst = ingress_rate_burst_;
  in.accept_timeout = ingress_accept_timeout_;
  auto batch_size = to_count("store.batch-size", store_batch_size_);
  if (!batch_size)
    return batch_size.error();
  auto writers = to_count("store.writers", store_writers_);
  if (!writers)
    return writers.error();
  auto max_pending = to_count("store.max-pending", store_max_pending_);
  if (!max_pending)
    return max_pending.error();
  result.store = {*batch_size, store_batch_delay_, *writers, *max_pending};
  result.recovery = {recovery_interval_, recovery_accepting_grace_,
                     recovery_clients_refresh_};
  auto& dl = result.delivery;
  dl.url = delivery_url_;
  dl.tls = {delivery_certificate_, delivery_key_, delivery_ca_};
  dl.crl_file = delivery_crl_file_;
  auto workers_count = to_count("delivery.workers", delivery_workers_);
  if (!workers_count)
    return workers_count.error();
  auto batch = to_count("delivery.batch", delivery_batch_);
  if (!batch)
    return batch.error();
  if (delivery_connections_ < 1)
    return make_error(errc::invalid_config,
                      "delivery.connections: must be at least 1");
  auto max_attempts = to_count("delivery.max-attempts",
                               delivery_max_attempts_);
  if (!max_attempts)
    return max_attempts.error();
  dl.workers = *workers_count;
  dl.batch = *batch;
  dl.connections = static_cast<size_t>(delivery_connections_);
  dl.max_attempts = *max_attempts;
  dl.timeout = delivery_timeout_;
  dl.retry_interval = delivery_retry_interval_;
  dl.max_age = delivery_max_age_;
  dl.lease_ttl = delivery_lease_ttl_;
  auto receiver_batch_size = to_count("receiver.batch-size",
                                      receiver_batch_size_);
  if (!receiver_batch_size)
    return receiver_batch_size.error();
  auto receiver_writers = to_count("receiver.writers", receiver_writers_);
  if (!receiver_writers)
    return receiver_writers.error();
  auto receiver_max_pending = to_count("receiver.max-pending",
                                       receiver_max_pending_);
  if (!receiver_max_pending)
    return receiver_max_pending.error();
  result.receiver = {*receiver_batch_size, receiver_batch_delay_,
                     *receiver_writers, *receiver_max_pending,
                     receiver_callers_};
  // Fingerprints compare as lower-case hex, as net::fingerprint_sha256()
  // gives them; upper case (openssl x509 -fingerprint) is accepted too.
  for (auto& fingerprint : result.receiver.callers)
    for (auto& c : fingerprint)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  result.crypto.keys_file = crypto_keys_file_;
  auto audit_key = read_secret("crypto.audit-key-file", crypto_audit_key_file_,
                               "HERALD_AUDIT_KEY");
  if (!audit_key)
    return audit_key.error();
  result.crypto.audit_key = std::move(*audit_key);
  if (result.has_role("ingress") || result.has_role("delivery")
      || result.has_role("receiver") || result.has_role("portal")) {
    auto pepper = read_secret("crypto.pepper-file", crypto_pepper_file_,
                              "HERALD_SENDER_PEPPER");
    if (!pepper)
      return pepper.error();
    result.crypto.pepper = std::move(*pepper);
    // Fail now, naming the setting, rather than at the first submission.
    if (auto keys = persistence::key_ring::load(crypto_keys_file_); !keys)
      return keys.error();
  }
  in.max_connections = *max_conns;
  in.max_header_bytes = *max_header;
  in.max_body_bytes = *max_body;
  if (auto err = make_portal_settings(result))
    return err;
  result.metrics = {metrics_address_, *metrics_port};
  auto my = make_mysql_settings();
  if (!my)
    return my.error();
  result.mysql = std::move(*my);
  auto rd = make_redis_settings();
  if (!rd)
    return rd.error();
  result.redis = std::move(*rd);
  result.health = {health_interval_, health_probe_timeout_};
  result.pki.ca_dir = pki_ca_dir_;
  result.pki.crl_file = pki_crl_file_;
  result.pki.crl_days = pki_crl_days_;
  result.pki.crl_refresh = pki_crl_refresh_;
  result.cluster = {cluster_listen_,
                    cluster_seeds_,
                    {cluster_certificate_, cluster_key_, cluster_ca_},
                    cluster_heartbeat_interval_,
                    cluster_connection_timeout_,
                    cluster_rejoin_interval_};
  result.log.level = log_level_;
  result.log.file = log_file_;
  if (log_max_files_ < 1 || log_max_files_ > 3650)
    return make_error(errc::invalid_config,
                      "log.max-files: must be between 1 and 3650");
  result.log.max_files = static_cast<uint16_t>(log_max_files_);
  result.log.json = log_json_;
  if (auto err = validate(result, files))
    return err;
  return result;
}

caf::error herald_config::check_unknown_keys() const {
  for (const char* category : herald_categories) {
    // caf::string_view has no const char* constructor under clang.
    caf::string_view name{category, std::strlen(category)};
    auto i = content.find(name);
    if (i == content.end())
      continue;
    auto dict = caf::get_if<caf::settings>(&i->second);
    if (dict == nullptr)
      continue;
    for (const auto& kvp : *dict)
      if (custom_options_.qualified_name_lookup(name, kvp.first)
          == nullptr)
        return make_error(errc::invalid_config,
                          std::string{category} + "." + kvp.first
                            + ": unknown setting; see "
                              "config/herald.example.ini");
  }
  return caf::none;
}

std::string describe_parse_error(const caf::error& err) {
  return caf::to_string(err)
         + " (INI syntax: strings in double quotes, durations like 10s, "
           "lists like [\"ingress\"]; see config/herald.example.ini)";
}

caf::error load_file(herald_config& cfg, const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return make_error(errc::invalid_config,
                      "config file: cannot read '" + path + "'");
  if (auto err = cfg.parse(caf::actor_system_config::string_list{}, in))
    return make_error(errc::invalid_config,
                      "config file '" + path + "': " + describe_parse_error(err));
  return cfg.check_unknown_keys();
}

} // namespace herald::config
