#include "web/download_vault.hpp"

#include <openssl/crypto.h>

namespace herald::web {

namespace {

void wipe(pending_download& x) {
  OPENSSL_cleanse(x.body.data(), x.body.size());
}

} // namespace

void download_vault::put(const std::string& token, pending_download x,
                         int64_t now) {
  drop_expired(now);
  x.expires_at = now + lifetime_s;
  items_[token] = std::move(x);
}

std::optional<pending_download>
download_vault::take(const std::string& token, uint64_t admin_id,
                     int64_t now) {
  drop_expired(now);
  auto i = items_.find(token);
  if (i == items_.end() || i->second.admin_id != admin_id)
    return std::nullopt;
  auto result = std::move(i->second);
  items_.erase(i);
  return result;
}

void download_vault::drop_expired(int64_t now) {
  for (auto i = items_.begin(); i != items_.end();) {
    if (i->second.expires_at <= now) {
      wipe(i->second);
      i = items_.erase(i);
    } else {
      ++i;
    }
  }
}

} // namespace herald::web
