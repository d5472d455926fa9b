#include "net/cluster_link.hpp"

#include "core/errc.hpp"
#include "net/crl.hpp"
#include "net/tls.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <unistd.h>

namespace herald::net {

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using direction = cluster_link_info::direction;

/// Bytes in flight per link and direction: the next chunk is read only
/// after the previous one was written, so a slow side slows the other.
constexpr size_t chunk_size = 64 * 1024;

/// Pause after a failed accept (e.g. out of file descriptors).
constexpr auto accept_backoff = std::chrono::milliseconds{100};

const char* to_string(direction x) {
  return x == direction::inbound ? "inbound" : "outbound";
}

std::string to_string(const tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string common_name(X509* cert) {
  char buf[256];
  auto* name = X509_get_subject_name(cert);
  if (name == nullptr
      || X509_NAME_get_text_by_NID(name, NID_commonName, buf, sizeof(buf)) < 0)
    return {};
  return buf;
}

/// Why a TLS handshake failed.
enum class refusal { no_certificate, bad_chain, revoked, handshake };

const char* to_string(refusal x) {
  switch (x) {
    case refusal::no_certificate:
      return "no certificate";
    case refusal::bad_chain:
      return "certificate chain does not verify";
    case refusal::revoked:
      return "certificate revoked";
    default:
      return "TLS handshake failed";
  }
}

/// Reads the verify result of `ssl` and the error of its handshake.
refusal classify_handshake(SSL* ssl, const error_code& ec) {
  auto verify = SSL_get_verify_result(ssl);
  if (verify == X509_V_ERR_CERT_REVOKED)
    return refusal::revoked;
  if (verify != X509_V_OK)
    return refusal::bad_chain;
  if (ec.category() == asio::error::get_ssl_category()
      && ERR_GET_REASON(static_cast<unsigned long>(ec.value()))
           == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
    return refusal::no_certificate;
  return refusal::handshake;
}

caf::error check_readable(const char* setting, const std::string& file) {
  if (file.empty())
    return make_error(errc::invalid_config,
                      std::string{"cluster."} + setting
                        + ": a clustered node needs it");
  if (::access(file.c_str(), R_OK) != 0)
    return make_error(errc::invalid_config,
                      std::string{"cluster."} + setting + ": '" + file
                        + "' is missing or unreadable");
  return caf::none;
}

class link;

} // namespace

caf::error validate(const cluster_link_config& cfg) {
  if (auto err = check_readable("certificate", cfg.files.certificate))
    return err;
  if (auto err = check_readable("key", cfg.files.key))
    return err;
  if (auto err = check_readable("ca", cfg.files.ca))
    return err;
  if (cfg.crl == nullptr)
    return make_error(errc::invalid_config,
                      "cluster: a clustered node needs a CRL (pki.crl-file) "
                      "to check peer certificates against");
  if (!cfg.allowed)
    return make_error(errc::invalid_config,
                      "cluster: no registry of node certificates to check "
                      "peers against");
  if (cfg.max_links == 0)
    return make_error(errc::invalid_config, "cluster.max-links: must be > 0");
  if (cfg.handshake_timeout.count() <= 0 || cfg.forward_timeout.count() <= 0)
    return make_error(errc::invalid_config,
                      "cluster.handshake-timeout: must be positive");
  if (cfg.listen_ephemeral && cfg.listen_port != 0)
    return make_error(errc::invalid_config,
                      "cluster.port: an ephemeral listener takes port 0");
  if (cfg.listen_port != 0 || cfg.listen_ephemeral) {
    if (cfg.listen_host.empty())
      return make_error(errc::invalid_config,
                        "cluster.address: empty while cluster.port is set");
    if (cfg.middleman_port == 0)
      return make_error(errc::invalid_config,
                        "cluster: inbound links need the middleman's port");
  }
  return caf::none;
}

struct cluster_links::impl {
  explicit impl(cluster_link_config config) : cfg(std::move(config)) {
    // nop
  }

  cluster_link_config cfg;
  // Before the io_context: handlers it destroys may hold streams on them.
  std::shared_ptr<ssl::context> server_ctx;
  std::shared_ptr<ssl::context> client_ctx;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>>
    work{ioc.get_executor()};
  cluster_link_stats stats;
  uint16_t port = 0;

  // Touched only on the link thread (after start).
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_timer;
  std::map<uint64_t, std::shared_ptr<link>> live;
  struct forward_port;
  std::map<uint64_t, std::shared_ptr<forward_port>> forwards;
  uint64_t next_id = 0;

  /// Links plus unused forward ports: what max_links bounds.
  std::atomic<size_t> slots{0};

  /// The open links, for links().
  mutable std::mutex info_mtx;
  std::map<uint64_t, cluster_link_info> infos;

  /// Guards stopping against posting: nothing is posted after stop began.
  std::mutex stop_mtx;
  bool stopping = false;
  std::thread thread;
  std::future<void> finished;

  bool take_slot() {
    auto n = slots.load();
    do {
      if (n >= cfg.max_links)
        return false;
    } while (!slots.compare_exchange_weak(n, n + 1));
    return true;
  }

  void release_slot() {
    --slots;
  }

  /// allowed(), which must not throw but is not ours.
  bool allowed(const std::string& fingerprint) const {
    return ask(cfg.allowed, fingerprint);
  }

  /// console_allowed(), when console links are on.
  bool console_allowed(const std::string& fingerprint) const {
    return cfg.console_port != 0 && ask(cfg.console_allowed, fingerprint);
  }

  static bool ask(const std::function<bool(const std::string&)>& check,
                  const std::string& fingerprint) {
    try {
      return check && !fingerprint.empty() && check(fingerprint);
    } catch (...) {
      return false;
    }
  }

  void count(refusal reason) {
    switch (reason) {
      case refusal::no_certificate:
        ++stats.refused_no_certificate;
        break;
      case refusal::bad_chain:
        ++stats.refused_bad_chain;
        break;
      case refusal::revoked:
        ++stats.refused_revoked;
        break;
      default:
        ++stats.refused_handshake;
    }
  }

  void accept();
  void start_forward(uint64_t id, std::shared_ptr<forward_port> fwd,
                     std::string host, uint16_t port);
  void opened(const link& l);
  void closed(const link& l, const char* why);
  size_t recheck();
  void close_all();
};

namespace {

/// One tunnel: a TLS stream to the peer node and a plain loopback socket
/// (the middleman for inbound links, the local caller for outbound ones),
/// spliced both ways once the peer is verified and allowed.
class link : public std::enable_shared_from_this<link> {
public:
  link(cluster_links::impl& owner, uint64_t id, direction dir,
       tcp::socket peer, tcp::socket local)
    : owner_(owner),
      id_(id),
      dir_(dir),
      tls_(std::move(peer),
           dir == direction::inbound ? *owner.server_ctx : *owner.client_ctx),
      local_(std::move(local)),
      timer_(owner.ioc),
      resolver_(owner.ioc),
      buffers_(new char[2 * chunk_size]) {
    // nop
  }

  uint64_t id() const {
    return id_;
  }

  direction dir() const {
    return dir_;
  }

  bool is_open() const {
    return open_ && !closed_;
  }

  const std::string& fingerprint() const {
    return fingerprint_;
  }

  const std::string& common_name() const {
    return cn_;
  }

  const std::string& remote() const {
    return remote_;
  }

  /// An inbound link of an admin certificate, to the inspector.
  bool to_console() const {
    return console_;
  }

  uint16_t target_port() const {
    return console_ ? owner_.cfg.console_port : owner_.cfg.middleman_port;
  }

  /// Inbound: TLS server handshake, verify, then the middleman.
  void start_inbound() {
    error_code ec;
    auto ep = tls_.lowest_layer().remote_endpoint(ec);
    remote_ = ec ? "unknown" : to_string(ep);
    handshaking_ = true;
    arm_deadline();
    tls_.async_handshake(ssl::stream_base::server,
                         [self = shared_from_this()](const error_code& ec) {
                           self->on_handshake(ec);
                         });
  }

  /// Outbound: resolve, connect, TLS client handshake, verify.
  void start_outbound(const std::string& host, uint16_t port) {
    remote_ = host + ":" + std::to_string(port);
    arm_deadline();
    resolver_.async_resolve(
      host, std::to_string(port),
      [self = shared_from_this()](const error_code& ec,
                                  tcp::resolver::results_type results) {
        self->on_resolve(ec, std::move(results));
      });
  }

  /// Closes both sockets; every pending handler then finds closed_.
  void close(const char* why) {
    if (closed_)
      return;
    closed_ = true;
    error_code ignored;
    timer_.cancel();
    resolver_.cancel();
    tls_.lowest_layer().close(ignored);
    local_.close(ignored);
    owner_.closed(*this, why);
  }

private:
  void arm_deadline() {
    timer_.expires_after(owner_.cfg.handshake_timeout);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec || self->closed_ || self->open_)
        return;
      spdlog::info("cluster: {} link {} with {} timed out before it opened",
                   to_string(self->dir_), self->id_, self->remote_);
      if (self->handshaking_)
        ++self->owner_.stats.refused_handshake;
      else
        ++self->owner_.stats.connect_failures;
      self->close("timeout");
    });
  }

  void on_resolve(const error_code& ec, tcp::resolver::results_type results) {
    if (closed_)
      return;
    if (ec) {
      ++owner_.stats.connect_failures;
      spdlog::warn("cluster: cannot resolve {}: {}", remote_, ec.message());
      return close("resolve failed");
    }
    asio::async_connect(tls_.lowest_layer(), results,
                        [self = shared_from_this()](const error_code& ec,
                                                    const tcp::endpoint& ep) {
                          self->on_connect(ec, ep);
                        });
  }

  void on_connect(const error_code& ec, const tcp::endpoint& ep) {
    if (closed_)
      return;
    if (ec) {
      ++owner_.stats.connect_failures;
      spdlog::warn("cluster: cannot connect to {}: {}", remote_, ec.message());
      return close("connect failed");
    }
    remote_ = to_string(ep);
    handshaking_ = true;
    tls_.async_handshake(ssl::stream_base::client,
                         [self = shared_from_this()](const error_code& ec) {
                           self->on_handshake(ec);
                         });
  }

  void on_handshake(const error_code& ec) {
    if (closed_)
      return;
    handshaking_ = false;
    if (ec) {
      auto reason = classify_handshake(tls_.native_handle(), ec);
      owner_.count(reason);
      // Scanners and plain TCP end here: not worth a warning each.
      if (reason == refusal::handshake)
        spdlog::debug("cluster: {} TLS handshake with {} failed: {}",
                      to_string(dir_), remote_, ec.message());
      else
        spdlog::warn("cluster: refused {} peer {}: {} ({})", to_string(dir_),
                     remote_, to_string(reason), ec.message());
      return close(to_string(reason));
    }
    if (!verify_peer())
      return close("not allowed");
    if (dir_ == direction::outbound)
      return splice();
    // Only an allowed peer ever reaches the middleman, and an admin
    // certificate only the inspector's port.
    tcp::endpoint middleman{asio::ip::address_v4::loopback(), target_port()};
    local_.async_connect(middleman,
                         [self = shared_from_this()](const error_code& ec) {
                           if (self->closed_)
                             return;
                           if (ec) {
                             ++self->owner_.stats.connect_failures;
                             spdlog::warn("cluster: cannot reach the "
                                          "middleman on port {}: {}",
                                          self->target_port(),
                                          ec.message());
                             return self->close("middleman unreachable");
                           }
                           self->splice();
                         });
  }

  /// Reads the peer certificate and asks allowed().
  bool verify_peer() {
    auto* cert = SSL_get1_peer_certificate(tls_.native_handle());
    if (cert == nullptr) {
      ++owner_.stats.refused_no_certificate;
      spdlog::warn("cluster: refused {} peer {}: no certificate",
                   to_string(dir_), remote_);
      return false;
    }
    fingerprint_ = fingerprint_sha256(cert);
    cn_ = net::common_name(cert);
    X509_free(cert);
    if (owner_.allowed(fingerprint_))
      return true;
    // Admins connect to nodes; nodes never lead outbound links to admins.
    if (dir_ == direction::inbound && owner_.console_allowed(fingerprint_)) {
      console_ = true;
      spdlog::info("cluster: console peer {} with admin certificate {} (CN "
                   "'{}')",
                   remote_, fingerprint_, cn_);
      return true;
    }
    ++owner_.stats.refused_not_allowed;
    spdlog::warn("cluster: refused {} peer {}: certificate {} (CN '{}') is "
                 "neither an allowed node certificate nor an admin one",
                 to_string(dir_), remote_, fingerprint_, cn_);
    return false;
  }

  void splice() {
    timer_.cancel();
    open_ = true;
    owner_.opened(*this);
    from_peer();
    to_peer();
  }

  /// Peer -> local, one chunk at a time.
  void from_peer() {
    auto* buf = buffers_.get();
    tls_.async_read_some(
      asio::buffer(buf, chunk_size),
      [self = shared_from_this(), buf](const error_code& ec, size_t n) {
        if (self->closed_)
          return;
        if (ec)
          return self->close(ec == asio::error::eof ? "peer closed"
                                                    : "peer read failed");
        self->owner_.stats.bytes_received += n;
        asio::async_write(self->local_, asio::buffer(buf, n),
                          [self](const error_code& ec, size_t) {
                            if (self->closed_)
                              return;
                            if (ec)
                              return self->close("local write failed");
                            self->from_peer();
                          });
      });
  }

  /// Local -> peer, one chunk at a time.
  void to_peer() {
    auto* buf = buffers_.get() + chunk_size;
    local_.async_read_some(
      asio::buffer(buf, chunk_size),
      [self = shared_from_this(), buf](const error_code& ec, size_t n) {
        if (self->closed_)
          return;
        if (ec)
          return self->close(ec == asio::error::eof ? "local closed"
                                                    : "local read failed");
        asio::async_write(self->tls_, asio::buffer(buf, n),
                          [self](const error_code& ec, size_t n) {
                            if (self->closed_)
                              return;
                            if (ec)
                              return self->close("peer write failed");
                            self->owner_.stats.bytes_sent += n;
                            self->to_peer();
                          });
      });
  }

  cluster_links::impl& owner_;
  uint64_t id_;
  direction dir_;
  ssl::stream<tcp::socket> tls_;
  tcp::socket local_;
  asio::steady_timer timer_;
  tcp::resolver resolver_;
  std::unique_ptr<char[]> buffers_;
  std::string remote_;
  std::string fingerprint_;
  std::string cn_;
  bool console_ = false;
  bool handshaking_ = false;
  bool open_ = false;
  bool closed_ = false;
};

} // namespace

/// A one-shot loopback acceptor of forward().
struct cluster_links::impl::forward_port {
  explicit forward_port(asio::io_context& ioc) : acceptor(ioc), timer(ioc) {
    // nop
  }

  tcp::acceptor acceptor;
  asio::steady_timer timer;
  /// Accepted, timed out or closed: its slot is handed on or released.
  bool done = false;

  void finish() {
    done = true;
    error_code ignored;
    acceptor.close(ignored);
    timer.cancel();
  }
};

void cluster_links::impl::accept() {
  acceptor->async_accept([this](const error_code& ec, tcp::socket sock) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open())
      return;
    if (ec) {
      spdlog::warn("cluster: accept failed: {}", ec.message());
      accept_timer->expires_after(accept_backoff);
      accept_timer->async_wait([this](const error_code& ec) {
        if (!ec && acceptor->is_open())
          accept();
      });
      return;
    }
    if (!take_slot()) {
      ++stats.refused_limit;
      error_code ignored;
      spdlog::warn("cluster: refused inbound peer {}: {} links open "
                   "(cluster.max-links)",
                   to_string(sock.remote_endpoint(ignored)), cfg.max_links);
      sock.close(ignored);
    } else {
      auto id = ++next_id;
      auto l = std::make_shared<link>(*this, id, direction::inbound,
                                      std::move(sock), tcp::socket{ioc});
      live.emplace(id, l);
      l->start_inbound();
    }
    accept();
  });
}

void cluster_links::impl::start_forward(uint64_t id,
                                        std::shared_ptr<forward_port> fwd,
                                        std::string host, uint16_t port) {
  forwards.emplace(id, fwd);
  fwd->timer.expires_after(cfg.forward_timeout);
  fwd->timer.async_wait([this, id, fwd, host, port](const error_code& ec) {
    if (ec || fwd->done)
      return;
    spdlog::info("cluster: nobody used the forward port to {}:{} in time",
                 host, port);
    fwd->finish();
    forwards.erase(id);
    release_slot();
  });
  fwd->acceptor.async_accept(
    [this, id, fwd, host, port](const error_code& ec, tcp::socket sock) {
      if (fwd->done)
        return;
      fwd->finish();
      forwards.erase(id);
      if (ec) {
        release_slot();
        return;
      }
      // The forward's slot passes to the link.
      auto lid = ++next_id;
      auto l = std::make_shared<link>(*this, lid, direction::outbound,
                                      tcp::socket{ioc}, std::move(sock));
      live.emplace(lid, l);
      l->start_outbound(host, port);
    });
}

void cluster_links::impl::opened(const link& l) {
  if (l.dir() == direction::inbound) {
    ++stats.open_inbound;
    ++stats.opened_inbound;
  } else {
    ++stats.open_outbound;
    ++stats.opened_outbound;
  }
  cluster_link_info info;
  info.dir = l.dir();
  info.fingerprint = l.fingerprint();
  info.common_name = l.common_name();
  info.remote = l.remote();
  info.since = std::chrono::system_clock::now();
  {
    std::lock_guard<std::mutex> guard{info_mtx};
    infos.emplace(l.id(), std::move(info));
  }
  spdlog::info("cluster: {} link {} with {} (CN '{}') open", to_string(l.dir()),
               l.id(), l.remote(), l.common_name());
}

void cluster_links::impl::closed(const link& l, const char* why) {
  bool was_open;
  {
    std::lock_guard<std::mutex> guard{info_mtx};
    was_open = infos.erase(l.id()) > 0;
  }
  if (was_open) {
    if (l.dir() == direction::inbound)
      --stats.open_inbound;
    else
      --stats.open_outbound;
    spdlog::info("cluster: {} link {} with {} closed: {}", to_string(l.dir()),
                 l.id(), l.remote(), why);
  }
  // The link lives on in its pending handlers until they have run.
  if (live.erase(l.id()) > 0)
    release_slot();
}

size_t cluster_links::impl::recheck() {
  std::vector<std::shared_ptr<link>> refused;
  for (auto& entry : live)
    if (entry.second->is_open()
        && !(entry.second->to_console()
               ? console_allowed(entry.second->fingerprint())
               : allowed(entry.second->fingerprint())))
      refused.push_back(entry.second);
  for (auto& l : refused) {
    spdlog::warn("cluster: closing {} link {} with {}: certificate {} (CN "
                 "'{}') is no longer allowed",
                 to_string(l->dir()), l->id(), l->remote(), l->fingerprint(),
                 l->common_name());
    ++stats.closed_by_recheck;
    l->close("no longer allowed");
  }
  return refused.size();
}

void cluster_links::impl::close_all() {
  error_code ignored;
  if (acceptor)
    acceptor->close(ignored);
  if (accept_timer)
    accept_timer->cancel();
  for (auto& entry : forwards) {
    entry.second->finish();
    release_slot();
  }
  forwards.clear();
  std::vector<std::shared_ptr<link>> all;
  for (auto& entry : live)
    all.push_back(entry.second);
  for (auto& l : all)
    l->close("stopping");
}

caf::expected<std::unique_ptr<cluster_links>>
cluster_links::start(cluster_link_config cfg) {
  if (auto err = validate(cfg))
    return err;
  auto d = std::make_unique<impl>(std::move(cfg));
  auto server = make_server_context(d->cfg.files, "cluster", d->cfg.crl);
  if (!server)
    return std::move(server.error());
  d->server_ctx = std::move(*server);
  auto client = make_client_context(d->cfg.files, "cluster", d->cfg.crl);
  if (!client)
    return std::move(client.error());
  d->client_ctx = std::move(*client);
  if (d->cfg.listen_port != 0 || d->cfg.listen_ephemeral) {
    error_code ec;
    auto addr = asio::ip::make_address(d->cfg.listen_host, ec);
    if (ec)
      return make_error(errc::invalid_config,
                        "cluster.address: '" + d->cfg.listen_host
                          + "' is no IP address");
    tcp::endpoint ep{addr, d->cfg.listen_port};
    auto& acc = d->acceptor.emplace(d->ioc);
    acc.open(ep.protocol(), ec);
    if (!ec)
      acc.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec)
      acc.bind(ep, ec);
    if (!ec)
      acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return make_error(errc::network_failure,
                        "cluster.port: cannot listen on " + to_string(ep)
                          + ": " + ec.message());
    d->port = acc.local_endpoint().port();
    d->accept_timer.emplace(d->ioc);
    d->accept();
    spdlog::info("cluster: listening on {}:{} for node links",
                 d->cfg.listen_host, d->port);
  }
  std::packaged_task<void()> run{[ptr = d.get()] {
    // A handler never throws (each catches what it calls); should Asio
    // itself throw, the thread ends instead of taking the process down.
    try {
      ptr->ioc.run();
    } catch (const std::exception& e) {
      spdlog::error("cluster: link thread failed: {}", e.what());
    }
  }};
  d->finished = run.get_future();
  d->thread = std::thread{std::move(run)};
  return std::unique_ptr<cluster_links>{new cluster_links(std::move(d))};
}

cluster_links::cluster_links(std::unique_ptr<impl> ptr)
  : impl_(std::move(ptr)) {
  // nop
}

cluster_links::~cluster_links() {
  stop();
}

uint16_t cluster_links::listen_port() const {
  return impl_->port;
}

caf::expected<uint16_t> cluster_links::forward(const std::string& host,
                                               uint16_t port) {
  auto& d = *impl_;
  if (host.empty() || port == 0)
    return make_error(errc::invalid_input,
                      "cluster: forward needs a host and a port");
  if (!d.take_slot()) {
    ++d.stats.refused_limit;
    return make_error(errc::overloaded,
                      "cluster: " + std::to_string(d.cfg.max_links)
                        + " links open (cluster.max-links)");
  }
  auto fwd = std::make_shared<impl::forward_port>(d.ioc);
  error_code ec;
  tcp::endpoint ep{asio::ip::address_v4::loopback(), 0};
  fwd->acceptor.open(ep.protocol(), ec);
  if (!ec)
    fwd->acceptor.bind(ep, ec);
  // A backlog of one: the port is for one connection.
  if (!ec)
    fwd->acceptor.listen(1, ec);
  uint16_t local = 0;
  if (!ec)
    local = fwd->acceptor.local_endpoint(ec).port();
  if (ec) {
    d.release_slot();
    return make_error(errc::network_failure,
                      "cluster: cannot open a loopback port: " + ec.message());
  }
  std::lock_guard<std::mutex> guard{d.stop_mtx};
  if (d.stopping) {
    d.release_slot();
    return make_error(errc::network_failure, "cluster: links are stopped");
  }
  asio::post(d.ioc, [&d, fwd, host, port] {
    d.start_forward(++d.next_id, fwd, host, port);
  });
  return local;
}

size_t cluster_links::recheck() {
  auto& d = *impl_;
  if (d.ioc.get_executor().running_in_this_thread())
    return d.recheck();
  std::promise<size_t> promise;
  auto result = promise.get_future();
  {
    std::lock_guard<std::mutex> guard{d.stop_mtx};
    if (d.stopping)
      return 0;
    // stop() posts after this, and the thread runs posts in order.
    asio::post(d.ioc, [&d, &promise] { promise.set_value(d.recheck()); });
  }
  return result.get();
}

std::vector<cluster_link_info> cluster_links::links() const {
  auto& d = *impl_;
  std::lock_guard<std::mutex> guard{d.info_mtx};
  std::vector<cluster_link_info> result;
  result.reserve(d.infos.size());
  for (auto& entry : d.infos)
    result.push_back(entry.second);
  return result;
}

const cluster_link_stats& cluster_links::stats() const {
  return impl_->stats;
}

void cluster_links::stop() {
  auto& d = *impl_;
  if (d.ioc.get_executor().running_in_this_thread()) {
    // From a handler (allowed()): the thread cannot join itself.
    spdlog::error("cluster: stop() called on the link thread; ignored");
    return;
  }
  {
    std::lock_guard<std::mutex> guard{d.stop_mtx};
    if (d.stopping)
      return;
    d.stopping = true;
    asio::post(d.ioc, [&d] {
      d.close_all();
      d.work.reset();
    });
  }
  if (!d.thread.joinable())
    return;
  // Every handler finds its link closed and returns, so run() ends; a
  // resolve stuck in getaddrinfo must not hold up the node's shutdown.
  if (d.finished.wait_for(std::chrono::seconds{2})
      == std::future_status::timeout)
    d.ioc.stop();
  d.thread.join();
  spdlog::info("cluster: links stopped");
}

} // namespace herald::net
