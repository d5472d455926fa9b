#pragma once

#include <string>

namespace CLI {
class App;
} // namespace CLI

namespace herald::ctl {

/// Adds `user add|list|disable|enable|passwd|role`: the portal's users and
/// admins, every change audited. Reads `config_file` and stores the exit
/// code in `result`; both must outlive `app`.
void add_user_commands(CLI::App& app, std::string& config_file, int& result);

} // namespace herald::ctl
