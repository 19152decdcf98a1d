// schemas/openapi.yaml against the gateway's route table: every route is described and every
// described operation is routed, so that the description clients read cannot drift from what the
// gateway serves. Also: the description the binary serves is the repository's file, and its
// create request schema is schemas/create_execution.schema.json.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "gateway/gateway_service.h"
#include "gateway/openapi.h"
#include "tests/unit/fakes.h"
#include "tests/unit/reply_helpers.h"

namespace sluice {
namespace {

std::string SourceFile(const std::string& relative) {
  // SLUICE_FIXTURES_DIR is <source>/tests/fixtures.
  std::ifstream in(std::string(SLUICE_FIXTURES_DIR) + "/../../" + relative, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << relative;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// "GET /api/v4/projects/{id}/ref/{ref}/trigger/pipeline": the router's "{ref+}" (one or more
// segments) is an ordinary parameter in OpenAPI, whose templates have no such form.
std::string Operation(std::string method, std::string pattern) {
  for (size_t plus; (plus = pattern.find("+}")) != std::string::npos;) pattern.erase(plus, 1);
  return method + " " + pattern;
}

std::set<std::string> SpecOperations(const YAML::Node& spec) {
  static const std::set<std::string> kMethods = {"get",   "put",     "post", "delete",
                                                 "patch", "options", "head", "trace"};
  std::set<std::string> out;
  for (const auto& path : spec["paths"]) {
    for (const auto& item : path.second) {
      std::string method = item.first.as<std::string>();
      if (!kMethods.count(method)) continue;  // parameters, summary, ...
      for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out.insert(Operation(method, path.first.as<std::string>()));
    }
  }
  return out;
}

// Every API registered: GitLab's and the webhooks' too.
class OpenApiRoutesTest : public ::testing::Test {
 protected:
  OpenApiRoutesTest()
      : deliveries_(std::chrono::hours(1)),
        settings_(WebhooksConfig{}),
        service_(config_, publisher_, view_, clock_,
                 GitLabViews{tokens_, pipelines_, [] { return true; }},
                 WebhookViews{deliveries_, settings_, [] { return true; }}) {}

  std::set<std::string> RouterOperations() const {
    std::set<std::string> out;
    for (const Route& r : service_.router().routes()) out.insert(Operation(r.method, r.pattern));
    return out;
  }

  Config config_;
  FakePublisher publisher_;
  FakeStatusView view_;
  ManualClock clock_;
  TriggerTokenTable tokens_;
  PipelineStore pipelines_;
  DeliveryStore deliveries_;
  WebhookSettings settings_;
  GatewayService service_;
};

TEST_F(OpenApiRoutesTest, EveryRouteIsDescribedAndEveryDescribedOperationIsRouted) {
  YAML::Node spec = YAML::Load(std::string(OpenApiYaml()));
  std::set<std::string> described = SpecOperations(spec);
  std::set<std::string> routed = RouterOperations();
  ASSERT_FALSE(routed.empty());
  for (const std::string& op : routed) {
    EXPECT_TRUE(described.count(op))
        << "the router has " << op << ", which schemas/openapi.yaml does not describe";
  }
  for (const std::string& op : described) {
    EXPECT_TRUE(routed.count(op)) << "schemas/openapi.yaml describes " << op
                                  << ", which no route serves";
  }
}

TEST_F(OpenApiRoutesTest, TheRouterHasNoRouteTwice) {
  std::set<std::string> seen;
  for (const Route& r : service_.router().routes()) {
    EXPECT_TRUE(seen.insert(Operation(r.method, r.pattern)).second)
        << r.method << " " << r.pattern << " is registered twice";
  }
}

TEST_F(OpenApiRoutesTest, GetOpenApiYamlServesTheDescriptionBuiltIn) {
  ApiRequest request;
  request.method = "GET";
  request.path = "/openapi.yaml";
  ApiReply reply = Call(service_, request);
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "application/yaml");
  EXPECT_TRUE(reply.body == OpenApiYaml()) << "GET /openapi.yaml answered another body";
}

TEST(OpenApiDescription, TheBuiltInDescriptionIsTheRepositorysFile) {
  EXPECT_TRUE(OpenApiYaml() == SourceFile("schemas/openapi.yaml"))
      << "the binary embeds an old schemas/openapi.yaml: rebuild";
}

// Structural equality of two YAML (or JSON) documents: maps by key, sequences in order, scalars
// by text.
::testing::AssertionResult SameNode(const YAML::Node& a, const YAML::Node& b,
                                    const std::string& where) {
  if (a.Type() != b.Type()) return ::testing::AssertionFailure() << where << ": different kinds";
  switch (a.Type()) {
    case YAML::NodeType::Scalar:
      if (a.Scalar() != b.Scalar()) {
        return ::testing::AssertionFailure()
               << where << ": \"" << a.Scalar() << "\" vs \"" << b.Scalar() << "\"";
      }
      break;
    case YAML::NodeType::Sequence:
      if (a.size() != b.size()) return ::testing::AssertionFailure() << where << ": lengths";
      for (size_t i = 0; i < a.size(); ++i) {
        if (auto r = SameNode(a[i], b[i], where + "[" + std::to_string(i) + "]"); !r) return r;
      }
      break;
    case YAML::NodeType::Map:
      if (a.size() != b.size()) {
        return ::testing::AssertionFailure() << where << ": different sets of keys";
      }
      for (const auto& entry : a) {
        std::string key = entry.first.as<std::string>();
        if (!b[key]) return ::testing::AssertionFailure() << where << "." << key << ": missing";
        if (auto r = SameNode(entry.second, b[key], where + "." + key); !r) return r;
      }
      break;
    default:
      break;
  }
  return ::testing::AssertionSuccess();
}

TEST(OpenApiDescription, TheCreateRequestSchemaIsTheJsonSchemaFile) {
  YAML::Node spec = YAML::Load(SourceFile("schemas/openapi.yaml"));
  YAML::Node file = YAML::Load(SourceFile("schemas/create_execution.schema.json"));
  // The file's own header: which draft, its title, what it is the body of.
  for (const char* key : {"$schema", "title", "description"}) file.remove(key);
  EXPECT_TRUE(SameNode(spec["components"]["schemas"]["CreateJobExecutionRequest"], file,
                       "CreateJobExecutionRequest"));
}

}  // namespace
}  // namespace sluice
