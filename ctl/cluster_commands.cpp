#include "ctl/cluster_commands.hpp"

#include "core/errc.hpp"
#include "core/time.hpp"
#include "ctl/support.hpp"
#include "persistence/cluster_view.hpp"

#include <CLI/CLI.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

namespace herald::ctl {

namespace {

/// "up" when the member recorded itself within three rejoin intervals
/// (it records every interval), "down" otherwise.
std::string state_of(const persistence::member_record& x, int64_t now_ms,
                     int64_t stale_ms) {
  if (x.heartbeat_ms == 0)
    return "unreadable";
  return now_ms - x.heartbeat_ms <= stale_ms ? "up" : "down";
}

std::string join(const std::vector<std::string>& xs) {
  std::string result;
  for (const auto& x : xs)
    result += (result.empty() ? "" : ",") + x;
  return result.empty() ? "-" : result;
}

std::string seconds(int64_t s) {
  return std::to_string(s) + "s";
}

/// Seconds since the member started; 0 when its record does not say.
int64_t uptime_s(const persistence::member_record& x, int64_t now_ms) {
  return x.started_at_ms > 0 ? std::max<int64_t>(now_ms - x.started_at_ms, 0)
                                 / 1000
                             : 0;
}

void print_json(const std::vector<persistence::member_record>& members,
                int64_t now_ms, int64_t stale_ms) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  auto str = [&w](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartArray();
  for (const auto& x : members) {
    w.StartObject();
    str("name", x.name);
    w.Key("roles");
    w.StartArray();
    for (const auto& role : x.roles)
      w.String(role.c_str());
    w.EndArray();
    str("address", x.address);
    str("version", x.version);
    w.Key("protocol");
    w.Uint(x.protocol);
    str("state", state_of(x, now_ms, stale_ms));
    w.Key("healthy");
    w.Bool(x.healthy);
    w.Key("uptime_s");
    w.Int64(uptime_s(x, now_ms));
    w.Key("in_flight");
    w.Int64(x.in_flight);
    str("last_heartbeat", x.heartbeat_ms > 0 ? iso8601_ms(x.heartbeat_ms)
                                             : std::string{});
    w.Key("heartbeat_age_ms");
    w.Int64(x.heartbeat_ms > 0 ? now_ms - x.heartbeat_ms : -1);
    w.Key("peers");
    w.StartArray();
    for (const auto& peer : x.peers)
      w.String(peer.c_str());
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  std::cout << buf.GetString() << '\n';
}

void print_table(const std::vector<persistence::member_record>& members,
                 int64_t now_ms, int64_t stale_ms) {
  std::printf("%-20s %-26s %-22s %-10s %-5s %-8s %8s %9s %9s  %s\n", "NAME",
              "ROLES", "ADDRESS", "VERSION", "STATE", "HEALTH", "UPTIME",
              "IN-FLIGHT", "HEARTBEAT", "PEERS");
  for (const auto& x : members)
    std::printf("%-20s %-26s %-22s %-10s %-5s %-8s %8s %9lld %9s  %s\n",
                x.name.c_str(), join(x.roles).c_str(), x.address.c_str(),
                x.version.c_str(), state_of(x, now_ms, stale_ms).c_str(),
                x.healthy ? "healthy" : "degraded",
                seconds(uptime_s(x, now_ms)).c_str(),
                static_cast<long long>(x.in_flight),
                x.heartbeat_ms > 0
                  ? seconds((now_ms - x.heartbeat_ms) / 1000).c_str()
                  : "-",
                join(x.peers).c_str());
}

int cluster_status(const std::string& file, bool json) {
  auto cfg = load_settings(file);
  if (!cfg)
    return fail(render(cfg.error()));
  auto redis = persistence::redis_connection::connect(cfg->redis);
  if (!redis)
    return fail(render(redis.error())
                + "; check redis.host, redis.port and the password");
  auto members = persistence::read_members(*redis);
  if (!members)
    return fail(render(members.error()));
  std::sort(members->begin(), members->end(),
            [](const auto& x, const auto& y) { return x.name < y.name; });
  auto now = unix_now_ms();
  auto stale = 3 * std::chrono::duration_cast<std::chrono::milliseconds>(
                     cfg->cluster.rejoin_interval)
                     .count();
  if (json) {
    print_json(*members, now, stale);
    return 0;
  }
  if (members->empty()) {
    std::cout << "no cluster members have recorded themselves: nodes with "
                 "cluster.listen set record themselves in Redis every "
                 "cluster.rejoin-interval\n";
    return 0;
  }
  print_table(*members, now, stale);
  return 0;
}

} // namespace

void add_cluster_commands(CLI::App& app, std::string& config_file,
                          int& result) {
  auto cluster_cmd = app.add_subcommand("cluster", "inspect the cluster");
  cluster_cmd->require_subcommand(1);
  // CLI11 binds a reference to the flag; the callback keeps it alive.
  auto json = std::make_shared<bool>(false);
  auto status = cluster_cmd->add_subcommand(
    "status", "every member: name, roles, address, version, state, health, "
              "uptime, in-flight messages, last heartbeat, peers");
  status->add_option("--config-file", config_file,
                     "node configuration (INI); default: $HERALD_CONFIG");
  status->add_flag("--json", *json, "print JSON");
  status->callback([json, &config_file, &result] {
    result = cluster_status(config_file, *json);
  });
}

} // namespace herald::ctl
