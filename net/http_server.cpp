#include "net/http_server.hpp"

#include "core/errc.hpp"
#include "core/metrics.hpp"
#include "net/problem.hpp"
#include "net/tls.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace herald::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class session;

} // namespace

struct https_server::io {
  asio::io_context ioc;
};

struct https_server::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& ioc, const config::ingress_config& cfg,
       request_handler handler, metrics* m)
    : cfg(cfg),
      handler(std::move(handler)),
      metrics(m),
      ioc(ioc),
      acceptor(asio::make_strand(ioc)) {
    // nop
  }

  void accept();

  config::ingress_config cfg;
  request_handler handler;
  herald::metrics* metrics;
  std::shared_ptr<asio::ssl::context> tls;
  std::shared_ptr<crl_store> crl;
  asio::io_context& ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::atomic<size_t> connections{0};
  std::atomic<bool> stopped{false};
  /// Set by stop_accepting(): no new connections, and each answer closes
  /// its connection.
  std::atomic<bool> draining{false};
  /// Connections per IP address that have not finished their handshake.
  std::mutex handshakes_mtx;
  std::unordered_map<std::string, size_t> handshakes;

  /// Takes a handshake slot of `address`. With `enforce`, false when the
  /// address has none left.
  bool take_handshake_slot(const std::string& address, bool enforce) {
    std::lock_guard<std::mutex> guard{handshakes_mtx};
    auto& n = handshakes[address];
    if (enforce && n >= cfg.max_handshakes_per_ip)
      return false;
    ++n;
    return true;
  }

  void release_handshake_slot(const std::string& address) {
    std::lock_guard<std::mutex> guard{handshakes_mtx};
    auto i = handshakes.find(address);
    if (i != handshakes.end() && --i->second == 0)
      handshakes.erase(i);
  }
};

namespace {

/// One client connection: handshake, then requests until the client closes,
/// a deadline passes or an error ends it.
class session : public std::enable_shared_from_this<session> {
public:
  /// `address` holds a handshake slot, released when the handshake ends.
  session(tcp::socket&& socket, std::shared_ptr<https_server::impl> srv,
          std::string address, uint16_t port)
    : stream_(std::move(socket), *srv->tls),
      srv_(std::move(srv)),
      address_(std::move(address)),
      remote_(address_ + ":" + std::to_string(port)),
      opened_(std::chrono::steady_clock::now()) {
    ++srv_->connections;
    gauge(1);
  }

  ~session() {
    release_handshake_slot();
    --srv_->connections;
    gauge(-1);
  }

  void run() {
    // Start on the connection's strand.
    asio::dispatch(stream_.get_executor(),
                   [self = shared_from_this()] { self->handshake(); });
  }

private:
  void gauge(double delta) {
    if (srv_->metrics != nullptr)
      srv_->metrics->http_connections.Add({}).Increment(delta);
  }

  void count_handshake(const char* outcome) {
    if (srv_->metrics != nullptr)
      srv_->metrics->tls_handshakes.Add({{"outcome", outcome}}).Increment();
  }

  void release_handshake_slot() {
    if (std::exchange(in_handshake_, false))
      srv_->release_handshake_slot(address_);
  }

  void handshake() {
    beast::get_lowest_layer(stream_).expires_after(
      srv_->cfg.handshake_timeout);
    stream_.async_handshake(
      asio::ssl::stream_base::server,
      [self = shared_from_this()](beast::error_code ec) {
        self->on_handshake(ec);
      });
  }

  void on_handshake(beast::error_code ec) {
    release_handshake_slot();
    if (ec) {
      count_handshake("failed");
      spdlog::debug("https: handshake with {} failed: {}", remote_,
                    ec.message());
      return;
    }
    count_handshake("ok");
    if (auto cert = SSL_get1_peer_certificate(stream_.native_handle())) {
      fingerprint_ = fingerprint_sha256(cert);
      is_node_ = is_node_certificate(cert);
      X509_free(cert);
    }
    read_request();
  }

  void read_request() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(srv_->cfg.max_header_bytes));
    parser_->body_limit(srv_->cfg.max_body_bytes);
    // Waiting for the next request may take idle_timeout; once its first
    // bytes arrive the whole request must follow within read_timeout.
    beast::get_lowest_layer(stream_).expires_after(srv_->cfg.idle_timeout);
    http::async_read_some(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec,
                                                      size_t) {
                            self->on_first_bytes(ec);
                          });
  }

  void on_first_bytes(beast::error_code ec) {
    if (ec)
      return on_read(ec);
    if (parser_->is_done())
      return on_read(ec);
    beast::get_lowest_layer(stream_).expires_after(srv_->cfg.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec,
                                                 size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream)
      return shutdown();
    if (ec == http::error::body_limit)
      return reject(problem(413, "payload-too-large", "Payload too large",
                            "The request body exceeds "
                              + std::to_string(srv_->cfg.max_body_bytes)
                              + " bytes."));
    if (ec == http::error::header_limit)
      return reject(problem(431, "headers-too-large",
                            "Request header fields too large",
                            "The request headers exceed "
                              + std::to_string(srv_->cfg.max_header_bytes)
                              + " bytes."));
    if (ec == beast::error::timeout || ec == asio::error::eof
        || ec == asio::ssl::error::stream_truncated
        || ec == asio::error::connection_reset
        || ec == asio::error::operation_aborted)
      return close();
    if (ec)
      return reject(problem(400, "malformed-request", "Malformed request",
                            "The request is not valid HTTP/1.1."));
    auto msg = parser_->release();
    // Nobody keeps a connection forever: a peer reconnects, and its new
    // handshake is checked against the CRL in force.
    keep_alive_ = msg.keep_alive()
                  && ++requests_ < srv_->cfg.max_connection_requests
                  && std::chrono::steady_clock::now() - opened_
                       < srv_->cfg.max_connection_age;
    version_ = msg.version();
    http_request req;
    req.method = std::string{msg.method_string()};
    req.target = std::string{msg.target()};
    for (const auto& field : msg) {
      std::string name{field.name_string()};
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string{field.value()});
    }
    req.body = std::move(msg.body());
    req.client_fingerprint = fingerprint_;
    req.client_is_node = is_node_;
    req.remote_address = remote_;
    // No deadline while the request is processed; the routes bound it.
    beast::get_lowest_layer(stream_).expires_never();
    auto executor = stream_.get_executor();
    responder respond = [self = shared_from_this(),
                         executor](http_response resp) {
      asio::post(executor, [self, resp = std::move(resp)]() mutable {
        self->write(std::move(resp));
      });
    };
    srv_->handler(std::move(req), std::move(respond));
  }

  /// Answers a request the transport rejected, then closes.
  void reject(http_response resp) {
    keep_alive_ = false;
    rejected_ = true;
    write(std::move(resp));
  }

  void write(http_response resp) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->result(resp.status);
    // HTTP/1.0 clients (ApacheBench) get an HTTP/1.0 answer, which says
    // Connection: keep-alive when the connection stays open.
    res->version(version_);
    res->set(http::field::server, "herald");
    res->set(http::field::content_type, resp.content_type);
    // An API answer is never framed, sniffed, run as a page or cached by a
    // proxy; routes may override (e.g. their own Cache-Control).
    res->set(http::field::strict_transport_security, "max-age=31536000");
    res->set("X-Content-Type-Options", "nosniff");
    res->set(http::field::x_frame_options, "DENY");
    res->set("Content-Security-Policy",
             "default-src 'none'; frame-ancestors 'none'");
    res->set(http::field::cache_control, "no-store");
    // A route's header replaces the default of that name; a route may send
    // one name several times (Set-Cookie).
    for (const auto& [name, value] : resp.headers)
      res->erase(name);
    for (const auto& [name, value] : resp.headers)
      res->insert(name, value);
    res->body() = std::move(resp.body);
    res->keep_alive(keep_alive_ && !srv_->stopped && !srv_->draining);
    res->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(srv_->cfg.read_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(),
                       res](beast::error_code ec, size_t) {
                        if (ec)
                          return self->close();
                        if (self->rejected_)
                          return self->discard_then_close();
                        if (!res->keep_alive())
                          return self->shutdown();
                        self->read_request();
                      });
  }

  void shutdown() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds{2});
    stream_.async_shutdown(
      [self = shared_from_this()](beast::error_code) { self->close(); });
  }

  /// A rejected peer may still be sending the body we refused. Closing with
  /// its bytes unread makes the kernel reset the connection, and the reset
  /// can destroy our answer before the peer reads it; so read and drop what
  /// comes for a bounded while (as Apache's lingering close does), then close.
  void discard_then_close() {
    constexpr size_t max_discarded = 1024 * 1024;
    if (discarded_ == 0)
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds{2});
    buffer_.clear();
    stream_.async_read_some(
      buffer_.prepare(16 * 1024),
      [self = shared_from_this()](beast::error_code ec, size_t n) {
        self->discarded_ += n;
        if (ec || self->discarded_ > max_discarded)
          return self->close();
        self->discard_then_close();
      });
  }

  void close() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(
      tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  std::shared_ptr<https_server::impl> srv_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string fingerprint_;
  bool is_node_ = false;
  std::string address_;
  std::string remote_;
  std::chrono::steady_clock::time_point opened_;
  bool in_handshake_ = true;
  size_t requests_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool rejected_ = false;
  size_t discarded_ = 0;
};

} // namespace

void https_server::impl::accept() {
  acceptor.async_accept(
    asio::make_strand(ioc),
    [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || self->stopped)
        return;
      if (!ec) {
        beast::error_code ep_ec;
        auto peer = socket.remote_endpoint(ep_ec);
        auto address = ep_ec ? std::string{} : peer.address().to_string();
        const char* refusal = nullptr;
        if (ep_ec)
          refusal = "peer_gone";
        else if (self->connections >= self->cfg.max_connections)
          refusal = "max_connections";
        // The per-address cap shares out the slots once they get scarce
        // (half taken); before, a peer that opens its pool at once (a
        // delivering node) is not turned away for nothing.
        else if (!self->take_handshake_slot(
                   address,
                   self->connections >= self->cfg.max_connections / 2))
          refusal = "max_handshakes_per_ip";
        if (refusal != nullptr) {
          // Logged at debug only: a flood must not flood the log too.
          spdlog::debug("https: refusing a connection from {}: {}", address,
                        refusal);
          if (self->metrics != nullptr)
            self->metrics->refused_connections.Add({{"reason", refusal}})
              .Increment();
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          // An answer larger than a TLS record (16 KB; a portal page of
          // 50 rows is ~20 KB) leaves in several writes; with Nagle's
          // algorithm the last waited for the ACK of the first, which the
          // peer delays by 40 ms.
          beast::error_code ignored;
          socket.set_option(tcp::no_delay{true}, ignored);
          std::make_shared<session>(std::move(socket), self,
                                    std::move(address), peer.port())
            ->run();
        }
      } else {
        spdlog::warn("https: accept failed: {}", ec.message());
      }
      self->accept();
    });
}

caf::expected<std::unique_ptr<https_server>>
https_server::start(const config::ingress_config& cfg,
                    request_handler handler, metrics* metrics,
                    std::shared_ptr<crl_store> crl) {
  auto context = std::make_unique<io>();
  auto ptr = std::make_shared<impl>(context->ioc, cfg, std::move(handler),
                                    metrics);
  ptr->crl = std::move(crl);
  auto tls = make_server_context(cfg.tls, cfg.setting, ptr->crl.get(),
                                 cfg.require_client_certificate
                                   ? client_certificates::required
                                   : client_certificates::none);
  if (!tls)
    return tls.error();
  ptr->tls = std::move(*tls);
  beast::error_code ec;
  auto address = asio::ip::make_address(cfg.address, ec);
  if (ec)
    return make_error(errc::invalid_config, cfg.setting + ".address: '"
                                              + cfg.address
                                              + "' is not an IP address");
  tcp::endpoint endpoint{address, cfg.port};
  auto& acc = ptr->acceptor;
  auto fail = [&](const char* what) {
    return make_error(errc::network_failure,
                      cfg.setting + ".port: cannot " + std::string{what} + " "
                        + cfg.address + ":" + std::to_string(cfg.port) + ": "
                        + ec.message());
  };
  if (acc.open(endpoint.protocol(), ec); ec)
    return fail("open");
  if (acc.set_option(asio::socket_base::reuse_address(true), ec); ec)
    return fail("configure");
  if (acc.bind(endpoint, ec); ec)
    return fail("bind");
  if (acc.listen(asio::socket_base::max_listen_connections, ec); ec)
    return fail("listen on");
  ptr->accept();
  for (size_t i = 0; i < cfg.threads; ++i)
    ptr->threads.emplace_back([p = ptr.get()] { p->ioc.run(); });
  spdlog::info("https: listening on {}:{} with {} threads", cfg.address,
               acc.local_endpoint().port(), cfg.threads);
  return std::unique_ptr<https_server>{
    new https_server(std::move(context), std::move(ptr))};
}

https_server::https_server(std::unique_ptr<io> context,
                           std::shared_ptr<impl> ptr)
  : io_(std::move(context)), impl_(std::move(ptr)) {
  // nop
}

https_server::~https_server() {
  stop();
  // Then impl_ goes, then io_: destroying the context destroys the
  // handlers that never ran, and with them the sessions and impl.
}

void https_server::stop_accepting() {
  if (impl_->draining.exchange(true))
    return;
  asio::post(impl_->acceptor.get_executor(), [p = impl_.get()] {
    beast::error_code ignored;
    p->acceptor.close(ignored);
  });
}

void https_server::stop() {
  if (impl_->stopped.exchange(true))
    return;
  // A raw pointer: a handler that never runs must not keep impl alive.
  asio::post(impl_->acceptor.get_executor(), [p = impl_.get()] {
    beast::error_code ignored;
    p->acceptor.close(ignored);
  });
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    t.join();
  impl_->threads.clear();
  // No thread runs now: release the port at once.
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

uint16_t https_server::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

} // namespace herald::net
