#include "net/cluster_link.hpp"

#include "core/errc.hpp"
#include "net/crl.hpp"
#include "pki/ca.hpp"
#include "test/fixtures.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/socket.h>

using namespace herald;
using namespace std::chrono_literals;

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

/// How long a test waits for something that should happen at once.
constexpr auto patience = 2s;

/// Waits until `pred` holds, up to `patience`; returns whether it did.
bool eventually(const std::function<bool()>& pred) {
  auto deadline = clock_type::now() + patience;
  while (!pred()) {
    if (clock_type::now() > deadline)
      return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

/// Stands in for the CAF middleman: echoes every byte back, and counts
/// connections and bytes.
class echo_server {
public:
  echo_server() {
    accept();
    thread_ = std::thread{[this] { ioc_.run(); }};
  }

  ~echo_server() {
    ioc_.stop();
    thread_.join();
  }

  uint16_t port() const {
    return acceptor_.local_endpoint().port();
  }

  std::atomic<int> connections{0};
  std::atomic<size_t> bytes{0};

private:
  struct session : std::enable_shared_from_this<session> {
    session(tcp::socket s, echo_server& srv) : sock(std::move(s)), owner(srv) {
      // nop
    }

    void read() {
      sock.async_read_some(asio::buffer(buf),
                           [self = shared_from_this()](
                             const boost::system::error_code& ec, size_t n) {
                             if (ec)
                               return;
                             self->owner.bytes += n;
                             asio::async_write(
                               self->sock, asio::buffer(self->buf, n),
                               [self](const boost::system::error_code& ec,
                                      size_t) {
                                 if (!ec)
                                   self->read();
                               });
                           });
    }

    tcp::socket sock;
    echo_server& owner;
    char buf[4096];
  };

  void accept() {
    acceptor_.async_accept(
      [this](const boost::system::error_code& ec, tcp::socket s) {
        if (ec)
          return;
        ++connections;
        std::make_shared<session>(std::move(s), *this)->read();
        accept();
      });
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_, {asio::ip::address_v4::loopback(), 0}};
  std::thread thread_;
};

/// Fingerprints a node accepts, changed by the tests while links run.
class allow_list {
public:
  void add(const std::string& fingerprint) {
    std::lock_guard<std::mutex> guard{mtx_};
    set_.insert(fingerprint);
  }

  void remove(const std::string& fingerprint) {
    std::lock_guard<std::mutex> guard{mtx_};
    set_.erase(fingerprint);
  }

  bool contains(const std::string& fingerprint) const {
    std::lock_guard<std::mutex> guard{mtx_};
    return set_.count(fingerprint) > 0;
  }

private:
  mutable std::mutex mtx_;
  std::set<std::string> set_;
};

/// A plain loopback TCP client, read with poll() so no read hangs a test.
class plain_client {
public:
  explicit plain_client(uint16_t port) {
    sock_.connect({asio::ip::address_v4::loopback(), port}, ec);
  }

  /// Whether the connection was made.
  boost::system::error_code ec;

  void send(const std::string& data) {
    boost::system::error_code ignored;
    asio::write(sock_, asio::buffer(data), ignored);
  }

  /// Reads `n` bytes, or what arrived before the connection closed or
  /// `patience` ran out.
  std::string read(size_t n) {
    std::string result;
    auto deadline = clock_type::now() + patience;
    while (result.size() < n) {
      auto got = read_some(deadline);
      if (got.empty())
        break;
      result += got;
    }
    return result;
  }

  /// Whether the other side closed (end of stream or reset) within
  /// `patience`; counts the bytes that arrived before.
  bool closed() {
    auto deadline = clock_type::now() + patience;
    while (true) {
      auto got = read_some(deadline);
      if (got.empty())
        return closed_;
      received_ += got.size();
    }
  }

  /// Bytes closed() read before the end.
  size_t received() const {
    return received_;
  }

  int fd() {
    return sock_.native_handle();
  }

private:
  /// One recv(); empty at the end, on an error or at `deadline`.
  std::string read_some(clock_type::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock_type::now());
    pollfd p{sock_.native_handle(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return {};
    char buf[4096];
    auto n = ::recv(sock_.native_handle(), buf, sizeof(buf), 0);
    if (n <= 0) {
      closed_ = true;
      return {};
    }
    return std::string(buf, static_cast<size_t>(n));
  }

  asio::io_context ioc_;
  tcp::socket sock_{ioc_};
  bool closed_ = false;
  size_t received_ = 0;
};

/// A TLS client whose certificate the test picks (none: `cert` null); it
/// does not check the server. closed() reads the TCP connection beneath.
class tls_probe {
public:
  explicit tls_probe(const config::tls_files* cert) {
    if (cert != nullptr) {
      ctx_.use_certificate_chain_file(cert->certificate);
      ctx_.use_private_key_file(cert->key, asio::ssl::context::pem);
    }
    ctx_.set_verify_mode(asio::ssl::verify_none);
  }

  /// Connects and tries the handshake; returns its error, if any.
  boost::system::error_code connect(uint16_t port) {
    // After the certificate is in the context: SSL_new copies it.
    stream_.emplace(ioc_, ctx_);
    boost::system::error_code ec;
    stream_->lowest_layer().connect({asio::ip::address_v4::loopback(), port},
                                   ec);
    if (!ec)
      stream_->handshake(asio::ssl::stream_base::client, ec);
    return ec;
  }

  /// Whether the server closed the TCP connection within `patience`.
  bool closed() {
    auto deadline = clock_type::now() + patience;
    char buf[4096];
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock_type::now());
      pollfd p{stream_->lowest_layer().native_handle(), POLLIN, 0};
      if (left.count() <= 0
          || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        return false;
      if (::recv(p.fd, buf, sizeof(buf), 0) <= 0)
        return true;
    }
  }

private:
  asio::io_context ioc_;
  asio::ssl::context ctx_{asio::ssl::context::tls_client};
  std::optional<asio::ssl::stream<tcp::socket>> stream_;
};

/// A CA with a fresh CRL, node certificates for A and B, a middleman
/// stand-in per node, and what each node allows.
struct link_fixture : test::temp_ca {
  std::string ca_file;
  std::string crl_file;
  std::unique_ptr<net::crl_store> crl;
  config::tls_files files_a;
  config::tls_files files_b;
  std::string fp_a;
  std::string fp_b;
  echo_server backend_a;
  echo_server backend_b;
  std::shared_ptr<allow_list> allowed_by_a = std::make_shared<allow_list>();
  std::shared_ptr<allow_list> allowed_by_b = std::make_shared<allow_list>();

  link_fixture() : test::temp_ca("cluster-link-test") {
    ca_file = write("ca.pem", ca.certificate_pem());
    crl_file = (dir / "crl.pem").string();
    crl = std::make_unique<net::crl_store>(crl_file, ca_file);
    publish_crl({});
    auto a = issue(pki::cert_kind::server, "node-a", files_a);
    auto b = issue(pki::cert_kind::server, "node-b", files_b);
    fp_a = a.info.fingerprint;
    fp_b = b.info.fingerprint;
    allowed_by_a->add(fp_b);
    allowed_by_b->add(fp_a);
  }

  std::string write(const std::string& name, const std::string& text) {
    std::ofstream{dir / name} << text;
    return (dir / name).string();
  }

  /// Issues a certificate of `kind` by `authority` (this CA by default) and
  /// writes its files; `files.ca` is this CA.
  pki::issued issue(pki::cert_kind kind, const std::string& name,
                    config::tls_files& files,
                    const pki::authority* authority = nullptr) {
    pki::issue_request req;
    req.kind = kind;
    req.common_name = name;
    if (kind == pki::cert_kind::server)
      req.ip_addresses = {"127.0.0.1"};
    auto cert = (authority != nullptr ? *authority : ca).issue(req);
    BOOST_REQUIRE_MESSAGE(cert, test::why(cert));
    files = {write(name + ".crt", cert->certificate_pem),
             write(name + ".key", cert->key_pem), ca_file};
    return *cert;
  }

  void publish_crl(const std::vector<pki::revoked_entry>& revoked) {
    auto text = ca.make_crl(revoked, 7);
    BOOST_REQUIRE_MESSAGE(text, test::why(text));
    BOOST_REQUIRE(!pki::replace_file(crl_file, *text, 0644));
    auto err = crl->refresh();
    BOOST_REQUIRE_MESSAGE(!err, render(err));
  }

  /// Settings of a node with an ephemeral listener leading to `backend`.
  net::cluster_link_config
  config(const config::tls_files& files, std::shared_ptr<allow_list> allowed,
         const echo_server& backend) {
    net::cluster_link_config cfg;
    cfg.files = files;
    cfg.crl = crl.get();
    cfg.allowed = [allowed](const std::string& fingerprint) {
      return allowed->contains(fingerprint);
    };
    cfg.listen_ephemeral = true;
    cfg.middleman_port = backend.port();
    cfg.handshake_timeout = 1s;
    return cfg;
  }

  std::unique_ptr<net::cluster_links> start(net::cluster_link_config cfg) {
    auto result = net::cluster_links::start(std::move(cfg));
    BOOST_REQUIRE_MESSAGE(result, test::why(result));
    return std::move(*result);
  }

  std::unique_ptr<net::cluster_links> start_a() {
    return start(config(files_a, allowed_by_a, backend_a));
  }

  std::unique_ptr<net::cluster_links> start_b() {
    return start(config(files_b, allowed_by_b, backend_b));
  }

  /// Connects to a forward port of `from` that leads to `to`.
  std::unique_ptr<plain_client> dial(net::cluster_links& from,
                                     net::cluster_links& to) {
    auto port = from.forward("127.0.0.1", to.listen_port());
    BOOST_REQUIRE_MESSAGE(port, test::why(port));
    auto client = std::make_unique<plain_client>(*port);
    BOOST_REQUIRE(!client->ec);
    return client;
  }

  /// Opens a tunnel from `from` to `to` and checks that it echoes.
  std::unique_ptr<plain_client> open_link(net::cluster_links& from,
                                          net::cluster_links& to) {
    auto client = dial(from, to);
    client->send("ping");
    BOOST_REQUIRE_EQUAL(client->read(4), "ping");
    return client;
  }
};

std::string error_text(const caf::expected<std::unique_ptr<net::cluster_links>>&
                         x) {
  return x ? std::string{} : render(x.error());
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(cluster_link_suite, link_fixture)

BOOST_AUTO_TEST_CASE(a_forward_port_tunnels_one_connection_to_the_peer) {
  auto a = start_a();
  auto b = start_b();
  auto port = a->forward("127.0.0.1", b->listen_port());
  BOOST_REQUIRE_MESSAGE(port, test::why(port));
  plain_client client{*port};
  BOOST_REQUIRE(!client.ec);
  std::string payload(100 * 1024, 'x');
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>('a' + i % 26);
  client.send(payload);
  BOOST_TEST(client.read(payload.size()) == payload);
  BOOST_TEST(backend_b.connections == 1);
  BOOST_TEST(backend_b.bytes == payload.size());
  BOOST_TEST(backend_a.connections == 0);
  // Both ends know who is on the other side.
  auto out = a->links();
  BOOST_REQUIRE_EQUAL(out.size(), 1u);
  BOOST_TEST((out[0].dir == net::cluster_link_info::direction::outbound));
  BOOST_TEST(out[0].fingerprint == fp_b);
  BOOST_TEST(out[0].common_name == "node-b");
  auto in = b->links();
  BOOST_REQUIRE_EQUAL(in.size(), 1u);
  BOOST_TEST((in[0].dir == net::cluster_link_info::direction::inbound));
  BOOST_TEST(in[0].fingerprint == fp_a);
  BOOST_TEST(in[0].common_name == "node-a");
  BOOST_TEST(a->stats().open_outbound == 1u);
  BOOST_TEST(b->stats().open_inbound == 1u);
  BOOST_TEST(a->stats().bytes_sent == payload.size());
  BOOST_TEST(a->stats().bytes_received == payload.size());
  // One-shot: the port is gone once used.
  plain_client second{*port};
  BOOST_TEST(second.ec == asio::error::connection_refused);
  BOOST_TEST(backend_b.connections == 1);
}

BOOST_AUTO_TEST_CASE(a_peer_of_another_ca_is_refused) {
  auto other = pki::authority::create((dir / "other").string(),
                                      pki::key_algorithm::ec_p256, "");
  BOOST_REQUIRE(other);
  config::tls_files foreign;
  auto cert = issue(pki::cert_kind::server, "intruder", foreign, &*other);
  // Allowed by fingerprint: only the chain check can refuse it.
  allowed_by_b->add(cert.info.fingerprint);
  auto b = start_b();
  tls_probe probe{&foreign};
  probe.connect(b->listen_port());
  BOOST_TEST(probe.closed());
  BOOST_TEST(eventually([&] { return b->stats().refused_bad_chain == 1; }));
  BOOST_TEST(backend_b.connections == 0);
  BOOST_TEST(b->links().empty());
}

BOOST_AUTO_TEST_CASE(a_revoked_node_certificate_is_refused) {
  config::tls_files files_c;
  auto cert = issue(pki::cert_kind::server, "node-c", files_c);
  // Allowed by fingerprint: only the CRL can refuse it.
  allowed_by_b->add(cert.info.fingerprint);
  publish_crl({{cert.info.serial, std::time(nullptr) - 60, "keyCompromise"}});
  auto b = start_b();
  tls_probe probe{&files_c};
  probe.connect(b->listen_port());
  BOOST_TEST(probe.closed());
  BOOST_TEST(eventually([&] { return b->stats().refused_revoked == 1; }));
  BOOST_TEST(backend_b.connections == 0);
}

BOOST_AUTO_TEST_CASE(a_peer_without_certificate_is_refused) {
  auto b = start_b();
  tls_probe probe{nullptr};
  probe.connect(b->listen_port());
  BOOST_TEST(probe.closed());
  BOOST_TEST(
    eventually([&] { return b->stats().refused_no_certificate == 1; }));
  BOOST_TEST(backend_b.connections == 0);
}

BOOST_AUTO_TEST_CASE(plain_tcp_is_refused) {
  auto b = start_b();
  plain_client client{b->listen_port()};
  BOOST_REQUIRE(!client.ec);
  client.send("GET / HTTP/1.0\r\n\r\n\x16\x03\x01 garbage");
  BOOST_TEST(client.closed());
  BOOST_TEST(eventually([&] { return b->stats().refused_handshake == 1; }));
  BOOST_TEST(backend_b.connections == 0);
}

BOOST_AUTO_TEST_CASE(a_client_certificate_that_is_not_allowed_is_refused) {
  // Same CA, client kind, not listed: node A misconfigured with it.
  config::tls_files client_files;
  issue(pki::cert_kind::client, "some-client", client_files);
  auto a = start(config(client_files, allowed_by_a, backend_a));
  auto b = start_b();
  auto client = dial(*a, *b);
  client->send("hello");
  BOOST_TEST(client->closed());
  BOOST_TEST(client->received() == 0u);
  BOOST_TEST(eventually([&] { return b->stats().refused_not_allowed == 1; }));
  BOOST_TEST(backend_b.connections == 0);
  BOOST_TEST(b->links().empty());
}

BOOST_AUTO_TEST_CASE(a_forward_to_a_node_that_is_not_allowed_passes_nothing) {
  // C allows A, but A does not allow C.
  config::tls_files files_c;
  auto cert = issue(pki::cert_kind::server, "node-c", files_c);
  echo_server backend_c;
  auto allowed_by_c = std::make_shared<allow_list>();
  allowed_by_c->add(fp_a);
  auto a = start_a();
  auto c = start(config(files_c, allowed_by_c, backend_c));
  auto client = dial(*a, *c);
  client->send("secret");
  BOOST_TEST(client->closed());
  BOOST_TEST(client->received() == 0u);
  BOOST_TEST(a->stats().refused_not_allowed == 1u);
  BOOST_TEST(a->links().empty());
  BOOST_TEST(backend_c.bytes == 0u);
  // allowed() was asked about C's certificate, not skipped.
  allowed_by_a->add(cert.info.fingerprint);
  open_link(*a, *c);
}

BOOST_AUTO_TEST_CASE(a_forward_to_a_server_of_another_ca_fails) {
  auto other = pki::authority::create((dir / "other").string(),
                                      pki::key_algorithm::ec_p256, "");
  BOOST_REQUIRE(other);
  config::tls_files foreign;
  auto cert = issue(pki::cert_kind::server, "intruder", foreign, &*other);
  foreign.ca = write("other-ca.pem", other->certificate_pem());
  allowed_by_a->add(cert.info.fingerprint);
  auto a = start_a();
  auto f = start(config(foreign, allowed_by_a, backend_b));
  auto client = dial(*a, *f);
  client->send("secret");
  BOOST_TEST(client->closed());
  BOOST_TEST(client->received() == 0u);
  BOOST_TEST(eventually([&] { return a->stats().refused_bad_chain == 1; }));
  BOOST_TEST(backend_b.bytes == 0u);
}

BOOST_AUTO_TEST_CASE(recheck_closes_links_of_peers_no_longer_allowed) {
  auto a = start_a();
  auto b = start_b();
  auto client = open_link(*a, *b);
  BOOST_TEST(b->recheck() == 0u);
  BOOST_TEST(a->recheck() == 0u);
  client->send("still");
  BOOST_TEST(client->read(5) == "still");
  allowed_by_b->remove(fp_a);
  auto t0 = clock_type::now();
  BOOST_TEST(b->recheck() == 1u);
  BOOST_TEST(client->closed());
  BOOST_TEST((clock_type::now() - t0 < 1s));
  BOOST_TEST(b->links().empty());
  BOOST_TEST(b->stats().closed_by_recheck == 1u);
  BOOST_TEST(b->stats().open_inbound == 0u);
  BOOST_TEST(eventually([&] { return a->links().empty(); }));
}

BOOST_AUTO_TEST_CASE(start_refuses_missing_files_and_settings) {
  auto cfg = config(files_a, allowed_by_a, backend_a);
  auto with = [&](std::function<void(net::cluster_link_config&)> change) {
    auto copy = cfg;
    change(copy);
    return error_text(net::cluster_links::start(std::move(copy)));
  };
  auto missing = (dir / "missing.pem").string();
  auto err = with([&](auto& c) { c.files.certificate = missing; });
  BOOST_TEST(err.find("cluster.certificate") != std::string::npos);
  BOOST_TEST(err.find(missing) != std::string::npos);
  err = with([&](auto& c) { c.files.key = missing; });
  BOOST_TEST(err.find("cluster.key") != std::string::npos);
  BOOST_TEST(err.find(missing) != std::string::npos);
  err = with([&](auto& c) { c.files.ca = missing; });
  BOOST_TEST(err.find("cluster.ca") != std::string::npos);
  err = with([&](auto& c) { c.files.ca.clear(); });
  BOOST_TEST(err.find("cluster.ca") != std::string::npos);
  // Readable, but no certificate in it.
  auto junk = write("junk.pem", "not a certificate\n");
  err = with([&](auto& c) { c.files.certificate = junk; });
  BOOST_TEST(err.find("cluster.certificate") != std::string::npos);
  BOOST_TEST(err.find(junk) != std::string::npos);
  err = with([&](auto& c) { c.crl = nullptr; });
  BOOST_TEST(err.find("CRL") != std::string::npos);
  err = with([&](auto& c) { c.allowed = nullptr; });
  BOOST_TEST(err.find("cluster") != std::string::npos);
  err = with([&](auto& c) { c.middleman_port = 0; });
  BOOST_TEST(err.find("middleman") != std::string::npos);
  // The unchanged settings start.
  BOOST_TEST(with([](auto&) {}) == "");
}

BOOST_AUTO_TEST_CASE(stop_closes_open_links_promptly) {
  auto a = start_a();
  auto b = start_b();
  auto client = open_link(*a, *b);
  // A forward port nobody used yet must not hold up stop() either.
  BOOST_REQUIRE(a->forward("127.0.0.1", b->listen_port()));
  auto t0 = clock_type::now();
  b->stop();
  BOOST_TEST((clock_type::now() - t0 < 1s));
  BOOST_TEST(b->links().empty());
  BOOST_TEST(client->closed());
  t0 = clock_type::now();
  a->stop();
  BOOST_TEST((clock_type::now() - t0 < 1s));
  BOOST_TEST(a->links().empty());
  // Stopped: nothing new.
  BOOST_TEST(!a->forward("127.0.0.1", 1));
  BOOST_TEST(a->recheck() == 0u);
}

BOOST_AUTO_TEST_CASE(links_beyond_max_links_are_refused) {
  auto a = start_a();
  auto cfg = config(files_b, allowed_by_b, backend_b);
  cfg.max_links = 1;
  auto b = start(std::move(cfg));
  auto first = open_link(*a, *b);
  auto second = dial(*a, *b);
  second->send("more");
  BOOST_TEST(second->closed());
  BOOST_TEST(second->received() == 0u);
  BOOST_TEST(b->stats().refused_limit == 1u);
  BOOST_TEST(backend_b.connections == 1);
  // The first link is untouched.
  first->send("again");
  BOOST_TEST(first->read(5) == "again");
}

BOOST_AUTO_TEST_SUITE_END()
