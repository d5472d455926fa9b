#pragma once

#include "persistence/clients.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace herald::web {

/// Maps certificate fingerprints to clients. The I/O threads look up every
/// request here; the client directory actor replaces the whole map when it
/// reloads, so lookups never wait for the database.
class client_registry {
public:
  using client_info = persistence::client_identity;
  using map_type = persistence::client_map;

  /// Returns the client of `fingerprint`, or nullopt when unknown.
  std::optional<client_info> find(const std::string& fingerprint) const {
    auto snapshot = current();
    auto i = snapshot->find(fingerprint);
    if (i == snapshot->end())
      return std::nullopt;
    return i->second;
  }

  /// Publishes a new map.
  void replace(map_type clients) {
    auto next = std::make_shared<const map_type>(std::move(clients));
    std::lock_guard<std::mutex> guard{mtx_};
    clients_ = std::move(next);
  }

private:
  std::shared_ptr<const map_type> current() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return clients_;
  }

  mutable std::mutex mtx_;
  std::shared_ptr<const map_type> clients_
    = std::make_shared<const map_type>();
};

} // namespace herald::web
