// GitLab's trigger-token API (/api/v4/projects/:id/triggers) over real HTTP, with the tokens in
// Kafka: what one gateway creates or revokes, another gateway knows.

#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "common/crypto.h"
#include "tests/integration/api_helpers.h"
#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

constexpr const char* kOpsToken = "ops-token";            // maintainer of project 9
constexpr const char* kBotToken = "release-bot-token";    // developer of project 9
constexpr const char* kStrangerToken = "stranger-token";  // member of no project

std::string Clients() {
  return "  - {name: ops, token_sha256: \"" + Sha256Hex(kOpsToken) + "\"}\n" +
         "  - {name: release-bot, token_sha256: \"" + Sha256Hex(kBotToken) + "\"}\n" +
         "  - {name: other-maintainer, token_sha256: \"" + Sha256Hex("other-token") + "\"}\n" +
         "  - {name: stranger, token_sha256: \"" + Sha256Hex(kStrangerToken) + "\"}\n";
}

constexpr const char* kProjects =
    "  - id: 9\n"
    "    path: group/project\n"
    "    refs: {branches: [main]}\n"
    "    members: {ops: maintainer, release-bot: developer, other-maintainer: maintainer}\n"
    "    pipeline:\n"
    "      stages: [test]\n"
    "      jobs: [{name: run_tests, stage: test, command: ['true']}]\n";

class GitLabTriggers : public ::testing::Test {
 protected:
  GitLabTriggers()
      : deployment_("", "", "", Clients(), nullptr, kProjects),
        gateway_a_(deployment_.StartGateway()),
        gateway_b_(deployment_.StartGateway()) {}

  HttpResponse Call(SluiceProcess& gateway, const std::string& method, const std::string& path,
                    const std::string& token, const std::string& body = "",
                    const std::string& content_type = "application/json") {
    std::vector<std::string> headers = {"PRIVATE-TOKEN: " + token};
    if (!body.empty()) headers.push_back("Content-Type: " + content_type);
    return http_.Request(method, gateway.url() + path, headers, body, !body.empty());
  }

  Deployment deployment_;
  SluiceProcess& gateway_a_;
  SluiceProcess& gateway_b_;
  HttpClient http_;
};

TEST_F(GitLabTriggers, CreatedOnOneGatewayListedOnAnotherShortenedAndRevokedEverywhere) {
  HttpResponse created = Call(gateway_a_, "POST", "/api/v4/projects/9/triggers", kOpsToken,
                              R"({"description": "nightly"})");
  ASSERT_EQ(created.status, 201) << created.body;
  rapidjson::Document t = created.Json();
  std::string token = StringField(t, "token");
  EXPECT_TRUE(std::regex_match(token, std::regex("glptt-[0-9a-f]{40}"))) << token;
  EXPECT_EQ(StringField(t, "description"), "nightly");
  ASSERT_TRUE(t.HasMember("id") && t["id"].IsInt64());
  int64_t id = t["id"].GetInt64();
  EXPECT_GT(id, 0);
  EXPECT_LT(id, int64_t{1} << 53) << "ids must stay exact in JavaScript";
  EXPECT_TRUE(t["last_used"].IsNull());
  EXPECT_TRUE(t["expires_at"].IsNull());
  EXPECT_EQ(StringField(t["owner"], "username"), "ops");

  // The other gateway learns it from Kafka; its listing shows four characters of the token.
  std::string short_token = token.substr(6, 4);
  ASSERT_TRUE(WaitFor(
      [&] {
        HttpResponse list =
            Call(gateway_b_, "GET", "/api/v4/projects/group%2Fproject/triggers", kOpsToken);
        return list.status == 200 &&
               list.body.find("\"token\":\"" + short_token + "\"") != std::string::npos;
      },
      std::chrono::seconds(10)))
      << Call(gateway_b_, "GET", "/api/v4/projects/9/triggers", kOpsToken).body;
  HttpResponse one =
      Call(gateway_b_, "GET", "/api/v4/projects/9/triggers/" + std::to_string(id), kOpsToken);
  EXPECT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.body.find(token), std::string::npos) << "the whole token is shown only once";

  // Revoked on the second gateway, gone from the first.
  HttpResponse revoked =
      Call(gateway_b_, "DELETE", "/api/v4/projects/9/triggers/" + std::to_string(id), kOpsToken);
  EXPECT_EQ(revoked.status, 204) << revoked.body << revoked.error;
  EXPECT_TRUE(WaitFor(
      [&] {
        return Call(gateway_a_, "GET", "/api/v4/projects/9/triggers/" + std::to_string(id),
                    kOpsToken)
                   .status == 404;
      },
      std::chrono::seconds(10)));
}

TEST_F(GitLabTriggers, FormCreateUpdateByTheOwnerOnly) {
  HttpResponse created = Call(gateway_a_, "POST", "/api/v4/projects/9/triggers", kOpsToken,
                              "description=release+trigger&expires_at=2099-12-31",
                              "application/x-www-form-urlencoded");
  ASSERT_EQ(created.status, 201) << created.body;
  int64_t id = created.Json()["id"].GetInt64();
  EXPECT_EQ(StringField(created, "expires_at"), "2099-12-31T00:00:00.000Z");
  std::string path = "/api/v4/projects/9/triggers/" + std::to_string(id);

  HttpResponse not_owner =
      Call(gateway_a_, "PUT", path, "other-token", R"({"description": "mine now"})");
  EXPECT_EQ(not_owner.status, 403) << not_owner.body;
  EXPECT_EQ(not_owner.body, "{\"message\":\"403 Forbidden\"}\n");

  HttpResponse updated = Call(gateway_a_, "PUT", path, kOpsToken, R"({"description": "renamed"})");
  EXPECT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(StringField(updated, "description"), "renamed");
}

TEST_F(GitLabTriggers, ErrorsInGitLabsWords) {
  struct Case {
    std::string name;
    std::string method;
    std::string path;
    std::string token;
    std::string body;
    long status;
    std::string answer;
  };
  const Case cases[] = {
      {"unknown client token", "GET", "/api/v4/projects/9/triggers", "nope", "", 401,
       R"({"message":"401 Unauthorized"})"},
      {"not a member", "GET", "/api/v4/projects/9/triggers", kStrangerToken, "", 404,
       R"({"message":"404 Project Not Found"})"},
      {"no such project", "GET", "/api/v4/projects/10/triggers", kOpsToken, "", 404,
       R"({"message":"404 Project Not Found"})"},
      {"developer may not manage tokens", "GET", "/api/v4/projects/9/triggers", kBotToken, "", 403,
       R"({"message":"403 Forbidden"})"},
      {"description missing", "POST", "/api/v4/projects/9/triggers", kOpsToken, "{}", 400,
       R"({"error":"description is missing"})"},
      {"expiry unreadable", "POST", "/api/v4/projects/9/triggers", kOpsToken,
       R"({"description": "x", "expires_at": "01/01/2050"})", 400,
       R"({"error":"expires_at is invalid"})"},
      {"expiry in the past", "POST", "/api/v4/projects/9/triggers", kOpsToken,
       R"({"description": "x", "expires_at": "2020-01-01"})", 400,
       R"({"message":"400 Bad request - expires_at must be in the future"})"},
      {"unknown trigger", "GET", "/api/v4/projects/9/triggers/12345", kOpsToken, "", 404,
       R"({"message":"404 Trigger Not Found"})"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HttpResponse r = Call(gateway_a_, c.method, c.path, c.token, c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.body, c.answer + "\n");
  }
}

}  // namespace
}  // namespace sluice::testing
