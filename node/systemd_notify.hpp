#pragma once

// The service manager's notification protocol (sd_notify(3)) without
// libsystemd: one datagram of "KEY=VALUE" lines to $NOTIFY_SOCKET. Outside
// systemd (no $NOTIFY_SOCKET) every call does nothing.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace herald::node {

/// Sends `state` (newline-separated assignments such as "READY=1\nSTATUS=…")
/// to the socket named by $NOTIFY_SOCKET. Returns false when the variable is
/// unset or the datagram could not be sent.
bool notify_service_manager(std::string_view state);

/// Sends `state` to `address`: a file system path, or "@name" for a socket in
/// the abstract namespace.
bool notify_socket(const std::string& address, std::string_view state);

/// The watchdog timeout the service manager expects ($WATCHDOG_USEC); zero
/// when it is unset, invalid, or meant for another process ($WATCHDOG_PID).
std::chrono::microseconds watchdog_timeout();

/// Sends WATCHDOG=1 at once and then every `timeout / 2` from a thread of
/// its own, but only while `alive()` vouches for the node, so that the
/// service manager restarts a node that hangs. `alive` returns the node's
/// status line (sent as STATUS= when it changes), or nothing when the node
/// does not work; it must return within `timeout / 4`. Stops on destruction.
class service_watchdog {
public:
  using probe = std::function<std::optional<std::string>()>;

  service_watchdog(std::chrono::microseconds timeout, probe alive);
  ~service_watchdog();

  service_watchdog(const service_watchdog&) = delete;
  service_watchdog& operator=(const service_watchdog&) = delete;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace herald::node
