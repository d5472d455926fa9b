#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace herald::web {

/// A token bucket per client: `rate` tokens per second, at most `burst`
/// saved up. Per node: with N ingress nodes a client may reach N times its
/// rate. Thread-safe; called from the HTTPS threads.
class rate_limiter {
public:
  using clock = std::chrono::steady_clock;

  rate_limiter(double rate, double burst) : rate_(rate), burst_(burst) {
    // nop
  }

  /// Takes a token for `client`; returns 0 when granted, else the seconds
  /// until a token is due (for Retry-After).
  double acquire(uint64_t client, clock::time_point now = clock::now()) {
    if (rate_ <= 0)
      return 0;
    std::lock_guard<std::mutex> guard{mtx_};
    auto [it, added] = buckets_.try_emplace(client, bucket{burst_, now});
    auto& b = it->second;
    if (!added) {
      std::chrono::duration<double> elapsed = now - b.updated;
      b.tokens = std::min(burst_, b.tokens + elapsed.count() * rate_);
      b.updated = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / rate_;
  }

private:
  struct bucket {
    double tokens;
    clock::time_point updated;
  };

  double rate_;
  double burst_;
  std::mutex mtx_;
  std::unordered_map<uint64_t, bucket> buckets_;
};

} // namespace herald::web
