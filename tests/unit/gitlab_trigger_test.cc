#include "gateway/gitlab_trigger.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <regex>
#include <set>
#include <string>

#include "common/crypto.h"
#include "fakes.h"

namespace sluice {
namespace {

TriggerRequest Request(std::map<std::string, std::string> query, std::string content_type = "",
                       std::string body = "") {
  TriggerRequest r;
  r.query = std::move(query);
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  r.project_id = "9";
  return r;
}

const std::string kBoundary = "------------------------d74496d66958873e";

// A multipart body as curl --form writes it.
std::string Multipart(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string body;
  for (const auto& [name, value] : fields) {
    body += "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" +
            value + "\r\n";
  }
  return body + "--" + kBoundary + "--\r\n";
}

TEST(ReadTriggerParamsTest, TheFormOfGitLabsDocs) {
  // curl --form token=TOKEN --form ref=main --form "variables[UPLOAD_TO_S3]=true"
  TriggerParamsResult r = ReadTriggerParams(Request(
      {}, "multipart/form-data; boundary=" + kBoundary,
      Multipart({{"token", "TOKEN"}, {"ref", "main"}, {"variables[UPLOAD_TO_S3]", "true"}})));
  ASSERT_FALSE(r.error) << r.error->body;
  EXPECT_EQ(r.params.token, "TOKEN");
  EXPECT_EQ(r.params.ref, "main");
  EXPECT_EQ(r.params.variables, (std::map<std::string, std::string>{{"UPLOAD_TO_S3", "true"}}));
}

TEST(ReadTriggerParamsTest, QueryStringOnly) {
  TriggerParamsResult r = ReadTriggerParams(Request({{"token", "T"}, {"ref", "main"}}));
  ASSERT_FALSE(r.error) << r.error->body;
  EXPECT_EQ(r.params.token, "T");
  EXPECT_EQ(r.params.ref, "main");
  EXPECT_TRUE(r.params.variables.empty());
}

TEST(ReadTriggerParamsTest, UrlEncodedFormMergedWithTheQueryStringBodyWinning) {
  TriggerParamsResult r =
      ReadTriggerParams(Request({{"token", "T"}, {"ref", "main"}, {"variables[A]", "from-query"}},
                                "application/x-www-form-urlencoded",
                                "variables%5BA%5D=from+body&variables[B]=b%26c&ref=release-1"));
  ASSERT_FALSE(r.error) << r.error->body;
  EXPECT_EQ(r.params.token, "T");
  EXPECT_EQ(r.params.ref, "release-1");
  EXPECT_EQ(r.params.variables,
            (std::map<std::string, std::string>{{"A", "from body"}, {"B", "b&c"}}));
}

TEST(ReadTriggerParamsTest, JsonBody) {
  TriggerParamsResult r = ReadTriggerParams(
      Request({}, "application/json",
              R"({"token":"T","ref":"main","variables":{"A":"1"},"inputs":{"n":3,"s":"x"}})"));
  ASSERT_FALSE(r.error) << r.error->body;
  EXPECT_EQ(r.params.variables, (std::map<std::string, std::string>{{"A", "1"}}));
  EXPECT_EQ(r.params.inputs, (std::map<std::string, std::string>{{"n", "3"}, {"s", "x"}}));
}

TEST(ReadTriggerParamsTest, TheRefOfTheUrlWinsOverTheWebhookBody) {
  TriggerRequest req = Request({{"token", "T"}}, "application/json",
                               R"({"object_kind":"push","ref":"refs/heads/other-branch",)"
                               R"("checkout_sha":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7"})");
  req.path_ref = "release/1.2";
  TriggerParamsResult r = ReadTriggerParams(req);
  ASSERT_FALSE(r.error) << r.error->body;
  EXPECT_EQ(r.params.ref, "release/1.2");
  rapidjson::Document payload;
  payload.Parse(r.params.payload_json.c_str());
  ASSERT_TRUE(payload.IsObject()) << r.params.payload_json;
  EXPECT_STREQ(payload["object_kind"].GetString(), "push");
  EXPECT_STREQ(payload["ref"].GetString(), "release/1.2");
  EXPECT_STREQ(payload["id"].GetString(), "9");
  EXPECT_FALSE(payload.HasMember("token")) << "the payload never carries the token";
}

// GitLab's own spec: a trigger without a body has exactly this payload.
TEST(ReadTriggerParamsTest, PayloadWithoutABodyIsRefIdAndVariables) {
  TriggerParamsResult r = ReadTriggerParams(Request({{"token", "T"}, {"ref", "master"}}));
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.params.payload_json, R"({"ref":"master","id":"9","variables":{}})");
}

TEST(ReadTriggerParamsTest, ErrorsInGitLabsWords) {
  struct Case {
    std::string name;
    TriggerRequest request;
    std::string body;
  };
  const Case cases[] = {
      {"no token", Request({{"ref", "main"}}), R"({"error":"token is missing"})"},
      {"no ref", Request({{"token", "T"}}), R"({"error":"ref is missing"})"},
      {"neither", Request({}), R"({"error":"token is missing, ref is missing"})"},
      {"empty ref", Request({{"token", "T"}, {"ref", ""}}), R"({"error":"ref is empty"})"},
      {"variables not a map", Request({{"token", "T"}, {"ref", "main"}, {"variables", "x"}}),
       R"({"error":"variables is invalid"})"},
      {"a variable that is a number",
       Request({}, "application/json", R"({"token":"T","ref":"main","variables":{"A":1}})"),
       R"({"message":"variables needs to be a map of key-valued strings"})"},
      {"a variable that is an array",
       Request({}, "application/json", R"({"token":"T","ref":"main","variables":{"A":["1"]}})"),
       R"({"message":"variables needs to be a map of key-valued strings"})"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TriggerParamsResult r = ReadTriggerParams(c.request);
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->status, 400);
    EXPECT_EQ(r.error->body, c.body);
  }
}

// Project 9 (branches main and release-*, tags v*) with one trigger token; project 10 with
// another.
class ResolveTriggerTest : public ::testing::Test {
 protected:
  ResolveTriggerTest() {
    ClientConfig ops;
    ops.name = "ops";
    ops.token_sha256 = Sha256Hex("ops-client-token");
    config_.clients.push_back(ops);
    for (int64_t id : {9, 10}) {
      ProjectConfig p;
      p.id = id;
      p.path = "group/p" + std::to_string(id);
      p.branches = {"main", "release-*"};
      p.tags = {"v*"};
      config_.projects.push_back(p);
    }
    tokens_.Put(Token(9, 1, kToken9, std::nullopt));
    tokens_.Put(Token(10, 2, kToken10, std::nullopt));
    tokens_.Put(Token(9, 3, kExpired, kNow - std::chrono::seconds(1)));
  }

  static TriggerToken Token(int64_t project, int64_t id, const std::string& clear,
                            std::optional<TimePoint> expires) {
    TriggerToken t;
    t.id = id;
    t.project_id = project;
    t.token_sha256 = Sha256Hex(clear);
    t.short_token = ShortTriggerToken(clear);
    t.expires_at = expires;
    return t;
  }

  ResolvedTrigger Resolve(const std::string& project, const std::string& token,
                          const std::string& ref, const std::string& event = "") {
    PipelineTriggerParams params;
    params.token = token;
    params.ref = ref;
    return ResolveTrigger(config_, tokens_, project, event, params, kNow);
  }

  static inline const std::string kToken9 = "glptt-" + std::string(40, '9');
  static inline const std::string kToken10 = "glptt-" + std::string(40, 'a');
  static inline const std::string kExpired = "glptt-" + std::string(40, 'e');
  static inline const TimePoint kNow = TestEpoch() + std::chrono::hours(1);
  Config config_;
  TriggerTokenTable tokens_;
};

TEST_F(ResolveTriggerTest, AProjectsOwnTokenOnAnExistingRef) {
  for (const std::string project : {"9", "group/p9", "group%2Fp9"}) {
    ResolvedTrigger r = Resolve(project, kToken9, "main");
    ASSERT_FALSE(r.error) << project << ": " << r.error->body;
    EXPECT_EQ(r.project->id, 9);
    EXPECT_EQ(r.token->id, 1);
    EXPECT_FALSE(r.tag);
  }
  EXPECT_FALSE(Resolve("9", kToken9, "release-4.12").error);
  EXPECT_FALSE(Resolve("9", kToken9, "refs/heads/main").error);
  ResolvedTrigger tag = Resolve("9", kToken9, "v1.2.0");
  ASSERT_FALSE(tag.error);
  EXPECT_TRUE(tag.tag);
}

TEST_F(ResolveTriggerTest, RefusalsInGitLabsWordsRevealingNothing) {
  const std::string not_found = R"({"message":"404 Not Found"})";
  struct Case {
    std::string name;
    ResolvedTrigger got;
    int status;
    std::string body;
  };
  const Case cases[] = {
      {"pipeline events looping back", Resolve("9", kToken9, "main", "Pipeline Hook"), 403,
       R"({"message":"403 Forbidden"})"},
      {"unknown token", Resolve("9", "glptt-" + std::string(40, '0'), "main"), 404, not_found},
      {"another project's token", Resolve("9", kToken10, "main"), 404, not_found},
      {"a client token instead of a trigger token", Resolve("9", "ops-client-token", "main"), 404,
       not_found},
      {"an expired token", Resolve("9", kExpired, "main"), 404, not_found},
      {"unknown project", Resolve("11", kToken9, "main"), 404, not_found},
      {"a branch that does not exist", Resolve("9", kToken9, "master"), 400,
       R"({"message":{"base":["Reference not found"]}})"},
      {"a tag ref naming a branch", Resolve("9", kToken9, "refs/tags/main"), 400,
       R"({"message":{"base":["Reference not found"]}})"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(c.got.error.has_value());
    EXPECT_EQ(c.got.error->status, c.status);
    EXPECT_EQ(c.got.error->body, c.body);
  }
}

TEST(ParseMultipartFormTest, RejectsABodyThatDoesNotFollowItsBoundary) {
  EXPECT_FALSE(ParseMultipartForm("multipart/form-data; boundary=abc", "no boundary here"));
  EXPECT_FALSE(ParseMultipartForm("multipart/form-data", Multipart({{"a", "b"}})));
  auto quoted = ParseMultipartForm("multipart/form-data; boundary=\"" + kBoundary + "\"",
                                   Multipart({{"a", "b\r\nc"}}));
  ASSERT_TRUE(quoted.has_value());
  EXPECT_EQ(quoted->at("a"), "b\r\nc");
}

TEST(ParseUrlEncodedTest, DecodesAndKeepsTheLastOfARepeatedKey) {
  EXPECT_EQ(ParseUrlEncoded("a=1&b=%20x+y&a=2&&c"),
            (std::map<std::string, std::string>{{"a", "2"}, {"b", " x y"}, {"c", ""}}));
}

TEST(TriggerTokenTest, NewTokensHaveGitLabsShapeAndDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string token = NewTriggerToken();
    EXPECT_TRUE(std::regex_match(token, std::regex("glptt-[0-9a-f]{40}"))) << token;
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(TriggerTokenTest, ShortFormIsFourCharactersAfterThePrefix) {
  EXPECT_EQ(ShortTriggerToken("glptt-0123456789abcdef0123456789abcdef01234567"), "0123");
  EXPECT_EQ(ShortTriggerToken("6d056f63e50fe6f8c5f8f4aa10edb7"), "6d05");  // an old token
}

}  // namespace
}  // namespace sluice
