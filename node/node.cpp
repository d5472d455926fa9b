#include "node/node.hpp"

#include "actors/delivery.hpp"
#include "actors/dependency_probe.hpp"
#include "actors/health.hpp"
#include "actors/pki_monitor.hpp"
#include "actors/queue.hpp"
#include "actors/receiver.hpp"
#include "actors/recovery.hpp"
#include "actors/retry_timer.hpp"
#include "actors/store.hpp"
#include "actors/store_writer.hpp"
#include "core/errc.hpp"
#include "core/logging.hpp"
#include "core/metrics.hpp"
#include "core/version.hpp"
#include "net/crl.hpp"
#include "net/http_server.hpp"
#include "net/metrics_endpoint.hpp"
#include "node/signals.hpp"
#include "node/systemd_notify.hpp"
#include "persistence/clients.hpp"
#include "persistence/crypto.hpp"
#include "persistence/limits.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/migrations.hpp"
#include "persistence/mysql.hpp"
#include "persistence/redis.hpp"
#include "web/client_registry.hpp"
#include "web/health_route.hpp"
#include "web/messages_route.hpp"
#include "web/rate_limiter.hpp"
#include "web/receiver_route.hpp"
#include "web/router.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>

namespace herald::node {

namespace {

/// Ends the process if an orderly shutdown overruns its deadline, so that a
/// stuck actor can never hang ~actor_system forever.
class shutdown_watchdog {
public:
  explicit shutdown_watchdog(caf::timespan deadline) {
    std::thread{[done = done_, deadline] {
      std::this_thread::sleep_for(deadline);
      if (!*done) {
        spdlog::critical("shutdown did not finish within {} ms "
                         "(node.shutdown-timeout); exiting",
                         std::chrono::duration_cast<std::chrono::milliseconds>(
                           deadline)
                           .count());
        spdlog::default_logger()->flush();
        _exit(3);
      }
    }}.detach();
  }

  ~shutdown_watchdog() {
    *done_ = true;
  }

private:
  std::shared_ptr<std::atomic<bool>> done_
    = std::make_shared<std::atomic<bool>>(false);
};

/// Spawns the submission pipeline of an ingress node (store, its writers,
/// the queue, returned in `queue` for the delivery actors to join). `keep`
/// records every spawned actor for the shutdown.
template <class Keep>
std::shared_ptr<const web::messages_context>
make_messages_context(caf::actor_system& sys,
                      std::shared_ptr<const web::actor_bridge> bridge,
                      const config::settings& cfg,
                      std::shared_ptr<persistence::live_key_ring> keys,
                      web::client_registry& clients,
                      web::rate_limiter& limiter, metrics& m,
                      work_queue_actor& queue, Keep& keep) {
  std::vector<store_writer_actor> writers;
  for (size_t i = 0; i < cfg.store.writers; ++i)
    writers.push_back(keep(spawn_store_writer(sys, cfg.mysql)));
  queue = keep(spawn_work_queue(sys, cfg.redis));
  auto ctx = std::make_shared<web::messages_context>();
  ctx->bridge = std::move(bridge);
  // The wait for a writer and the four steps of a batch (insert, enqueue,
  // commit or reject) share the deadline.
  ctx->store = keep(spawn_store(sys, cfg.store,
                                cfg.ingress.accept_timeout / 5,
                                std::move(writers), queue, &m));
  ctx->reader = keep(spawn_store_writer(sys, cfg.mysql));
  ctx->clients = &clients;
  ctx->limiter = &limiter;
  ctx->keys = std::move(keys);
  ctx->pepper = cfg.crypto.pepper;
  ctx->max_message_chars = cfg.ingress.max_message_chars;
  ctx->accept_timeout = cfg.ingress.accept_timeout;
  ctx->stats = &m;
  return ctx;
}

/// Spawns the group commit of the receiver role (receiver, its stores).
template <class Keep>
std::shared_ptr<const web::receiver_context>
make_receiver_context(caf::actor_system& sys,
                      std::shared_ptr<const web::actor_bridge> bridge,
                      const config::settings& cfg,
                      std::shared_ptr<persistence::live_key_ring> keys,
                      const web::client_registry& registry, metrics& m,
                      Keep& keep) {
  std::vector<receiver_store_actor> writers;
  for (size_t i = 0; i < cfg.receiver.writers; ++i)
    writers.push_back(keep(spawn_receiver_store(sys, cfg.mysql)));
  auto ctx = std::make_shared<web::receiver_context>();
  ctx->bridge = std::move(bridge);
  // The store's deadline per MySQL step: a delivery waits at most that long
  // for a writer and its write as long again, well within the route's 10 s.
  ctx->receiver = keep(spawn_receiver(sys, cfg.receiver,
                                      cfg.ingress.accept_timeout / 5,
                                      std::move(writers), &m));
  ctx->registry = &registry;
  // Whatever any sender's ingress.max-message-chars allowed.
  ctx->max_message_chars = persistence::max_message_chars;
  ctx->keys = std::move(keys);
  ctx->pepper = cfg.crypto.pepper;
  ctx->callers = cfg.receiver.callers;
  ctx->stats = &m;
  return ctx;
}

/// Loads the CRL at `path` (signed by a CA in `ca`) for a node that starts:
/// fail closed, so a missing or bad CRL stops the node rather than letting
/// revoked certificates in.
caf::expected<std::shared_ptr<net::crl_store>>
load_crl(const std::string& setting, const std::string& path,
         const std::string& ca) {
  auto crl = std::make_shared<net::crl_store>(path, ca);
  auto err = crl->refresh();
  if (!crl->in_force())
    return make_error(errc::invalid_config,
                      "no valid CRL in " + setting + " ('" + path
                        + "'), and a node does not start without one: "
                        + render(err));
  if (err)
    spdlog::warn("{}", render(err));
  return crl;
}

/// Returns what a previous run of this node left in its processing list,
/// then spawns the schedule, the retry-timer and the delivery actors, and
/// has the actors join the retry-timer and this node's `queue` (if any), so
/// that work reaches them by message. The delivery actors go to `workers`
/// (stopped first at shutdown).
caf::error start_delivery(caf::actor_system& sys, const config::settings& cfg,
                          std::shared_ptr<persistence::live_key_ring> keys,
                          std::shared_ptr<net::crl_store> crl,
                          const work_queue_actor& queue, metrics& m,
                          std::vector<caf::actor>& workers,
                          std::vector<caf::actor>& actors) {
  auto redis = persistence::redis_connection::connect(cfg.redis);
  if (!redis)
    return redis.error();
  // Two nodes with one name would share a processing list and a lease, and
  // the reap below would take the other's messages in hand.
  auto in_use = persistence::lease_in_use(*redis, cfg.node.name,
                                          std::chrono::milliseconds{1500});
  if (!in_use)
    return in_use.error();
  if (*in_use)
    return make_error(errc::invalid_config,
                      "node.name: another running node is named '"
                        + cfg.node.name
                        + "' (its delivery lease in Redis is being "
                          "refreshed); give every node a unique name");
  auto returned = persistence::reap(*redis, cfg.node.name, true);
  if (!returned)
    return returned.error();
  if (*returned > 0)
    spdlog::warn("delivery: {} messages of an earlier run go back to the "
                 "queue",
                 *returned);
  delivery_actor_config dcfg{cfg.node.name, cfg.delivery,    cfg.mysql,
                             cfg.redis,     std::move(keys), std::move(crl)};
  if (!queue) {
    // No queue on this node pushes work: wait in Redis for new ids (one
    // bounded step) instead of an idle poll.
    dcfg.idle_wait = std::chrono::milliseconds{200};
  }
  schedule_config scfg{cfg.node.name, cfg.redis, cfg.delivery.lease_ttl};
  auto schedule = spawn_schedule(sys, scfg);
  actors.push_back(caf::actor_cast<caf::actor>(schedule));
  retry_timer_config tcfg;
  if (auto err = validate(tcfg))
    return err;
  auto timer = spawn_retry_timer(sys, tcfg, schedule, &m);
  actors.push_back(caf::actor_cast<caf::actor>(timer));
  for (size_t i = 0; i < cfg.delivery.workers; ++i) {
    auto worker = spawn_delivery(sys, dcfg, timer, &m);
    if (!worker)
      return worker.error();
    workers.push_back(caf::actor_cast<caf::actor>(*worker));
    caf::anon_send(timer, caf::join_atom::value, *worker);
    if (queue)
      caf::anon_send(queue, caf::join_atom::value, *worker);
  }
  spdlog::info("delivery: {} workers deliver to {}", cfg.delivery.workers,
               cfg.delivery.url);
  return caf::none;
}

/// The health actor's latest report, or nothing when it does not answer
/// within `timeout` (a wedged actor system).
std::optional<health_report> latest_health(caf::actor_system& sys,
                                           const health_actor& health,
                                           caf::timespan timeout) {
  std::optional<health_report> result;
  caf::scoped_actor self{sys};
  self->request(health, timeout, caf::get_atom::value)
    .receive([&result](health_report& report) { result = std::move(report); },
             [](caf::error&) {
               // nop: no answer in time
             });
  return result;
}

/// The status line for the service manager, e.g. "serving; mysql up, redis
/// up" (systemctl status shows it).
std::string describe(const health_report& report) {
  std::string text = report.healthy() ? "serving" : "degraded";
  const char* sep = "; ";
  for (const auto& dep : report.dependencies) {
    text += sep + dep.name + (dep.up ? " up" : " down");
    sep = ", ";
  }
  return text;
}

/// Tells the service manager (Type=notify) that the node serves, once the
/// health actor has its first report (so health answers 200 from then on,
/// or names what is down), and starts the watchdog keep-alive when the
/// unit asks for one (WatchdogSec=). Does nothing outside systemd.
std::unique_ptr<service_watchdog>
announce_ready(caf::actor_system& sys, const health_actor& health,
               const config::settings& cfg) {
  auto cycle = cfg.health.interval + cfg.health.probe_timeout;
  auto deadline = std::chrono::steady_clock::now() + cycle
                  + std::chrono::seconds{1};
  auto report = latest_health(sys, health, cycle);
  while ((!report || report->checked_at == caf::timestamp{})
         && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    report = latest_health(sys, health, cycle);
  }
  auto status = report && report->checked_at != caf::timestamp{}
                  ? describe(*report)
                  : std::string{"starting"};
  notify_service_manager("READY=1\nSTATUS=" + status);
  auto timeout = watchdog_timeout();
  if (timeout.count() == 0)
    return nullptr;
  spdlog::info("watchdog: keep-alive every {} ms while health is fresh",
               std::chrono::duration_cast<std::chrono::milliseconds>(timeout)
                   .count()
                 / 2);
  // A report older than two probe cycles means the health actor (or the
  // scheduler under it) no longer runs: stop vouching for the node.
  caf::timespan ask = std::max<caf::timespan>(timeout / 4,
                                              std::chrono::milliseconds{50});
  return std::make_unique<service_watchdog>(
    timeout,
    [&sys, health, ask, stale = 2 * cycle]() -> std::optional<std::string> {
      auto report = latest_health(sys, health, ask);
      if (!report || caf::make_timestamp() - report->checked_at > stale)
        return std::nullopt;
      return describe(*report);
    });
}

} // namespace

caf::error check_dependencies(const config::settings& cfg) {
  spdlog::info("checking MariaDB (waiting up to {} s)",
               std::chrono::duration_cast<std::chrono::seconds>(
                 cfg.mysql.connect_timeout)
                 .count());
  auto db = persistence::mysql_connection::connect_with_retry(
    cfg.mysql, [](const caf::error& err) {
      spdlog::debug("MariaDB not ready yet: {}", render(err));
    });
  if (!db)
    return make_error(errc::database_failure,
                      render(db.error())
                        + "; check mysql.host, mysql.port or mysql.socket, "
                          "mysql.user and the password");
  if (auto err = persistence::check_schema(*db))
    return err;
  spdlog::info("checking Redis (waiting up to {} s)",
               std::chrono::duration_cast<std::chrono::seconds>(
                 cfg.redis.connect_timeout)
                 .count());
  auto redis = persistence::redis_connection::connect_with_retry(cfg.redis);
  if (!redis)
    return make_error(errc::redis_failure,
                      render(redis.error())
                        + "; check redis.host, redis.port and the password");
  return caf::none;
}

/// What a node reads from files and the database before it serves, so that
/// a bad file stops it before the first connection.
struct node_files {
  std::shared_ptr<persistence::live_key_ring> keys;
  /// Checked by the HTTPS listener; null on nodes that do not listen.
  std::shared_ptr<net::crl_store> crl;
  /// Checked by the delivery client; null without the role or with
  /// delivery.crl-file "none".
  std::shared_ptr<net::crl_store> delivery_crl;
};

caf::expected<node_files> load_node_files(const config::settings& cfg,
                                          web::client_registry& registry) {
  node_files result;
  bool listens = cfg.has_role("ingress") || cfg.has_role("receiver");
  auto keys = persistence::live_key_ring::load(cfg.crypto.keys_file);
  if (!keys)
    return keys.error();
  result.keys = std::move(*keys);
  if (listens) {
    auto crl = load_crl("pki.crl-file", cfg.pki.crl_file, cfg.ingress.tls.ca);
    if (!crl)
      return crl.error();
    result.crl = std::move(*crl);
    // Certificates are known before the first request; the client
    // directory reloads them.
    auto db = persistence::mysql_connection::connect(cfg.mysql);
    if (!db)
      return db.error();
    auto known = persistence::load_client_map(*db);
    if (!known)
      return known.error();
    spdlog::info("{} certificates registered", known->size());
    registry.replace(std::move(*known));
  }
  const auto& d = cfg.delivery;
  if (cfg.has_role("delivery") && d.crl_file != "none") {
    auto path = d.crl_file.empty() ? cfg.pki.crl_file : d.crl_file;
    if (result.crl && path == cfg.pki.crl_file && d.tls.ca == cfg.ingress.tls.ca) {
      result.delivery_crl = result.crl;
    } else {
      auto crl = load_crl("delivery.crl-file", path, d.tls.ca);
      if (!crl)
        return crl.error();
      result.delivery_crl = std::move(*crl);
    }
  }
  return result;
}

int run(config::herald_config& sys_cfg, const config::settings& cfg) {
  spdlog::info("heraldd {} ({}) starting node '{}'", herald::version,
               herald::git_commit, cfg.node.name);
  if (auto err = check_dependencies(cfg)) {
    spdlog::error("cannot start: {}", render(err));
    return 1;
  }
  web::client_registry registry;
  auto files = load_node_files(cfg, registry);
  if (!files) {
    spdlog::error("cannot start: {}", render(files.error()));
    return 1;
  }
  metrics m{cfg.node.name};
  auto scrape = net::metrics_endpoint::start(cfg.metrics, m);
  if (!scrape) {
    spdlog::error("cannot start: {}", render(scrape.error()));
    return 1;
  }
  int exit_code = 0;
  // Declared before the actor system so that it also bounds ~actor_system,
  // which waits for every actor.
  std::optional<shutdown_watchdog> watchdog;
  {
    caf::actor_system sys{sys_cfg};
    // Every actor of the node, stopped in reverse order at shutdown; the
    // delivery actors first, and waited for (they hand retries to the
    // retry-timer as they finish their step).
    std::vector<caf::actor> actors;
    std::vector<caf::actor> delivery_workers;
    work_queue_actor queue;
    auto keep = [&actors](auto handle) {
      actors.push_back(caf::actor_cast<caf::actor>(handle));
      return handle;
    };
    auto probe = keep(spawn_dependency_probe(sys, make_probe_config(cfg)));
    auto health = keep(spawn_health(
      sys, probe, {cfg.health.interval, cfg.health.probe_timeout}, &m));
    maintenance_config maintenance{cfg.node.name, cfg.mysql, cfg.redis,
                                   cfg.recovery};
    keep(spawn_recovery(sys, maintenance, &m));
    watched_files watched{{}, files->keys};
    for (const auto& crl : {files->crl, files->delivery_crl})
      if (crl && std::find(watched.crls.begin(), watched.crls.end(), crl)
                   == watched.crls.end())
        watched.crls.push_back(crl);
    keep(spawn_pki_monitor(sys, {cfg.mysql, cfg.pki.crl_refresh},
                           std::move(watched), &m));
    web::router routes{&m};
    // The HTTPS threads reach actors through it; two bridge actors, one per
    // core of a small node, keep it off the critical path.
    auto bridge = std::make_shared<const web::actor_bridge>(sys, 2);
    for (const auto& x : bridge->actors())
      keep(x);
    web::add_health_route(routes, bridge, health, cfg.node.name);
    web::rate_limiter limiter{cfg.ingress.rate_limit, cfg.ingress.rate_burst};
    std::unique_ptr<net::https_server> https;
    bool listens = cfg.has_role("ingress") || cfg.has_role("receiver");
    if (listens) {
      keep(spawn_client_directory(sys, maintenance, &registry));
      routes.set_gate([&registry, &m](const net::http_request& req) {
        auto refusal = web::refuse_unregistered(registry, req);
        if (refusal)
          m.unregistered_requests.Add({}).Increment();
        return refusal;
      });
    }
    if (cfg.has_role("ingress"))
      web::add_message_routes(routes, make_messages_context(
                                        sys, bridge, cfg, files->keys,
                                        registry, limiter, m, queue, keep));
    if (cfg.has_role("receiver"))
      web::add_receiver_route(routes,
                              make_receiver_context(sys, bridge, cfg,
                                                    files->keys, registry, m,
                                                    keep));
    if (listens) {
      auto started = net::https_server::start(
        cfg.ingress,
        [&routes](net::http_request req, net::responder respond) {
          routes.dispatch(std::move(req), std::move(respond));
        },
        &m, files->crl);
      if (started) {
        https = std::move(*started);
      } else {
        spdlog::error("cannot start: {}", render(started.error()));
        exit_code = 1;
      }
    }
    // After the listener: a node that delivers to its own receiver finds
    // it up from the first batch.
    if (cfg.has_role("delivery") && exit_code == 0) {
      if (auto err = start_delivery(sys, cfg, files->keys,
                                    files->delivery_crl, queue, m,
                                    delivery_workers, actors)) {
        spdlog::error("cannot start: {}", render(err));
        exit_code = 1;
      }
    }
    if (exit_code == 0) {
      spdlog::info("node '{}' ready", cfg.node.name);
      auto keep_alive = announce_ready(sys, health, cfg);
      auto sig = wait_for_termination_signal();
      spdlog::info("received signal {}; shutting down", sig);
      keep_alive.reset();
      notify_service_manager("STOPPING=1\nSTATUS=shutting down");
    }
    watchdog.emplace(cfg.node.shutdown_timeout);
    if (https)
      https->stop();
    // Delivery actors finish the step in hand (recorded and acknowledged)
    // and put back what waits for its commit, through their exit handler.
    if (!delivery_workers.empty()) {
      caf::scoped_actor waiter{sys};
      for (auto& x : delivery_workers)
        waiter->send_exit(x, caf::exit_reason::user_shutdown);
      for (auto& x : delivery_workers)
        waiter->wait_for(x);
    }
    for (auto i = actors.rbegin(); i != actors.rend(); ++i)
      caf::anon_send_exit(*i, caf::exit_reason::user_shutdown);
  }
  spdlog::info("node '{}' stopped", cfg.node.name);
  return exit_code;
}

} // namespace herald::node
