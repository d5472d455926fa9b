// Fuzzes the configuration path of heraldd and heraldctl: CAF's INI parser
// into config::herald_config, the unknown-key check, and make_settings()
// with its validation (ports, counts, roles, secrets and files).
//
// Input: an INI file. "@DIR@" stands for a folder that holds valid
// secrets and certificates (mode 0600 where needed), so seeds can name
// files that exist, e.g.
//   [node]
//   name="n1"
//   roles=["ingress"]
//   [crypto]
//   keys-file="@DIR@/data-keys"

#include "config/herald_config.hpp"
#include "test/fuzz/fuzz_check.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace herald;
namespace fs = std::filesystem;

namespace {

/// The folder of "@DIR@", created once per process, removed at exit.
struct files_folder {
  std::string path;

  files_folder() {
    auto dir = fs::temp_directory_path()
               / ("herald-config-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    path = dir.string();
    write("server.crt", "cert", 0644);
    write("server.key", "key", 0600);
    write("ca.crt", "ca", 0644);
    write("mysql-password", "s3cret\n", 0600);
    write("data-keys", "1 " + std::string(64, 'a') + "\n", 0600);
    write("pepper", "a-pepper-of-sixteen-or-more\n", 0600);
  }

  ~files_folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }

  void write(const char* name, const std::string& content, mode_t mode) {
    auto file = path + "/" + name;
    std::ofstream{file} << content;
    ::chmod(file.c_str(), mode);
  }
};

const std::string& files_dir() {
  static const files_folder folder;
  return folder.path;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string ini{reinterpret_cast<const char*>(data), size};
  // Device and kernel files could block or be endless: not a config path.
  for (const char* bad : {"/dev", "/proc", "/sys"})
    if (ini.find(bad) != std::string::npos)
      return -1;
  for (size_t pos; (pos = ini.find("@DIR@")) != std::string::npos;)
    ini.replace(pos, 5, files_dir());
  config::herald_config cfg;
  std::istringstream in{ini};
  if (auto err = cfg.parse(caf::actor_system_config::string_list{}, in)) {
    fuzz::check(!config::describe_parse_error(err).empty(),
                "a parse error without a description");
    return 0;
  }
  if (auto err = cfg.check_unknown_keys())
    return 0;
  auto result = cfg.make_settings();
  if (!result)
    return 0;
  // What make_settings promises about a configuration it accepts.
  auto& s = *result;
  fuzz::check(!std::isnan(s.ingress.rate_limit)
                && !std::isnan(s.ingress.rate_burst),
              "accepted a rate limit that is not a number");
  fuzz::check(s.log.max_files >= 1 && s.log.max_files <= 3650,
              "accepted log.max-files out of range");
  fuzz::check(s.delivery.connections >= 1,
              "accepted delivery.connections below 1");
  if (s.has_role("ingress") || s.has_role("receiver"))
    fuzz::check(s.ingress.port != 0, "accepted ingress port 0");
  return 0;
}
