// Drives the retry-timer against a real Redis: writes N retries into the
// durable schedule (herald:retry), due over a spread of time, then runs the
// schedule and retry-timer actors as a delivery node does, with a sink in
// place of the delivery actors. Reports how late each id reached the sink
// as `work` (arrival - due) and the process's resident memory. Links
// herald_core: it measures Herald's own actors, not a model of them.
//
// Usage: herald_retry_timer_bench --redis-port P [--count N] [--lead S]
//        [--spread S] [--preload-only]

#include "actors/retry_timer.hpp"
#include "config/herald_config.hpp"
#include "core/errc.hpp"
#include "core/messages.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/redis.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace herald;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// Resident memory of this process in KiB (VmRSS or VmHWM).
long status_kib(const std::string& field) {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0)
      return std::stol(line.substr(field.size() + 1));
  return -1;
}

/// Lateness histogram in ms (last bucket: 60 s and later).
struct lateness {
  std::vector<uint64_t> buckets = std::vector<uint64_t>(60'001);
  uint64_t count = 0;
  uint64_t early = 0;
  int64_t worst = 0;

  void add(int64_t ms) {
    if (ms < 0) {
      ++early;
      ms = 0;
    }
    worst = std::max(worst, ms);
    ++buckets[std::min<int64_t>(ms, 60'000)];
    ++count;
  }

  int64_t percentile(double p) const {
    auto goal = static_cast<uint64_t>(p * static_cast<double>(count));
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets.size(); ++i) {
      seen += buckets[i];
      if (seen >= goal && seen > 0)
        return static_cast<int64_t>(i);
    }
    return -1;
  }
};

struct sink_state {
  static inline const char* name = "sink";
  lateness late;
  uint64_t duplicates = 0;
  std::vector<bool> seen;
};

using done_atom = caf::atom_constant<caf::atom("done")>;

/// Stands in for the delivery actors: the id "r<i>" was due at
/// first_due + i * step_us / 1000.
delivery_actor::behavior_type
sink(delivery_actor::stateful_pointer<sink_state> self, int64_t first_due,
     int64_t step_us, uint64_t count, caf::actor reporter) {
  self->state.seen.resize(count);
  return {
    [=](work& x) -> uint64_t {
      auto& st = self->state;
      auto arrived = now_ms();
      for (const auto& id : x.ids) {
        auto i = std::stoull(id.substr(1));
        if (i >= count)
          continue;
        if (st.seen[i]) {
          ++st.duplicates;
          continue;
        }
        st.seen[i] = true;
        auto due = first_due + static_cast<int64_t>(i) * step_us / 1000;
        st.late.add(arrived - due);
      }
      if (st.late.count == count) {
        const auto& l = st.late;
        caf::anon_send(reporter, done_atom::value,
                   std::vector<int64_t>{l.percentile(0.5),
                                        l.percentile(0.99),
                                        l.percentile(0.999), l.worst,
                                        static_cast<int64_t>(l.early),
                                        static_cast<int64_t>(st.duplicates)});
      }
      return 0;
    },
    [](tick_atom) {
      // nop
    },
    [](poll_atom, uint64_t) {
      // nop
    },
  };
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"retry-timer bench"};
  int port = 0;
  uint64_t count = 1'000'000;
  double lead_s = 30;
  double spread_s = 120;
  app.add_option("--redis-port", port, "throwaway Redis on 127.0.0.1")
    ->required();
  app.add_option("--count", count, "scheduled retries");
  app.add_option("--lead", lead_s, "seconds from the start to the first due");
  app.add_option("--spread", spread_s, "seconds over which they fall due");
  CLI11_PARSE(app, argc, argv);

  config::redis_config rcfg;
  rcfg.port = static_cast<uint16_t>(port);
  auto redis = persistence::redis_connection::connect(rcfg);
  if (!redis) {
    std::fprintf(stderr, "redis: %s\n", render(redis.error()).c_str());
    return 1;
  }
  redis->command({"FLUSHALL"});
  auto first_due = now_ms() + static_cast<int64_t>(lead_s * 1000);
  auto step_us = static_cast<int64_t>(spread_s * 1e6 / double(count));
  auto started = std::chrono::steady_clock::now();
  const uint64_t per_cmd = 1000;
  std::vector<std::vector<std::string>> cmds;
  for (uint64_t i = 0; i < count; i += per_cmd) {
    std::vector<std::string> zadd{"ZADD", persistence::queue_keys::retry};
    for (uint64_t j = i; j < std::min(count, i + per_cmd); ++j) {
      zadd.push_back(
        std::to_string(first_due + static_cast<int64_t>(j) * step_us / 1000));
      zadd.push_back("r" + std::to_string(j));
    }
    cmds.push_back(std::move(zadd));
    if (cmds.size() == 50 || i + per_cmd >= count) {
      if (auto r = redis->pipeline(cmds); !r) {
        std::fprintf(stderr, "zadd: %s\n", render(r.error()).c_str());
        return 1;
      }
      cmds.clear();
    }
  }
  auto loaded_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count();
  auto size = persistence::retry_count(*redis);
  std::printf("scheduled %lld retries in %lld ms, due from +%.0f s over %.0f "
              "s; first due in %lld ms\n",
              static_cast<long long>(size ? *size : -1),
              static_cast<long long>(loaded_ms), lead_s, spread_s,
              static_cast<long long>(first_due - now_ms()));
  cmds.clear();
  cmds.shrink_to_fit();

  long rss_before = status_kib("VmRSS");
  long rss_peak = rss_before;
  std::vector<int64_t> result;
  {
    config::herald_config cfg;
    caf::actor_system sys{cfg};
    caf::scoped_actor self{sys};
    schedule_config scfg{"bench-node", rcfg};
    auto schedule = spawn_schedule(sys, scfg);
    retry_timer_config tcfg;
    auto timer = spawn_retry_timer(sys, tcfg, schedule, nullptr);
    auto reporter = caf::actor_cast<caf::actor>(self);
    auto out = sys.spawn(sink, first_due, step_us, count, reporter);
    self->send(timer, caf::join_atom::value, out);
    auto deadline = std::chrono::steady_clock::now()
                    + std::chrono::milliseconds{first_due - now_ms()}
                    + std::chrono::duration<double>(spread_s + 120);
    bool done = false;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      self->receive(
        [&](done_atom, std::vector<int64_t>& xs) {
          result = std::move(xs);
          done = true;
        },
        caf::after(std::chrono::milliseconds{250}) >>
          [&] { rss_peak = std::max(rss_peak, status_kib("VmRSS")); });
    }
    rss_peak = std::max(rss_peak, status_kib("VmRSS"));
    for (auto x : {caf::actor_cast<caf::actor>(out),
                   caf::actor_cast<caf::actor>(timer),
                   caf::actor_cast<caf::actor>(schedule)})
      self->send_exit(x, caf::exit_reason::user_shutdown);
  }
  if (result.size() != 6) {
    std::printf("FAILED: not every retry arrived in time\n");
    return 1;
  }
  std::printf("lateness ms: p50 %lld  p99 %lld  p99.9 %lld  max %lld  "
              "(early %lld, duplicates %lld)\n",
              static_cast<long long>(result[0]),
              static_cast<long long>(result[1]),
              static_cast<long long>(result[2]),
              static_cast<long long>(result[3]),
              static_cast<long long>(result[4]),
              static_cast<long long>(result[5]));
  std::printf("rss MiB: before the actors %.1f, peak while firing %.1f, "
              "high-water mark %.1f\n",
              double(rss_before) / 1024, double(rss_peak) / 1024,
              double(status_kib("VmHWM")) / 1024);
  auto left = persistence::retry_count(*redis);
  auto pending = persistence::pending_length(*redis);
  std::printf("left in the schedule %lld, in pending %lld\n",
              static_cast<long long>(left ? *left : -1),
              static_cast<long long>(pending ? *pending : -1));
  return result[3] <= 1000 && result[5] == 0 ? 0 : 2;
}
