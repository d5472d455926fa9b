#pragma once

#include "config/herald_config.hpp"
#include "config/settings.hpp"

#include <caf/error.hpp>

namespace herald::node {

/// Checks that the node's dependencies are reachable (waiting up to their
/// connect-timeout) and that the schema matches this build.
caf::error check_dependencies(const config::settings& cfg);

/// Runs a node until SIGINT/SIGTERM: checks dependencies, spawns the actors
/// of its roles, serves HTTPS and /metrics, then shuts everything down in
/// order within node.shutdown-timeout. Returns the process exit code.
int run(config::herald_config& sys_cfg, const config::settings& cfg);

} // namespace herald::node
