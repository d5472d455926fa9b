#include "node/hardening.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>

#if defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define HERALD_ASAN 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#  define HERALD_ASAN 1
#endif

namespace herald::node {

void disable_core_dumps() {
  rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
#if !defined(HERALD_ASAN)
  // Also hides /proc/PID/mem and friends from the same user.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
}

} // namespace herald::node
