#include "node/node.hpp"

#include "actors/dependency_probe.hpp"
#include "actors/health.hpp"
#include "core/errc.hpp"
#include "core/logging.hpp"
#include "core/metrics.hpp"
#include "core/version.hpp"
#include "net/http_server.hpp"
#include "net/metrics_endpoint.hpp"
#include "node/signals.hpp"
#include "persistence/migrations.hpp"
#include "persistence/mysql.hpp"
#include "persistence/redis.hpp"
#include "web/health_route.hpp"
#include "web/router.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <spdlog/spdlog.h>

#include <atomic>
#include <optional>
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

int run(config::herald_config& sys_cfg, const config::settings& cfg) {
  spdlog::info("heraldd {} ({}) starting node '{}'", herald::version,
               herald::git_commit, cfg.node.name);
  if (auto err = check_dependencies(cfg)) {
    spdlog::error("cannot start: {}", render(err));
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
    auto probe = spawn_dependency_probe(sys, make_probe_config(cfg));
    auto health = spawn_health(sys, probe,
                               {cfg.health.interval, cfg.health.probe_timeout},
                               &m);
    web::router routes{&m};
    web::add_health_route(routes, sys, health, cfg.node.name);
    std::unique_ptr<net::https_server> https;
    if (cfg.has_role("ingress")) {
      auto started = net::https_server::start(
        cfg.ingress,
        [&routes](net::http_request req, net::responder respond) {
          routes.dispatch(std::move(req), std::move(respond));
        },
        &m);
      if (started) {
        https = std::move(*started);
      } else {
        spdlog::error("cannot start: {}", render(started.error()));
        exit_code = 1;
      }
    }
    if (exit_code == 0) {
      spdlog::info("node '{}' ready", cfg.node.name);
      auto sig = wait_for_termination_signal();
      spdlog::info("received signal {}; shutting down", sig);
    }
    watchdog.emplace(cfg.node.shutdown_timeout);
    if (https)
      https->stop();
    caf::anon_send_exit(health, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(probe, caf::exit_reason::user_shutdown);
  }
  spdlog::info("node '{}' stopped", cfg.node.name);
  return exit_code;
}

} // namespace herald::node
