#include "config/settings.hpp"
#include "test/fixtures.hpp"
#include "actors/validator.hpp"
#include "web/health_route.hpp"
#include "web/messages_route.hpp"
#include "web/portal_routes.hpp"
#include "web/receiver_route.hpp"
#include "net/router.hpp"

#include <boost/test/unit_test.hpp>

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace herald;

namespace {

const std::string document_path = HERALD_SOURCE_DIR "/docs/api/openapi.yaml";

/// The operation keys of an OpenAPI path item; its other keys (summary,
/// parameters, ...) are not operations.
const std::set<std::string> http_methods{"get",     "put",  "post",
                                         "delete",  "head", "patch",
                                         "options", "trace"};

/// Every problem type the server sends, slug -> status. Checked against the
/// net::problem() calls in web/ and net/, so a new slug cannot slip by
/// undocumented.
const std::map<std::string, unsigned> problem_slugs{
  {"malformed-request", 400},       {"malformed-json", 400},
  {"invalid-idempotency-key", 400}, {"client-forbidden", 403},
  {"not-a-node", 403},              {"caller-not-allowed", 403},
  {"certificate-not-allowed", 403},
  {"not-found", 404},               {"message-not-found", 404},
  {"method-not-allowed", 405},      {"idempotency-in-progress", 409},
  {"payload-too-large", 413},       {"unsupported-media-type", 415},
  {"invalid-message", 422},         {"idempotency-key-reused", 422},
  {"invalid-delivery", 422},       {"invalid-login", 422},
  {"unauthorized", 401},            {"login-refused", 401},
  {"forbidden", 403},               {"login-locked", 429},
  {"rate-limited", 429},            {"headers-too-large", 431},
  {"unavailable", 503},             {"health-unavailable", 503},
  {"invalid-query", 400},           {"invalid-requeue", 422},
  {"user-not-found", 404},          {"client-not-found", 404},
  {"certificate-not-found", 404},   {"invalid-change", 422},
  {"ca-unavailable", 409},          {"invalid-filter", 400},
};

const std::string problem_prefix = "urn:herald:problem:";

std::string read_text(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

YAML::Node load_document() {
  try {
    return YAML::LoadFile(document_path);
  } catch (const YAML::Exception& e) {
    BOOST_FAIL(document_path << " is not valid YAML: " << e.what());
  }
  return {};
}

/// A scalar's text; empty for missing and non-scalar nodes.
std::string text(const YAML::Node& node) {
  return node.IsDefined() && node.IsScalar() ? node.Scalar() : std::string{};
}

/// Calls `f(ref, where)` for every $ref under `node`, `where` being the
/// JSON pointer of the object that holds it.
template <class F>
void for_each_ref(const YAML::Node& node, const std::string& where, F& f) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      auto key = kv.first.Scalar();
      if (key == "$ref")
        f(text(kv.second), where);
      else
        for_each_ref(kv.second, where + "/" + key, f);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i)
      for_each_ref(node[i], where + "/" + std::to_string(i), f);
  }
}

/// The child of `parent` that JSON pointer segment `segment` names;
/// undefined when there is none. Takes `parent` as const: subscripting a
/// mutable node would add the key.
YAML::Node child(const YAML::Node& parent, const std::string& segment) {
  if (parent.IsMap())
    return parent[segment];
  if (parent.IsSequence() && !segment.empty()
      && segment.find_first_not_of("0123456789") == std::string::npos
      && std::stoul(segment) < parent.size())
    return parent[std::stoul(segment)];
  return YAML::Node{YAML::NodeType::Undefined};
}

/// The node that local reference `ref` ("#/a/b") points to; undefined when
/// there is none.
YAML::Node resolve(const YAML::Node& doc, const std::string& ref) {
  if (ref.rfind("#/", 0) != 0)
    return YAML::Node{YAML::NodeType::Undefined};
  YAML::Node current = doc;
  std::istringstream segments{ref.substr(2)};
  std::string segment;
  while (std::getline(segments, segment, '/')) {
    // JSON pointer escapes (RFC 6901).
    for (size_t i = 0; (i = segment.find('~', i)) != std::string::npos; ++i)
      segment.replace(i, 2, segment.compare(i, 2, "~1") == 0 ? "/" : "~");
    auto next = child(current, segment);
    // Not reset() to a missing node: yaml-cpp throws for those.
    if (!next.IsDefined())
      return YAML::Node{YAML::NodeType::Undefined};
    current.reset(next);
  }
  return current;
}

/// Follows `node`'s $ref, if it has one.
YAML::Node deref(const YAML::Node& doc, const YAML::Node& node) {
  if (node.IsMap() && node["$ref"])
    return resolve(doc, text(node["$ref"]));
  return node;
}

struct operation {
  std::string method; // upper case
  std::string path;
  YAML::Node path_item;
  YAML::Node node;

  std::string name() const {
    return method + " " + path;
  }
};

std::vector<operation> operations(const YAML::Node& doc) {
  std::vector<operation> result;
  const auto paths = doc["paths"];
  BOOST_REQUIRE_MESSAGE(paths.IsDefined() && paths.IsMap(),
                        "the document has no paths");
  for (const auto& path : paths) {
    if (!path.second.IsMap())
      continue;
    for (const auto& kv : path.second) {
      auto key = kv.first.Scalar();
      if (http_methods.count(key) == 0)
        continue;
      for (auto& c : key)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      result.push_back({key, path.first.Scalar(), path.second, kv.second});
    }
  }
  return result;
}

/// slug -> status of every net::problem(status, "slug", ...) call in the
/// .cpp files of web/ and net/.
std::map<std::string, unsigned> problem_slugs_in_code() {
  static const std::regex call{R"re(problem\(\s*(\d{3}),\s*"([^"]+)")re"};
  std::map<std::string, unsigned> result;
  for (auto dir : {"/actors", "/web", "/net"}) {
    for (const auto& entry :
         std::filesystem::directory_iterator{HERALD_SOURCE_DIR
                                             + std::string{dir}}) {
      if (entry.path().extension() != ".cpp")
        continue;
      auto source = read_text(entry.path().string());
      for (std::sregex_iterator i{source.begin(), source.end(), call}, end;
           i != end; ++i) {
        auto status = static_cast<unsigned>(std::stoul((*i)[1].str()));
        auto pos = result.emplace((*i)[2].str(), status).first;
        BOOST_TEST(pos->second == status,
                   "problem " << pos->first << " is sent with two statuses");
      }
    }
  }
  return result;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(openapi_suite, test::threaded_fixture)

BOOST_AUTO_TEST_CASE(the_document_is_openapi_3_and_names_the_api) {
  const auto doc = load_document();
  BOOST_REQUIRE(doc.IsMap());
  BOOST_TEST(text(doc["openapi"]).rfind("3.", 0) == 0u,
             "openapi is '" << text(doc["openapi"]) << "'");
  BOOST_TEST(!text(doc["info"]["title"]).empty());
  BOOST_TEST(!text(doc["info"]["version"]).empty());
}

BOOST_AUTO_TEST_CASE(every_ref_resolves_to_a_component) {
  const auto doc = load_document();
  size_t refs = 0;
  auto check = [&](const std::string& ref, const std::string& where) {
    ++refs;
    BOOST_TEST(ref.rfind("#/components/", 0) == 0u,
               where << ": $ref '" << ref << "' is not under components");
    BOOST_TEST(resolve(doc, ref).IsDefined(),
               where << ": $ref '" << ref << "' points to nothing");
  };
  for_each_ref(doc, "#", check);
  // Guards the walk itself: the document does use references.
  BOOST_TEST(refs > 0u);
}

BOOST_AUTO_TEST_CASE(every_operation_has_responses_with_valid_codes) {
  const auto doc = load_document();
  for (const auto& op : operations(doc)) {
    const auto responses = op.node["responses"];
    BOOST_TEST_CONTEXT(op.name()) {
      BOOST_REQUIRE(responses.IsDefined());
      BOOST_REQUIRE(responses.IsMap());
      BOOST_TEST(responses.size() > 0u);
      for (const auto& kv : responses) {
        auto code = kv.first.Scalar();
        bool valid = code.size() == 3 && code[0] >= '1' && code[0] <= '5'
                     && std::isdigit(static_cast<unsigned char>(code[1]))
                     && std::isdigit(static_cast<unsigned char>(code[2]));
        BOOST_TEST(valid, "'" << code << "' is not an HTTP status code");
        BOOST_TEST(deref(doc, kv.second).IsDefined());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(path_placeholders_are_declared_path_parameters) {
  const auto doc = load_document();
  static const std::regex placeholder{R"(\{([^}]+)\})"};
  for (const auto& op : operations(doc)) {
    std::set<std::string> declared;
    for (const auto& owner : {op.path_item, op.node}) {
      const auto params = owner["parameters"];
      if (!params.IsDefined() || !params.IsSequence())
        continue;
      for (const auto& p : params) {
        auto param = deref(doc, p);
        if (param.IsDefined() && text(param["in"]) == "path"
            && text(param["required"]) == "true")
          declared.insert(text(param["name"]));
      }
    }
    for (std::sregex_iterator i{op.path.begin(), op.path.end(), placeholder},
         end;
         i != end; ++i)
      BOOST_TEST(declared.count((*i)[1].str()) == 1u,
                 op.name() << ": {" << (*i)[1].str()
                           << "} is not a required path parameter");
  }
}

BOOST_AUTO_TEST_CASE(the_operations_are_exactly_the_registered_routes) {
  net::router r{nullptr};
  web::add_health_route(r, std::make_shared<const ingress_calls>(),
                        health_actor{}, "n");
  web::add_message_routes(r, std::make_shared<web::messages_context>());
  web::add_receiver_route(r, std::make_shared<web::receiver_context>());
  auto registered = r.routes();
  std::set<std::string> in_code{registered.begin(), registered.end()};
  // Of the portal, the JSON admin API only (its pages are HTML).
  net::router portal{nullptr};
  web::add_portal_routes(portal, std::make_shared<web::portal_context>());
  for (const auto& route : portal.routes())
    if (route.find(" /admin/api/") != std::string::npos)
      in_code.insert(route);
  std::set<std::string> documented;
  for (const auto& op : operations(load_document()))
    documented.insert(op.name());
  BOOST_TEST(!in_code.empty());
  for (const auto& route : in_code)
    BOOST_TEST(documented.count(route) == 1u,
               route << " is served but not in docs/api/openapi.yaml");
  for (const auto& op : documented)
    BOOST_TEST(in_code.count(op) == 1u,
               op << " is documented but the server has no such route");
}

BOOST_AUTO_TEST_CASE(the_slug_list_matches_the_code) {
  auto in_code = problem_slugs_in_code();
  for (const auto& [slug, status] : in_code) {
    auto i = problem_slugs.find(slug);
    BOOST_TEST((i != problem_slugs.end() && i->second == status),
               "the code sends " << slug << " (" << status
                                 << "); add it to problem_slugs and the "
                                    "document");
  }
  for (const auto& kv : problem_slugs)
    BOOST_TEST(in_code.count(kv.first) == 1u,
               kv.first << " is listed but no longer sent");
}

BOOST_AUTO_TEST_CASE(every_problem_type_is_documented_with_its_status) {
  auto source = read_text(document_path);
  for (const auto& kv : problem_slugs)
    BOOST_TEST(source.find(problem_prefix + kv.first) != std::string::npos,
               problem_prefix << kv.first << " is not in the document");
  // The document names no problem types the server never sends.
  static const std::regex type{"urn:herald:problem:([a-z0-9-]+)"};
  for (std::sregex_iterator i{source.begin(), source.end(), type}, end;
       i != end; ++i)
    BOOST_TEST(problem_slugs.count((*i)[1].str()) == 1u,
               (*i)[0].str() << " is documented but never sent");
  // The catalogue gives each type the status the code sends it with.
  const auto doc = load_document();
  const auto catalogue = doc["x-problem-types"];
  BOOST_REQUIRE(catalogue.IsDefined());
  BOOST_REQUIRE(catalogue.IsSequence());
  std::map<std::string, unsigned> listed;
  for (const auto& entry : catalogue) {
    auto type = text(entry["type"]);
    BOOST_REQUIRE(type.rfind(problem_prefix, 0) == 0u);
    listed.emplace(type.substr(problem_prefix.size()),
                   static_cast<unsigned>(std::stoul(text(entry["status"]))));
  }
  for (const auto& [slug, status] : problem_slugs) {
    auto i = listed.find(slug);
    BOOST_TEST((i != listed.end() && i->second == status),
               "x-problem-types lacks " << slug << " (" << status << ")");
  }
  BOOST_TEST(listed.size() == problem_slugs.size());
}

BOOST_AUTO_TEST_CASE(the_submission_limits_match_the_code) {
  const auto doc = load_document();
  auto fields = doc["components"]["schemas"]["SubmitRequest"]["properties"];
  BOOST_REQUIRE(fields.IsDefined());
  BOOST_TEST(std::stoul(text(fields["message_body"]["maxLength"]))
             == config::ingress_config{}.max_message_chars);
  std::regex e164{text(fields["sender_number"]["pattern"])};
  for (auto number : {"+491511234567", "+12345678", "+123456789012345",
                      "+1234567", "+1234567890123456", "+0123456789",
                      "491511234567", "+49 1511234567", "+"})
    BOOST_TEST(std::regex_search(number, e164) == is_e164(number),
               "the pattern and is_e164 disagree on '" << number << "'");
  auto key_schema = doc["components"]["parameters"]["IdempotencyKey"]["schema"];
  BOOST_REQUIRE(key_schema.IsDefined());
  std::regex key{text(key_schema["pattern"])};
  for (auto k : {std::string{"a"}, std::string(64, 'k'), std::string(65, 'k'),
                 std::string{}, std::string{"with space"},
                 std::string{"!~"}, std::string{"tab\t"},
                 std::string{"caf\xc3\xa9"}})
    BOOST_TEST(std::regex_search(k, key) == is_valid_idempotency_key(k),
               "the pattern and is_valid_idempotency_key disagree on '"
                 << k << "'");
}

BOOST_AUTO_TEST_SUITE_END()
