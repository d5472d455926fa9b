#pragma once

#include <string>

namespace CLI {
class App;
} // namespace CLI

namespace herald::ctl {

/// Adds `inspect nodes|actors|actor|queue|trace` (one-shot, --json) and
/// `console` (interactive): both reach a node's inspector over the cluster
/// links with an admin certificate (heraldctl cert admin). Reads
/// `config_file` for the cluster CA, the CRL and the node certificates, and
/// stores the exit code in `result`; both must outlive `app`.
void add_console_commands(CLI::App& app, std::string& config_file,
                          int& result);

} // namespace herald::ctl
