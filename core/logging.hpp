#pragma once

#include <caf/expected.hpp>

#include <string>

namespace herald::log {

/// How a process logs.
struct log_config {
  /// One of trace, debug, info, warn, error, critical, off.
  std::string level = "info";
  /// Daily-rotated log file; empty logs to the console only.
  std::string file;
  /// Days of rotated files kept.
  uint16_t max_files = 14;
  /// Writes one JSON object per line instead of plain text.
  bool json = false;
};

/// Checks the level name and that the log file's folder can be created.
caf::error validate(const log_config& cfg);

/// Installs the process-wide logger: console (stderr) plus, when configured,
/// a daily rotating file. Never log message bodies, sender numbers, keys,
/// passwords or tokens.
caf::error init(const log_config& cfg);

/// Flushes and drops all sinks; call before exit.
void shutdown();

/// Escapes `text` as the contents of a JSON string (without quotes).
std::string json_escape(std::string_view text);

} // namespace herald::log
