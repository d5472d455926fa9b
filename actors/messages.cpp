#include "actors/messages.hpp"

#include <algorithm>

namespace herald {

bool health_report::healthy() const {
  return !dependencies.empty()
         && std::all_of(dependencies.begin(), dependencies.end(),
                        [](const auto& x) { return x.up; });
}

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<dependency_status>("herald.dependency_status");
  cfg.add_message_type<health_report>("herald.health_report");
}

} // namespace herald
