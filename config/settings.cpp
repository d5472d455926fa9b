#include "config/settings.hpp"

#include "core/errc.hpp"
#include "persistence/limits.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>

namespace herald::config {

namespace {

caf::error bad(const std::string& setting, const std::string& why) {
  return make_error(errc::invalid_config, setting + ": " + why);
}

caf::error check_readable(const std::string& setting,
                          const std::string& path) {
  if (path.empty())
    return bad(setting, "not set");
  std::ifstream in{path};
  if (!in)
    return bad(setting, "cannot read '" + path + "'");
  return caf::none;
}

/// Private keys must be readable by their owner only.
caf::error check_private_key(const std::string& setting,
                             const std::string& path) {
  if (auto err = check_readable(setting, path))
    return err;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    return bad(setting, "'" + path
                          + "' is readable by group or others; run chmod 600 '"
                          + path + "'");
  return caf::none;
}

/// TLS to MariaDB or Redis: a CA turns it on; a client certificate needs
/// its key and the CA.
caf::error check_link_tls(const std::string& prefix, const tls_files& tls) {
  if (tls.ca.empty()) {
    if (!tls.certificate.empty() || !tls.key.empty())
      return bad(prefix + ".tls-ca", "not set; a client certificate needs "
                                     "TLS, which needs the server's CA");
    return caf::none;
  }
  if (auto err = check_readable(prefix + ".tls-ca", tls.ca))
    return err;
  if (tls.certificate.empty() != tls.key.empty())
    return bad(prefix + ".tls-certificate",
               "set both tls-certificate and tls-key, or neither");
  if (tls.certificate.empty())
    return caf::none;
  if (auto err = check_readable(prefix + ".tls-certificate", tls.certificate))
    return err;
  return check_private_key(prefix + ".tls-key", tls.key);
}

caf::error check_positive(const std::string& setting, caf::timespan value) {
  if (value <= caf::timespan::zero())
    return bad(setting, "must be positive");
  return caf::none;
}

} // namespace

bool settings::has_role(const std::string& role) const {
  return std::find(node.roles.begin(), node.roles.end(), role)
         != node.roles.end();
}

const std::vector<std::string>& known_roles() {
  static const std::vector<std::string> result{"ingress", "delivery",
                                               "receiver", "portal"};
  return result;
}

namespace {

caf::error validate_cluster(const cluster_config& c, bool check_files) {
  if (!c.enabled()) {
    if (!c.seeds.empty())
      return bad("cluster.seeds", "set cluster.listen too, or remove them");
    return caf::none;
  }
  std::string host;
  uint16_t port = 0;
  if (auto err = split_host_port("cluster.listen", c.listen, host, port))
    return err;
  if (c.seeds.size() > 64)
    return bad("cluster.seeds", "at most 64");
  for (const auto& seed : c.seeds)
    if (auto err = split_host_port("cluster.seeds", seed, host, port))
      return err;
  for (auto [name, value] :
       {std::pair{"cluster.heartbeat-interval", c.heartbeat_interval},
        std::pair{"cluster.connection-timeout", c.connection_timeout},
        std::pair{"cluster.rejoin-interval", c.rejoin_interval}})
    if (auto err = check_positive(name, value))
      return err;
  if (c.connection_timeout <= 2 * c.heartbeat_interval)
    return bad("cluster.connection-timeout",
               "must be longer than twice cluster.heartbeat-interval");
  // CAF's TLS falls back to an anonymous cipher without a certificate and
  // Herald's links refuse to run without one: never start half-secured.
  if (check_files) {
    if (auto err = check_readable("cluster.certificate", c.tls.certificate))
      return err;
    if (auto err = check_private_key("cluster.key", c.tls.key))
      return err;
    if (auto err = check_readable("cluster.ca", c.tls.ca))
      return err;
  }
  return caf::none;
}

/// The portal role's settings; the listener's limits are the ingress's and
/// checked with them.
caf::error validate_portal(const settings& cfg, bool check_files) {
  const auto& p = cfg.portal;
  const auto& l = p.listener;
  if (l.threads < 1 || l.threads > 64)
    return bad("portal.threads", "must be between 1 and 64");
  if (p.workers < 1 || p.workers > 64)
    return bad("portal.workers", "must be between 1 and 64");
  if (check_files) {
    if (auto err = check_readable("portal.certificate", l.tls.certificate))
      return err;
    if (auto err = check_private_key("portal.key", l.tls.key))
      return err;
  }
  if (l.address == cfg.ingress.address && l.port == cfg.ingress.port
      && (cfg.has_role("ingress") || cfg.has_role("receiver")))
    return bad("portal.port", "collides with ingress.port");
  if (l.address == cfg.metrics.address && l.port == cfg.metrics.port)
    return bad("portal.port", "collides with metrics.port");
  // HS256 wants a key at least as long as its output.
  if (p.session_key.size() < 32)
    return bad("portal.session-key-file",
               "the session key must have at least 32 characters; generate "
               "one with: openssl rand -hex 32");
  for (auto [name, value] :
       {std::pair{"portal.session-ttl", p.session_ttl},
        std::pair{"portal.session-max-age", p.session_max_age},
        std::pair{"portal.lockout", p.lockout}})
    if (auto err = check_positive(name, value))
      return err;
  if (p.session_max_age < p.session_ttl)
    return bad("portal.session-max-age", "must be at least portal.session-ttl");
  if (p.max_failures_per_account < 1 || p.max_failures_per_ip < 1)
    return bad("portal.max-failures-per-account",
               "both failure limits must be at least 1");
  if (cfg.crypto.pepper.size() < 16)
    return bad("crypto.pepper-file",
               "the portal searches by sender number through the pepper; it "
               "must have at least 16 characters");
  return caf::none;
}

} // namespace

caf::error split_host_port(const std::string& setting, const std::string& text,
                           std::string& host, uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()
      || text.size() > 255)
    return bad(setting, "'" + text + "' is not host:port");
  host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto digits = text.substr(colon + 1);
  if (digits.size() > 5
      || digits.find_first_not_of("0123456789") != std::string::npos)
    return bad(setting, "'" + text + "': the port must be a number");
  auto value = std::stoi(digits);
  if (value < 1 || value > 65535)
    return bad(setting, "'" + text + "': the port must be 1 to 65535");
  port = static_cast<uint16_t>(value);
  return caf::none;
}

caf::error validate(const settings& cfg, role_files files) {
  bool check_files = files == role_files::checked;
  if (cfg.node.name.empty() || cfg.node.name.size() > 64)
    return bad("node.name", "must have 1 to 64 characters");
  for (const auto& role : cfg.node.roles)
    if (std::find(known_roles().begin(), known_roles().end(), role)
        == known_roles().end())
      return bad("node.roles", "unknown role '" + role + "'");
  if (auto err = check_positive("node.shutdown-timeout",
                                cfg.node.shutdown_timeout))
    return err;
  if (cfg.has_role("ingress") || cfg.has_role("receiver")) {
    const auto& in = cfg.ingress;
    if (in.port == 0)
      return bad("ingress.port", "must be between 1 and 65535");
    if (in.threads < 1 || in.threads > 64)
      return bad("ingress.threads", "must be between 1 and 64");
    if (in.max_connections < 1)
      return bad("ingress.max-connections", "must be at least 1");
    if (in.max_handshakes_per_ip < 1)
      return bad("ingress.max-handshakes-per-ip", "must be at least 1");
    if (in.max_connection_requests < 1)
      return bad("ingress.max-connection-requests", "must be at least 1");
    if (in.max_header_bytes < 1024 || in.max_header_bytes > 1024 * 1024)
      return bad("ingress.max-header-bytes", "must be between 1 KiB and 1 MiB");
    if (in.max_body_bytes < 1024 || in.max_body_bytes > 16 * 1024 * 1024)
      return bad("ingress.max-body-bytes", "must be between 1 KiB and 16 MiB");
    for (auto [name, value] :
         {std::pair{"ingress.handshake-timeout", in.handshake_timeout},
          std::pair{"ingress.read-timeout", in.read_timeout},
          std::pair{"ingress.max-connection-age", in.max_connection_age}})
      if (auto err = check_positive(name, value))
        return err;
    if (auto err = check_positive("ingress.idle-timeout", in.idle_timeout))
      return err;
    if (check_files) {
      if (auto err = check_readable("ingress.certificate", in.tls.certificate))
        return err;
      if (auto err = check_private_key("ingress.key", in.tls.key))
        return err;
      if (auto err = check_readable("ingress.ca", in.tls.ca))
        return err;
    }
    if (in.port == cfg.metrics.port && in.address == cfg.metrics.address)
      return bad("metrics.port", "collides with ingress.port");
    if (in.max_message_chars < 1
        || in.max_message_chars > persistence::max_message_chars)
      return bad("ingress.max-message-chars",
                 "must be between 1 and "
                   + std::to_string(persistence::max_message_chars)
                   + " (the sealed body must fit messages.body_ciphertext)");
    if (in.rate_limit < 0 || in.rate_burst < 1)
      return bad("ingress.rate-limit",
                 "rate-limit must not be negative, rate-burst at least 1");
    if (auto err = check_positive("ingress.accept-timeout", in.accept_timeout))
      return err;
    if (cfg.store.batch_size < 1 || cfg.store.batch_size > 4096)
      return bad("store.batch-size", "must be between 1 and 4096");
    if (cfg.store.writers < 1 || cfg.store.writers > 32)
      return bad("store.writers", "must be between 1 and 32");
    if (cfg.store.max_pending < cfg.store.batch_size)
      return bad("store.max-pending", "must be at least store.batch-size");
    if (cfg.store.batch_delay < caf::timespan::zero())
      return bad("store.batch-delay", "must not be negative");
    if (cfg.crypto.pepper.size() < 16)
      return bad("crypto.pepper-file",
                 "the pepper must have at least 16 characters; generate one "
                 "with: openssl rand -hex 32");
    if (auto err = check_positive("recovery.interval", cfg.recovery.interval))
      return err;
    if (auto err = check_positive("recovery.accepting-grace",
                                  cfg.recovery.accepting_grace))
      return err;
    if (auto err = check_positive("recovery.clients-refresh",
                                  cfg.recovery.clients_refresh))
      return err;
  }
  if (cfg.has_role("delivery")) {
    const auto& d = cfg.delivery;
    if (d.url.rfind("https://", 0) != 0)
      return bad("delivery.url", "must start with https://");
    if (check_files) {
      if (auto err = check_readable("delivery.certificate", d.tls.certificate))
        return err;
      if (auto err = check_private_key("delivery.key", d.tls.key))
        return err;
      if (auto err = check_readable("delivery.ca", d.tls.ca))
        return err;
    }
    if (d.workers < 1 || d.workers > 256)
      return bad("delivery.workers", "must be between 1 and 256");
    if (d.batch < 1 || d.batch > 1000)
      return bad("delivery.batch", "must be between 1 and 1000");
    for (auto [name, value] :
         {std::pair{"delivery.timeout", d.timeout},
          std::pair{"delivery.retry-interval", d.retry_interval},
          std::pair{"delivery.max-age", d.max_age},
          std::pair{"delivery.lease-ttl", d.lease_ttl}})
      if (auto err = check_positive(name, value))
        return err;
    // A batch starts its last attempt within one timeout, and that attempt
    // takes one more (net::https_client::post_all).
    if (cfg.node.shutdown_timeout <= 2 * d.timeout)
      return bad("node.shutdown-timeout",
                 "must be longer than twice delivery.timeout");
  }
  if (cfg.has_role("portal"))
    if (auto err = validate_portal(cfg, check_files))
      return err;
  if (cfg.has_role("receiver")) {
    const auto& r = cfg.receiver;
    if (r.batch_size < 1 || r.batch_size > 4096)
      return bad("receiver.batch-size", "must be between 1 and 4096");
    if (r.writers < 1 || r.writers > 64)
      return bad("receiver.writers", "must be between 1 and 64");
    if (r.max_pending < r.batch_size)
      return bad("receiver.max-pending",
                 "must be at least receiver.batch-size");
    if (r.batch_delay < caf::timespan::zero())
      return bad("receiver.batch-delay", "must not be negative");
    for (const auto& fingerprint : r.callers)
      if (fingerprint.size() != 64
          || fingerprint.find_first_not_of("0123456789abcdef")
               != std::string::npos)
        return bad("receiver.callers",
                   "'" + fingerprint
                     + "' is no SHA-256 fingerprint: give 64 hex digits "
                       "without colons, as heraldctl cert show prints them");
  }
  if (auto err = validate_cluster(cfg.cluster, check_files))
    return err;
  if (cfg.metrics.port == 0)
    return bad("metrics.port", "must be between 1 and 65535");
  if (cfg.mysql.socket.empty() && cfg.mysql.port == 0)
    return bad("mysql.port", "must be between 1 and 65535");
  if (cfg.mysql.user.empty())
    return bad("mysql.user", "not set");
  if (cfg.mysql.database.empty())
    return bad("mysql.database", "not set");
  if (auto err = check_positive("mysql.connect-timeout",
                                cfg.mysql.connect_timeout))
    return err;
  if (auto err = check_positive("mysql.io-timeout", cfg.mysql.io_timeout))
    return err;
  if (auto err = check_link_tls("mysql", cfg.mysql.tls))
    return err;
  if (cfg.redis.port == 0)
    return bad("redis.port", "must be between 1 and 65535");
  if (auto err = check_positive("redis.connect-timeout",
                                cfg.redis.connect_timeout))
    return err;
  if (auto err = check_positive("redis.io-timeout", cfg.redis.io_timeout))
    return err;
  if (auto err = check_link_tls("redis", cfg.redis.tls))
    return err;
  if (!cfg.crypto.audit_key.empty() && cfg.crypto.audit_key.size() < 32)
    return bad("crypto.audit-key-file",
               "the key must have at least 32 characters; generate one "
               "with: openssl rand -hex 32");
  if (cfg.pki.crl_file.empty())
    return bad("pki.crl-file", "not set; name the CRL that heraldctl crl "
                               "publishes and nodes check");
  if (cfg.pki.crl_days < 1 || cfg.pki.crl_days > 366)
    return bad("pki.crl-days", "must be between 1 and 366");
  if (auto err = check_positive("pki.crl-refresh", cfg.pki.crl_refresh))
    return err;
  if (auto err = check_positive("health.interval", cfg.health.interval))
    return err;
  if (auto err = check_positive("health.probe-timeout",
                                cfg.health.probe_timeout))
    return err;
  return log::validate(cfg.log);
}

} // namespace herald::config
