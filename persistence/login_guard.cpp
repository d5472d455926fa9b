#include "persistence/login_guard.hpp"

#include "core/time.hpp"

#include <algorithm>
#include <chrono>

namespace herald::persistence {

namespace {

const std::string prefix = "herald:portal:";

std::string account_key(const char* what, const std::string& name) {
  return prefix + what + ":user:" + name;
}

std::string ip_key(const char* what, const std::string& ip) {
  return prefix + what + ":ip:" + ip;
}

int64_t millis(caf::timespan t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
}

} // namespace

caf::expected<int64_t> lock_remaining_ms(redis_connection& redis,
                                         const std::string& name,
                                         const std::string& ip) {
  std::vector<std::vector<std::string>> commands{
    {"PTTL", ip_key("lock", ip)}};
  if (!name.empty())
    commands.push_back({"PTTL", account_key("lock", name)});
  auto replies = redis.pipeline(commands);
  if (!replies)
    return replies.error();
  int64_t result = 0;
  // PTTL answers -2 for a missing key, -1 for one without expiry (never
  // set so here).
  for (const auto& reply : *replies)
    result = std::max(result, reply.integer);
  return result;
}

caf::expected<failure_outcome> record_failure(redis_connection& redis,
                                              const login_limits& limits,
                                              const std::string& name,
                                              const std::string& ip) {
  auto window = std::to_string(millis(limits.window));
  // The window starts at the first failure (NX): later failures do not
  // extend it.
  std::vector<std::vector<std::string>> commands{
    {"INCR", ip_key("failures", ip)},
    {"PEXPIRE", ip_key("failures", ip), window, "NX"}};
  if (!name.empty()) {
    commands.push_back({"INCR", account_key("failures", name)});
    commands.push_back({"PEXPIRE", account_key("failures", name), window, "NX"});
  }
  auto replies = redis.pipeline(commands);
  if (!replies)
    return replies.error();
  failure_outcome result;
  std::vector<std::vector<std::string>> locks;
  // Exactly at the limit: the lock is set (and audited) once.
  if ((*replies)[0].integer == limits.per_ip) {
    result.ip_locked_now = true;
    locks.push_back({"SET", ip_key("lock", ip), "1", "PX", window});
    locks.push_back({"DEL", ip_key("failures", ip)});
  }
  if (!name.empty() && (*replies)[2].integer == limits.per_account) {
    result.account_locked_now = true;
    locks.push_back({"SET", account_key("lock", name), "1", "PX", window});
    locks.push_back({"DEL", account_key("failures", name)});
  }
  if (!locks.empty())
    if (auto done = redis.pipeline(locks); !done)
      return done.error();
  return result;
}

caf::error clear_failures(redis_connection& redis, const std::string& name) {
  auto reply = redis.command({"DEL", account_key("failures", name)});
  if (!reply)
    return reply.error();
  return caf::none;
}

caf::error revoke_session(redis_connection& redis, const std::string& token_id,
                          int64_t ends_at_ms) {
  auto ttl = std::max<int64_t>(ends_at_ms - unix_now_ms(), 1000);
  auto reply = redis.command({"SET", prefix + "revoked:" + token_id, "1", "PX",
                              std::to_string(ttl)});
  if (!reply)
    return reply.error();
  return caf::none;
}

caf::expected<bool> session_revoked(redis_connection& redis,
                                    const std::string& token_id) {
  auto reply = redis.command({"EXISTS", prefix + "revoked:" + token_id});
  if (!reply)
    return reply.error();
  return reply->integer == 1;
}

} // namespace herald::persistence
