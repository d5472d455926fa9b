#pragma once

#include "core/errc.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

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

/// Runs `f` on the (re)opened connection in `slot`; drops the connection
/// when `f` fails (other than for a missing record) so that the next call
/// reconnects.
template <class Connection, class Config, class F>
auto with_connection(std::optional<Connection>& slot, const Config& cfg, F f)
  -> decltype(f(*slot)) {
  if (auto err = ensure_connected(slot, cfg))
    return err;
  auto result = f(*slot);
  if (!result && !(result.error() == errc::not_found))
    slot.reset();
  return result;
}

/// A caf::error as caf::expected<bool>, for with_connection().
inline caf::expected<bool> done(caf::error err) {
  if (err)
    return err;
  return true;
}

} // namespace herald::persistence
