#include "actors/delivery.hpp"
#include "actors/detail/instrument.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "core/metrics.hpp"
#include "core/time.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/mysql.hpp"
#include "persistence/reconnect.hpp"
#include "persistence/redis.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>

namespace herald {

using persistence::attempt_outcome;
using persistence::attempt_record;
using persistence::delivery_job;

namespace {

using namespace std::chrono_literals;

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
  str(iso8601_ms(created_ms));
  w.Key("attempt");
  w.Uint(attempt);
  w.EndObject();
  return buf.GetString();
}

/// Where max-age counts from: creation, or the last requeue (heraldctl
/// message requeue).
int64_t age_start_ms(const delivery_job& job) {
  return std::max(job.created_ms, job.requeued_ms);
}

/// Of `attempts` made, those that count against max-attempts: the ones
/// since the last requeue.
uint32_t counted_attempts(uint32_t attempts, const delivery_job& job) {
  return attempts > job.requeued_attempts ? attempts - job.requeued_attempts
                                          : 0;
}

} // namespace

// -- the decision (pure) ------------------------------------------------------

attempt_outcome classify(const net::http_result& result) {
  auto s = result.status;
  if (s >= 200 && s < 300)
    return attempt_outcome::delivered;
  if (s == 0 || s == 408 || s == 429 || s >= 500)
    return attempt_outcome::retry;
  return attempt_outcome::failed;
}

std::string describe_failure(const net::http_result& result) {
  // Never the downstream's body: it may echo the message (FastAPI's 422
  // does), and it is not ours to store or show.
  if (result.status != 0)
    return "HTTP " + std::to_string(result.status);
  return result.error;
}

std::optional<attempt_record>
expire_before_attempt(const delivery_job& job, int64_t now,
                      const config::delivery_config& cfg) {
  if (now - age_start_ms(job) <= to_ms(cfg.max_age)
      && (cfg.max_attempts == 0
          || counted_attempts(job.attempts, job) < cfg.max_attempts))
    return std::nullopt;
  attempt_record rec;
  rec.id = job.id;
  rec.attempt = job.attempts + 1;
  rec.outcome = attempt_outcome::expired;
  rec.error = "expired";
  return rec;
}

attempt_record decide(const delivery_job& job, const net::http_result& result,
                      int64_t due_ms, const config::delivery_config& cfg) {
  attempt_record rec;
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
    bool out_of_attempts
      = cfg.max_attempts > 0
        && counted_attempts(rec.attempt, job) >= cfg.max_attempts;
    if (out_of_attempts || due_ms - age_start_ms(job) > to_ms(cfg.max_age)) {
      rec.outcome = attempt_outcome::expired;
      rec.error = "expired: " + rec.error;
    } else {
      rec.next_attempt_ms = due_ms;
    }
  }
  return rec;
}

// -- the real I/O -------------------------------------------------------------

delivery_io::~delivery_io() {
  // nop
}

namespace {

/// Redis, MySQL and HTTPS of one delivery actor.
class live_delivery_io : public delivery_io {
public:
  live_delivery_io(const delivery_actor_config& cfg,
                   std::unique_ptr<net::https_client> client)
    : node_(cfg.node),
      mysql_cfg_(cfg.mysql),
      redis_cfg_(cfg.redis),
      url_(cfg.delivery.url),
      client_(std::move(client)) {
    // nop
  }

  void warm_up() override {
    auto open = client_->connect_all();
    spdlog::debug("delivery: {} connections to {} open", open, url_);
  }

  caf::expected<std::vector<std::string>> take(size_t max,
                                               caf::timespan wait) override {
    return with_redis([&](auto& redis) {
      return persistence::take(redis, node_, max, wait);
    });
  }

  caf::expected<std::vector<delivery_job>>
  claim(const std::vector<std::string>& raw_ids) override {
    if (auto err = persistence::ensure_connected(db_, mysql_cfg_))
      return err;
    auto jobs = persistence::claim_jobs(*db_, raw_ids);
    if (!jobs)
      db_.reset();
    return jobs;
  }

  std::vector<net::http_result>
  post_all(const std::vector<net::http_post>& requests) override {
    return client_->post_all(requests);
  }

  caf::error record(const std::vector<attempt_record>& records) override {
    if (auto err = persistence::ensure_connected(db_, mysql_cfg_))
      return err;
    auto err = persistence::record_attempts(*db_, node_, records);
    if (err)
      db_.reset();
    return err;
  }

  caf::error finish(const std::vector<std::string>& ids) override {
    return done(with_redis([&](auto& redis) {
      return wrap(persistence::finish(redis, node_, ids));
    }));
  }

  caf::error release(const std::vector<std::string>& ids) override {
    return done(with_redis([&](auto& redis) {
      return wrap(persistence::release(redis, node_, ids));
    }));
  }

  caf::error schedule_retry(const std::vector<std::string>& ids,
                            int64_t due_ms) override {
    return done(with_redis([&](auto& redis) {
      return wrap(persistence::schedule_retry(redis, node_, ids, due_ms));
    }));
  }

private:
  static caf::expected<bool> wrap(caf::error err) {
    if (err)
      return err;
    return true;
  }

  static caf::error done(caf::expected<bool> x) {
    return x ? caf::none : x.error();
  }

  template <class F>
  auto with_redis(F f) -> decltype(f(std::declval<
                                     persistence::redis_connection&>())) {
    if (auto err = persistence::ensure_connected(redis_, redis_cfg_))
      return err;
    auto result = f(*redis_);
    if (!result)
      redis_.reset();
    return result;
  }

  std::string node_;
  config::mysql_config mysql_cfg_;
  config::redis_config redis_cfg_;
  std::string url_;
  std::unique_ptr<net::https_client> client_;
  std::optional<persistence::mysql_connection> db_;
  std::optional<persistence::redis_connection> redis_;
};

} // namespace

caf::expected<std::shared_ptr<delivery_io>>
make_delivery_io(const delivery_actor_config& cfg) {
  // Check the TLS files here so that a bad setting stops the node at once.
  auto client = net::https_client::make(cfg.delivery.url, cfg.delivery.tls,
                                        cfg.delivery.timeout,
                                        cfg.delivery.connections, "delivery",
                                        cfg.crl);
  if (!client)
    return client.error();
  return std::shared_ptr<delivery_io>{
    std::make_shared<live_delivery_io>(cfg, std::move(*client))};
}

// -- the delivery actor -------------------------------------------------------

namespace {

using delivery_ptr = delivery_actor::stateful_pointer<delivery_state>;

/// Ids taken from Redis and what becomes of them.
struct batch_plan {
  std::vector<attempt_record> records;
  /// Done in Redis: delivered, failed, or nothing to deliver.
  std::vector<std::string> finished;
  /// Back to the schedule, due at the time given.
  std::vector<std::pair<std::string, int64_t>> retries;
};

/// A message about to be attempted.
struct attempt_job {
  std::string text_id;
  const delivery_job* job;
};

/// Concludes without sending when `job` has expired or cannot be
/// decrypted; otherwise returns the request that attempts it.
std::optional<net::http_post> prepare(delivery_state& st,
                                      const std::string& text_id,
                                      const delivery_job& job,
                                      batch_plan& plan) {
  const auto& d = st.cfg.delivery;
  if (auto expired = expire_before_attempt(job, unix_now_ms(), d)) {
    plan.records.push_back(std::move(*expired));
    plan.finished.push_back(text_id);
    return std::nullopt;
  }
  attempt_record rec;
  rec.id = job.id;
  rec.attempt = job.attempts + 1;
  auto payload = persistence::open_payload(*st.cfg.keys->current(),
                                           job.payload, job.id);
  if (payload)
    return net::http_post{delivery_body(text_id, payload->first,
                                        payload->second, job.created_ms,
                                        rec.attempt),
                          {{"Idempotency-Key", text_id}}};
  if (payload.error() == errc::not_found) {
    // Sealed under a key this node has not loaded yet (rotated on another
    // node): the key file is read again within seconds, so try later.
    rec.outcome = attempt_outcome::retry;
    rec.error = "unknown data key " + std::to_string(job.payload.key_id);
    rec.next_attempt_ms = unix_now_ms() + to_ms(d.retry_interval);
    plan.retries.emplace_back(text_id, rec.next_attempt_ms);
    plan.records.push_back(std::move(rec));
    return std::nullopt;
  }
  rec.outcome = attempt_outcome::failed;
  rec.error = "cannot decrypt: " + render(payload.error());
  plan.records.push_back(std::move(rec));
  plan.finished.push_back(text_id);
  return std::nullopt;
}

/// Records the decision for one attempt in `plan` and the metrics.
void conclude(delivery_state& st, const attempt_job& x,
              const net::http_result& result, int64_t due, batch_plan& plan) {
  const auto& job = *x.job;
  auto rec = decide(job, result, due, st.cfg.delivery);
  if (rec.outcome == attempt_outcome::retry)
    plan.retries.emplace_back(x.text_id, due);
  else
    plan.finished.push_back(x.text_id);
  if (st.stats != nullptr) {
    st.stats->deliveries.Add({{"outcome", persistence::to_string(rec.outcome)}})
      .Increment();
    if (rec.outcome != attempt_outcome::retry)
      st.stats->delivery_attempts.Observe(rec.attempt);
    if (rec.outcome == attempt_outcome::delivered) {
      st.stats->delivery_latency.Observe(
        static_cast<double>(unix_now_ms() - job.created_ms) / 1000.0);
      st.stats->stages.delivery.Increment();
    }
  }
  plan.records.push_back(std::move(rec));
}

/// Sends the requests of `jobs` concurrently and concludes each.
void attempt_all(delivery_state& st, const std::vector<attempt_job>& jobs,
                 const std::vector<net::http_post>& requests,
                 batch_plan& plan) {
  if (requests.empty())
    return;
  auto count = static_cast<double>(requests.size());
  if (st.stats != nullptr)
    st.stats->deliveries_in_flight.Increment(count);
  auto results = st.io->post_all(requests);
  if (st.stats != nullptr)
    st.stats->deliveries_in_flight.Decrement(count);
  // One due time per batch keeps its retries in one schedule entry group
  // (and one armed wake-up).
  auto due = unix_now_ms() + to_ms(st.cfg.delivery.retry_interval);
  for (size_t i = 0; i < jobs.size() && i < results.size(); ++i)
    conclude(st, jobs[i], results[i], due, plan);
}

/// Claims the messages `ids` (text form), attempts the deliverable ones and
/// puts the outcome of each into `plan`. Returns the ids whose submission
/// has not committed yet ("accepting").
caf::expected<std::vector<std::string>>
claim_and_attempt(delivery_state& st, const std::vector<std::string>& ids,
                  batch_plan& plan) {
  std::vector<std::string> raw;
  for (const auto& text : ids) {
    if (auto id = message_id::parse(text))
      raw.push_back(id->raw());
    else
      plan.finished.push_back(text); // not a message id: drop it
  }
  auto jobs = st.io->claim(raw);
  if (!jobs)
    return jobs.error();
  std::vector<std::string> waiting;
  std::vector<attempt_job> to_attempt;
  std::vector<net::http_post> requests;
  std::map<std::string, const delivery_job*> by_id;
  for (const auto& job : *jobs)
    by_id.emplace(job.id, &job);
  for (const auto& text : ids) {
    auto id = message_id::parse(text);
    if (!id)
      continue;
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

/// Hands retries to the retry-timer, which records them durably; if it
/// does not answer, schedules them in Redis directly (ZADD is idempotent,
/// so a late answer does no harm).
void send_retries(delivery_ptr self,
                  std::vector<std::pair<std::string, int64_t>> retries) {
  std::map<int64_t, std::vector<std::string>> by_due;
  for (auto& [text, due] : retries)
    by_due[due].push_back(std::move(text));
  for (auto& entry : by_due) {
    // Named copies: lambdas cannot capture structured bindings in C++17.
    auto due = entry.first;
    const auto& ids = entry.second;
    auto& st = self->state;
    if (!st.timer) {
      if (auto err = st.io->schedule_retry(ids, due))
        spdlog::error("delivery: cannot schedule {} retries: {}", ids.size(),
                      render(err));
      continue;
    }
    self
      ->request(st.timer, std::chrono::seconds{5}, schedule_retry{ids, due})
      .then(
        [](caf::ok_atom) {
          // nop: durable
        },
        [self, ids, due](caf::error& err) {
          spdlog::warn("delivery: retry-timer: {}; scheduling {} retries "
                       "directly",
                       render(err), ids.size());
          if (auto err2 = self->state.io->schedule_retry(ids, due))
            // The ids stay in this node's processing list; a restart
            // returns them.
            spdlog::error("delivery: cannot schedule {} retries: {}",
                          ids.size(), render(err2));
        });
  }
}

/// What a step found.
enum class step_outcome {
  /// A full batch: there may be more.
  busy,
  /// Took less than a batch; ids wait for their commit.
  carrying,
  /// Nothing to do.
  idle,
  /// A dependency failed; its connection is reopened next time.
  failed,
};

/// Takes, delivers and records one batch: one bounded step.
step_outcome step(delivery_ptr self) {
  auto& st = self->state;
  auto& io = *st.io;
  const auto batch = st.cfg.delivery.batch;
  // With ids in hand, do not wait for new ones.
  auto wait = st.carried.empty() ? st.cfg.idle_wait : caf::timespan::zero();
  auto taken = io.take(batch, wait);
  if (!taken) {
    spdlog::warn("delivery: cannot take work: {}", render(taken.error()));
    record_failure(self, "cannot take work: " + render(taken.error()));
    return step_outcome::failed;
  }
  st.last_taken = taken->size();
  if (taken->empty() && st.carried.empty())
    return step_outcome::idle;
  auto full = taken->size() >= batch;
  auto ids = std::move(*taken);
  for (const auto& [text, give_up] : st.carried)
    ids.push_back(text);
  batch_plan plan;
  auto now = unix_now_ms();
  auto soon = now + 1000;
  auto waiting = claim_and_attempt(st, ids, plan);
  if (!waiting) {
    // Try again in a second; the schedule keeps them meanwhile.
    spdlog::warn("delivery: cannot load messages: {}",
                 render(waiting.error()));
    record_failure(self, "cannot load messages: " + render(waiting.error()));
    st.carried.clear();
    std::vector<std::pair<std::string, int64_t>> retries;
    for (auto& text : ids)
      retries.emplace_back(std::move(text), soon);
    send_retries(self, std::move(retries));
    return step_outcome::failed;
  }
  // Submissions are queued in Redis a moment before their commit: look
  // again shortly, and only after 250 ms send them through the schedule.
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
  if (auto err = io.record(plan.records)) {
    // Without a record the outcome is unknown to MySQL: attempt again
    // rather than forget the message (the receiver drops the duplicate).
    spdlog::error("delivery: cannot record {} attempts: {}",
                  plan.records.size(), render(err));
    record_failure(self, "cannot record attempts: " + render(err));
    for (auto& text : plan.finished)
      plan.retries.emplace_back(std::move(text), soon);
    plan.finished.clear();
  }
  if (auto err = io.finish(plan.finished)) {
    // The ids stay in this node's processing list; a restart or the
    // reaper returns them.
    spdlog::error("delivery: redis: {}", render(err));
    record_failure(self, "redis: " + render(err));
    return step_outcome::failed;
  }
  send_retries(self, std::move(plan.retries));
  if (full)
    return step_outcome::busy;
  return st.carried.empty() ? step_outcome::idle : step_outcome::carrying;
}

/// Runs the next step at once (at most one such tick waits in the mailbox).
void step_now(delivery_ptr self) {
  auto& st = self->state;
  if (st.step_queued)
    return;
  st.step_queued = true;
  self->send(self, tick_atom::value);
}

/// Runs a step after `delay`, superseding any poll armed before.
void step_later(delivery_ptr self, caf::timespan delay) {
  auto& st = self->state;
  self->delayed_send(self, delay, poll_atom::value, ++st.poll_id);
}

void run_step(delivery_ptr self) {
  auto& st = self->state;
  metrics::sample_mailbox(st.stats, self);
  switch (step(self)) {
    case step_outcome::busy:
      step_now(self);
      break;
    case step_outcome::carrying:
      // Give their commits a moment.
      step_later(self, 2ms);
      break;
    case step_outcome::idle:
      if (st.cfg.idle_wait > caf::timespan::zero())
        step_now(self); // the take waited in Redis: look again
      else
        step_later(self, st.cfg.idle_poll);
      break;
    case step_outcome::failed:
      step_later(self, 1s);
      break;
  }
}

} // namespace

delivery_actor::behavior_type
delivery(delivery_actor::stateful_pointer<delivery_state> self,
         delivery_actor_config cfg, std::shared_ptr<delivery_io> io,
         retry_timer_actor timer, metrics* stats) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.io = std::move(io);
  st.timer = std::move(timer);
  st.stats = stats;
  // The exit path: every step has finished what it took (recorded and
  // acknowledged); only ids waiting for their commit are still in hand.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    std::vector<std::string> ids;
    for (auto& [text, give_up] : st.carried)
      ids.push_back(text);
    st.carried.clear();
    if (auto err = st.io->release(ids))
      spdlog::error("delivery: cannot release {} ids: {}", ids.size(),
                    render(err));
    self->quit(msg.reason);
  });
  step_now(self);
  return instrumented(self,
    [self](work&) -> uint64_t {
      // The ids are in pending: the next step takes them (or another
      // worker or node did).
      step_now(self);
      return self->state.last_taken + self->state.carried.size();
    },
    [self](tick_atom) {
      self->state.step_queued = false;
      run_step(self);
    },
    [self](poll_atom, uint64_t id) {
      if (id == self->state.poll_id)
        run_step(self);
    }
  );
}

caf::expected<delivery_actor>
spawn_delivery(caf::actor_system& sys, delivery_actor_config cfg,
               retry_timer_actor timer, metrics* stats) {
  auto io = make_delivery_io(cfg);
  if (!io)
    return io.error();
  // Before the node says it is ready: a message accepted right after the
  // start does not wait for the pool's TLS handshakes.
  (*io)->warm_up();
  return sys.spawn<caf::detached>(delivery, std::move(cfg), std::move(*io),
                                  std::move(timer), stats);
}

} // namespace herald
