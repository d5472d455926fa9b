#include "config/secrets.hpp"

#include "core/errc.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <fstream>
#include <iterator>

namespace herald::config {

namespace {

/// Secrets are short; a larger file is a mistake (a certificate, a dump).
constexpr size_t max_secret_size = 4096;

/// The value of secret variable `name`, removed from the environment at
/// the first call and remembered for the next ones.
std::optional<std::string> take_env(const char* name) {
  static std::mutex mtx;
  static std::map<std::string, std::optional<std::string>> taken;
  std::lock_guard<std::mutex> guard{mtx};
  auto i = taken.find(name);
  if (i != taken.end())
    return i->second;
  std::optional<std::string> result;
  if (auto* value = std::getenv(name); value != nullptr && *value != '\0') {
    result = std::string{value};
    // Overwrite the copy in the environment block before unsetting it.
    std::memset(value, 0, std::strlen(value));
    ::unsetenv(name);
  }
  taken.emplace(name, result);
  return result;
}

} // namespace

caf::expected<std::string> read_secret(const std::string& setting,
                                       const std::string& path,
                                       const char* env_var) {
  if (auto value = take_env(env_var))
    return std::move(*value);
  if (path.empty())
    return std::string{};
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(errc::invalid_config,
                      setting + ": cannot read '" + path
                        + "'; create it (mode 0600) or set " + env_var);
  if ((st.st_mode & 077) != 0)
    return make_error(errc::invalid_config,
                      setting + ": '" + path
                        + "' is readable by group or others; run chmod 600 '"
                        + path + "'");
  if (static_cast<size_t>(st.st_size) > max_secret_size)
    return make_error(errc::invalid_config,
                      setting + ": '" + path + "' is larger than "
                        + std::to_string(max_secret_size)
                        + " bytes; it does not look like a secret");
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_error(errc::invalid_config,
                      setting + ": cannot open '" + path + "'");
  std::string result{std::istreambuf_iterator<char>{in}, {}};
  while (!result.empty() && (result.back() == '\n' || result.back() == '\r'))
    result.pop_back();
  return result;
}

} // namespace herald::config
