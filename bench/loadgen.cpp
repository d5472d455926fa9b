// herald_loadgen: HTTPS load generator for Herald's message-submission API.
// An independent mTLS client (Beast + Asio SSL): it measures the server as a
// real client sees it, including TLS and HTTP parsing.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <CLI/CLI.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;

struct options {
  std::string url = "https://127.0.0.1:8443/api/v1/messages";
  std::string cacert;
  std::string cert;
  std::string key;
  size_t connections = 64;
  double duration = 10;
  double rate = 0;
  double warmup = 2;
  std::string method = "POST";
  std::string body_template = R"({"sender_number":"{sender}",)"
                              R"("message_body":"load test message {n}"})";
  uint64_t senders = 1000;
  bool idempotency = false;
  bool new_connection = false;
  size_t threads = 2;
  double timeout = 10;
};

struct target {
  std::string host;
  std::string port;
  std::string path;
};

/// Accepts https://host[:port][/path]; host may be an [IPv6] literal.
std::optional<target> parse_url(const std::string& url) {
  const std::string scheme = "https://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    return std::nullopt;
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  target t;
  t.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string port_part;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos)
      return std::nullopt;
    t.host = authority.substr(1, close - 1);
    port_part = authority.substr(close + 1);
  } else {
    auto colon = authority.find(':');
    t.host = authority.substr(0, colon);
    if (colon != std::string::npos)
      port_part = authority.substr(colon);
  }
  if (port_part.empty())
    t.port = "443";
  else if (port_part.size() > 1 && port_part.front() == ':')
    t.port = port_part.substr(1);
  else
    return std::nullopt;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (t.host.empty() || t.port.size() > 5
      || !std::all_of(t.port.begin(), t.port.end(), digit))
    return std::nullopt;
  if (auto port = std::stoi(t.port); port < 1 || port > 65535)
    return std::nullopt;
  return t;
}

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

/// Expands {n} (the request number) and {sender} in the body template.
std::string render_body(const std::string& tmpl, uint64_t n,
                        uint64_t senders) {
  // Senders cycle through a pool so per-sender state in the server sees
  // a spread like real traffic; the first is +4915112345678.
  auto sender = "+" + std::to_string(4915112345678ULL + n % senders);
  auto number = std::to_string(n);
  std::string out;
  out.reserve(tmpl.size() + 32);
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl.compare(i, 3, "{n}") == 0) {
      out += number;
      i += 3;
    } else if (tmpl.compare(i, 8, "{sender}") == 0) {
      out += sender;
      i += 8;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

enum failure {
  connect_failed,
  handshake_failed,
  write_failed,
  read_failed,
  timed_out,
  failure_kinds
};

constexpr std::array<const char*, failure_kinds> failure_names
  = {"connect", "handshake", "write", "read", "timeout"};

/// What one connection saw during the measured window. Owned by its
/// connection's strand while running, merged after the threads joined.
/// Requests count by their (scheduled) start; `completed` counts responses
/// that arrived inside the window, whenever their request started.
struct results {
  uint64_t requests = 0;
  uint64_t completed = 0;
  uint64_t unsent = 0;
  uint64_t handshakes = 0;
  std::map<unsigned, uint64_t> statuses;
  std::array<uint64_t, failure_kinds> errors{};
  std::array<std::string, failure_kinds> first_error;
  std::vector<int64_t> latencies_ns;

  void merge(const results& other) {
    requests += other.requests;
    completed += other.completed;
    unsent += other.unsent;
    handshakes += other.handshakes;
    for (const auto& [status, count] : other.statuses)
      statuses[status] += count;
    for (size_t i = 0; i < failure_kinds; ++i) {
      errors[i] += other.errors[i];
      if (first_error[i].empty())
        first_error[i] = other.first_error[i];
    }
    latencies_ns.insert(latencies_ns.end(), other.latencies_ns.begin(),
                        other.latencies_ns.end());
  }

  uint64_t responses() const {
    uint64_t sum = 0;
    for (const auto& entry : statuses)
      sum += entry.second;
    return sum;
  }

  uint64_t successes() const {
    uint64_t sum = 0;
    for (const auto& [status, count] : statuses)
      if (status >= 200 && status < 300)
        sum += count;
    return sum;
  }

  uint64_t error_count() const {
    uint64_t sum = 0;
    for (auto count : errors)
      sum += count;
    return sum;
  }
};

/// State shared by all connections; read-only once the run started,
/// except for the atomics and the completion signal.
struct run_context {
  run_context(const options& o, target t)
    : opts(o), dest(std::move(t)), tls(ssl::context::tls_client) {
    // Host header: IPv6 literals need their brackets back.
    host_header = dest.host.find(':') == std::string::npos
                    ? dest.host
                    : "[" + dest.host + "]";
    host_header += ":" + dest.port;
    // RFC 6066: SNI carries DNS names only.
    use_sni = !is_ip_literal(dest.host);
  }

  const options& opts;
  target dest;
  std::string host_header;
  bool use_sni = false;
  ssl::context tls;
  tcp::resolver::results_type endpoints;
  http::verb verb = http::verb::post;
  std::string run_id;
  clock_type::time_point started;
  clock_type::time_point measure_from;
  clock_type::time_point stop_at;
  nanoseconds timeout{};
  // Per-connection send interval; zero runs closed loop.
  nanoseconds interval{};
  nanoseconds stagger{};

  std::atomic<uint64_t> next_number{0};
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> responses{0};
  std::atomic<uint64_t> errors{0};

  std::mutex mtx;
  std::condition_variable done_cv;
  size_t active = 0;

  void connection_done() {
    std::lock_guard<std::mutex> guard{mtx};
    if (--active == 0)
      done_cv.notify_all();
  }
};

/// One client connection slot: issues requests one after another (HTTP/1.1
/// without pipelining), reconnecting whenever the server or an error
/// closed the stream, or for every request with --new-connection.
class connection : public std::enable_shared_from_this<connection> {
public:
  connection(asio::io_context& ioc, run_context& ctx, size_t index)
    : ctx_(ctx), strand_(asio::make_strand(ioc)), timer_(strand_) {
    next_at_ = ctx_.started + ctx_.stagger * index;
  }

  void start() {
    asio::post(strand_, [self = shared_from_this()] { self->next(); });
  }

  const results& stats() const {
    return stats_;
  }

private:
  void next() {
    auto now = clock_type::now();
    // Closed loop: the next request starts now. Open loop: a slot that
    // passed while the previous response was outstanding is sent at once,
    // and its latency still counts from the slot, so a stalled server
    // cannot hide its queue (coordinated omission).
    if (ctx_.interval.count() == 0)
      next_at_ = now;
    if (now >= ctx_.stop_at || next_at_ >= ctx_.stop_at)
      return finish();
    if (next_at_ > now) {
      // The slot lies inside the window: send it even if the timer fires
      // a little after stop_at.
      timer_.expires_at(next_at_);
      timer_.async_wait([self = shared_from_this()](beast::error_code) {
        self->issue();
      });
      return;
    }
    issue();
  }

  void issue() {
    issued_at_ = next_at_;
    next_at_ += ctx_.interval;
    measured_ = issued_at_ >= ctx_.measure_from;
    build_request(ctx_.next_number++);
    ++ctx_.sent;
    if (measured_)
      ++stats_.requests;
    bool fresh = !stream_;
    if (fresh)
      stream_.emplace(strand_, ctx_.tls);
    // One deadline for the whole exchange, connect included.
    beast::get_lowest_layer(*stream_).expires_after(ctx_.timeout);
    if (fresh)
      connect();
    else
      write();
  }

  void build_request(uint64_t n) {
    req_ = {};
    req_.method(ctx_.verb);
    req_.target(ctx_.dest.path);
    req_.version(11);
    req_.set(http::field::host, ctx_.host_header);
    req_.set(http::field::user_agent, "herald-loadgen");
    if (ctx_.opts.idempotency)
      req_.set("Idempotency-Key", ctx_.run_id + "-" + std::to_string(n));
    if (ctx_.verb == http::verb::post) {
      req_.set(http::field::content_type, "application/json");
      req_.body() = render_body(ctx_.opts.body_template, n,
                                ctx_.opts.senders);
    }
    req_.keep_alive(!ctx_.opts.new_connection);
    req_.prepare_payload();
  }

  void connect() {
    if (ctx_.use_sni)
      SSL_set_tlsext_host_name(stream_->native_handle(),
                               ctx_.dest.host.c_str());
    beast::get_lowest_layer(*stream_).async_connect(
      ctx_.endpoints,
      [self = shared_from_this()](beast::error_code ec,
                                  const tcp::endpoint&) {
        if (ec)
          return self->fail(connect_failed, ec);
        self->handshake();
      });
  }

  void handshake() {
    stream_->async_handshake(ssl::stream_base::client,
                             [self = shared_from_this()](beast::error_code ec) {
                               if (ec)
                                 return self->fail(handshake_failed, ec);
                               if (self->measured_)
                                 ++self->stats_.handshakes;
                               self->write();
                             });
  }

  void write() {
    http::async_write(*stream_, req_,
                      [self = shared_from_this()](beast::error_code ec,
                                                  size_t) {
                        if (ec)
                          return self->fail(write_failed, ec);
                        self->read();
                      });
  }

  void read() {
    res_ = {};
    http::async_read(*stream_, buffer_, res_,
                     [self = shared_from_this()](beast::error_code ec,
                                                 size_t) {
                       if (ec)
                         return self->fail(read_failed, ec);
                       self->on_response();
                     });
  }

  void on_response() {
    ++ctx_.responses;
    auto now = clock_type::now();
    if (now >= ctx_.measure_from && now < ctx_.stop_at)
      ++stats_.completed;
    if (measured_) {
      stats_.latencies_ns.push_back(
        duration_cast<nanoseconds>(now - issued_at_).count());
      ++stats_.statuses[res_.result_int()];
    }
    // No TLS shutdown: the response is complete, and the close_notify
    // exchange would only add a round trip per slot.
    if (!res_.keep_alive())
      close();
    next();
  }

  void fail(failure kind, beast::error_code ec) {
    if (ec == beast::error::timeout)
      kind = timed_out;
    ++ctx_.errors;
    if (measured_) {
      ++stats_.errors[kind];
      if (stats_.first_error[kind].empty())
        stats_.first_error[kind] = ec.message();
    }
    close();
    next();
  }

  void close() {
    beast::get_lowest_layer(*stream_).close();
    stream_.reset();
    buffer_.clear();
  }

  void finish() {
    // Open loop: slots of the window that passed while this connection's
    // request was outstanding; they are missing from the latencies.
    if (ctx_.interval.count() > 0)
      for (; next_at_ < ctx_.stop_at; next_at_ += ctx_.interval)
        if (next_at_ >= ctx_.measure_from)
          ++stats_.unsent;
    if (stream_)
      close();
    ctx_.connection_done();
  }

  run_context& ctx_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  clock_type::time_point next_at_;
  clock_type::time_point issued_at_;
  bool measured_ = false;
  results stats_;
};

/// Loads the client certificate and trust anchors; peers are verified
/// against --cacert (or the system store) and the URL's host name.
void configure_tls(ssl::context& tls, const options& opts,
                   const std::string& host) {
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  if (opts.cacert.empty())
    tls.set_default_verify_paths();
  else
    tls.load_verify_file(opts.cacert);
  tls.use_certificate_chain_file(opts.cert);
  // Also rejects a key that does not match the certificate.
  tls.use_private_key_file(opts.key, ssl::context::pem);
  tls.set_verify_mode(ssl::verify_peer);
  tls.set_verify_callback(ssl::host_name_verification(host));
}

std::string random_run_id() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> dist;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(dist(rd)));
  return buf;
}

nanoseconds to_ns(double seconds) {
  return duration_cast<nanoseconds>(std::chrono::duration<double>{seconds});
}

double seconds_since(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double>{to - from}.count();
}

/// Nearest-rank percentile of sorted samples, in milliseconds.
double percentile_ms(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty())
    return std::nan("");
  auto rank = static_cast<size_t>(
    std::ceil(p / 100 * static_cast<double>(sorted.size())));
  auto index = std::clamp<size_t>(rank, 1, sorted.size()) - 1;
  return static_cast<double>(sorted[index]) / 1e6;
}

void print_report(const options& opts, results& total) {
  auto& lat = total.latencies_ns;
  std::sort(lat.begin(), lat.end());
  struct {
    const char* label;
    const char* key;
    double p;
  } const points[] = {{"p50", "p50_ms", 50},
                      {"p90", "p90_ms", 90},
                      {"p99", "p99_ms", 99},
                      {"p99.9", "p999_ms", 99.9},
                      {"max", "max_ms", 100}};
  auto responses = total.responses();
  auto throughput = static_cast<double>(total.completed) / opts.duration;

  std::printf("\nmeasured window  %.1f s (after %.1f s warmup)\n",
              opts.duration, opts.warmup);
  if (opts.rate > 0)
    std::printf("offered rate     %.1f requests/s; not sent in time: %llu "
                "(all connections busy, missing from the latencies)\n",
                opts.rate, static_cast<unsigned long long>(total.unsent));
  std::printf("requests         %llu\n",
              static_cast<unsigned long long>(total.requests));
  std::printf("responses        %llu",
              static_cast<unsigned long long>(responses));
  for (const auto& [status, count] : total.statuses)
    std::printf("  [%u: %llu]", status, static_cast<unsigned long long>(count));
  std::printf("\nerrors           %llu\n",
              static_cast<unsigned long long>(total.error_count()));
  for (size_t i = 0; i < failure_kinds; ++i)
    if (total.errors[i] > 0)
      std::printf("  %-9s      %llu (first: %s)\n", failure_names[i],
                  static_cast<unsigned long long>(total.errors[i]),
                  total.first_error[i].c_str());
  std::printf("tls handshakes   %llu\n",
              static_cast<unsigned long long>(total.handshakes));
  std::printf("throughput       %.1f responses/s\n", throughput);
  std::printf("latency (ms)    ");
  for (const auto& pt : points)
    std::printf(" %s %.3f", pt.label, percentile_ms(lat, pt.p));
  std::printf("\n");

  std::printf("RESULT method=%s url=%s connections=%zu threads=%zu mode=%s "
              "rate=%g duration_s=%g warmup_s=%g requests=%llu "
              "responses=%llu ok=%llu errors=%llu",
              opts.method.c_str(), opts.url.c_str(), opts.connections,
              opts.threads,
              opts.new_connection ? "new-connection" : "keep-alive",
              opts.rate, opts.duration, opts.warmup,
              static_cast<unsigned long long>(total.requests),
              static_cast<unsigned long long>(responses),
              static_cast<unsigned long long>(total.successes()),
              static_cast<unsigned long long>(total.error_count()));
  for (size_t i = 0; i < failure_kinds; ++i)
    std::printf(" err_%s=%llu", failure_names[i],
                static_cast<unsigned long long>(total.errors[i]));
  for (const auto& [status, count] : total.statuses)
    std::printf(" status_%u=%llu", status,
                static_cast<unsigned long long>(count));
  std::printf(" unsent=%llu handshakes=%llu rps=%.1f",
              static_cast<unsigned long long>(total.unsent),
              static_cast<unsigned long long>(total.handshakes), throughput);
  for (const auto& pt : points)
    std::printf(" %s=%.3f", pt.key, percentile_ms(lat, pt.p));
  std::printf("\n");
}

/// Prints progress to stderr once per second until every connection
/// finished.
void await_completion(run_context& ctx) {
  auto tick = ctx.started;
  uint64_t last_responses = 0;
  std::unique_lock<std::mutex> lock{ctx.mtx};
  for (;;) {
    tick += std::chrono::seconds{1};
    if (ctx.done_cv.wait_until(lock, tick, [&] { return ctx.active == 0; }))
      return;
    auto now = clock_type::now();
    auto responses = ctx.responses.load();
    const char* phase = now < ctx.measure_from ? "warmup"
                        : now < ctx.stop_at    ? "measure"
                                               : "drain";
    std::fprintf(stderr,
                 "[%4.0fs] %-7s requests=%llu responses=%llu errors=%llu "
                 "rate=%llu/s\n",
                 seconds_since(ctx.started, now), phase,
                 static_cast<unsigned long long>(ctx.sent.load()),
                 static_cast<unsigned long long>(responses),
                 static_cast<unsigned long long>(ctx.errors.load()),
                 static_cast<unsigned long long>(responses - last_responses));
    last_responses = responses;
  }
}

int run(const options& opts, const target& dest) {
  run_context ctx{opts, dest};
  try {
    configure_tls(ctx.tls, opts, dest.host);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "herald_loadgen: TLS setup: %s\n", e.what());
    return 1;
  }
  asio::io_context ioc{static_cast<int>(opts.threads)};
  beast::error_code ec;
  ctx.endpoints = tcp::resolver{ioc}.resolve(dest.host, dest.port, ec);
  if (ec) {
    std::fprintf(stderr, "herald_loadgen: cannot resolve %s: %s\n",
                 dest.host.c_str(), ec.message().c_str());
    return 1;
  }
  ctx.verb = http::string_to_verb(opts.method);
  ctx.run_id = random_run_id();
  ctx.timeout = to_ns(opts.timeout);
  if (opts.rate > 0) {
    // Connection i sends at i/rate, then every connections/rate seconds:
    // together an even stream at the offered rate.
    ctx.stagger = to_ns(1 / opts.rate);
    ctx.interval = to_ns(static_cast<double>(opts.connections) / opts.rate);
  }
  ctx.started = clock_type::now();
  ctx.measure_from = ctx.started + to_ns(opts.warmup);
  ctx.stop_at = ctx.measure_from + to_ns(opts.duration);
  ctx.active = opts.connections;

  std::printf("herald_loadgen: %s %s, %zu connections (%s), %zu threads, ",
              opts.method.c_str(), opts.url.c_str(), opts.connections,
              opts.new_connection ? "new connection per request"
                                  : "keep-alive",
              opts.threads);
  if (opts.rate > 0)
    std::printf("open loop at %g requests/s", opts.rate);
  else
    std::printf("closed loop, as fast as possible");
  std::printf(", warmup %g s, measuring %g s\n", opts.warmup, opts.duration);
  std::fflush(stdout);

  std::vector<std::shared_ptr<connection>> conns;
  for (size_t i = 0; i < opts.connections; ++i) {
    conns.push_back(std::make_shared<connection>(ioc, ctx, i));
    conns.back()->start();
  }
  std::vector<std::thread> threads;
  for (size_t i = 0; i < opts.threads; ++i)
    threads.emplace_back([&ioc] { ioc.run(); });
  await_completion(ctx);
  for (auto& t : threads)
    t.join();

  results total;
  for (auto& c : conns)
    total.merge(c->stats());
  print_report(opts, total);
  if (total.successes() == 0) {
    std::fprintf(stderr, "herald_loadgen: no request succeeded (2xx)\n");
    return 1;
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  CLI::App app{"herald_loadgen: drives Herald's HTTPS API with mTLS and "
               "reports throughput and latency. Runs warmup + duration "
               "seconds, then stops."};
  app.add_option("--url", opts.url, "https://host[:port]/path")
    ->capture_default_str();
  app.add_option("--cacert", opts.cacert,
                 "CA file that signed the server (default: system store)")
    ->check(CLI::ExistingFile);
  app.add_option("--cert", opts.cert, "client certificate (PEM)")
    ->required()
    ->check(CLI::ExistingFile);
  app.add_option("--key", opts.key, "client private key (PEM)")
    ->required()
    ->check(CLI::ExistingFile);
  app.add_option("--connections", opts.connections, "concurrent connections")
    ->capture_default_str()
    ->check(CLI::Range(1, 100000));
  app.add_option("--duration", opts.duration,
                 "measured seconds, after the warmup")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  app.add_option("--rate", opts.rate,
                 "offered requests/s over all connections, open loop with "
                 "latency from the scheduled send time; 0 = as fast as "
                 "possible (closed loop)")
    ->capture_default_str()
    ->check(CLI::NonNegativeNumber);
  app.add_option("--warmup", opts.warmup, "seconds excluded from the stats")
    ->capture_default_str()
    ->check(CLI::NonNegativeNumber);
  app.add_option("--method", opts.method, "HTTP method")
    ->capture_default_str()
    ->check(CLI::IsMember({"POST", "GET"}));
  app.add_option("--body-template", opts.body_template,
                 "POST body; {n} becomes the request number, {sender} a "
                 "phone number from the --senders pool")
    ->capture_default_str();
  app.add_option("--senders", opts.senders,
                 "distinct {sender} numbers, from +4915112345678 up")
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{1}, uint64_t{1000000000}));
  app.add_flag("--idempotency", opts.idempotency,
               "send a unique Idempotency-Key header per request");
  app.add_flag("--new-connection", opts.new_connection,
               "fresh TCP + TLS connection per request (full handshake)");
  app.add_option("--threads", opts.threads, "I/O threads")
    ->capture_default_str()
    ->check(CLI::Range(1, 256));
  app.add_option("--timeout", opts.timeout,
                 "seconds per request, connect included")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
  auto dest = parse_url(opts.url);
  if (!dest) {
    std::fprintf(stderr, "herald_loadgen: --url: expected "
                         "https://host[:port][/path], got '%s'\n",
                 opts.url.c_str());
    return 1;
  }
  return run(opts, *dest);
}
