#pragma once

namespace herald::ctl {

/// Runs heraldctl with its command line; returns the exit code. Errors go to
/// stderr with what to do next; every command has --help.
int run(int argc, char** argv);

} // namespace herald::ctl
