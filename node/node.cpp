#include "node/node.hpp"

#include "actors/account_admin.hpp"
#include "actors/audit.hpp"
#include "actors/delivery.hpp"
#include "actors/dependency_probe.hpp"
#include "actors/health.hpp"
#include "actors/ingress.hpp"
#include "actors/message_admin.hpp"
#include "actors/pki_monitor.hpp"
#include "actors/portal.hpp"
#include "actors/queue.hpp"
#include "actors/receiver.hpp"
#include "actors/recovery.hpp"
#include "actors/retry_timer.hpp"
#include "actors/store.hpp"
#include "actors/store_writer.hpp"
#include "actors/validator.hpp"
#include "core/errc.hpp"
#include "core/hex.hpp"
#include "core/logging.hpp"
#include "core/metrics.hpp"
#include "core/time.hpp"
#include "core/version.hpp"
#include "net/crl.hpp"
#include "node/cluster_node.hpp"
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
#include "net/client_registry.hpp"
#include "web/health_route.hpp"
#include "web/messages_route.hpp"
#include "web/admin_message_routes.hpp"
#include "web/portal_routes.hpp"
#include "web/rate_limiter.hpp"
#include "web/receiver_route.hpp"
#include "net/router.hpp"

#include <caf/actor_system.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <map>
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
  /// Exits with code 3 when the shutdown takes longer than `deadline`,
  /// naming the `actors` that still exist (something holds a reference).
  shutdown_watchdog(caf::timespan deadline,
                    std::vector<std::pair<std::string, caf::actor_addr>> actors)
    : shared_(std::make_shared<shared>()) {
    auto give_up = std::chrono::steady_clock::now() + deadline;
    std::thread{[x = shared_, give_up, deadline, actors = std::move(actors)] {
      while (!x->done) {
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
        auto now = std::chrono::steady_clock::now().time_since_epoch().count();
        bool torn_down = x->teardown_until != 0 && now > x->teardown_until;
        if (x->done || (!torn_down && now < give_up.time_since_epoch().count()))
          continue;
        std::vector<std::string> held;
        for (const auto& [name, addr] : actors)
          if (caf::actor_cast<caf::strong_actor_ptr>(addr))
            held.push_back(name);
        auto names = held.empty() ? std::string{"none"}
                                  : fmt::format("{}", fmt::join(held, ", "));
        if (torn_down) {
          spdlog::warn("every actor stopped, but CAF's teardown still waits "
                       "for references to {}; exiting", names);
        } else {
          spdlog::critical("shutdown did not finish within {} ms "
                           "(node.shutdown-timeout; still held: {}); exiting",
                           std::chrono::duration_cast<
                             std::chrono::milliseconds>(deadline)
                             .count(),
                           names);
        }
        spdlog::default_logger()->flush();
        _exit(torn_down ? x->code.load() : 3);
      }
    }}.detach();
  }

  /// Every actor has stopped, after writing and handing back what it held:
  /// only CAF's teardown remains, with nothing left to lose. Should it hang
  /// (seen rarely: a detached actor's thread waiting for a last reference),
  /// exit with `code` after `grace` rather than fail the whole shutdown.
  void actors_stopped(caf::timespan grace, int code) {
    shared_->code = code;
    shared_->teardown_until
      = (std::chrono::steady_clock::now() + grace).time_since_epoch().count();
  }

  ~shutdown_watchdog() {
    shared_->done = true;
  }

private:
  struct shared {
    std::atomic<bool> done{false};
    /// steady_clock ticks; 0 until actors_stopped().
    std::atomic<int64_t> teardown_until{0};
    std::atomic<int> code{0};
  };
  std::shared_ptr<shared> shared_;
};

/// The actors behind an ingress node's routes.
struct store_pipeline {
  store_actor store;
  /// Delivery actors join it to get work by message.
  work_queue_actor queue;
  /// Answers status queries, apart from the batch writers.
  store_writer_actor reader;
};

/// Spawns the submission pipeline of an ingress node (store, its writers,
/// the queue, which pushes work to the delivery actors that join it, the
/// status reader). `keep` records every spawned
/// actor for the shutdown.
template <class Keep>
store_pipeline spawn_store_pipeline(caf::actor_system& sys,
                                    const config::settings& cfg, metrics& m,
                                    Keep& keep) {
  std::vector<store_writer_actor> writers;
  for (size_t i = 0; i < cfg.store.writers; ++i)
    writers.push_back(keep(spawn_store_writer(sys, cfg.mysql, cfg.redis, &m)));
  auto queue = keep(spawn_work_queue(sys));
  // The wait for a writer, the write and the reject of a failed write share
  // the deadline.
  auto store = keep(spawn_store(sys, cfg.store, cfg.ingress.accept_timeout / 3,
                                std::move(writers), queue, &m));
  return {store, queue,
          keep(spawn_store_writer(sys, cfg.mysql, cfg.redis, &m))};
}

/// Spawns the group commit of the receiver role (receiver, its stores).
template <class Keep>
receiver_actor spawn_receiver_pipeline(caf::actor_system& sys,
                                       const config::settings& cfg,
                                       metrics& m, Keep& keep) {
  std::vector<receiver_store_actor> writers;
  for (size_t i = 0; i < cfg.receiver.writers; ++i)
    writers.push_back(keep(spawn_receiver_store(sys, cfg.mysql)));
  // The store's deadline per MySQL step: a delivery waits at most that long
  // for a writer and its write as long again, well within the route's 10 s.
  return keep(spawn_receiver(sys, cfg.receiver, cfg.ingress.accept_timeout / 5,
                             std::move(writers), &m));
}

/// Adds the routes of the node's roles to `routes`, spawning the actors
/// behind them: the store pipeline (ingress), the receiver's group commit
/// (receiver) and the validators both use. The routes run inside the
/// ingress actor and reach the others through `calls`. Returns the queue
/// of the store pipeline (none without the ingress role).
template <class Keep>
work_queue_actor add_role_routes(caf::actor_system& sys, const config::settings& cfg,
                     std::shared_ptr<persistence::live_key_ring> keys,
                     net::client_registry& registry,
                     web::rate_limiter& limiter,
                     std::shared_ptr<const ingress_calls> calls,
                     net::router& routes, metrics& m, Keep& keep) {
  validator_config vcfg;
  vcfg.keys = std::move(keys);
  vcfg.pepper = cfg.crypto.pepper;
  vcfg.max_message_chars = cfg.ingress.max_message_chars;
  vcfg.stats = &m;
  std::optional<store_pipeline> store;
  if (cfg.has_role("ingress")) {
    store = spawn_store_pipeline(sys, cfg, m, keep);
    vcfg.store = store->store;
  }
  if (cfg.has_role("receiver"))
    vcfg.receiver = spawn_receiver_pipeline(sys, cfg, m, keep);
  // Two, one per core of a small node: validation is CPU work (JSON,
  // AES-256-GCM, HMAC) on the scheduler's threads.
  std::vector<validator_actor> validators;
  for (int i = 0; i < 2; ++i)
    validators.push_back(keep(spawn_validator(sys, vcfg)));
  if (store) {
    auto ctx = std::make_shared<web::messages_context>();
    ctx->calls = calls;
    ctx->validators = validators;
    ctx->reader = store->reader;
    ctx->clients = &registry;
    ctx->limiter = &limiter;
    ctx->accept_timeout = cfg.ingress.accept_timeout;
    ctx->stats = &m;
    web::add_message_routes(routes, std::move(ctx));
  }
  if (cfg.has_role("receiver")) {
    auto ctx = std::make_shared<web::receiver_context>();
    ctx->calls = calls;
    ctx->validators = validators;
    ctx->registry = &registry;
    ctx->callers = cfg.receiver.callers;
    ctx->stats = &m;
    web::add_receiver_route(routes, std::move(ctx));
  }
  return store ? store->queue : work_queue_actor{};
}

/// Spawns the portal (role "portal"): its workers and, for its own HTTPS
/// listener without client certificates, an ingress actor with the
/// portal's routes. Returns that ingress; it listens once asked.
template <class Keep>
caf::expected<ingress_actor>
spawn_portal_listener(caf::actor_system& sys, const config::settings& cfg,
                      std::shared_ptr<persistence::live_key_ring> keys,
                      const audit_actor& audit, metrics& m, Keep& keep) {
  const auto& p = cfg.portal;
  portal_worker_config wcfg;
  wcfg.mysql = cfg.mysql;
  wcfg.redis = cfg.redis;
  wcfg.limits = {static_cast<int64_t>(p.max_failures_per_account),
                 static_cast<int64_t>(p.max_failures_per_ip), p.lockout};
  wcfg.keys = std::move(keys);
  wcfg.audit = audit;
  if (auto err = validate(wcfg))
    return err;
  message_admin_config messages_cfg;
  messages_cfg.mysql = cfg.mysql;
  messages_cfg.redis = cfg.redis;
  messages_cfg.keys = wcfg.keys;
  messages_cfg.audit_key = cfg.crypto.audit_key;
  messages_cfg.source = "portal@" + cfg.node.name;
  if (auto err = validate(messages_cfg))
    return err;
  account_admin_config accounts_cfg{cfg.mysql, cfg.redis, cfg.pki, audit};
  if (auto err = validate(accounts_cfg))
    return err;
  auto css = web::load_bootstrap_css(p.bootstrap_dir);
  if (!css)
    return css.error();
  auto chartjs = web::read_asset(p.chartjs_file, "portal.chartjs-file",
                                 "libjs-chart.js");
  if (!chartjs)
    return chartjs.error();
  auto calls = std::make_shared<ingress_calls>();
  auto ctx = std::make_shared<web::portal_context>();
  ctx->calls = calls;
  for (size_t i = 0; i < p.workers; ++i)
    ctx->workers.push_back(keep(spawn_portal(sys, wcfg)));
  for (size_t i = 0; i < p.workers; ++i)
    ctx->message_admins.push_back(
      keep(spawn_message_admin(sys, messages_cfg)));
  // Admin changes are rare: two workers, so a slow CA or hash does not
  // hold up the next admin.
  for (size_t i = 0; i < 2; ++i)
    ctx->account_admins.push_back(
      keep(spawn_account_admin(sys, accounts_cfg)));
  ctx->tokens = std::make_shared<web::session_tokens>(
    p.session_key, p.session_ttl, p.session_max_age);
  ctx->pepper = cfg.crypto.pepper;
  ctx->bootstrap_css = std::move(*css);
  ctx->chartjs = std::move(*chartjs);
  auto routes = std::make_shared<net::router>(&m);
  web::add_portal_routes(*routes, std::move(ctx));
  return keep(spawn_ingress(sys,
                            {p.listener, nullptr, std::move(routes),
                             std::make_shared<waiting_requests>(), &m},
                            calls));
}

/// Counts `x` in herald_actors under its name while it runs.
void count_running(const caf::actor& x, metrics& m) {
  auto ptr = caf::actor_cast<caf::abstract_actor*>(x);
  auto named = dynamic_cast<caf::monitorable_actor*>(ptr);
  if (named == nullptr)
    return;
  auto& gauge = m.actors.Add({{"actor", named->name()}});
  gauge.Increment();
  ptr->attach_functor([&gauge] { gauge.Decrement(); });
}

/// Asks the ingress to start its listener; blocks until it answers.
caf::error listen(caf::actor_system& sys, const ingress_actor& ingress) {
  caf::error result;
  caf::scoped_actor self{sys};
  self->request(ingress, caf::infinite, listen_atom::value)
    .receive(
      [](uint16_t port) { spdlog::info("ingress: listening on port {}", port); },
      [&result](caf::error& err) { result = std::move(err); });
  return result;
}

/// Lets the requests in progress finish before the shutdown, for at most
/// `timeout`: the ingress stops accepting and answers when none waits.
void drain(caf::actor_system& sys, const ingress_actor& ingress,
           caf::timespan timeout) {
  caf::scoped_actor self{sys};
  self->request(ingress, timeout + std::chrono::seconds{1}, drain_atom::value,
                timeout)
    .receive(
      [](uint64_t waiting) {
        if (waiting > 0)
          spdlog::warn("ingress: {} requests still open at shutdown; their "
                       "clients retry",
                       waiting);
      },
      [](caf::error& err) {
        spdlog::warn("ingress: drain failed: {}", render(err));
      });
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
  count_running(actors.back(), m);
  retry_timer_config tcfg;
  if (auto err = validate(tcfg))
    return err;
  auto timer = spawn_retry_timer(sys, tcfg, schedule, &m);
  actors.push_back(caf::actor_cast<caf::actor>(timer));
  count_running(actors.back(), m);
  for (size_t i = 0; i < cfg.delivery.workers; ++i) {
    auto worker = spawn_delivery(sys, dcfg, timer, &m);
    if (!worker)
      return worker.error();
    workers.push_back(caf::actor_cast<caf::actor>(*worker));
    count_running(workers.back(), m);
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

/// What node.start records: version, roles, and a fingerprint of the
/// settings as parsed (file and command line; secrets are file names
/// there, never values), so that a changed configuration shows in the
/// chain from one start to the next.
std::string start_detail(const config::herald_config& sys_cfg,
                         const config::settings& cfg) {
  std::string roles;
  for (const auto& role : cfg.node.roles)
    roles += (roles.empty() ? "" : ",") + role;
  auto digest = persistence::sha256(caf::deep_to_string(sys_cfg.content));
  return "heraldd " + std::string{herald::version} + " ("
         + herald::git_commit + "), roles " + (roles.empty() ? "none" : roles)
         + ", settings sha256 "
         + encode_hex(reinterpret_cast<const uint8_t*>(digest.data()), 8);
}

/// Writes what the audit actor holds (node.stop included) before the
/// actors stop; waits at most `timeout`.
void drain_audit(caf::actor_system& sys, const audit_actor& audit,
                 caf::timespan timeout) {
  caf::scoped_actor self{sys};
  self->request(audit, timeout, drain_atom::value)
    .receive(
      [](uint64_t left) {
        if (left > 0)
          spdlog::error("audit: {} events could not be written before "
                        "the node stopped",
                        left);
      },
      [](caf::error& err) {
        spdlog::error("audit: no answer to the final write: {}",
                      render(err));
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
  /// Checked by the cluster links; null on a node that runs alone.
  std::shared_ptr<net::crl_store> cluster_crl;
};

/// The node's own certificates and the CAs they trust, by purpose, for
/// herald_tls_certificate_expiry_seconds: those of the roles it plays.
std::map<std::string, std::string>
own_certificates(const config::settings& cfg) {
  std::map<std::string, std::string> result;
  auto add = [&result](const char* purpose, const config::tls_files& tls) {
    if (!tls.certificate.empty())
      result.emplace(purpose, tls.certificate);
    if (!tls.ca.empty())
      result.emplace(purpose + std::string{"-ca"}, tls.ca);
  };
  if (cfg.has_role("ingress") || cfg.has_role("receiver"))
    add("ingress", cfg.ingress.tls);
  if (cfg.has_role("portal"))
    result.emplace("portal", cfg.portal.listener.tls.certificate);
  if (cfg.has_role("delivery"))
    add("delivery", cfg.delivery.tls);
  if (cfg.cluster.enabled())
    add("cluster", cfg.cluster.tls);
  return result;
}

caf::expected<node_files> load_node_files(const config::settings& cfg,
                                          net::client_registry& registry) {
  node_files result;
  bool listens = cfg.has_role("ingress") || cfg.has_role("receiver");
  // Links admit members by their node certificate in the registry.
  bool knows_certificates = listens || cfg.cluster.enabled();
  auto keys = persistence::live_key_ring::load(cfg.crypto.keys_file);
  if (!keys)
    return keys.error();
  result.keys = std::move(*keys);
  if (listens) {
    auto crl = load_crl("pki.crl-file", cfg.pki.crl_file, cfg.ingress.tls.ca);
    if (!crl)
      return crl.error();
    result.crl = std::move(*crl);
  }
  if (knows_certificates) {
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
  if (cfg.cluster.enabled()) {
    if (result.crl && cfg.cluster.tls.ca == cfg.ingress.tls.ca) {
      result.cluster_crl = result.crl;
    } else {
      auto crl = load_crl("pki.crl-file", cfg.pki.crl_file,
                          cfg.cluster.tls.ca);
      if (!crl)
        return crl.error();
      result.cluster_crl = std::move(*crl);
    }
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
  net::client_registry registry;
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
  if (cfg.cluster.enabled())
    prepare_cluster(sys_cfg, cfg.cluster);
  // Outlives the actor system: the links run until the middleman stopped.
  std::optional<cluster_membership> membership;
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
    auto keep = [&actors, &m](auto handle) {
      actors.push_back(caf::actor_cast<caf::actor>(handle));
      count_running(actors.back(), m);
      return handle;
    };
    // First, so that it stops last and sees every other actor's events.
    audit_config acfg;
    acfg.source = "heraldd@" + cfg.node.name;
    acfg.clustered = cfg.cluster.enabled();
    auto audit = keep(spawn_audit(sys, acfg, cfg.mysql, cfg.crypto.audit_key,
                                  &m));
    auto probe = keep(spawn_dependency_probe(sys, make_probe_config(cfg)));
    auto health = keep(spawn_health(
      sys, probe, {cfg.health.interval, cfg.health.probe_timeout}, &m));
    maintenance_config maintenance{cfg.node.name, cfg.mysql, cfg.redis,
                                   cfg.recovery};
    keep(spawn_recovery(sys, maintenance, &m));
    watched_files watched{{}, files->keys};
    for (const auto& crl :
         {files->crl, files->delivery_crl, files->cluster_crl})
      if (crl && std::find(watched.crls.begin(), watched.crls.end(), crl)
                   == watched.crls.end())
        watched.crls.push_back(crl);
    auto pki = keep(spawn_pki_monitor(
      sys, {cfg.mysql, cfg.pki.crl_refresh, own_certificates(cfg)},
      std::move(watched), audit, &m));
    auto routes = std::make_shared<net::router>(&m);
    auto calls = std::make_shared<ingress_calls>();
    web::add_health_route(*routes, calls, health, cfg.node.name);
    web::rate_limiter limiter{cfg.ingress.rate_limit, cfg.ingress.rate_burst};
    std::optional<ingress_actor> ingress;
    client_directory_actor directory;
    if (cfg.has_role("ingress") || cfg.has_role("receiver")
        || cfg.cluster.enabled())
      directory = keep(spawn_client_directory(sys, maintenance, &registry,
                                              audit));
    if (cfg.has_role("ingress") || cfg.has_role("receiver")) {
      routes->set_gate([&registry, &m](const net::http_request& req) {
        auto refusal = net::refuse_unregistered(registry, req);
        if (refusal)
          m.unregistered_requests.Add({}).Increment();
        return refusal;
      });
      queue = add_role_routes(sys, cfg, files->keys, registry, limiter,
                              calls, *routes, m, keep);
      ingress = keep(spawn_ingress(sys,
                                   {cfg.ingress, files->crl, routes,
                                    std::make_shared<waiting_requests>(), &m},
                                   calls));
      if (auto err = listen(sys, *ingress)) {
        spdlog::error("cannot start: {}", render(err));
        exit_code = 1;
      }
    }
    std::optional<ingress_actor> portal;
    if (cfg.has_role("portal") && exit_code == 0) {
      auto started = spawn_portal_listener(sys, cfg, files->keys, audit, m,
                                           keep);
      auto err = started ? listen(sys, *started) : started.error();
      if (err) {
        spdlog::error("cannot start: {}", render(err));
        exit_code = 1;
      } else {
        portal = *started;
        spdlog::info("portal: https://{}:{}/", cfg.portal.listener.address,
                     cfg.portal.listener.port);
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
    // Last: members learn of this node's delivery actors at join.
    if (cfg.cluster.enabled() && exit_code == 0) {
      cluster_node_config ccfg;
      ccfg.cluster = cfg.cluster;
      ccfg.redis = cfg.redis;
      ccfg.self.name = cfg.node.name;
      ccfg.self.roles = cfg.node.roles;
      ccfg.self.address = cfg.cluster.listen;
      ccfg.self.protocol = cluster_protocol;
      ccfg.self.version = herald::version;
      ccfg.self.started_at_ms = unix_now_ms();
      ccfg.self.delivery = delivery_workers;
      ccfg.self.audit = caf::actor_cast<caf::actor>(audit);
      ccfg.queue = queue;
      ccfg.health = health;
      ccfg.audit = audit;
      ccfg.directory = directory;
      ccfg.pki = pki;
      auto joined = join_cluster(sys, cfg, std::move(ccfg), registry,
                                 files->cluster_crl.get(), m);
      if (!joined) {
        spdlog::error("cannot start: {}", render(joined.error()));
        exit_code = 1;
      } else {
        keep(joined->actor);
        // Counted, not kept: it runs in the console's own actor system,
        // which leave_cluster stops.
        count_running(caf::actor_cast<caf::actor>(
                        joined->console->inspector()),
                      m);
        membership = std::move(*joined);
      }
    }
    auto detail = start_detail(sys_cfg, cfg);
    if (exit_code == 0) {
      spdlog::info("node '{}' ready", cfg.node.name);
      caf::anon_send(audit, node_event("node.start", cfg.node.name, detail));
      auto keep_alive = announce_ready(sys, health, cfg);
      auto sig = wait_for_termination_signal([&] {
        spdlog::info("received SIGHUP: reloading clients, certificates, CRL "
                     "and data keys now");
        if (directory)
          caf::anon_send(directory, reload_atom::value);
        caf::anon_send(pki, reload_atom::value);
      });
      spdlog::info("received signal {}; shutting down", sig);
      keep_alive.reset();
      notify_service_manager("STOPPING=1\nSTATUS=shutting down");
      caf::anon_send(audit, node_event("node.stop", cfg.node.name,
                                       "signal " + std::to_string(sig)));
    } else {
      caf::anon_send(audit, node_event("node.start", cfg.node.name,
                                       detail + "; did not start (see its "
                                                "log)",
                                       false));
    }
    std::vector<std::pair<std::string, caf::actor_addr>> stopping;
    auto all = actors;
    all.insert(all.end(), delivery_workers.begin(), delivery_workers.end());
    for (const auto& x : all) {
      auto* local = dynamic_cast<caf::local_actor*>(
        caf::actor_cast<caf::abstract_actor*>(x));
      stopping.emplace_back(local != nullptr ? local->name() : "?",
                            x.address());
    }
    watchdog.emplace(cfg.node.shutdown_timeout, std::move(stopping));
    if (ingress && exit_code == 0)
      drain(sys, *ingress, cfg.node.shutdown_timeout / 3);
    if (portal)
      drain(sys, *portal, cfg.node.shutdown_timeout / 3);
    // Delivery actors finish the step in hand (recorded and acknowledged)
    // and put back what waits for its commit, through their exit handler.
    if (!delivery_workers.empty()) {
      caf::scoped_actor waiter{sys};
      for (auto& x : delivery_workers)
        waiter->send_exit(x, caf::exit_reason::user_shutdown);
      for (auto& x : delivery_workers)
        waiter->wait_for(x);
    }
    // Before the other actors stop: the stop is in the chain, or the log
    // says why not.
    drain_audit(sys, audit, cfg.node.shutdown_timeout / 3);
    if (membership)
      leave_cluster(sys, *membership);
    for (auto i = actors.rbegin(); i != actors.rend(); ++i)
      caf::anon_send_exit(*i, caf::exit_reason::user_shutdown);
    {
      caf::scoped_actor waiter{sys};
      for (auto& x : actors)
        waiter->wait_for(x);
    }
    watchdog->actors_stopped(std::chrono::seconds{5}, exit_code);
  }
  spdlog::info("node '{}' stopped", cfg.node.name);
  return exit_code;
}

} // namespace herald::node
