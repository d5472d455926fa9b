#pragma once

#include <caf/expected.hpp>

#include <string>

namespace herald::config {

/// Reads a secret for `setting`: the environment variable `env_var` wins;
/// otherwise the file `path`, which must not be readable by group or others.
/// Trailing newlines are dropped. Both empty yields an empty secret.
/// A secret from the environment is taken out of it at the first read (and
/// kept for later reads), so child processes and /proc/PID/environ never
/// see it.
caf::expected<std::string> read_secret(const std::string& setting,
                                       const std::string& path,
                                       const char* env_var);

} // namespace herald::config
