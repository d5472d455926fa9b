#pragma once

#include "config/settings.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace herald::net {

class crl_store;

/// Settings of the links between cluster nodes: a mutual-TLS tunnel that
/// carries the CAF middleman's BASP between hosts, while the middleman
/// itself listens on 127.0.0.1 only.
struct cluster_link_config {
  /// This node's certificate and key (a node certificate: serverAuth and
  /// clientAuth), and the CA that signs every node certificate.
  config::tls_files files;
  /// Required: every peer certificate is checked against it, both ways.
  /// Must outlive the links.
  crl_store* crl = nullptr;
  /// Whether a peer certificate (SHA-256 fingerprint, lower-case hex) is an
  /// active node certificate of this cluster. Required. Called on the link
  /// thread after each TLS handshake (both ways) and by recheck(), so it
  /// must be thread-safe and quick (a set lookup, no I/O).
  std::function<bool(const std::string& fingerprint)> allowed;
  /// Whether a peer certificate that allowed() refuses is an admin
  /// certificate: its inbound link leads to console_port (where only the
  /// inspector is published) instead of the middleman's cluster port.
  /// Optional; same rules as allowed().
  std::function<bool(const std::string& fingerprint)> console_allowed;
  /// Loopback port of the inspector; 0: no console links.
  uint16_t console_port = 0;
  /// The public TLS listener; listen_port 0 turns inbound links off, unless
  /// listen_ephemeral (tests) asks for a port the system picks.
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;
  bool listen_ephemeral = false;
  /// Loopback port of the CAF middleman: where inbound links lead.
  uint16_t middleman_port = 0;
  /// Deadline of connect plus TLS handshake, both ways.
  caf::timespan handshake_timeout = std::chrono::seconds{5};
  /// How long a forward() port waits for its one local connection.
  caf::timespan forward_timeout = std::chrono::seconds{30};
  /// Links open at once (both ways, handshakes included); more are refused.
  size_t max_links = 64;
};

/// Checks `cfg`; errors name the setting ("cluster.crl-file", ...).
caf::error validate(const cluster_link_config& cfg);

/// Counters of the links, for metrics; written on the link thread, read
/// from anywhere.
struct cluster_link_stats {
  /// Links open now (TLS done, peer allowed), by direction.
  std::atomic<uint64_t> open_inbound{0};
  std::atomic<uint64_t> open_outbound{0};
  /// Links opened since start, by direction.
  std::atomic<uint64_t> opened_inbound{0};
  std::atomic<uint64_t> opened_outbound{0};
  /// Peers refused, by reason: no certificate, a chain that does not verify
  /// (other CA, expired, wrong usage), a revoked certificate, any other
  /// handshake failure (not TLS, timeout, protocol), a certificate that
  /// allowed() refuses, too many links.
  std::atomic<uint64_t> refused_no_certificate{0};
  std::atomic<uint64_t> refused_bad_chain{0};
  std::atomic<uint64_t> refused_revoked{0};
  std::atomic<uint64_t> refused_handshake{0};
  std::atomic<uint64_t> refused_not_allowed{0};
  std::atomic<uint64_t> refused_limit{0};
  /// Links closed by recheck() because their peer is no longer allowed.
  std::atomic<uint64_t> closed_by_recheck{0};
  /// Outbound peers or the middleman not reachable (resolve, connect).
  std::atomic<uint64_t> connect_failures{0};
  /// Bytes from peers to this node, and from this node to peers.
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> bytes_sent{0};
};

/// One open link, for introspection.
struct cluster_link_info {
  enum class direction { inbound, outbound };
  direction dir = direction::inbound;
  /// The peer certificate's SHA-256 fingerprint (lower-case hex).
  std::string fingerprint;
  /// The peer certificate's subject CN.
  std::string common_name;
  /// The peer's address, "ip:port".
  std::string remote;
  /// When the link was opened (peer allowed).
  std::chrono::system_clock::time_point since;
};

/// Mutual-TLS tunnels between cluster nodes, on one I/O thread of their
/// own. Inbound: TLS on listen_host:listen_port, the peer's certificate
/// verified (CA, CRL, allowed()), then spliced to the loopback middleman.
/// Outbound: forward() hands out a one-shot loopback port whose connection
/// is tunnelled to a remote node, verified the same way. Every public
/// member function is thread-safe.
class cluster_links {
public:
  /// Loads the TLS files, binds the listener and starts the thread. Fails
  /// (naming the "cluster" setting and the file) when a file is missing or
  /// unreadable, crl is null or allowed is empty.
  static caf::expected<std::unique_ptr<cluster_links>>
  start(cluster_link_config cfg);

  ~cluster_links();

  cluster_links(const cluster_links&) = delete;
  cluster_links& operator=(const cluster_links&) = delete;

  /// The port the listener is bound to; 0 when inbound links are off.
  uint16_t listen_port() const;

  /// Returns a 127.0.0.1 port; the first connection made to it is tunnelled
  /// over mutual TLS to `host`:`port` (the server certificate verified: CA
  /// chain, CRL, allowed()). One-shot: the port accepts one connection and
  /// closes, or closes after forward_timeout. Fails when stopped or at
  /// max_links.
  caf::expected<uint16_t> forward(const std::string& host, uint16_t port);

  /// Closes every open link whose peer allowed() now refuses (a revoked or
  /// removed node certificate); returns how many. Waits for the link
  /// thread (a lookup per link).
  size_t recheck();

  /// The open links.
  std::vector<cluster_link_info> links() const;

  const cluster_link_stats& stats() const;

  /// Closes every link and the listener, and joins the thread. Idempotent;
  /// also called by the destructor.
  void stop();

  struct impl;

private:
  explicit cluster_links(std::unique_ptr<impl> ptr);

  std::unique_ptr<impl> impl_;
};

} // namespace herald::net
