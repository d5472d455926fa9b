#include "persistence/message_queue.hpp"

#include "core/errc.hpp"

#include <chrono>

namespace herald::persistence {

caf::expected<int64_t> enqueue(redis_connection& redis,
                               const std::vector<std::string>& ids) {
  if (ids.empty())
    return pending_length(redis);
  std::vector<std::string> push{"LPUSH", queue_keys::pending};
  std::vector<std::string> add{"SADD", queue_keys::live};
  push.insert(push.end(), ids.begin(), ids.end());
  add.insert(add.end(), ids.begin(), ids.end());
  auto replies = redis.pipeline({{"MULTI"}, push, add, {"EXEC"}});
  if (!replies)
    return replies.error();
  const auto& exec = replies->back();
  if (exec.type != redis_reply::kind::array || exec.elements.size() != 2)
    return make_error(errc::redis_failure,
                      "redis: enqueue transaction was aborted");
  return exec.elements[0].integer;
}

caf::expected<std::vector<bool>>
are_live(redis_connection& redis, const std::vector<std::string>& ids) {
  std::vector<bool> result;
  if (ids.empty())
    return result;
  std::vector<std::string> cmd{"SMISMEMBER", queue_keys::live};
  cmd.insert(cmd.end(), ids.begin(), ids.end());
  auto reply = redis.command(cmd);
  if (!reply)
    return reply.error();
  for (const auto& x : reply->elements)
    result.push_back(x.integer == 1);
  if (result.size() != ids.size())
    return make_error(errc::redis_failure, "redis: short SMISMEMBER reply");
  return result;
}

caf::expected<int64_t> pending_length(redis_connection& redis) {
  auto reply = redis.command({"LLEN", queue_keys::pending});
  if (!reply)
    return reply.error();
  return reply->integer;
}

caf::expected<bool> try_lock(redis_connection& redis, const std::string& owner,
                             caf::timespan ttl) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
  auto reply = redis.command({"SET", queue_keys::sweep_lock, owner, "NX", "PX",
                              std::to_string(ms)});
  if (!reply)
    return reply.error();
  return reply->type == redis_reply::kind::status;
}

} // namespace herald::persistence
