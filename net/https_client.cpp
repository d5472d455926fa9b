#include "net/https_client.hpp"

#include "core/errc.hpp"
#include "net/crl.hpp"
#include "net/tls.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>

namespace herald::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

/// One kept-alive connection of the pool and the request it carries.
struct connection {
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  std::optional<http::response_parser<http::string_body>> parser;
  /// When the current request was taken, for its result's `elapsed`, and
  /// when its attempt (connect, TLS, request, response) runs out of time.
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point deadline;
  /// Whether the stream sat open before this request (kept alive after one,
  /// or opened ahead by connect_all): the server may have closed it
  /// meanwhile, so a failure earns one resend on a new connection.
  bool was_idle = false;
};

/// Errors of a connection the server closed while it was idle.
bool stale_connection(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset
         || ec == asio::error::broken_pipe
         || ec == asio::ssl::error::stream_truncated
         || ec == http::error::end_of_stream;
}

std::string describe(const beast::error_code& ec, const char* step) {
  if (ec == beast::error::timeout)
    return "timeout";
  return std::string{step} + ": " + ec.message();
}

} // namespace

struct https_client::impl {
  asio::io_context ioc;
  std::shared_ptr<asio::ssl::context> tls;
  /// Checked in every handshake; reloaded by the node's pki monitor.
  std::shared_ptr<crl_store> crl;
  std::vector<std::unique_ptr<connection>> pool;
  /// Resolved once; cleared when a connect fails, to resolve again.
  std::optional<tcp::resolver::results_type> endpoints;
  std::string host;
  std::string port;
  std::string target;
  caf::timespan timeout;

  // State of the running post_all.
  const std::vector<http_post>* requests = nullptr;
  std::vector<http_result>* results = nullptr;
  size_t next = 0;
  /// Set when a connect failed: the rest of the run fails fast instead of
  /// waiting for every connection to time out on its own.
  std::optional<std::string> connect_error;

  /// Requests not started by then stay unsent, which bounds a batch by two
  /// timeouts (the last start, then its attempt).
  std::chrono::steady_clock::time_point start_by;

  /// Gives connection `c` the next unsent request, if any.
  void take_next(connection& c) {
    if (next < requests->size()
        && std::chrono::steady_clock::now() > start_by) {
      for (; next < requests->size(); ++next)
        (*results)[next].error = "not sent: the batch ran out of time";
      return;
    }
    if (next < requests->size()) {
      c.started = std::chrono::steady_clock::now();
      c.deadline = c.started + timeout;
      send(c, next++, false);
    }
  }

  void fail(connection& c, size_t i, std::string error) {
    c.stream.reset();
    c.buffer.clear();
    c.was_idle = false;
    (*results)[i].error = std::move(error);
    (*results)[i].elapsed = std::chrono::steady_clock::now() - c.started;
    take_next(c);
  }

  void send(connection& c, size_t i, bool resend) {
    if (c.stream)
      return write(c, i, resend);
    if (connect_error)
      return fail(c, i, *connect_error);
    connect(c, [this, &c, i](const std::string& error) {
      if (!error.empty()) {
        connect_error = error;
        return fail(c, i, error);
      }
      write(c, i, true);
    });
  }

  /// Opens `c` (resolving the host once, TCP, TLS) by `c.deadline`, then
  /// calls `done` with an empty string, or why it failed (`c` closed).
  void connect(connection& c, std::function<void(const std::string&)> done) {
    c.stream.emplace(ioc, *tls);
    c.buffer.clear();
    c.was_idle = false;
    auto failed = [&c, done](const std::string& why) {
      c.stream.reset();
      done(why);
    };
    auto* ssl = c.stream->native_handle();
    auto* param = SSL_get0_param(ssl);
    boost::system::error_code ip_ec;
    asio::ip::make_address(host, ip_ec);
    // An IP address is matched against the certificate's IP SANs, a name
    // against its DNS names (and sent as SNI).
    bool named = !ip_ec ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1
                        : SSL_set_tlsext_host_name(ssl, host.c_str()) == 1
                            && X509_VERIFY_PARAM_set1_host(param, host.c_str(),
                                                           0)
                                 == 1;
    if (!named)
      return failed("tls: cannot set the expected host name");
    beast::get_lowest_layer(*c.stream).expires_at(c.deadline);
    auto handshake = [this, &c, done, failed](beast::error_code ec) {
      if (ec) {
        endpoints.reset();
        return failed(describe(ec, "connect"));
      }
      c.stream->async_handshake(asio::ssl::stream_base::client,
                                [done, failed](beast::error_code ec2) {
                                  if (ec2)
                                    return failed(describe(ec2, "connect"));
                                  done({});
                                });
    };
    if (endpoints) {
      beast::get_lowest_layer(*c.stream)
        .async_connect(*endpoints,
                       [handshake](beast::error_code ec, auto&&) {
                         handshake(ec);
                       });
      return;
    }
    auto resolver = std::make_shared<tcp::resolver>(ioc);
    resolver->async_resolve(
      host, port,
      [this, &c, resolver, failed, handshake](
        beast::error_code ec, tcp::resolver::results_type found) {
        if (ec)
          return failed(describe(ec, "resolve"));
        endpoints = found;
        beast::get_lowest_layer(*c.stream)
          .async_connect(found, [handshake](beast::error_code ec2, auto&&) {
            handshake(ec2);
          });
      });
  }

  void write(connection& c, size_t i, bool resend) {
    const auto& post = (*requests)[i];
    c.req = {http::verb::post, target, 11};
    c.req.set(http::field::host, host);
    c.req.set(http::field::content_type, "application/json");
    c.req.set(http::field::user_agent, "herald");
    for (const auto& [name, value] : post.headers)
      c.req.set(name, value);
    c.req.body() = post.body;
    c.req.keep_alive(true);
    c.req.prepare_payload();
    c.parser.emplace();
    c.parser->body_limit(64 * 1024);
    beast::get_lowest_layer(*c.stream).expires_at(c.deadline);
    auto retry_or_fail = [this, &c, i, resend](beast::error_code ec) {
      if (c.was_idle && !resend && stale_connection(ec)) {
        c.stream.reset();
        c.was_idle = false;
        return send(c, i, true);
      }
      fail(c, i, describe(ec, "request"));
    };
    http::async_write(
      *c.stream, c.req,
      [this, &c, i, retry_or_fail](beast::error_code ec, size_t) {
        if (ec)
          return retry_or_fail(ec);
        http::async_read(
          *c.stream, c.buffer, *c.parser,
          [this, &c, i, retry_or_fail](beast::error_code ec2, size_t) {
            if (ec2)
              return retry_or_fail(ec2);
            auto res = c.parser->release();
            auto& result = (*results)[i];
            result.status = res.result_int();
            result.body = std::move(res.body());
            result.elapsed = std::chrono::steady_clock::now() - c.started;
            c.was_idle = true;
            if (!res.keep_alive()) {
              c.stream.reset();
              c.was_idle = false;
            }
            take_next(c);
          });
      });
  }
};

caf::expected<std::unique_ptr<https_client>>
https_client::make(const std::string& url, const config::tls_files& tls,
                   caf::timespan timeout, size_t connections,
                   const std::string& prefix, std::shared_ptr<crl_store> crl) {
  auto ptr = std::make_unique<impl>();
  for (size_t i = 0; i < std::max<size_t>(connections, 1); ++i)
    ptr->pool.push_back(std::make_unique<connection>());
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0)
    return make_error(errc::invalid_config,
                      prefix + ".url: '" + url + "' must start with https://");
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  ptr->target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  ptr->host = authority.substr(0, colon);
  ptr->port = colon == std::string::npos ? "443" : authority.substr(colon + 1);
  if (ptr->host.empty() || ptr->port.empty())
    return make_error(errc::invalid_config,
                      prefix + ".url: '" + url + "' has no host");
  ptr->timeout = timeout;
  auto tls_ctx = make_client_context(tls, prefix, crl.get());
  if (!tls_ctx)
    return std::move(tls_ctx.error());
  ptr->tls = std::move(*tls_ctx);
  ptr->crl = std::move(crl);
  return std::unique_ptr<https_client>{new https_client(std::move(ptr))};
}

https_client::https_client(std::unique_ptr<impl> ptr)
  : impl_(std::move(ptr)) {
  // nop
}

https_client::~https_client() = default;

size_t https_client::connect_all() {
  auto& d = *impl_;
  // Short: a downstream with a small listen backlog drops some of the
  // connects, and their retransmissions must not hold up the first batch.
  auto deadline = std::chrono::steady_clock::now()
                  + std::min<caf::timespan>(d.timeout, std::chrono::seconds{1});
  for (auto& c : d.pool) {
    if (!c->stream) {
      c->deadline = deadline;
      d.connect(*c, [&c](const std::string& error) {
        c->was_idle = error.empty();
      });
    }
  }
  d.ioc.restart();
  d.ioc.run();
  return static_cast<size_t>(
    std::count_if(d.pool.begin(), d.pool.end(),
                  [](const auto& c) { return c->stream.has_value(); }));
}

std::vector<http_result>
https_client::post_all(const std::vector<http_post>& requests) {
  auto& d = *impl_;
  std::vector<http_result> results(requests.size());
  d.requests = &requests;
  d.results = &results;
  d.next = 0;
  d.connect_error.reset();
  d.start_by = std::chrono::steady_clock::now() + d.timeout;
  for (auto& c : d.pool)
    d.take_next(*c);
  d.ioc.restart();
  d.ioc.run();
  d.requests = nullptr;
  d.results = nullptr;
  return results;
}

} // namespace herald::net
