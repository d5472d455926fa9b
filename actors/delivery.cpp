#include "actors/delivery.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "core/metrics.hpp"
#include "persistence/delivery_store.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/reconnect.hpp"
#include "web/health_route.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <thread>

namespace herald {

using persistence::attempt_outcome;

namespace {

using namespace std::chrono_literals;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

int64_t to_ms(caf::timespan x) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(x).count();
}

std::string delivery_body(const std::string& text_id,
                          const std::string& sender, const std::string& body,
                          int64_t created_ms, uint32_t attempt) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  auto str = [&w](const std::string& x) {
    w.String(x.data(), static_cast<rapidjson::SizeType>(x.size()));
  };
  w.StartObject();
  w.Key("message_id");
  str(text_id);
  w.Key("sender_number");
  str(sender);
  w.Key("message_body");
  str(body);
  w.Key("created_at");
  str(web::iso8601(caf::timestamp{std::chrono::milliseconds{created_ms}}));
  w.Key("attempt");
  w.Uint(attempt);
  w.EndObject();
  return buf.GetString();
}

/// Ids taken from Redis and what becomes of them.
struct batch_plan {
  std::vector<persistence::attempt_record> records;
  /// Done in Redis: delivered, failed, or nothing to deliver.
  std::vector<std::string> finished;
  /// Back to the schedule, due at the time given.
  std::vector<std::pair<std::string, int64_t>> retries;
  /// Not attempted because the node stops.
  std::vector<std::string> released;
};

/// A message about to be attempted.
struct attempt_job {
  std::string text_id;
  const persistence::delivery_job* job;
};

/// Concludes without sending when `job` has expired or cannot be
/// decrypted; otherwise returns the request that attempts it.
std::optional<net::http_post> prepare(delivery_worker_state& st,
                                      const std::string& text_id,
                                      const persistence::delivery_job& job,
                                      batch_plan& plan) {
  const auto& d = st.cfg.delivery;
  persistence::attempt_record rec;
  rec.id = job.id;
  rec.attempt = job.attempts + 1;
  if (!within_limits(d, rec.attempt, job.created_ms, now_ms())) {
    rec.outcome = attempt_outcome::expired;
    rec.error = "expired";
  } else if (auto payload = persistence::open_payload(*st.cfg.keys->current(),
                                                      job.payload, job.id)) {
    return net::http_post{delivery_body(text_id, payload->first,
                                        payload->second, job.created_ms,
                                        rec.attempt),
                          {{"Idempotency-Key", text_id}}};
  } else if (payload.error() == errc::not_found) {
    // Sealed under a key this node has not loaded yet (rotated on another
    // node): the key file is read again within seconds, so try later.
    rec.outcome = attempt_outcome::retry;
    rec.error = "unknown data key " + std::to_string(job.payload.key_id);
    rec.next_attempt_ms = now_ms() + to_ms(d.retry_interval);
    plan.retries.emplace_back(text_id, rec.next_attempt_ms);
    plan.records.push_back(std::move(rec));
    return std::nullopt;
  } else {
    rec.outcome = attempt_outcome::failed;
    rec.error = "cannot decrypt: " + render(payload.error());
  }
  plan.records.push_back(std::move(rec));
  plan.finished.push_back(text_id);
  return std::nullopt;
}

} // namespace

bool within_limits(const config::delivery_config& d, uint32_t attempt,
                   int64_t created_ms, int64_t at_ms) {
  if (d.max_attempts > 0 && attempt > d.max_attempts)
    return false;
  return at_ms - created_ms <= to_ms(d.max_age);
}

std::string describe_failure(const net::http_result& result) {
  // Never the downstream's body: it may echo the message (FastAPI's 422
  // does), and it is not ours to store or show.
  if (result.status != 0)
    return "HTTP " + std::to_string(result.status);
  return result.error;
}

namespace {

/// Records how the attempt of `job` ended; fills `plan`. A retry is due at
/// `due` (Unix ms).
void conclude(delivery_worker_state& st, const attempt_job& x,
              const net::http_result& result, int64_t due, batch_plan& plan) {
  const auto& d = st.cfg.delivery;
  const auto& job = *x.job;
  persistence::attempt_record rec;
  rec.id = job.id;
  rec.attempt = job.attempts + 1;
  rec.latency_ms = static_cast<uint32_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(result.elapsed)
      .count());
  rec.http_status = result.status;
  rec.outcome = classify(result);
  if (rec.outcome != attempt_outcome::delivered)
    rec.error = describe_failure(result);
  if (rec.outcome == attempt_outcome::retry) {
    if (!within_limits(d, rec.attempt + 1, job.created_ms, due)) {
      rec.outcome = attempt_outcome::expired;
      rec.error = "expired: " + rec.error;
    } else {
      rec.next_attempt_ms = due;
      plan.retries.emplace_back(x.text_id, due);
    }
  }
  if (rec.outcome != attempt_outcome::retry)
    plan.finished.push_back(x.text_id);
  if (st.stats != nullptr) {
    st.stats->deliveries.Add({{"outcome", persistence::to_string(rec.outcome)}})
      .Increment();
    if (rec.outcome != attempt_outcome::retry)
      st.stats->delivery_attempts.Observe(rec.attempt);
    if (rec.outcome == attempt_outcome::delivered)
      st.stats->delivery_latency.Observe(
        static_cast<double>(now_ms() - job.created_ms) / 1000.0);
  }
  plan.records.push_back(std::move(rec));
}

/// Sends the requests of `jobs` concurrently over the worker's pool and
/// concludes each.
void attempt_all(delivery_worker_state& st,
                 const std::vector<attempt_job>& jobs,
                 const std::vector<net::http_post>& requests,
                 batch_plan& plan) {
  if (requests.empty())
    return;
  auto count = static_cast<double>(requests.size());
  if (st.stats != nullptr)
    st.stats->deliveries_in_flight.Increment(count);
  auto results = st.client->post_all(requests);
  if (st.stats != nullptr)
    st.stats->deliveries_in_flight.Decrement(count);
  // One due time per batch keeps its retries in one schedule entry group.
  auto due = now_ms() + to_ms(st.cfg.delivery.retry_interval);
  for (size_t i = 0; i < jobs.size(); ++i)
    conclude(st, jobs[i], results[i], due, plan);
}

/// Claims the messages `ids` (text form), attempts the deliverable ones and
/// puts the outcome of each into `plan`. Returns the ids whose submission
/// has not committed yet ("accepting").
caf::expected<std::vector<std::string>>
claim_and_attempt(delivery_worker_state& st,
                  const std::vector<std::string>& ids, batch_plan& plan) {
  std::vector<std::string> raw;
  for (const auto& text : ids) {
    if (auto id = message_id::parse(text))
      raw.push_back(id->raw());
    else
      plan.finished.push_back(text); // not a message id: drop it
  }
  auto jobs = persistence::claim_jobs(*st.db, raw);
  if (!jobs)
    return jobs.error();
  std::vector<std::string> waiting;
  std::vector<attempt_job> to_attempt;
  std::vector<net::http_post> requests;
  std::map<std::string, const persistence::delivery_job*> by_id;
  for (const auto& job : *jobs)
    by_id.emplace(job.id, &job);
  for (const auto& text : ids) {
    auto id = message_id::parse(text);
    if (!id)
      continue;
    if (st.cfg.stopping->load()) {
      plan.released.push_back(text);
      continue;
    }
    auto it = by_id.find(id->raw());
    if (it == by_id.end()) {
      plan.finished.push_back(text); // no row: never accepted
      continue;
    }
    const auto& job = *it->second;
    if (job.status == "accepting") {
      waiting.push_back(text);
    } else if (job.status == "queued" || job.status == "delivering") {
      if (auto request = prepare(st, text, job, plan)) {
        to_attempt.push_back({text, &job});
        requests.push_back(std::move(*request));
      }
    } else {
      plan.finished.push_back(text); // delivered, failed or rejected
    }
  }
  attempt_all(st, to_attempt, requests, plan);
  return waiting;
}

/// Takes, delivers and records one batch. Returns false when the worker
/// should pause (a dependency is down).
bool deliver_batch(delivery_worker_state& st) {
  const auto& node = st.cfg.node;
  if (auto err = persistence::ensure_connected(st.redis, st.cfg.redis)) {
    spdlog::warn("delivery: redis: {}", render(err));
    return false;
  }
  // Ids whose submission had not committed at the last look join this
  // batch; with some of them in hand, do not wait for new work.
  auto taken = persistence::take(*st.redis, node, st.cfg.delivery.batch,
                                 st.carried.empty() ? 1s : 0s);
  if (!taken) {
    spdlog::warn("delivery: cannot take work: {}", render(taken.error()));
    st.redis.reset();
    return false;
  }
  if (taken->empty() && st.carried.empty())
    return true;
  if (taken->empty())
    std::this_thread::sleep_for(2ms); // give their commits a moment
  auto ids = std::move(*taken);
  for (const auto& [text, give_up] : st.carried)
    ids.push_back(text);
  batch_plan plan;
  auto now = now_ms();
  auto soon = now + 1000;
  auto waiting = persistence::ensure_connected(st.db, st.cfg.mysql)
                   ? caf::expected<std::vector<std::string>>{make_error(
                     errc::database_failure, "mysql unavailable")}
                   : claim_and_attempt(st, ids, plan);
  if (!waiting) {
    // Try again in a second; Redis keeps them scheduled meanwhile.
    spdlog::warn("delivery: cannot load messages: {}",
                 render(waiting.error()));
    st.db.reset();
    st.carried.clear();
    if (auto err = persistence::schedule_retry(*st.redis, node, ids, soon))
      st.redis.reset();
    return false;
  }
  // Submissions are queued in Redis a moment before their commit: look
  // again with the next batch, and only after 250 ms send them through
  // the retry schedule.
  std::map<std::string, int64_t> carried;
  for (auto& text : *waiting) {
    auto known = st.carried.find(text);
    auto give_up = known != st.carried.end() ? known->second : now + 250;
    if (now >= give_up)
      plan.retries.emplace_back(std::move(text), soon);
    else
      carried.emplace(std::move(text), give_up);
  }
  st.carried = std::move(carried);
  // MySQL first: a crash before Redis learns the outcome repeats the
  // delivery (at least once), never loses it.
  if (auto err = persistence::record_attempts(*st.db, node, plan.records)) {
    // Without a record the outcome is unknown to MySQL: attempt again
    // rather than forget the message (the receiver drops the duplicate).
    spdlog::error("delivery: cannot record {} attempts: {}",
                  plan.records.size(), render(err));
    st.db.reset();
    for (auto& text : plan.finished)
      plan.retries.emplace_back(std::move(text), soon);
    plan.finished.clear();
  }
  auto& redis = *st.redis;
  caf::error err = persistence::finish(redis, node, plan.finished);
  std::map<int64_t, std::vector<std::string>> by_due;
  for (auto& [text, due] : plan.retries)
    by_due[due].push_back(text);
  for (auto& [due, group] : by_due)
    if (!err)
      err = persistence::schedule_retry(redis, node, group, due);
  if (!err)
    err = persistence::release(redis, node, plan.released);
  if (err) {
    // The ids stay in this node's processing list; a restart or the
    // reaper returns them.
    spdlog::error("delivery: redis: {}", render(err));
    st.redis.reset();
    return false;
  }
  return true;
}

} // namespace

attempt_outcome classify(const net::http_result& result) {
  auto s = result.status;
  if (s >= 200 && s < 300)
    return attempt_outcome::delivered;
  if (s == 0 || s == 408 || s == 429 || s >= 500)
    return attempt_outcome::retry;
  return attempt_outcome::failed;
}

delivery_worker_actor::behavior_type delivery_worker(
  delivery_worker_actor::stateful_pointer<delivery_worker_state> self,
  delivery_actor_config cfg, std::shared_ptr<net::https_client> client,
  metrics* stats) {
  self->state.cfg = std::move(cfg);
  self->state.client = std::move(client);
  self->state.stats = stats;
  self->send(self, tick_atom::value);
  return {
    [self](tick_atom) {
      auto& st = self->state;
      if (st.cfg.stopping->load())
        return;
      if (!st.warmed_up) {
        st.warmed_up = true;
        auto open = st.client->connect_all();
        spdlog::debug("delivery: {} connections to {} open", open,
                      st.cfg.delivery.url);
      }
      metrics::sample_mailbox(st.stats, self);
      if (deliver_batch(st))
        self->send(self, tick_atom::value);
      else
        self->delayed_send(self, std::chrono::seconds{1}, tick_atom::value);
    },
  };
}

caf::expected<delivery_worker_actor>
spawn_delivery_worker(caf::actor_system& sys, delivery_actor_config cfg,
                      metrics* stats) {
  // Check the TLS files here so that a bad setting stops the node at once.
  auto client = net::https_client::make(cfg.delivery.url, cfg.delivery.tls,
                                        cfg.delivery.timeout,
                                        cfg.delivery.connections, "delivery",
                                        cfg.crl);
  if (!client)
    return client.error();
  return sys.spawn<caf::detached>(
    delivery_worker, std::move(cfg),
    std::shared_ptr<net::https_client>{std::move(*client)}, stats);
}

schedule_actor::behavior_type
schedule(schedule_actor::stateful_pointer<schedule_state> self,
         delivery_actor_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
    [self](promote_atom) -> caf::result<schedule_status> {
      auto& st = self->state;
      schedule_status result;
      auto run = [&]() -> caf::error {
        if (auto err = persistence::ensure_connected(st.redis, st.cfg.redis))
          return err;
        auto& redis = *st.redis;
        auto moved = persistence::promote_due(redis, now_ms(), 1000);
        if (!moved)
          return moved.error();
        result.moved = *moved;
        if (auto err = persistence::refresh_lease(redis, st.cfg.node,
                                                  st.cfg.delivery.lease_ttl))
          return err;
        auto now = self->clock().now();
        if (now >= st.next_reap) {
          st.next_reap = now + st.cfg.delivery.lease_ttl / 3;
          auto reaped = persistence::reap(redis, st.cfg.node, false);
          if (!reaped)
            return reaped.error();
          if (*reaped > 0)
            spdlog::warn("schedule: returned {} messages of dead nodes",
                         *reaped);
        }
        auto earliest = persistence::earliest_retry(redis);
        if (!earliest)
          return earliest.error();
        if (*earliest >= 0)
          result.next_due_in_ms = std::max<int64_t>(0, *earliest - now_ms());
        auto size = persistence::retry_count(redis);
        if (!size)
          return size.error();
        result.size = *size;
        return caf::none;
      };
      if (auto err = run()) {
        st.redis.reset();
        return err;
      }
      return result;
    },
  };
}

schedule_actor spawn_schedule(caf::actor_system& sys,
                              delivery_actor_config cfg) {
  return sys.spawn<caf::detached>(schedule, std::move(cfg));
}

retry_timer_actor::behavior_type
retry_timer(retry_timer_actor::stateful_pointer<retry_timer_state> self,
            schedule_actor store, metrics* stats) {
  self->state.store = std::move(store);
  self->state.stats = stats;
  self->send(self, tick_atom::value);
  return {
    [self](tick_atom) {
      constexpr int64_t max_sleep_ms = 1000;
      metrics::sample_mailbox(self->state.stats, self);
      self->request(self->state.store, std::chrono::seconds{5},
                    promote_atom::value)
        .then(
          [self](schedule_status& status) {
            if (self->state.stats != nullptr)
              self->state.stats->retry_schedule_size.Set(
                static_cast<double>(status.size));
            // A full promotion may have left more due retries: go again.
            int64_t sleep_ms = max_sleep_ms;
            if (status.moved >= 1000)
              sleep_ms = 0;
            else if (status.next_due_in_ms >= 0)
              sleep_ms = std::min(sleep_ms, status.next_due_in_ms);
            self->delayed_send(self, std::chrono::milliseconds{sleep_ms},
                               tick_atom::value);
          },
          [self](caf::error& err) {
            spdlog::warn("retry-timer: {}", render(err));
            self->delayed_send(self, std::chrono::seconds{1},
                               tick_atom::value);
          });
    },
  };
}

retry_timer_actor spawn_retry_timer(caf::actor_system& sys,
                                    schedule_actor store, metrics* stats) {
  return sys.spawn(retry_timer, std::move(store), stats);
}

} // namespace herald
