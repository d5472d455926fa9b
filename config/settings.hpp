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
  /// How long an orderly shutdown may take before the process gives up;
  /// longer than delivery.timeout, so in-flight deliveries can finish.
  caf::timespan shutdown_timeout = 30s;
};

/// The client-facing HTTPS listener (mutual TLS).
struct ingress_config {
  std::string address = "127.0.0.1";
  uint16_t port = 8443;
  /// I/O threads of the listener.
  size_t threads = 2;
  tls_files tls;
  size_t max_connections = 1024;
  /// Connections of one IP address that have not finished their TLS
  /// handshake, once half of max_connections are taken; more are closed at
  /// once, so unauthenticated peers cannot take every slot. A delivering
  /// node opens workers x connections (128) at once.
  size_t max_handshakes_per_ip = 128;
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 16 * 1024;
  /// Deadline for the TLS handshake of a new connection.
  caf::timespan handshake_timeout = 5s;
  /// Deadline for each request to arrive whole.
  caf::timespan read_timeout = 10s;
  /// A kept-alive connection with no request for this long is closed.
  caf::timespan idle_timeout = 60s;
  /// A connection is closed after its answer once it is this old or has
  /// carried this many requests, so no peer keeps one forever.
  caf::timespan max_connection_age = 10min;
  size_t max_connection_requests = 10000;
  /// Longest message body, in Unicode code points.
  size_t max_message_chars = 1600;
  /// Submissions per second and client (token bucket); 0 turns it off.
  double rate_limit = 1000;
  /// Submissions a client may send at once above its rate.
  double rate_burst = 2000;
  /// How long a submission may wait for its commit before 503.
  caf::timespan accept_timeout = 5s;
  /// Whether peers must present a certificate signed by `tls.ca` (the
  /// portal's browsers log in with a password instead).
  bool require_client_certificate = true;
  /// The option category named in errors ("ingress", "portal").
  std::string setting = "ingress";
};

/// The web portal (role "portal"): its own HTTPS listener without client
/// certificates, password logins and signed session cookies.
struct portal_config {
  /// address, port, threads, tls.certificate and tls.key of [portal]; the
  /// size limits and deadlines are the ingress's.
  ingress_config listener;
  /// Resolved secret that signs session tokens (HS256; from
  /// session-key-file or HERALD_PORTAL_SESSION_KEY): the same on every
  /// portal node, so a session works on all of them.
  std::string session_key;
  /// A session token's lifetime; a request in its second half gets a
  /// fresh one (sliding refresh)...
  caf::timespan session_ttl = 15min;
  /// ...up to this long after the login.
  caf::timespan session_max_age = 12h;
  /// Failed logins of one account before it is locked...
  size_t max_failures_per_account = 5;
  /// ...of one IP address before it is locked...
  size_t max_failures_per_ip = 20;
  /// ...counted over this window; a lock lasts as long.
  caf::timespan lockout = 15min;
  /// Where Debian's libjs-bootstrap5 keeps its files.
  std::string bootstrap_dir = "/usr/share/javascript/bootstrap5";
  /// Debian's libjs-chart.js (its UMD build), for the admin overview.
  std::string chartjs_file = "/usr/share/javascript/chart.js/chart.min.js";
  /// Portal workers: each runs its MySQL and Redis calls and the password
  /// checks on a thread of its own.
  size_t workers = 2;
};

/// Group commit of submissions.
struct store_config {
  /// A batch is written when it has this many messages...
  size_t batch_size = 256;
  /// ...or when its first message has waited this long.
  caf::timespan batch_delay = 2ms;
  /// MySQL connections writing batches in parallel.
  size_t writers = 2;
  /// Submissions waiting beyond this are refused with 503 (back pressure).
  size_t max_pending = 20000;
};

/// Keys for data at rest.
struct crypto_config {
  /// Key ring file ("<id> <hex>" lines, mode 0600) or HERALD_DATA_KEYS.
  std::string keys_file;
  /// Resolved secret for sender-number hashes (from pepper-file or
  /// HERALD_SENDER_PEPPER).
  std::string pepper;
  /// Resolved secret that keys the audit chain's HMACs (from
  /// audit-key-file or HERALD_AUDIT_KEY); kept out of the database so that
  /// write access to it cannot rewrite the chain unnoticed.
  std::string audit_key;
};

/// The recovery sweep that makes MySQL the source of truth.
struct recovery_config {
  caf::timespan interval = 30s;
  /// Messages stuck in "accepting" for longer are rejected.
  caf::timespan accepting_grace = 60s;
  /// How often the client directory reloads clients and certificates.
  caf::timespan clients_refresh = 2s;
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
  /// TLS to the server: with `tls.ca` set, the link is TLS 1.2+ and the
  /// server's certificate must chain to it and name mysql.host; with
  /// `tls.certificate` and `tls.key` too, Herald presents a client
  /// certificate. Empty `tls.ca`: plain TCP (or the Unix socket).
  tls_files tls;
};

/// Redis.
struct redis_config {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  /// Resolved secret (from password-file or HERALD_REDIS_PASSWORD).
  std::string password;
  caf::timespan connect_timeout = 10s;
  caf::timespan io_timeout = 5s;
  /// TLS to Redis (its tls-port): as mysql_config::tls.
  tls_files tls;
};

/// Dependency probes behind /api/v1/health.
struct health_config {
  caf::timespan interval = 1s;
  /// A probe that takes longer counts as down.
  caf::timespan probe_timeout = 2s;
};

/// Delivery to the downstream endpoint (role "delivery").
struct delivery_config {
  /// Where messages go: the receiver role of a node, or the operator's
  /// system.
  std::string url = "https://localhost:8443/internal/v1/deliver";
  /// The CA that signs the downstream's certificate, and the client
  /// certificate Herald presents to it.
  tls_files tls;
  /// The CRL of that CA, checked in every handshake. Empty: pki.crl-file
  /// (the downstream is a Herald receiver); "none": no revocation check,
  /// for a downstream whose CA publishes no CRL.
  std::string crl_file;
  /// Delivery workers (threads) per node.
  size_t workers = 2;
  /// Messages a worker takes from the queue at once; it sends them
  /// concurrently over its connections.
  size_t batch = 64;
  /// Kept-alive connections per worker: requests in flight at once. As
  /// many as the batch sends a batch in one round.
  size_t connections = 64;
  /// Deadline of one attempt (connect, TLS, request, response).
  caf::timespan timeout = 10s;
  /// Fixed time between attempts of a message.
  caf::timespan retry_interval = 30s;
  /// Attempts at most; 0: unlimited (until max_age).
  size_t max_attempts = 0;
  /// A message older than this is failed with reason "expired".
  caf::timespan max_age = 24h;
  /// A node whose lease is older has died; its messages go back to pending.
  caf::timespan lease_ttl = 15s;
};

/// The certificate authority (heraldctl) and revocation checks (nodes).
struct pki_config {
  /// Folder of ca.crt and ca.key (mode 0600); heraldctl only.
  std::string ca_dir = "/etc/herald/ca";
  /// The CRL heraldctl publishes and nodes check in every handshake. A
  /// node that listens refuses to start without a valid one.
  std::string crl_file = "/etc/herald/pki/crl.pem";
  /// Days a published CRL stays valid (its nextUpdate).
  int64_t crl_days = 7;
  /// How often nodes look for a changed CRL file.
  caf::timespan crl_refresh = 2s;
  /// Decrypts ca.key for the portal's admin pages (resolved secret from
  /// ca-passphrase-file or HERALD_CA_PASSPHRASE; read for the portal role
  /// only). Empty: the key is not encrypted, or the node has no CA.
  std::string ca_passphrase;
};

/// The receiver role (POST /internal/v1/deliver).
struct receiver_config {
  /// A batch is written when it has this many messages...
  size_t batch_size = 256;
  /// ...or when its first message has waited this long.
  caf::timespan batch_delay = 2ms;
  /// MySQL connections writing batches in parallel.
  size_t writers = 4;
  /// Deliveries waiting beyond this are refused with 503 (back pressure).
  size_t max_pending = 10000;
  /// SHA-256 fingerprints (lower-case hex) of the node certificates that
  /// may deliver; empty: every node certificate of ingress.ca. Client
  /// certificates are always refused.
  std::vector<std::string> callers;
};

/// Membership in a cluster of nodes (docs/SCALING.md). Nodes talk over CAF
/// remoting inside Herald's own mutual-TLS links (net/cluster_link.hpp).
struct cluster_config {
  /// host:port where peers reach this node's link listener; empty: the
  /// node runs alone.
  std::string listen;
  /// host:port of nodes to join through (any member will do).
  std::vector<std::string> seeds;
  /// This node's certificate (heraldctl cert server), its key and the CA
  /// every member's certificate chains to. Required when clustered.
  tls_files tls;
  /// CAF's keep-alive on idle links and the silence after which a link
  /// counts as lost (CAF defaults both to off).
  caf::timespan heartbeat_interval = 1s;
  caf::timespan connection_timeout = 5s;
  /// How often a node re-announces itself to every member and retries
  /// seeds it is not connected to.
  caf::timespan rejoin_interval = 2s;

  bool enabled() const {
    return !listen.empty();
  }
};

/// Splits "host:port" (host may be [v6]); the error names `setting`.
caf::error split_host_port(const std::string& setting, const std::string& text,
                           std::string& host, uint16_t& port);

/// Everything a node or heraldctl needs, typed and validated.
struct settings {
  node_config node;
  ingress_config ingress;
  metrics_config metrics;
  mysql_config mysql;
  redis_config redis;
  health_config health;
  store_config store;
  crypto_config crypto;
  recovery_config recovery;
  delivery_config delivery;
  receiver_config receiver;
  pki_config pki;
  cluster_config cluster;
  portal_config portal;
  log::log_config log;

  /// Returns whether `role` is among node.roles.
  bool has_role(const std::string& role) const;
};

/// The roles a node can take.
const std::vector<std::string>& known_roles();

/// Whether validate() also checks the files that only the roles use (the
/// listener's and the delivery client's certificates and keys): a node
/// needs them; heraldctl does not, and sets a node up before they exist.
enum class role_files { checked, unchecked };

/// Checks every value and that every configured file is readable. The error
/// names the offending setting, e.g. "ingress.port: ...".
caf::error validate(const settings& cfg,
                    role_files files = role_files::checked);

} // namespace herald::config
