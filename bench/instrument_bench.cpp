// The cost of instrumenting an actor (actors/detail/instrument.hpp): one
// typed actor handles N messages with its handler plain or instrumented;
// prints ns per message. Compare the two as whole processes:
//   instrument_bench plain 2000000   vs   instrument_bench instrumented 2000000

#include "actors/detail/instrument.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using sum_actor = caf::typed_actor<caf::reacts_to<int64_t>,
                                   caf::replies_to<caf::get_atom>::with<int64_t>>;

struct sum_state {
  static inline const char* name = "sum";
  int64_t sum = 0;
};

using sum_pointer = sum_actor::stateful_pointer<sum_state>;

// The handlers of both variants: the work is the same.
auto add(sum_pointer self) {
  return [self](int64_t x) { self->state.sum += x; };
}

auto total(sum_pointer self) {
  return [self](caf::get_atom) { return self->state.sum; };
}

sum_actor::behavior_type plain(sum_pointer self) {
  return {add(self), total(self)};
}

sum_actor::behavior_type instrumented(sum_pointer self) {
  return herald::instrumented(self, add(self), total(self));
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s plain|instrumented MESSAGES\n", argv[0]);
    return 2;
  }
  std::string variant = argv[1];
  auto n = std::strtoll(argv[2], nullptr, 10);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto x = variant == "plain" ? sys.spawn(plain) : sys.spawn(instrumented);
  caf::scoped_actor self{sys};
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; ++i)
    self->send(x, i);
  int64_t sum = 0;
  self->request(x, caf::infinite, caf::get_atom::value)
    .receive([&](int64_t s) { sum = s; }, [](caf::error&) { std::exit(1); });
  auto ns = std::chrono::duration<double, std::nano>(
              std::chrono::steady_clock::now() - start)
              .count();
  std::printf("%s: %lld messages, %.1f ns per message (sum %lld)\n",
              variant.c_str(), static_cast<long long>(n), ns / n,
              static_cast<long long>(sum));
  self->send_exit(x, caf::exit_reason::user_shutdown);
  return 0;
}
