#pragma once

#include <string>

namespace CLI {
class App;
} // namespace CLI

namespace herald::ctl {

/// Adds `cluster status`: every member as the members themselves record it
/// in Redis (heraldctl is no member). Reads `config_file` and stores the
/// exit code in `result`; both must outlive `app`.
void add_cluster_commands(CLI::App& app, std::string& config_file,
                          int& result);

} // namespace herald::ctl
