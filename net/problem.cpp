#include "net/problem.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace herald::net {

std::string problem_type(std::string_view slug) {
  return "urn:herald:problem:" + std::string{slug};
}

http_response problem(unsigned status, std::string_view slug,
                      std::string_view title, std::string_view detail,
                      const std::vector<invalid_param>& params) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  auto str = [&w](std::string_view x) {
    w.String(x.data(), static_cast<rapidjson::SizeType>(x.size()));
  };
  w.StartObject();
  w.Key("type");
  str(problem_type(slug));
  w.Key("title");
  str(title);
  w.Key("status");
  w.Uint(status);
  w.Key("detail");
  str(detail);
  if (!params.empty()) {
    w.Key("invalid_params");
    w.StartArray();
    for (const auto& p : params) {
      w.StartObject();
      w.Key("name");
      str(p.name);
      w.Key("reason");
      str(p.reason);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return {status, "application/problem+json", buf.GetString(), {}};
}

} // namespace herald::net
