#include "core/actor_stats.hpp"

#include <algorithm>

namespace herald {

size_t actor_stats::bucket_of(std::chrono::nanoseconds took) {
  auto us = static_cast<uint64_t>(std::max<int64_t>(took.count(), 0)) / 1000;
  size_t i = 0;
  while (i + 1 < buckets && us >= (uint64_t{1} << i))
    ++i;
  return i;
}

uint64_t actor_stats::bucket_bound_ns(size_t i) {
  return (uint64_t{1} << i) * 1000;
}

void actor_stats::handled(std::chrono::nanoseconds took, uint64_t mailbox) {
  constexpr auto relaxed = std::memory_order_relaxed;
  handled_.fetch_add(1, relaxed);
  total_ns_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(took.count(), 0)),
                      relaxed);
  histogram_[bucket_of(took)].fetch_add(1, relaxed);
  mailbox_.store(mailbox, relaxed);
  // Only the actor writes: no compare-exchange needed.
  if (mailbox > mailbox_max_.load(relaxed))
    mailbox_max_.store(mailbox, relaxed);
}

void actor_stats::failed(std::string what, int64_t at_ms) {
  std::lock_guard<std::mutex> guard{error_mtx_};
  last_error_ = std::move(what);
  last_error_ms_ = at_ms;
}

actor_counters actor_stats::read() const {
  constexpr auto relaxed = std::memory_order_relaxed;
  actor_counters result;
  result.handled = handled_.load(relaxed);
  result.total_ns = total_ns_.load(relaxed);
  result.mailbox = mailbox_.load(relaxed);
  result.mailbox_max = mailbox_max_.load(relaxed);
  std::array<uint64_t, buckets> counts;
  uint64_t sum = 0;
  for (size_t i = 0; i < buckets; ++i)
    sum += counts[i] = histogram_[i].load(relaxed);
  // The smallest bucket bound below which at least 99 % of the handled
  // messages fall.
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets && sum > 0; ++i) {
    seen += counts[i];
    if (seen * 100 >= sum * 99) {
      result.p99_ns = bucket_bound_ns(i);
      break;
    }
  }
  std::lock_guard<std::mutex> guard{error_mtx_};
  result.last_error = last_error_;
  result.last_error_ms = last_error_ms_;
  return result;
}

actor_catalog& actor_catalog::process() {
  static actor_catalog instance;
  return instance;
}

std::shared_ptr<actor_stats>
actor_catalog::enroll(const void* key, const std::string& type,
                      int64_t now_ms) {
  std::lock_guard<std::mutex> guard{mtx_};
  actor_entry x;
  x.id = ++last_id_;
  x.type = type;
  x.name = type + "-" + std::to_string(++started_per_type_[type]);
  x.started_ms = now_ms;
  x.restarts = exited_per_type_[type];
  x.stats = std::make_shared<actor_stats>();
  auto stats = x.stats;
  // An actor that makes its behaviour again starts over.
  if (auto i = ids_.find(key); i != ids_.end())
    running_.erase(i->second);
  ids_[key] = x.id;
  running_.emplace(x.id, std::move(x));
  return stats;
}

uint64_t actor_catalog::id_of(const void* key) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = ids_.find(key);
  return i != ids_.end() ? i->second : 0;
}

void actor_catalog::failed(const void* key, std::string what,
                           int64_t now_ms) {
  std::shared_ptr<actor_stats> stats;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = ids_.find(key);
    if (i == ids_.end())
      return;
    stats = running_.at(i->second).stats;
  }
  stats->failed(std::move(what), now_ms);
}

void actor_catalog::exited(const void* key, std::string reason,
                           int64_t now_ms) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = ids_.find(key);
  if (i == ids_.end())
    return;
  auto j = running_.find(i->second);
  ids_.erase(i);
  auto x = std::move(j->second);
  running_.erase(j);
  x.exited_ms = now_ms;
  x.exit_reason = std::move(reason);
  ++exited_per_type_[x.type];
  exited_.push_back(std::move(x));
  if (exited_.size() > kept_exited)
    exited_.pop_front();
}

std::vector<actor_entry> actor_catalog::entries() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<actor_entry> result;
  result.reserve(running_.size() + exited_.size());
  for (const auto& entry : running_)
    result.push_back(entry.second);
  result.insert(result.end(), exited_.begin(), exited_.end());
  return result;
}

void actor_catalog::clear() {
  std::lock_guard<std::mutex> guard{mtx_};
  running_.clear();
  ids_.clear();
  exited_.clear();
  started_per_type_.clear();
  exited_per_type_.clear();
}

} // namespace herald
