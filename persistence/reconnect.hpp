#pragma once

#include <caf/error.hpp>

#include <optional>
#include <utility>

namespace herald::persistence {

/// Opens `slot` with Connection::connect(cfg) unless it holds a connection.
/// Actors keep their MySQL or Redis connection in such a slot and reset it
/// after a failure, so the next use reconnects.
template <class Connection, class Config>
caf::error ensure_connected(std::optional<Connection>& slot,
                            const Config& cfg) {
  if (slot)
    return caf::none;
  auto conn = Connection::connect(cfg);
  if (!conn)
    return conn.error();
  slot.emplace(std::move(*conn));
  return caf::none;
}

} // namespace herald::persistence
