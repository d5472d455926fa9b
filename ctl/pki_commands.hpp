#pragma once

#include <string>

namespace CLI {
class App;
} // namespace CLI

namespace herald::ctl {

/// Adds `ca`, `cert`, `crl` and `audit` to heraldctl: the certificate
/// authority (docs/CERTIFICATES.md). They read `config_file` and store their
/// exit code in `result`; both must outlive `app`.
void add_pki_commands(CLI::App& app, std::string& config_file, int& result);

} // namespace herald::ctl
