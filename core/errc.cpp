#include "core/errc.hpp"

#include <caf/message.hpp>

namespace herald {

std::string to_string(errc x) {
  switch (x) {
    case errc::none:
      return "none";
    case errc::invalid_config:
      return "invalid_config";
    case errc::io_failure:
      return "io_failure";
    case errc::tls_failure:
      return "tls_failure";
    case errc::database_failure:
      return "database_failure";
    case errc::redis_failure:
      return "redis_failure";
    case errc::schema_mismatch:
      return "schema_mismatch";
    case errc::network_failure:
      return "network_failure";
    case errc::timeout:
      return "timeout";
    case errc::invalid_input:
      return "invalid_input";
    case errc::not_found:
      return "not_found";
    case errc::overloaded:
      return "overloaded";
    case errc::conflict:
      return "conflict";
    case errc::unauthorized:
      return "unauthorized";
  }
  return "unknown";
}

caf::error make_error(errc code, std::string context) {
  return caf::error{static_cast<uint8_t>(code), caf::atom("herald"),
                    caf::make_message(std::move(context))};
}

std::string render(const caf::error& err) {
  if (!err)
    return "no error";
  if (err.category() == caf::atom("herald")) {
    const auto& ctx = err.context();
    if (ctx.size() == 1 && ctx.match_element<std::string>(0))
      return ctx.get_as<std::string>(0);
    return to_string(static_cast<errc>(err.code()));
  }
  return caf::to_string(err);
}

} // namespace herald
