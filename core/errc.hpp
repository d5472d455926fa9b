#pragma once

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include <cstdint>
#include <string>

namespace herald {

/// The one error enum of the project. Non-actor code returns
/// `caf::expected<T>` carrying one of these plus a context message.
enum class errc : uint8_t {
  /// Not an error.
  none = 0,
  /// A configuration value is missing or invalid.
  invalid_config,
  /// A file could not be read or written.
  io_failure,
  /// A TLS context or handshake failed.
  tls_failure,
  /// MySQL/MariaDB rejected a statement or is unreachable.
  database_failure,
  /// Redis rejected a command or is unreachable.
  redis_failure,
  /// The database schema does not match what this build understands.
  schema_mismatch,
  /// A network endpoint could not be bound or reached.
  network_failure,
  /// A dependency did not answer within its deadline.
  timeout,
  /// Input from a user or client was rejected.
  invalid_input,
  /// The requested record does not exist (or is not the caller's).
  not_found,
  /// Too much work is queued; the caller should retry later.
  overloaded,
  /// A transaction lost a deadlock or lock wait; running it again is safe.
  conflict,
  /// A session is no longer valid (revoked, its user changed or disabled).
  unauthorized,
};

/// Returns the enumerator name of `x`.
std::string to_string(errc x);

/// Makes an error of category "herald" with a human-readable context.
caf::error make_error(errc code, std::string context);

/// Renders an error for a log line or stderr: "context" for our own errors,
/// CAF's rendering for everything else.
std::string render(const caf::error& err);

} // namespace herald

CAF_ERROR_CODE_ENUM(herald::errc, "herald")
