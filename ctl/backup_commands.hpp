#pragma once

#include <string>

namespace CLI {
class App;
} // namespace CLI

namespace herald::ctl {

/// Adds `backup` and `restore` to heraldctl: a consistent dump of the
/// database (the durable truth; Redis is rebuilt from it by the recovery
/// sweep) and its restore (docs/OPERATIONS.md). They read `config_file` and
/// store their exit code in `result`; both must outlive `app`.
void add_backup_commands(CLI::App& app, std::string& config_file,
                         int& result);

} // namespace herald::ctl
