#include "core/logging.hpp"

#include "core/errc.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/daily_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <vector>

namespace herald::log {

namespace {

/// Renders the log message as an escaped JSON string body (flag %*).
class json_message_flag : public spdlog::custom_flag_formatter {
public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    auto escaped = json_escape({msg.payload.data(), msg.payload.size()});
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<json_message_flag>();
  }
};

std::unique_ptr<spdlog::formatter> make_formatter(bool json) {
  auto result = std::make_unique<spdlog::pattern_formatter>();
  if (json) {
    result->add_flag<json_message_flag>('*').set_pattern(
      R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l","thread":%t,)"
      R"("msg":"%*"})");
  } else {
    result->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%t] %v");
  }
  return result;
}

} // namespace

std::string json_escape(std::string_view text) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buf};
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  std::string_view quoted{buf.GetString(), buf.GetSize()};
  return std::string{quoted.substr(1, quoted.size() - 2)};
}

caf::error validate(const log_config& cfg) {
  auto level = spdlog::level::from_str(cfg.level);
  if (level == spdlog::level::off && cfg.level != "off")
    return make_error(errc::invalid_config,
                      "log.level: unknown level '" + cfg.level
                        + "'; use trace, debug, info, warn, error or off");
  return caf::none;
}

caf::error init(const log_config& cfg) {
  if (auto err = validate(cfg))
    return err;
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (!cfg.file.empty()) {
    std::error_code ec;
    auto dir = std::filesystem::path{cfg.file}.parent_path();
    if (!dir.empty())
      std::filesystem::create_directories(dir, ec);
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::daily_file_sink_mt>(
        cfg.file, 0, 0, false, cfg.max_files));
    } catch (const spdlog::spdlog_ex& ex) {
      return make_error(errc::invalid_config,
                        "log.file: cannot open '" + cfg.file + "': "
                          + ex.what());
    }
  }
  auto logger = std::make_shared<spdlog::logger>("herald", sinks.begin(),
                                                 sinks.end());
  logger->set_formatter(make_formatter(cfg.json));
  logger->set_level(spdlog::level::from_str(cfg.level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds{1});
  return caf::none;
}

void shutdown() {
  spdlog::shutdown();
}

} // namespace herald::log
