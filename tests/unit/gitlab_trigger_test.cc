#include "gateway/gitlab_trigger.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <regex>
#include <set>
#include <string>

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
  TriggerParamsResult r = ReadTriggerParams(
      Request({{"token", "T"}, {"ref", "main"}, {"variables[A]", "from-query"}},
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
