#pragma once

#include <caf/expected.hpp>

#include <cstdint>
#include <string>

namespace CLI {
class App;
} // namespace CLI

namespace herald::ctl {

/// Adds `message show`, `message list` and `message requeue` to heraldctl:
/// what operators see of messages (never a body or a sender number), and
/// dead letters (failed messages) queued again, audited
/// (docs/OPERATIONS.md "Dead letters"). They read `config_file` and store
/// their exit code in `result`; both must outlive `app`.
void add_message_commands(CLI::App& app, std::string& config_file,
                          int& result);

/// Parses a --since value into Unix ms: a duration back from `now_ms`
/// ("90s", "30m", "12h", "7d"; at most 3650 days) or a UTC time
/// ("2026-01-31", "2026-01-31T12:00", "2026-01-31T12:00:00Z", a space for
/// the T).
caf::expected<int64_t> parse_since(const std::string& text, int64_t now_ms);

} // namespace herald::ctl
