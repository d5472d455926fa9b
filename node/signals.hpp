#pragma once

namespace herald::node {

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it
/// starts later (call first thing in main), and ignores SIGPIPE.
void block_termination_signals();

/// Waits until SIGINT or SIGTERM arrives and returns its number.
int wait_for_termination_signal();

} // namespace herald::node
