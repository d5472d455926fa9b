#include "net/client_registry.hpp"

#include "net/problem.hpp"

namespace herald::net {

std::optional<http_response>
refuse_unregistered(const client_registry& registry,
                    const http_request& req) {
  auto who = registry.find(req.client_fingerprint);
  if (who && who->active)
    return std::nullopt;
  return net::problem(403, "certificate-not-allowed", "Certificate not allowed",
                      who ? "This certificate is revoked or expired, or its "
                            "client is disabled."
                          : "This certificate is not registered; ask an "
                            "administrator to register it (heraldctl client "
                            "add, or heraldctl cert register for a node).");
}

} // namespace herald::net
