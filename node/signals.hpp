#pragma once

#include <functional>

namespace herald::node {

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and every thread
/// it starts later (call first thing in main), and ignores SIGPIPE.
void block_termination_signals();

/// Waits until SIGINT or SIGTERM arrives and returns its number; calls
/// `on_reload` for every SIGHUP on the way (systemctl reload).
int wait_for_termination_signal(const std::function<void()>& on_reload);

} // namespace herald::node
