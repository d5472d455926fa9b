#include "persistence/redis.hpp"

#include "core/errc.hpp"
#include "persistence/detail/tls_tunnel.hpp"

#include <hiredis/hiredis.h>

#include <chrono>
#include <thread>

namespace herald::persistence {

namespace {

timeval to_timeval(caf::timespan x) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(x).count();
  return {static_cast<time_t>(us / 1'000'000),
          static_cast<suseconds_t>(us % 1'000'000)};
}

redis_reply convert(const redisReply* r) {
  redis_reply result;
  switch (r->type) {
    case REDIS_REPLY_STATUS:
      result.type = redis_reply::kind::status;
      result.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STRING:
      result.type = redis_reply::kind::string;
      result.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      result.type = redis_reply::kind::integer;
      result.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      result.type = redis_reply::kind::array;
      for (size_t i = 0; i < r->elements; ++i)
        result.elements.push_back(convert(r->element[i]));
      break;
    default:
      break;
  }
  return result;
}

} // namespace

caf::expected<redis_connection>
redis_connection::connect(const config::redis_config& cfg) {
  auto where = cfg.host + ":" + std::to_string(cfg.port);
  std::unique_ptr<detail::tls_tunnel> tunnel;
  redisContext* ctx = nullptr;
  if (!cfg.tls.ca.empty()) {
    auto opened = detail::tls_tunnel::open(cfg.host, cfg.port, cfg.tls,
                                           cfg.io_timeout, "redis");
    if (!opened)
      return opened.error();
    tunnel = std::move(*opened);
    ctx = redisConnectFd(tunnel->release_fd());
  } else {
    ctx = redisConnectWithTimeout(cfg.host.c_str(), cfg.port,
                                  to_timeval(cfg.io_timeout));
  }
  if (ctx == nullptr)
    return make_error(errc::redis_failure, "redis: out of memory");
  if (ctx->err != 0) {
    auto err = make_error(errc::redis_failure, "redis: cannot connect to "
                                                 + where + ": " + ctx->errstr);
    redisFree(ctx);
    return err;
  }
  redisSetTimeout(ctx, to_timeval(cfg.io_timeout));
  redis_connection result{ctx, std::move(tunnel)};
  if (!cfg.password.empty()) {
    if (auto reply = result.command({"AUTH", cfg.password}); !reply)
      return make_error(errc::redis_failure,
                        "redis: authentication at " + where + " failed");
  }
  return result;
}

caf::expected<redis_connection>
redis_connection::connect_with_retry(const config::redis_config& cfg) {
  auto deadline = std::chrono::steady_clock::now() + cfg.connect_timeout;
  for (;;) {
    auto result = connect(cfg);
    auto err = result ? result->ping() : result.error();
    if (!err)
      return result;
    if (std::chrono::steady_clock::now() >= deadline)
      return err;
    std::this_thread::sleep_for(std::chrono::milliseconds{250});
  }
}

redis_connection::redis_connection(redisContext* ctx,
                                   std::unique_ptr<detail::tls_tunnel> tunnel)
  : ctx_(ctx), tunnel_(std::move(tunnel)) {
  // nop
}

redis_connection::redis_connection(redis_connection&& other) noexcept
  : ctx_(other.ctx_), tunnel_(std::move(other.tunnel_)) {
  other.ctx_ = nullptr;
}

redis_connection& redis_connection::operator=(redis_connection&& other) noexcept {
  std::swap(ctx_, other.ctx_);
  std::swap(tunnel_, other.tunnel_);
  return *this;
}

redis_connection::~redis_connection() {
  // Closing hiredis' end first ends the tunnel's relay.
  if (ctx_ != nullptr)
    redisFree(ctx_);
}

caf::expected<redis_reply>
redis_connection::command(const std::vector<std::string>& argv) {
  auto replies = pipeline({argv});
  if (!replies)
    return replies.error();
  return std::move(replies->front());
}

caf::expected<std::vector<redis_reply>> redis_connection::pipeline(
  const std::vector<std::vector<std::string>>& commands) {
  for (const auto& argv : commands) {
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (const auto& arg : argv) {
      args.push_back(arg.data());
      lens.push_back(arg.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(args.size()),
                               args.data(), lens.data())
        != REDIS_OK)
      return make_error(errc::redis_failure,
                        std::string{"redis: cannot send: "} + ctx_->errstr);
  }
  std::vector<redis_reply> result;
  caf::error first_error;
  for (const auto& argv : commands) {
    void* raw_ptr = nullptr;
    if (redisGetReply(ctx_, &raw_ptr) != REDIS_OK || raw_ptr == nullptr)
      return make_error(errc::redis_failure,
                        std::string{"redis: connection lost: "}
                          + ctx_->errstr);
    auto raw = static_cast<redisReply*>(raw_ptr);
    // Read every reply, even after an error, to keep the stream in step.
    if (raw->type == REDIS_REPLY_ERROR && !first_error)
      first_error = make_error(errc::redis_failure,
                               "redis: " + argv.front() + " failed: "
                                 + std::string{raw->str, raw->len});
    result.push_back(convert(raw));
    freeReplyObject(raw);
  }
  if (first_error)
    return first_error;
  return result;
}

caf::error redis_connection::ping() {
  auto reply = command({"PING"});
  if (!reply)
    return reply.error();
  return caf::none;
}

} // namespace herald::persistence
