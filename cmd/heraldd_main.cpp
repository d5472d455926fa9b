// heraldd: one Herald node. Parses its configuration, sets up logging and
// hands over to node::run; all logic lives in herald_core.

#include "config/herald_config.hpp"
#include "core/errc.hpp"
#include "core/logging.hpp"
#include "core/version.hpp"
#include "node/hardening.hpp"
#include "node/node.hpp"
#include "node/signals.hpp"

#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  using namespace herald;
  node::disable_core_dumps();
  // CAF's option parser knows no --version; heraldctl's CLI11 does.
  for (int i = 1; i < argc; ++i)
    if (std::string{argv[i]} == "--version") {
      std::cout << "heraldd " << herald::version << " (" << herald::git_commit
                << ")\n";
      return 0;
    }
  // Before any thread starts, so that only the main thread sees signals.
  node::block_termination_signals();
  config::herald_config cfg;
  // --config-file on the command line wins over $HERALD_CONFIG.
  const char* file = std::getenv("HERALD_CONFIG");
  for (int i = 1; i < argc; ++i)
    if (std::string{argv[i]}.rfind("--config-file", 0) == 0)
      file = nullptr;
  if (auto err = cfg.parse(argc, argv, file)) {
    std::cerr << "heraldd: " << config::describe_parse_error(err) << '\n';
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (auto err = cfg.check_unknown_keys()) {
    std::cerr << "heraldd: " << render(err) << '\n';
    return 2;
  }
  auto settings = cfg.make_settings();
  if (!settings) {
    std::cerr << "heraldd: " << render(settings.error()) << '\n';
    return 2;
  }
  if (auto err = log::init(settings->log)) {
    std::cerr << "heraldd: " << render(err) << '\n';
    return 2;
  }
  auto code = node::run(cfg, *settings);
  log::shutdown();
  return code;
}
