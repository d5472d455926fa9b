#pragma once

namespace herald::node {

/// Keeps keys and messages in memory out of files: no core dumps, and (not
/// in sanitizer builds, whose leak checker needs it) no ptrace attach by
/// other processes of the same user. Call first thing in main.
void disable_core_dumps();

} // namespace herald::node
