#include "node/signals.hpp"

#include <csignal>

namespace herald::node {

namespace {

sigset_t termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

} // namespace

void block_termination_signals() {
  // A shell starts background jobs with SIGINT ignored; an ignored signal
  // never reaches sigwait, so restore the default first.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGHUP, SIG_DFL);
  auto set = termination_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int wait_for_termination_signal(const std::function<void()>& on_reload) {
  auto set = termination_signals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0)
      continue; // Interrupted; wait again.
    if (sig != SIGHUP)
      return sig;
    on_reload();
  }
}

} // namespace herald::node
