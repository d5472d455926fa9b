#pragma once

#include "net/http_types.hpp"
#include "persistence/clients.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace herald::net {

/// Maps certificate fingerprints to clients and nodes. The I/O threads look
/// up every request here; the client directory actor replaces the whole map
/// when it reloads (recovery.clients-refresh), so lookups never wait for
/// the database and a revoked or disabled certificate is refused within one
/// refresh, also on kept-alive connections.
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

/// The 403 for a request whose certificate is not registered, or is
/// revoked, expired or of a disabled client; nullopt when it may go on.
/// Checked before every route, so nothing (health included) answers a
/// certificate the registry does not hold as active.
std::optional<http_response>
refuse_unregistered(const client_registry& registry,
                    const http_request& req);

} // namespace herald::net
