#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace herald::web {

/// A key and certificate that an admin just issued, for one download.
struct pending_download {
  std::string file_name;
  std::string content_type;
  std::string body;
  /// Only the admin who issued it may fetch it.
  uint64_t admin_id = 0;
  /// Unix seconds.
  int64_t expires_at = 0;
};

/// Holds issued keys in memory only (never MySQL, Redis or a log) until
/// their one download or their expiry. Used from the portal listener's
/// ingress actor only, so it needs no lock.
class download_vault {
public:
  /// How long an issued key waits for its download.
  static constexpr int64_t lifetime_s = 600;

  /// Keeps `x` under `token` (random, from the caller) until `now` +
  /// lifetime_s; drops expired ones first.
  void put(const std::string& token, pending_download x, int64_t now);

  /// The download of `token` for admin `admin_id`, removed: a second call
  /// finds nothing. Expired ones and other admins' find nothing either
  /// (another admin's try does not use it up).
  std::optional<pending_download> take(const std::string& token,
                                       uint64_t admin_id, int64_t now);

  /// How many wait.
  size_t size() const {
    return items_.size();
  }

private:
  void drop_expired(int64_t now);

  std::map<std::string, pending_download> items_;
};

} // namespace herald::web
