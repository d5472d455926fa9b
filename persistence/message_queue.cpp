#include "persistence/message_queue.hpp"

#include "core/errc.hpp"
#include "core/time.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <thread>

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

namespace herald::persistence {

namespace {

/// Returns a processing list to pending in one atomic step. KEYS:
/// processing list, pending, the owner's lease. ARGV[1]: "check" leaves the
/// list of an owner that holds a lease (it cannot refresh its lease and
/// take more work between the check and the drain); "own" drains the
/// caller's own list; "lost" drains the list of a member seen dying and
/// removes its lease.
constexpr const char* drain_script = R"(
if ARGV[1] == 'check' and redis.call('EXISTS', KEYS[3]) == 1 then
  return 0
end
if ARGV[1] == 'lost' then
  redis.call('DEL', KEYS[3])
end
local n = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') do
  n = n + 1
end
return n)";

/// Moves the ids in ARGV off the processing list KEYS[1] to the head of
/// pending KEYS[2]; only those still on the list: a reaper may have
/// returned them already, and a second copy would be delivered twice.
constexpr const char* release_script = R"(
local n = 0
for _, id in ipairs(ARGV) do
  if redis.call('LREM', KEYS[1], 1, id) == 1 then
    redis.call('RPUSH', KEYS[2], id)
    n = n + 1
  end
end
return n)";

/// Moves the ids in ARGV[2..] off the processing list KEYS[1] into the
/// retry schedule KEYS[2], due at ARGV[1]; only those still on the list
/// (see release_script).
constexpr const char* retry_script = R"(
local n = 0
for i = 2, #ARGV do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
    n = n + 1
  end
end
return n)";

std::string ms_string(caf::timespan x) {
  return std::to_string(
    std::chrono::duration_cast<std::chrono::milliseconds>(x).count());
}

} // namespace

std::string queue_keys::processing(const std::string& node) {
  return "herald:processing:" + node;
}

std::string queue_keys::lease(const std::string& node) {
  return "herald:lease:" + node;
}

caf::expected<std::vector<std::string>>
take(redis_connection& redis, const std::string& node, size_t max,
     caf::timespan block) {
  auto processing = queue_keys::processing(node);
  std::vector<std::vector<std::string>> moves(
    max, {"LMOVE", queue_keys::pending, processing, "RIGHT", "LEFT"});
  auto replies = redis.pipeline(moves);
  if (!replies)
    return replies.error();
  std::vector<std::string> result;
  for (auto& r : *replies)
    if (r.type == redis_reply::kind::string)
      result.push_back(std::move(r.str));
  if (!result.empty() || block <= caf::timespan::zero())
    return result;
  auto secs = std::chrono::duration<double>(block).count();
  auto reply = redis.command({"BLMOVE", queue_keys::pending, processing,
                              "RIGHT", "LEFT", std::to_string(secs)});
  if (!reply)
    return reply.error();
  if (reply->type == redis_reply::kind::string)
    result.push_back(std::move(reply->str));
  return result;
}

caf::error finish(redis_connection& redis, const std::string& node,
                  const std::vector<std::string>& ids) {
  if (ids.empty())
    return caf::none;
  std::vector<std::vector<std::string>> cmds{{"MULTI"}};
  auto processing = queue_keys::processing(node);
  for (const auto& id : ids)
    cmds.push_back({"LREM", processing, "1", id});
  std::vector<std::string> srem{"SREM", queue_keys::live};
  srem.insert(srem.end(), ids.begin(), ids.end());
  cmds.push_back(std::move(srem));
  cmds.push_back({"EXEC"});
  auto replies = redis.pipeline(cmds);
  return replies ? caf::none : replies.error();
}

caf::error release(redis_connection& redis, const std::string& node,
                   const std::vector<std::string>& ids) {
  if (ids.empty())
    return caf::none;
  std::vector<std::string> cmd{"EVAL", release_script, "2",
                               queue_keys::processing(node),
                               queue_keys::pending};
  cmd.insert(cmd.end(), ids.begin(), ids.end());
  auto reply = redis.command(cmd);
  return reply ? caf::none : reply.error();
}

caf::error schedule_retry(redis_connection& redis, const std::string& node,
                          const std::vector<std::string>& ids,
                          int64_t due_ms) {
  if (ids.empty())
    return caf::none;
  std::vector<std::string> cmd{"EVAL", retry_script, "2",
                               queue_keys::processing(node), queue_keys::retry,
                               std::to_string(due_ms)};
  cmd.insert(cmd.end(), ids.begin(), ids.end());
  auto reply = redis.command(cmd);
  return reply ? caf::none : reply.error();
}

caf::expected<int64_t> earliest_retry(redis_connection& redis) {
  auto reply = redis.command(
    {"ZRANGE", queue_keys::retry, "0", "0", "WITHSCORES"});
  if (!reply)
    return reply.error();
  if (reply->elements.size() < 2)
    return int64_t{-1};
  return static_cast<int64_t>(std::stod(reply->elements[1].str));
}

caf::expected<std::string> locate(redis_connection& redis,
                                  const std::string& id,
                                  const std::vector<std::string>& nodes) {
  auto in_list = [&](const std::string& key) -> caf::expected<bool> {
    auto reply = redis.command({"LPOS", key, id});
    if (!reply)
      return reply.error();
    return reply->type == redis_reply::kind::integer;
  };
  auto pending = in_list(queue_keys::pending);
  if (!pending)
    return pending.error();
  if (*pending)
    return std::string{"pending"};
  for (const auto& node : nodes) {
    auto held = in_list(queue_keys::processing(node));
    if (!held)
      return held.error();
    if (*held)
      return "processing on " + node;
  }
  auto due = redis.command({"ZSCORE", queue_keys::retry, id});
  if (!due)
    return due.error();
  if (due->type == redis_reply::kind::string)
    return "retry due at " + iso8601_ms(std::stoll(due->str));
  return std::string{"none"};
}

caf::expected<int64_t> retry_count(redis_connection& redis) {
  auto reply = redis.command({"ZCARD", queue_keys::retry});
  if (!reply)
    return reply.error();
  return reply->integer;
}

caf::error refresh_lease(redis_connection& redis, const std::string& node,
                         caf::timespan ttl) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto reply = redis.command({"SET", queue_keys::lease(node),
                              std::to_string(now.count()), "PX",
                              ms_string(ttl)});
  return reply ? caf::none : reply.error();
}

caf::expected<bool> lease_in_use(redis_connection& redis,
                                 const std::string& node, caf::timespan wait) {
  auto read = [&]() -> caf::expected<std::optional<std::string>> {
    auto reply = redis.command({"GET", queue_keys::lease(node)});
    if (!reply)
      return reply.error();
    if (reply->type != redis_reply::kind::string)
      return std::optional<std::string>{};
    return std::optional<std::string>{std::move(reply->str)};
  };
  auto before = read();
  if (!before || !*before)
    return before ? caf::expected<bool>{false} : before.error();
  std::this_thread::sleep_for(wait);
  auto after = read();
  if (!after)
    return after.error();
  return *after && **after != **before;
}

caf::expected<int64_t> reap(redis_connection& redis, const std::string& node,
                            bool include_self) {
  int64_t moved = 0;
  const std::string prefix = "herald:processing:";
  auto keys = scan_keys(redis, prefix + "*");
  if (!keys)
    return keys.error();
  for (const auto& key : *keys) {
    auto owner = key.substr(prefix.size());
    if (owner == node && !include_self)
      continue;
    // Another node's list only when it holds no lease, checked in the
    // same script as the drain.
    auto n = redis.command({"EVAL", drain_script, "3", key,
                            queue_keys::pending, queue_keys::lease(owner),
                            owner == node ? "own" : "check"});
    if (!n)
      return n.error();
    moved += n->integer;
  }
  return moved;
}

caf::expected<std::vector<std::string>>
scan_keys(redis_connection& redis, const std::string& pattern) {
  std::vector<std::string> result;
  std::string cursor = "0";
  do {
    auto page = redis.command({"SCAN", cursor, "MATCH", pattern, "COUNT",
                               "100"});
    if (!page)
      return page.error();
    if (page->elements.size() != 2)
      return make_error(errc::redis_failure, "redis: odd SCAN reply");
    cursor = page->elements[0].str;
    for (const auto& key : page->elements[1].elements)
      result.push_back(key.str);
  } while (cursor != "0");
  // SCAN may return a key twice.
  std::sort(result.begin(), result.end());
  result.erase(std::unique(result.begin(), result.end()), result.end());
  return result;
}

caf::expected<int64_t> return_work_of(redis_connection& redis,
                                      const std::string& node) {
  auto n = redis.command({"EVAL", drain_script, "3",
                          queue_keys::processing(node), queue_keys::pending,
                          queue_keys::lease(node), "lost"});
  if (!n)
    return n.error();
  return n->integer;
}

} // namespace herald::persistence

namespace herald::persistence {

namespace {

/// Moves up to ARGV[2] retries due by ARGV[1] from the retry set KEYS[1]
/// to pending KEYS[2] in one atomic step; returns their ids.
constexpr const char* promote_ids_script = R"(
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #ids > 0 then
  redis.call('ZREM', KEYS[1], unpack(ids))
  redis.call('LPUSH', KEYS[2], unpack(ids))
end
return ids)";

} // namespace

caf::expected<std::vector<std::string>>
promote_due_ids(redis_connection& redis, int64_t now_ms, size_t limit) {
  auto reply = redis.command({"EVAL", promote_ids_script, "2",
                              queue_keys::retry, queue_keys::pending,
                              std::to_string(now_ms), std::to_string(limit)});
  if (!reply)
    return reply.error();
  std::vector<std::string> result;
  result.reserve(reply->elements.size());
  for (auto& x : reply->elements)
    result.push_back(std::move(x.str));
  return result;
}

caf::expected<retry_page> retry_due_times(redis_connection& redis,
                                          int64_t after_ms, int64_t until_ms,
                                          size_t limit) {
  retry_page result;
  result.scanned_to_ms = until_ms;
  if (until_ms <= after_ms || limit == 0)
    return result;
  auto reply = redis.command({"ZRANGEBYSCORE", queue_keys::retry,
                              "(" + std::to_string(after_ms),
                              std::to_string(until_ms), "WITHSCORES", "LIMIT",
                              "0", std::to_string(limit)});
  if (!reply)
    return reply.error();
  const auto& xs = reply->elements;
  if (xs.size() % 2 != 0)
    return make_error(errc::redis_failure, "redis: odd ZRANGEBYSCORE reply");
  for (size_t i = 1; i < xs.size(); i += 2) {
    auto due = static_cast<int64_t>(std::llround(std::stod(xs[i].str)));
    if (result.due_ms.empty() || result.due_ms.back() != due)
      result.due_ms.push_back(due);
  }
  if (xs.size() / 2 >= limit) {
    // Entries due at the last time read may go on past the limit; that
    // time is listed, so the next read starts after it.
    result.complete = false;
    result.scanned_to_ms = result.due_ms.back();
  }
  return result;
}

namespace {

/// The keys that make up the queue's state: the three fixed ones and every
/// node's processing list.
caf::expected<std::vector<std::string>> queue_state_keys(redis_connection& redis) {
  auto result = scan_keys(redis, queue_keys::processing("*"));
  if (!result)
    return result.error();
  result->insert(result->begin(), {queue_keys::pending, queue_keys::live,
                                   queue_keys::retry});
  return result;
}

void put_field(std::string& out, std::string_view x) {
  auto n = static_cast<uint32_t>(x.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out += static_cast<char>((n >> shift) & 0xff);
  out.append(x.data(), x.size());
}

bool get_field(std::string_view& in, std::string& x) {
  if (in.size() < 4)
    return false;
  uint32_t n = 0;
  for (size_t i = 0; i < 4; ++i)
    n = n << 8 | static_cast<uint8_t>(in[i]);
  if (in.size() - 4 < n)
    return false;
  x.assign(in.data() + 4, n);
  in.remove_prefix(4 + n);
  return true;
}

} // namespace

caf::expected<std::string> dump_queue_state(redis_connection& redis) {
  auto keys = queue_state_keys(redis);
  if (!keys)
    return keys.error();
  std::vector<std::vector<std::string>> cmds{{"MULTI"}};
  for (const auto& key : *keys)
    cmds.push_back({"DUMP", key});
  cmds.push_back({"EXEC"});
  auto replies = redis.pipeline(cmds);
  if (!replies)
    return replies.error();
  const auto& dumps = replies->back().elements;
  if (dumps.size() != keys->size())
    return make_error(errc::redis_failure,
                      "redis: EXEC aborted while dumping the queue");
  // Pairs of key and payload; a key that does not exist has no payload.
  std::string result;
  for (size_t i = 0; i < keys->size(); ++i) {
    if (dumps[i].type != redis_reply::kind::string)
      continue;
    put_field(result, (*keys)[i]);
    put_field(result, dumps[i].str);
  }
  return result;
}

caf::expected<size_t> restore_queue_state(redis_connection& redis,
                                          std::string_view snapshot) {
  auto keys = queue_state_keys(redis);
  if (!keys)
    return keys.error();
  // No MULTI: Redis would not roll back a failed RESTORE either, and the
  // pipeline reports the first error with its reason.
  std::vector<std::string> del{"DEL"};
  del.insert(del.end(), keys->begin(), keys->end());
  std::vector<std::vector<std::string>> cmds{std::move(del)};
  size_t count = 0;
  while (!snapshot.empty()) {
    std::string key;
    std::string payload;
    if (!get_field(snapshot, key) || !get_field(snapshot, payload))
      return make_error(errc::invalid_input,
                        "redis: the queue snapshot is malformed");
    cmds.push_back({"RESTORE", key, "0", payload});
    ++count;
  }
  if (auto replies = redis.pipeline(cmds); !replies)
    return replies.error();
  return count;
}

} // namespace herald::persistence
