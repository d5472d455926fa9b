#include "persistence/cluster_view.hpp"

#include "core/errc.hpp"
#include "core/json.hpp"
#include "persistence/message_queue.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace herald::persistence {

namespace {

constexpr const char* members_key = "herald:cluster";
constexpr const char* lease_key = "herald:cluster:lease";
constexpr const char* changes_key = "herald:changes";

/// Takes a free lease or renews our own; returns the holder.
constexpr const char* hold_script = R"(
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return holder
)";

constexpr const char* free_script = R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)";

/// A record is a few hundred bytes; anything larger is not ours.
constexpr size_t max_record_bytes = 64 * 1024;

std::string to_json(const member_record& x) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  auto str = [&w](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  auto list = [&w](const char* key, const std::vector<std::string>& xs) {
    w.Key(key);
    w.StartArray();
    for (const auto& value : xs)
      w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    w.EndArray();
  };
  w.StartObject();
  str("name", x.name);
  list("roles", x.roles);
  str("address", x.address);
  str("version", x.version);
  w.Key("protocol");
  w.Uint(x.protocol);
  w.Key("started_at_ms");
  w.Int64(x.started_at_ms);
  w.Key("heartbeat_ms");
  w.Int64(x.heartbeat_ms);
  w.Key("healthy");
  w.Bool(x.healthy);
  list("peers", x.peers);
  str("fingerprint", x.fingerprint);
  w.EndObject();
  return buf.GetString();
}

std::vector<std::string> string_list(const rapidjson::Value& doc,
                                     const char* key) {
  std::vector<std::string> result;
  auto i = doc.FindMember(key);
  if (i == doc.MemberEnd() || !i->value.IsArray())
    return result;
  for (const auto& x : i->value.GetArray())
    if (x.IsString())
      result.emplace_back(x.GetString(), x.GetStringLength());
  return result;
}

/// Fills `x` from `text`; leaves what is missing or mistyped at its default.
void from_json(const std::string& text, member_record& x) {
  rapidjson::Document doc;
  if (text.size() > max_record_bytes || !json::parse(text, doc).empty()
      || !doc.IsObject())
    return;
  auto str = [&doc](const char* key) -> std::string {
    auto i = doc.FindMember(key);
    if (i == doc.MemberEnd() || !i->value.IsString())
      return {};
    return {i->value.GetString(), i->value.GetStringLength()};
  };
  auto i64 = [&doc](const char* key) -> int64_t {
    auto i = doc.FindMember(key);
    return i != doc.MemberEnd() && i->value.IsInt64() ? i->value.GetInt64()
                                                      : 0;
  };
  x.roles = string_list(doc, "roles");
  x.address = str("address");
  x.version = str("version");
  auto protocol = doc.FindMember("protocol");
  if (protocol != doc.MemberEnd() && protocol->value.IsUint())
    x.protocol = protocol->value.GetUint();
  x.started_at_ms = i64("started_at_ms");
  x.heartbeat_ms = i64("heartbeat_ms");
  auto healthy = doc.FindMember("healthy");
  x.healthy = healthy != doc.MemberEnd() && healthy->value.IsBool()
              && healthy->value.GetBool();
  x.peers = string_list(doc, "peers");
  x.fingerprint = str("fingerprint");
}

} // namespace

caf::error record_member(redis_connection& redis, const member_record& x) {
  auto reply = redis.command({"HSET", members_key, x.name, to_json(x)});
  return reply ? caf::none : reply.error();
}

caf::error forget_member(redis_connection& redis, const std::string& name) {
  auto reply = redis.command({"HDEL", members_key, name});
  return reply ? caf::none : reply.error();
}

caf::expected<std::vector<member_record>>
read_members(redis_connection& redis) {
  auto all = redis.command({"HGETALL", members_key});
  if (!all)
    return all.error();
  std::vector<member_record> result;
  std::vector<std::vector<std::string>> counts;
  const auto& fields = all->elements;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    member_record x;
    x.name = fields[i].str;
    from_json(fields[i + 1].str, x);
    counts.push_back({"LLEN", queue_keys::processing(x.name)});
    result.push_back(std::move(x));
  }
  if (counts.empty())
    return result;
  auto lengths = redis.pipeline(counts);
  if (!lengths)
    return lengths.error();
  for (size_t i = 0; i < result.size() && i < lengths->size(); ++i)
    result[i].in_flight = (*lengths)[i].integer;
  return result;
}

caf::expected<std::string> hold_lease(redis_connection& redis,
                                      const std::string& name,
                                      int64_t ttl_ms) {
  auto reply = redis.command(
    {"EVAL", hold_script, "1", lease_key, name, std::to_string(ttl_ms)});
  if (!reply)
    return reply.error();
  return std::move(reply->str);
}

caf::error free_lease_of(redis_connection& redis, const std::string& name) {
  auto reply = redis.command({"EVAL", free_script, "1", lease_key, name});
  return reply ? caf::none : reply.error();
}

caf::expected<int64_t> announce_change(redis_connection& redis) {
  auto reply = redis.command({"INCR", changes_key});
  if (!reply)
    return reply.error();
  return reply->integer;
}

caf::expected<int64_t> changes_announced(redis_connection& redis) {
  auto reply = redis.command({"GET", changes_key});
  if (!reply)
    return reply.error();
  if (reply->type == redis_reply::kind::nil)
    return int64_t{0};
  try {
    return static_cast<int64_t>(std::stoll(reply->str));
  } catch (const std::exception&) {
    return make_error(errc::redis_failure,
                      std::string{changes_key} + " holds no number");
  }
}

} // namespace herald::persistence
