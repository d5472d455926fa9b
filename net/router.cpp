#include "net/router.hpp"

#include "core/metrics.hpp"
#include "net/problem.hpp"

#include <chrono>

namespace herald::net {

namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> result;
  size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    auto end = path.find('/', pos);
    if (end == std::string_view::npos)
      end = path.size();
    result.emplace_back(path.substr(pos, end - pos));
    pos = end;
  }
  return result;
}

/// `path` for an error message: bytes outside printable ASCII are
/// percent-encoded, so the answer stays valid UTF-8 (JSON) whatever a
/// client sent, and reflects no control characters.
std::string printable(std::string_view path) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string result;
  for (auto c : path) {
    auto byte = static_cast<unsigned char>(c);
    if (byte > 0x20 && byte < 0x7f) {
      result += c;
    } else {
      result += '%';
      result += hex[byte >> 4];
      result += hex[byte & 0x0f];
    }
  }
  return result;
}

bool is_placeholder(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{'
         && segment.back() == '}';
}

} // namespace

void router::add(std::string method, std::string pattern,
                 route_handler handler) {
  auto segments = split_path(pattern);
  routes_.push_back({std::move(method), std::move(pattern),
                     std::move(segments), std::move(handler)});
}

bool router::match(const route& r, std::string_view path,
                   route_params& params) {
  auto segments = split_path(path);
  if (segments.size() != r.segments.size())
    return false;
  route_params result;
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& expected = r.segments[i];
    if (is_placeholder(expected))
      result.emplace(expected.substr(1, expected.size() - 2), segments[i]);
    else if (expected != segments[i])
      return false;
  }
  params = std::move(result);
  return true;
}

responder router::instrument(std::string label,
                                  responder respond) const {
  if (metrics_ == nullptr)
    return respond;
  auto start = std::chrono::steady_clock::now();
  return [m = metrics_, label = std::move(label), start,
          respond = std::move(respond)](http_response resp) {
    m->http_requests.Add({{"route", label},
                          {"code", std::to_string(resp.status)}})
      .Increment();
    m->http_request_duration.Add({{"route", label}}, metrics::latency_buckets())
      .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now()
                                             - start)
                 .count());
    respond(std::move(resp));
  };
}

void router::dispatch(http_request req, responder respond) const {
  if (gate_)
    if (auto refusal = gate_(req)) {
      instrument("gate", std::move(respond))(std::move(*refusal));
      return;
    }
  std::vector<std::string> allowed;
  route_params params;
  auto path = req.path();
  for (const auto& r : routes_) {
    if (!match(r, path, params))
      continue;
    if (r.method == req.method) {
      r.handler(std::move(req), params,
                instrument(r.method + " " + r.pattern, std::move(respond)));
      return;
    }
    allowed.push_back(r.method);
  }
  if (allowed.empty()) {
    auto out = instrument("unmatched", std::move(respond));
    if (not_found_)
      return out(not_found_(req));
    out(problem(404, "not-found", "Not found",
                "There is no resource at " + printable(path) + "."));
    return;
  }
  std::string allow;
  for (const auto& m : allowed)
    allow += allow.empty() ? m : ", " + m;
  auto resp = problem(405, "method-not-allowed", "Method not allowed",
                           printable(req.method)
                             + " is not allowed here; use " + allow + ".");
  resp.headers.emplace_back("Allow", allow);
  instrument("unmatched", std::move(respond))(std::move(resp));
}

std::vector<std::string> router::routes() const {
  std::vector<std::string> result;
  for (const auto& r : routes_)
    result.push_back(r.method + " " + r.pattern);
  return result;
}

} // namespace herald::net
