#include "node/signals.hpp"

#include <csignal>

namespace herald::node {

namespace {

sigset_t termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

} // namespace

void block_termination_signals() {
  // A shell starts background jobs with SIGINT ignored; an ignored signal
  // never reaches sigwait, so restore the default first.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  auto set = termination_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int wait_for_termination_signal() {
  auto set = termination_signals();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
    // Interrupted; wait again.
  }
  return sig;
}

} // namespace herald::node
