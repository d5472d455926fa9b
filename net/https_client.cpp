#include "net/https_client.hpp"

#include "core/errc.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <optional>

namespace herald::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct https_client::impl {
  asio::io_context ioc;
  asio::ssl::context tls{asio::ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  std::string host;
  std::string port;
  std::string target;
  caf::timespan timeout;

  /// Runs the I/O started before it to completion; the stream's deadline
  /// bounds every operation.
  void run() {
    ioc.restart();
    ioc.run();
  }

  beast::error_code connect() {
    beast::error_code ec;
    stream.emplace(ioc, tls);
    auto* ssl = stream->native_handle();
    SSL_set_tlsext_host_name(ssl, host.c_str());
    auto* param = SSL_get0_param(ssl);
    boost::system::error_code ip_ec;
    asio::ip::make_address(host, ip_ec);
    if (!ip_ec)
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    else
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    tcp::resolver resolver{ioc};
    auto& lowest = beast::get_lowest_layer(*stream);
    lowest.expires_after(timeout);
    resolver.async_resolve(
      host, port,
      [&](beast::error_code e, tcp::resolver::results_type results) {
        if (e) {
          ec = e;
          return;
        }
        lowest.async_connect(results,
                             [&](beast::error_code e2, auto&&) {
                               if (e2) {
                                 ec = e2;
                                 return;
                               }
                               stream->async_handshake(
                                 asio::ssl::stream_base::client,
                                 [&](beast::error_code e3) { ec = e3; });
                             });
      });
    run();
    if (ec)
      stream.reset();
    return ec;
  }
};

caf::expected<std::unique_ptr<https_client>>
https_client::make(const std::string& url, const config::tls_files& tls,
                   caf::timespan timeout, const std::string& prefix) {
  auto ptr = std::make_unique<impl>();
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
  auto* native = ptr->tls.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  auto fail = [&](const char* setting, const std::string& file) {
    return make_error(errc::tls_failure, prefix + "." + setting + ": cannot "
                                           "load '" + file + "'");
  };
  if (SSL_CTX_load_verify_locations(native, tls.ca.c_str(), nullptr) != 1)
    return fail("ca", tls.ca);
  if (SSL_CTX_use_certificate_chain_file(native, tls.certificate.c_str())
      != 1)
    return fail("certificate", tls.certificate);
  if (SSL_CTX_use_PrivateKey_file(native, tls.key.c_str(), SSL_FILETYPE_PEM)
      != 1)
    return fail("key", tls.key);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  return std::unique_ptr<https_client>{new https_client(std::move(ptr))};
}

https_client::https_client(std::unique_ptr<impl> ptr)
  : impl_(std::move(ptr)) {
  // nop
}

https_client::~https_client() = default;

http_result https_client::post(
  const std::string& body,
  const std::vector<std::pair<std::string, std::string>>& headers) {
  auto& d = *impl_;
  http_result result;
  if (!d.stream) {
    if (auto ec = d.connect()) {
      result.error = ec == beast::error::timeout ? "timeout"
                                                 : "connect: " + ec.message();
      return result;
    }
  }
  http::request<http::string_body> req{http::verb::post, d.target, 11};
  req.set(http::field::host, d.host);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "herald");
  for (const auto& [name, value] : headers)
    req.set(name, value);
  req.body() = body;
  req.keep_alive(true);
  req.prepare_payload();
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  beast::error_code ec;
  beast::get_lowest_layer(*d.stream).expires_after(d.timeout);
  http::async_write(*d.stream, req, [&](beast::error_code e, size_t) {
    if (e) {
      ec = e;
      return;
    }
    http::async_read(*d.stream, d.buffer, parser,
                     [&](beast::error_code e2, size_t) { ec = e2; });
  });
  d.run();
  if (ec) {
    d.stream.reset();
    d.buffer.clear();
    result.error = ec == beast::error::timeout ? "timeout" : ec.message();
    return result;
  }
  auto res = parser.release();
  result.status = res.result_int();
  result.body = std::move(res.body());
  if (!res.keep_alive())
    d.stream.reset();
  return result;
}

} // namespace herald::net
