#include "gateway/router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice {
namespace {

ApiRequest Request(std::string method, std::string path) {
  ApiRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

// A router whose handlers answer with the pattern they serve and their parameters.
struct Served {
  std::string route;
  PathParams params;
};

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto [method, pattern, family] :
         std::vector<std::tuple<const char*, const char*, ApiFamily>>{
             {"GET", "/v1/executions", ApiFamily::kV1},
             {"POST", "/v1/executions", ApiFamily::kV1},
             {"GET", "/v1/executions/{id}", ApiFamily::kV1},
             {"POST", "/v1/executions/{id}/abort", ApiFamily::kV1},
             {"GET", "/healthz", ApiFamily::kOps},
             {"POST", "/api/v4/projects/{id}/ref/{ref+}/trigger/pipeline", ApiFamily::kGitLab},
             {"GET", "/api/v4/projects/{id}/jobs/{job_id}", ApiFamily::kGitLab},
         }) {
      router_.Add(method, pattern, family,
                  [this](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
                    served_.push_back({request.route, p});
                    reply(JsonReply(200, "{}"));
                  });
    }
    router_.SetFamily("/api/v4/", ApiFamily::kGitLab);
  }

  ApiReply Dispatch(const char* method, const char* path) {
    ApiReply out;
    router_.Dispatch(Request(method, path), [&](ApiReply r) { out = std::move(r); });
    return out;
  }

  std::string Header(const ApiReply& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  Router router_;
  std::vector<Served> served_;
};

TEST_F(RouterTest, MatchesATemplateAndHandsItsParametersAsSent) {
  EXPECT_EQ(Dispatch("GET", "/v1/executions/abc%2Fdef").status, 200);
  ASSERT_EQ(served_.size(), 1u);
  EXPECT_EQ(served_[0].route, "/v1/executions/{id}");
  EXPECT_EQ(served_[0].params.at("id"), "abc%2Fdef");
}

TEST_F(RouterTest, EmptySegmentsAndATrailingSlashAreIgnored) {
  EXPECT_EQ(Dispatch("GET", "//v1/executions/").status, 200);
  ASSERT_EQ(served_.size(), 1u);
  EXPECT_EQ(served_[0].route, "/v1/executions");
}

TEST_F(RouterTest, MoreLiteralSegmentsWin) {
  router_.Add("GET", "/v1/executions/{id}/{what}", ApiFamily::kV1,
              [this](const ApiRequest& r, const PathParams& p, ReplyFn reply) {
                served_.push_back({r.route, p});
                reply(JsonReply(200, "{}"));
              });
  router_.Add("GET", "/v1/executions/{id}/log", ApiFamily::kV1,
              [this](const ApiRequest& r, const PathParams& p, ReplyFn reply) {
                served_.push_back({r.route, p});
                reply(JsonReply(200, "{}"));
              });
  Dispatch("GET", "/v1/executions/1/log");
  Dispatch("GET", "/v1/executions/1/other");
  ASSERT_EQ(served_.size(), 2u);
  EXPECT_EQ(served_[0].route, "/v1/executions/{id}/log");
  EXPECT_EQ(served_[1].route, "/v1/executions/{id}/{what}");
}

TEST_F(RouterTest, ARestParameterTakesOneOrMoreSegments) {
  Dispatch("POST", "/api/v4/projects/9/ref/main/trigger/pipeline");
  Dispatch("POST", "/api/v4/projects/9/ref/release/4.18/trigger/pipeline");
  ASSERT_EQ(served_.size(), 2u);
  EXPECT_EQ(served_[0].params.at("ref"), "main");
  EXPECT_EQ(served_[1].params.at("ref"), "release/4.18");
  EXPECT_EQ(served_[1].params.at("id"), "9");
  EXPECT_EQ(Dispatch("POST", "/api/v4/projects/9/ref/trigger/pipeline").status, 404);
}

TEST_F(RouterTest, AWrongMethodIs405WithAllowInTheFamilysFormat) {
  ApiReply v1 = Dispatch("DELETE", "/v1/executions");
  EXPECT_EQ(v1.status, 405);
  EXPECT_EQ(Header(v1, "Allow"), "GET, POST");
  EXPECT_NE(v1.body.find("\"code\":12"), std::string::npos) << v1.body;
  EXPECT_NE(v1.body.find("allowed: GET, POST"), std::string::npos) << v1.body;

  ApiReply gitlab = Dispatch("DELETE", "/api/v4/projects/9/jobs/5");
  EXPECT_EQ(gitlab.status, 405);
  EXPECT_EQ(Header(gitlab, "Allow"), "GET");
  EXPECT_EQ(gitlab.body, "{\"message\":\"405 Method Not Allowed\"}\n");
  EXPECT_TRUE(served_.empty());
}

TEST_F(RouterTest, HeadIsServedByTheGetRoute) {
  EXPECT_EQ(Dispatch("HEAD", "/healthz").status, 200);
  ASSERT_EQ(served_.size(), 1u);
}

TEST_F(RouterTest, AnUnknownPathIs404InTheFamilysFormat) {
  ApiReply v1 = Dispatch("GET", "/nope");
  EXPECT_EQ(v1.status, 404);
  EXPECT_NE(v1.body.find("no such endpoint: GET /nope"), std::string::npos) << v1.body;
  ApiReply gitlab = Dispatch("GET", "/api/v4/nope");
  EXPECT_EQ(gitlab.status, 404);
  EXPECT_EQ(gitlab.body, "{\"message\":\"404 Not Found\"}\n");
}

TEST_F(RouterTest, TemplateIsTheBoundedLabelForMetrics) {
  EXPECT_EQ(router_.Template("GET", "/v1/executions/0190"), "/v1/executions/{id}");
  EXPECT_EQ(router_.Template("GET", "/v1/executions/0190/zzz"), "unmatched");
  EXPECT_EQ(router_.Template("PUT", "/v1/executions"), "unmatched");
}

}  // namespace
}  // namespace sluice
