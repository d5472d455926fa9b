#include "net/https_client.hpp"

#include "net/crl.hpp"
#include "net/http_server.hpp"
#include "pki/ca.hpp"
#include "test/fixtures.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>


#include <atomic>
#include <ctime>
#include <functional>
#include <optional>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <sys/socket.h>
#include <sys/time.h>

using namespace herald;
using namespace std::chrono_literals;

namespace {

long long ms(std::chrono::steady_clock::duration x) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(x).count();
}

/// A port nobody listens on: bind, read the port, close.
uint16_t unused_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acc{
    ioc, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  return acc.local_endpoint().port();
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate in a
/// temp folder, and an HTTPS server whose answers the tests script.
struct client_fixture : test::temp_ca {
  config::tls_files server_tls;
  config::tls_files client_tls;
  std::unique_ptr<net::https_server> server;

  std::mutex mtx;
  /// Requests the server got, in arrival order.
  std::vector<net::http_request> seen;
  /// Responders not answered yet, and the most at once.
  size_t outstanding = 0;
  size_t max_outstanding = 0;
  /// How long the server waits before it answers; negative: never.
  std::chrono::milliseconds delay{0};
  std::vector<std::thread> answering;
  /// Responders the server holds without answering (delay < 0).
  std::vector<net::responder> held;

  /// Serial of the server certificate (upper-case hex), for a CRL.
  std::string server_serial;

  client_fixture() : test::temp_ca("https-client-test") {
    auto write = [&](const std::string& name, const std::string& text) {
      std::ofstream{dir / name} << text;
      return (dir / name).string();
    };
    pki::issue_request req;
    req.kind = pki::cert_kind::server;
    req.common_name = "downstream";
    req.ip_addresses = {"127.0.0.1"};
    auto srv = ca.issue(req);
    BOOST_REQUIRE_MESSAGE(srv, test::why(srv));
    server_serial = srv->info.serial;
    req.kind = pki::cert_kind::client;
    req.common_name = "herald";
    req.ip_addresses.clear();
    auto cli = ca.issue(req);
    BOOST_REQUIRE_MESSAGE(cli, test::why(cli));
    auto ca_file = write("ca.pem", ca.certificate_pem());
    server_tls = {write("server.crt", srv->certificate_pem),
                  write("server.key", srv->key_pem), ca_file};
    client_tls = {write("client.crt", cli->certificate_pem),
                  write("client.key", cli->key_pem), ca_file};
  }

  ~client_fixture() {
    if (server)
      server->stop();
    for (auto& t : answering)
      t.join();
  }

  /// Starts the server; it answers 200 with the request body, or with the
  /// status a body of the form "status:<code>" asks for.
  void start(caf::timespan idle_timeout = 60s,
             std::function<void(config::ingress_config&)> tune = nullptr) {
    config::ingress_config cfg;
    cfg.port = 0;
    cfg.tls = server_tls;
    cfg.idle_timeout = idle_timeout;
    if (tune)
      tune(cfg);
    auto handler = [this](net::http_request req, net::responder respond) {
      std::lock_guard<std::mutex> guard{mtx};
      seen.push_back(req);
      max_outstanding = std::max(max_outstanding, ++outstanding);
      unsigned status = 200;
      if (req.body.rfind("status:", 0) == 0)
        status = static_cast<unsigned>(std::stoul(req.body.substr(7)));
      net::http_response res{status, "text/plain", req.body, {}};
      if (delay.count() < 0)
        return held.push_back(std::move(respond));
      answering.emplace_back([this, res, respond, wait = delay] {
        std::this_thread::sleep_for(wait);
        {
          std::lock_guard<std::mutex> guard{mtx};
          --outstanding;
        }
        respond(res);
      });
    };
    auto started = net::https_server::start(cfg, handler, nullptr);
    BOOST_REQUIRE_MESSAGE(started, test::why(started));
    server = std::move(*started);
  }

  std::unique_ptr<net::https_client>
  client(size_t connections, caf::timespan timeout = 5s, uint16_t port = 0,
         std::shared_ptr<net::crl_store> crl = nullptr) {
    if (port == 0)
      port = server->port();
    auto url = "https://127.0.0.1:" + std::to_string(port) + "/deliver";
    auto result = net::https_client::make(url, client_tls, timeout,
                                          connections, "delivery",
                                          std::move(crl));
    BOOST_REQUIRE_MESSAGE(result, test::why(result));
    return std::move(*result);
  }

  static std::vector<net::http_post> posts(size_t n) {
    std::vector<net::http_post> result;
    for (size_t i = 0; i < n; ++i)
      result.push_back({"message " + std::to_string(i), {{"X-Index", "1"}}});
    return result;
  }
};

/// A plain TLS client with the fixture's client certificate, for what
/// https_client hides: sessions, raw requests, response headers.
struct raw_client {
  boost::asio::io_context ioc;
  boost::asio::ssl::context ctx{boost::asio::ssl::context::tls_client};
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> stream;

  explicit raw_client(const config::tls_files& tls) {
    ctx.use_certificate_chain_file(tls.certificate);
    ctx.use_private_key_file(tls.key, boost::asio::ssl::context::pem);
    ctx.load_verify_file(tls.ca);
    ctx.set_verify_mode(boost::asio::ssl::verify_peer);
  }

  /// Connects to `port`, offering `session` for resumption when given.
  void connect(uint16_t port, SSL_SESSION* session = nullptr) {
    stream.emplace(ioc, ctx);
    stream->lowest_layer().connect(
      {boost::asio::ip::make_address("127.0.0.1"), port});
    if (session != nullptr)
      SSL_set_session(stream->native_handle(), session);
    stream->handshake(boost::asio::ssl::stream_base::client);
  }

  /// Sends `request` and reads until the end of the response headers and
  /// the body length they announce; returns the whole response.
  std::string exchange(const std::string& request) {
    boost::asio::write(*stream, boost::asio::buffer(request));
    std::string response;
    char buf[4096];
    boost::system::error_code ec;
    while (true) {
      auto end = response.find("\r\n\r\n");
      if (end != std::string::npos) {
        auto cl = response.find("Content-Length: ");
        auto length = cl == std::string::npos
                        ? 0
                        : std::stoul(response.substr(cl + 16));
        if (response.size() >= end + 4 + length)
          return response;
      }
      auto n = stream->read_some(boost::asio::buffer(buf), ec);
      if (ec)
        return response;
      response.append(buf, n);
    }
  }

  /// Whether the server closed the connection (reads end of stream).
  bool closed_by_server() {
    char buf[1];
    boost::system::error_code ec;
    stream->read_some(boost::asio::buffer(buf), ec);
    return ec == boost::asio::error::eof
           || ec == boost::asio::ssl::error::stream_truncated;
  }
};

constexpr const char* get_request
  = "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";

} // namespace

BOOST_FIXTURE_TEST_SUITE(https_client_suite, client_fixture)

BOOST_AUTO_TEST_CASE(results_come_back_in_request_order) {
  start();
  auto requests = posts(20);
  requests[7].body = "status:503";
  requests[11].body = "status:404";
  auto results = client(4)->post_all(requests);
  BOOST_REQUIRE_EQUAL(results.size(), 20u);
  for (size_t i = 0; i < results.size(); ++i) {
    BOOST_TEST_CONTEXT("request " << i) {
      BOOST_TEST(results[i].error == "");
      BOOST_TEST(results[i].body == requests[i].body);
    }
  }
  BOOST_TEST(results[0].status == 200u);
  BOOST_TEST(results[7].status == 503u);
  BOOST_TEST(results[11].status == 404u);
  std::lock_guard<std::mutex> guard{mtx};
  BOOST_REQUIRE_EQUAL(seen.size(), 20u);
  BOOST_TEST(seen[0].header("x-index") != nullptr);
  BOOST_TEST(*seen[0].header("content-type") == "application/json");
}

BOOST_AUTO_TEST_CASE(requests_fly_concurrently_up_to_the_pool_size) {
  delay = 300ms;
  start();
  auto before = std::chrono::steady_clock::now();
  auto results = client(4)->post_all(posts(8));
  auto took = std::chrono::steady_clock::now() - before;
  for (const auto& r : results)
    BOOST_TEST(r.status == 200u);
  // Two rounds of four: one after the other would take 2.4 s.
  BOOST_TEST(ms(took) < 1500);
  BOOST_TEST(max_outstanding == 4u);
  BOOST_TEST(ms(results[0].elapsed) >= 300);
}

BOOST_AUTO_TEST_CASE(a_connection_the_server_closed_while_idle_is_renewed) {
  start(200ms);
  auto c = client(1);
  auto first = c->post_all(posts(1));
  BOOST_TEST(first[0].status == 200u);
  // The server drops the kept-alive connection meanwhile.
  std::this_thread::sleep_for(600ms);
  auto second = c->post_all(posts(3));
  for (const auto& r : second) {
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.error == "");
  }
  std::lock_guard<std::mutex> guard{mtx};
  BOOST_TEST(seen.size() == 4u);
}

BOOST_AUTO_TEST_CASE(an_unreachable_downstream_fails_every_request_fast) {
  auto port = unused_port();
  auto before = std::chrono::steady_clock::now();
  auto results = client(2, 5s, port)->post_all(posts(8));
  BOOST_TEST(ms(std::chrono::steady_clock::now() - before) < 1000);
  for (const auto& r : results) {
    BOOST_TEST(r.status == 0u);
    BOOST_TEST(r.error.rfind("connect: ", 0) == 0, r.error);
  }
}

BOOST_AUTO_TEST_CASE(a_silent_downstream_times_out) {
  delay = -1ms;
  start();
  auto results = client(2, 300ms)->post_all(posts(2));
  for (const auto& r : results) {
    BOOST_TEST(r.status == 0u);
    BOOST_TEST(r.error == "timeout");
  }
}

BOOST_AUTO_TEST_CASE(requests_not_started_within_the_timeout_stay_unsent) {
  delay = 200ms;
  start();
  auto before = std::chrono::steady_clock::now();
  // One connection: the requests queue behind each other, 200 ms apiece.
  auto results = client(1, 500ms)->post_all(posts(6));
  BOOST_TEST(ms(std::chrono::steady_clock::now() - before) < 1000);
  size_t sent = 0;
  for (const auto& r : results) {
    if (r.status == 200u)
      ++sent;
    else
      BOOST_TEST(r.error == "not sent: the batch ran out of time");
  }
  BOOST_TEST(sent >= 2u);
  BOOST_TEST(sent <= 4u);
  BOOST_TEST(results.back().status == 0u);
  std::lock_guard<std::mutex> guard{mtx};
  BOOST_TEST(seen.size() == sent);
}

BOOST_AUTO_TEST_CASE(the_pool_opens_ahead_of_the_first_batch) {
  start();
  auto c = client(4);
  BOOST_TEST(c->connect_all() == 4u);
  BOOST_TEST(c->connect_all() == 4u); // already open: nothing to do
  auto results = c->post_all(posts(4));
  for (const auto& r : results)
    BOOST_TEST(r.status == 200u);
}

BOOST_AUTO_TEST_CASE(a_connection_opened_ahead_and_closed_meanwhile_is_renewed) {
  start(200ms);
  auto c = client(1);
  BOOST_TEST(c->connect_all() == 1u);
  // The server drops the idle connection before the first request.
  std::this_thread::sleep_for(600ms);
  auto results = c->post_all(posts(1));
  BOOST_TEST(results[0].status == 200u);
  BOOST_TEST(results[0].error == "");
}

BOOST_AUTO_TEST_CASE(opening_the_pool_against_nobody_opens_nothing) {
  auto c = client(4, 5s, unused_port());
  BOOST_TEST(c->connect_all() == 0u);
  auto results = c->post_all(posts(2));
  for (const auto& r : results)
    BOOST_TEST(r.error.rfind("connect: ", 0) == 0, r.error);
}

BOOST_AUTO_TEST_CASE(a_server_outside_the_ca_is_refused) {
  start();
  // The client trusts only its own certificate, not the server's CA.
  client_tls.ca = client_tls.certificate;
  auto results = client(1)->post_all(posts(1));
  BOOST_TEST(results[0].status == 0u);
  BOOST_TEST(results[0].error.find("certificate verify failed")
               != std::string::npos,
             results[0].error);
}

BOOST_AUTO_TEST_CASE(a_revoked_downstream_is_refused) {
  start();
  // Before, the delivery client checked no CRL at all.
  auto crl_file = (dir / "crl.pem").string();
  auto crl_pem = ca.make_crl({{server_serial, 1700000000, "keyCompromise"}}, 7);
  BOOST_REQUIRE(crl_pem);
  std::ofstream{crl_file} << *crl_pem;
  auto crl = std::make_shared<net::crl_store>(crl_file, client_tls.ca);
  BOOST_REQUIRE(!crl->refresh());
  auto results = client(1, 5s, 0, crl)->post_all(posts(1));
  BOOST_TEST(results[0].status == 0u);
  BOOST_TEST(results[0].error.find("certificate verify failed")
               != std::string::npos,
             results[0].error);
  // An empty CRL lets the same server in.
  crl_pem = ca.make_crl({}, 7, static_cast<int64_t>(std::time(nullptr)) + 1);
  BOOST_REQUIRE(crl_pem);
  std::ofstream{crl_file} << *crl_pem;
  BOOST_REQUIRE(!crl->refresh());
  BOOST_TEST(client(1, 5s, 0, crl)->post_all(posts(1))[0].status == 200u);
}

BOOST_AUTO_TEST_CASE(tls_sessions_are_never_resumed) {
  // A resumed session skips the certificate and CRL checks: before, a
  // client revoked meanwhile came back on its saved TLS 1.3 ticket.
  start();
  raw_client c{client_tls};
  c.connect(server->port());
  BOOST_TEST(c.exchange(get_request).rfind("HTTP/1.1 200", 0) == 0u);
  std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)> session{
    SSL_get1_session(c.stream->native_handle()), SSL_SESSION_free};
  BOOST_REQUIRE(session != nullptr);
  BOOST_TEST(!SSL_SESSION_is_resumable(session.get()));
  raw_client again{client_tls};
  again.connect(server->port(), session.get());
  BOOST_TEST(!SSL_session_reused(again.stream->native_handle()));
  // TLS 1.2 with a session id: no cache on the server either.
  raw_client old{client_tls};
  SSL_CTX_set_max_proto_version(old.ctx.native_handle(), TLS1_2_VERSION);
  old.connect(server->port());
  BOOST_TEST(old.exchange(get_request).rfind("HTTP/1.1 200", 0) == 0u);
  session.reset(SSL_get1_session(old.stream->native_handle()));
  raw_client old_again{client_tls};
  SSL_CTX_set_max_proto_version(old_again.ctx.native_handle(), TLS1_2_VERSION);
  old_again.connect(server->port(), session.get());
  BOOST_TEST(!SSL_session_reused(old_again.stream->native_handle()));
}

BOOST_AUTO_TEST_CASE(connections_end_after_their_request_budget) {
  start(60s, [](config::ingress_config& cfg) {
    cfg.max_connection_requests = 2;
  });
  raw_client c{client_tls};
  c.connect(server->port());
  auto first = c.exchange(get_request);
  BOOST_TEST(first.find("Connection: close") == std::string::npos);
  auto second = c.exchange(get_request);
  BOOST_TEST(second.rfind("HTTP/1.1 200", 0) == 0u);
  BOOST_TEST(second.find("Connection: close") != std::string::npos);
  BOOST_TEST(c.closed_by_server());
}

BOOST_AUTO_TEST_CASE(http_1_0_keep_alive_is_answered_in_kind) {
  // ApacheBench (ab -k) speaks HTTP/1.0 and waits for a close unless the
  // answer says Connection: keep-alive.
  start();
  raw_client c{client_tls};
  c.connect(server->port());
  auto request = std::string{"GET /x HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                             "Connection: keep-alive\r\n\r\n"};
  auto first = c.exchange(request);
  BOOST_TEST(first.rfind("HTTP/1.0 200", 0) == 0u, first);
  // Every answer carries the security headers (testssl's findings).
  for (auto header : {"Strict-Transport-Security: max-age=31536000",
                      "X-Content-Type-Options: nosniff",
                      "X-Frame-Options: DENY",
                      "Content-Security-Policy: default-src 'none'",
                      "Cache-Control: no-store"})
    BOOST_TEST(first.find(header) != std::string::npos, header);
  BOOST_TEST(first.find("Connection: keep-alive") != std::string::npos);
  BOOST_TEST(c.exchange(request).rfind("HTTP/1.0 200", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(idle_unauthenticated_connections_are_capped_per_address) {
  start(60s, [](config::ingress_config& cfg) {
    cfg.max_handshakes_per_ip = 2;
    cfg.handshake_timeout = 1s;
    // The cap engages once half of the connections are taken.
    cfg.max_connections = 4;
  });
  using boost::asio::ip::tcp;
  boost::asio::io_context ioc;
  auto open_idle = [&] {
    auto s = std::make_unique<tcp::socket>(ioc);
    s->connect({boost::asio::ip::make_address("127.0.0.1"), server->port()});
    return s;
  };
  auto closed_within = [](tcp::socket& s, std::chrono::milliseconds limit) {
    auto start = std::chrono::steady_clock::now();
    char buf[1];
    boost::system::error_code ec;
    // A short receive timeout, so a socket the server keeps fails the test
    // instead of hanging it.
    timeval tv{static_cast<time_t>(limit.count() / 1000),
               static_cast<suseconds_t>((limit.count() % 1000) * 1000)};
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    s.read_some(boost::asio::buffer(buf), ec);
    return ec == boost::asio::error::eof
           && std::chrono::steady_clock::now() - start < limit;
  };
  auto a = open_idle();
  auto b = open_idle();
  std::this_thread::sleep_for(100ms);
  // Over the cap: closed at once, before any TLS.
  auto c = open_idle();
  BOOST_TEST(closed_within(*c, 500ms));
  // The two in their handshake are cut off by the handshake timeout.
  BOOST_TEST(closed_within(*a, 2500ms));
  BOOST_TEST(closed_within(*b, 500ms));
  // Then a real client gets in again.
  BOOST_TEST(client(1)->post_all(posts(1))[0].status == 200u);
}

BOOST_AUTO_TEST_SUITE_END()
