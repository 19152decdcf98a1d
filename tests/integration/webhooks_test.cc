// Git hosts' push and tag webhooks over real HTTP: signed deliveries of GitHub, GitLab and Gitea
// to gateways on one Kafka, the postsubmits they start on a worker, redeliveries, replays, dry
// runs, the events listing, secret rotation by SIGHUP, and every refusal.

#include <gtest/gtest.h>
#include <signal.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

constexpr const char* kGitHubSecret = "It's a Secret to Everybody";
constexpr const char* kGitLabToken = "gitlab-hook-token";
constexpr const char* kGiteaSecret = "gitea-hook-secret";
constexpr const char* kOldRotatingSecret = "rotating-secret-old";
constexpr const char* kNewRotatingSecret = "rotating-secret-new";

constexpr const char* kJobs = R"(  - name: installer-images
    type: postsubmit
    repo: openshift/assisted-installer
    branches: ["^release-"]
    skip_branches: ["^release-4\\.11$"]
    command: ["sh", "-c", "echo \"built $REPO_OWNER/$REPO_NAME $PULL_BASE_REF at $PULL_BASE_SHA type=$JOB_TYPE\""]
  - name: installer-release
    type: postsubmit
    repo: openshift/assisted-installer
    tags: ["^v4\\."]
    command: ["sh", "-c", "echo \"release $PULL_BASE_REF\""]
  - name: widget-main
    type: postsubmit
    repo: acme/widget
    branches: ["^main$"]
    command: ["sh", "-c", "echo \"widget $PULL_BASE_REF\""]
  - name: project-main
    type: postsubmit
    repo: group/project
    branches: ["^main$"]
    command: ["sh", "-c", "echo \"project $PULL_BASE_REF\""]
  - name: rotating-main
    type: postsubmit
    repo: acme/rotating
    command: ["true"]
  - name: bob-widget
    type: postsubmit
    repo: acme/widget
    branches: ["^never$"]
    command: ["true"]
)";

std::string Clients() {
  return "  - {name: alice, token_sha256: \"" + Sha256Hex(kAliceToken) +
         "\", allow_jobs: [\"*\"], admin: true}\n" + "  - {name: bob, token_sha256: \"" +
         Sha256Hex(kBobToken) + "\", allow_jobs: [\"bob-*\"]}\n";
}

std::string ReadFixture(const std::string& name) {
  const char* dir = std::getenv("SLUICE_SOURCE_DIR");
  std::ifstream in(std::string(dir ? dir : ".") + "/tests/fixtures/webhooks/" + name);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty()) << "fixture " << name;
  return text.str();
}

// A minimal GitHub push event.
std::string GitHubPush(const std::string& repo, const std::string& ref,
                       const std::string& padding = "") {
  return "{\"ref\":\"" + ref +
         "\",\"before\":\"1111111111111111111111111111111111111111\","
         "\"after\":\"2222222222222222222222222222222222222222\","
         "\"repository\":{\"full_name\":\"" +
         repo + "\",\"html_url\":\"https://github.com/" + repo +
         "\",\"clone_url\":\"https://github.com/" + repo +
         ".git\"},\"pusher\":{\"name\":\"octocat\"},\"padding\":\"" + padding + "\"}";
}

std::string NewDeliveryId() { return HexEncode(RandomBytes(16)); }

HttpResponse SendGitHub(HttpClient& http, const SluiceProcess& gateway, const std::string& body,
                        const std::string& delivery, const std::string& secret = kGitHubSecret,
                        const std::string& event = "push", const std::string& query = "",
                        std::vector<std::string> extra = {}) {
  std::vector<std::string> headers = {
      "Content-Type: application/json",
      "X-GitHub-Event: " + event,
      "X-GitHub-Delivery: " + delivery,
      "User-Agent: GitHub-Hookshot/test",
      "X-Hub-Signature-256: sha256=" + HexEncode(HmacSha256Raw(secret, body)),
  };
  for (auto& h : extra) headers.push_back(std::move(h));
  return http.Request("POST", gateway.url() + "/hooks/github" + query, headers, body, true);
}

// The id of the one execution a delivery's answer lists for `job` ("" when none).
std::string ExecutionFor(const HttpResponse& r, const std::string& job) {
  rapidjson::Document doc = r.Json();
  if (!doc.IsObject() || !doc.HasMember("executions")) return "";
  for (const auto& e : doc["executions"].GetArray()) {
    if (std::string(e["job"].GetString()) == job) return e["id"].GetString();
  }
  return "";
}

class Webhooks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("TEST_GITHUB_HOOK_SECRET", kGitHubSecret, 1);
    setenv("TEST_GITLAB_HOOK_TOKEN", kGitLabToken, 1);
    setenv("TEST_GITEA_HOOK_SECRET", kGiteaSecret, 1);
    secrets_ = new TempDir();
    rotating_file_ = secrets_->path() + "/rotating";
    std::ofstream(rotating_file_) << kOldRotatingSecret << "\n";
    std::string webhooks =
        "  github:\n"
        "    secrets:\n"
        "      \"*\": [{token_env: TEST_GITHUB_HOOK_SECRET}]\n"
        "      \"acme/rotating\": [{token_file: \"" +
        rotating_file_ +
        "\"}]\n"
        "  gitlab: {secrets: {\"group\": [{token_env: TEST_GITLAB_HOOK_TOKEN}]}}\n"
        "  gitea: {secrets: {\"acme/widget\": [{token_env: TEST_GITEA_HOOK_SECRET}]}}\n";
    deployment_ = new Deployment(kJobs, "", "", Clients(), nullptr, "", webhooks);
    gateway_a_ = &deployment_->StartGateway();
    gateway_b_ = &deployment_->StartGateway();
    deployment_->StartWorker();
  }
  static void TearDownTestSuite() {
    delete deployment_;
    delete secrets_;
  }

  static std::string Log(const std::string& id) {
    HttpClient http;
    return http.Get(gateway_a_->url() + "/v1/executions/" + id + "/log", kAliceToken).body;
  }

  HttpClient http_;
  static TempDir* secrets_;
  static std::string rotating_file_;
  static Deployment* deployment_;
  static SluiceProcess* gateway_a_;
  static SluiceProcess* gateway_b_;
};
TempDir* Webhooks::secrets_ = nullptr;
std::string Webhooks::rotating_file_;
Deployment* Webhooks::deployment_ = nullptr;
SluiceProcess* Webhooks::gateway_a_ = nullptr;
SluiceProcess* Webhooks::gateway_b_ = nullptr;

TEST_F(Webhooks, GitHubPushRunsThePostsubmitWithRefsFromTheEvent) {
  std::string delivery = NewDeliveryId();
  HttpResponse r = SendGitHub(http_, *gateway_a_, ReadFixture("github_push.json"), delivery);
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = ExecutionFor(r, "installer-images");
  ASSERT_FALSE(id.empty()) << r.body;
  rapidjson::Document doc = r.Json();
  EXPECT_EQ(std::string(doc["delivery"].GetString()), "github/" + delivery);
  EXPECT_EQ(std::string(doc["outcome"].GetString()), "triggered");
  EXPECT_EQ(doc["executions"].Size(), 1u) << r.body;
  // Every other postsubmit is listed with its reason.
  EXPECT_NE(r.body.find("\"job\":\"widget-main\",\"reason\":\"repo differs"), std::string::npos)
      << r.body;

  EXPECT_EQ(WaitForEnd(http_, *gateway_a_, id), "SUCCESS");
  EXPECT_NE(Log(id).find("built openshift/assisted-installer release-4.12 at "
                         "a336f38f75f91a876313daacbf097f25dfe21bbf type=postsubmit"),
            std::string::npos)
      << Log(id);
  HttpResponse e = http_.Get(gateway_a_->url() + "/v1/executions/" + id, kAliceToken);
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_NE(e.body.find("\"job_type\":\"POSTSUBMIT\""), std::string::npos) << e.body;
  EXPECT_NE(e.body.find("\"sluice.io/source\":\"webhook\""), std::string::npos) << e.body;
  EXPECT_NE(e.body.find("\"sluice.io/user\":\"release-bot\""), std::string::npos) << e.body;
  EXPECT_NE(e.body.find("\"base_link\":\"https://github.com/openshift/assisted-installer/compare/"),
            std::string::npos)
      << e.body;
  EXPECT_NE(e.body.find("\"clone_uri\":\"https://github.com/openshift/assisted-installer.git\""),
            std::string::npos)
      << e.body;
}

// GitHub's other content type: the JSON in the form field `payload`, signed over the form.
TEST_F(Webhooks, GitHubFormEncodedDeliveryIsReadFromItsPayloadField) {
  std::string json = GitHubPush("acme/widget", "refs/heads/main");
  std::string form = "payload=";
  for (unsigned char c : json) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      form.push_back(static_cast<char>(c));
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      form += hex;
    }
  }
  HttpResponse r = http_.Request(
      "POST", gateway_a_->url() + "/hooks/github",
      {"Content-Type: application/x-www-form-urlencoded", "X-GitHub-Event: push",
       "X-GitHub-Delivery: " + NewDeliveryId(),
       "X-Hub-Signature-256: sha256=" + HexEncode(HmacSha256Raw(kGitHubSecret, form))},
      form, true);
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = ExecutionFor(r, "widget-main");
  ASSERT_FALSE(id.empty()) << r.body;
  EXPECT_EQ(WaitForEnd(http_, *gateway_a_, id), "SUCCESS");
  EXPECT_NE(Log(id).find("widget main"), std::string::npos) << Log(id);
}

TEST_F(Webhooks, TagRulesAndBranchRulesDecide) {
  HttpResponse tag =
      SendGitHub(http_, *gateway_a_, ReadFixture("github_tag.json"), NewDeliveryId());
  ASSERT_EQ(tag.status, 202) << tag.body;
  std::string release = ExecutionFor(tag, "installer-release");
  ASSERT_FALSE(release.empty()) << tag.body;
  EXPECT_TRUE(ExecutionFor(tag, "installer-images").empty()) << "a tag is not a branch";
  EXPECT_EQ(WaitForEnd(http_, *gateway_a_, release), "SUCCESS");
  EXPECT_NE(Log(release).find("release v4.12.3"), std::string::npos) << Log(release);

  HttpResponse nightly =
      SendGitHub(http_, *gateway_a_,
                 GitHubPush("openshift/assisted-installer", "refs/tags/nightly"), NewDeliveryId());
  ASSERT_EQ(nightly.status, 202) << nightly.body;
  EXPECT_EQ(nightly.Json()["executions"].Size(), 0u) << nightly.body;
  EXPECT_NE(nightly.body.find("tag rule: nightly matches none of \\\"^v4\\\\.\\\""),
            std::string::npos)
      << nightly.body;

  HttpResponse skipped = SendGitHub(
      http_, *gateway_a_, GitHubPush("openshift/assisted-installer", "refs/heads/release-4.11"),
      NewDeliveryId());
  ASSERT_EQ(skipped.status, 202) << skipped.body;
  EXPECT_EQ(skipped.Json()["executions"].Size(), 0u) << skipped.body;
  EXPECT_NE(skipped.body.find("skip_branches: release-4.11"), std::string::npos) << skipped.body;

  HttpResponse deleted =
      SendGitHub(http_, *gateway_a_, ReadFixture("github_delete.json"), NewDeliveryId());
  ASSERT_EQ(deleted.status, 202) << deleted.body;
  EXPECT_EQ(deleted.Json()["executions"].Size(), 0u) << deleted.body;
  EXPECT_NE(deleted.body.find("was deleted; a deletion triggers nothing"), std::string::npos)
      << deleted.body;
}

TEST_F(Webhooks, RedeliveryToAnotherGatewayTriggersNothingAndAnswersTheSame) {
  std::string delivery = NewDeliveryId();
  std::string body = GitHubPush("openshift/assisted-installer", "refs/heads/release-5.0");
  HttpResponse first = SendGitHub(http_, *gateway_a_, body, delivery);
  ASSERT_EQ(first.status, 202) << first.body;
  std::string id = ExecutionFor(first, "installer-images");
  ASSERT_FALSE(id.empty()) << first.body;
  // Gateway B knows the delivery once it has read the events topic (milliseconds).
  ASSERT_TRUE(WaitFor([&] {
    return http_.Get(gateway_b_->url() + "/v1/events/github/" + delivery, kAliceToken).status ==
           200;
  }));
  HttpResponse again = SendGitHub(http_, *gateway_b_, body, delivery);
  EXPECT_EQ(again.status, first.status);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.headers["x-sluice-redelivery"], "true");
  EXPECT_EQ(WaitForEnd(http_, *gateway_a_, id), "SUCCESS");

  // One execution for the job and this push, not two.
  HttpResponse list = http_.Get(
      gateway_a_->url() + "/v1/executions?job_name=installer-images&page_size=500", kAliceToken);
  ASSERT_EQ(list.status, 200);
  size_t runs = 0;
  rapidjson::Document listed = list.Json();  // outlives the loop over its array
  for (const auto& e : listed["job_execution"].GetArray()) {
    std::string text = e["refs"].HasMember("base_ref") ? e["refs"]["base_ref"].GetString() : "";
    runs += text == "release-5.0";
  }
  EXPECT_EQ(runs, 1u) << list.body;
}

TEST_F(Webhooks, ReplayRerunsMatchingAndStartsNewExecutions) {
  std::string delivery = NewDeliveryId();
  HttpResponse first = SendGitHub(http_, *gateway_a_, ReadFixture("github_push.json"), delivery);
  ASSERT_EQ(first.status, 202) << first.body;
  std::string id = ExecutionFor(first, "installer-images");
  EXPECT_EQ(WaitForEnd(http_, *gateway_a_, id), "SUCCESS");

  HttpResponse refused =
      http_.Post(gateway_a_->url() + "/v1/events/github/" + delivery + "/replay", kBobToken, "");
  EXPECT_EQ(refused.status, 403) << refused.body;
  HttpResponse unknown =
      http_.Post(gateway_a_->url() + "/v1/events/github/no-such-delivery/replay", kAliceToken, "");
  EXPECT_EQ(unknown.status, 404) << unknown.body;

  HttpResponse replay =
      http_.Post(gateway_a_->url() + "/v1/events/github/" + delivery + "/replay", kAliceToken, "");
  ASSERT_EQ(replay.status, 202) << replay.body;
  EXPECT_NE(replay.body.find("\"replay\":1,\"requested_by\":\"alice\""), std::string::npos)
      << replay.body;
  std::string again = ExecutionFor(replay, "installer-images");
  ASSERT_FALSE(again.empty()) << replay.body;
  EXPECT_NE(again, id);
  EXPECT_EQ(WaitForEnd(http_, *gateway_a_, again), "SUCCESS");

  HttpResponse shown = http_.Get(gateway_a_->url() + "/v1/events/github/" + delivery, kAliceToken);
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(shown.Json()["replays"].Size(), 1u) << shown.body;
}

// The id is percent-encoded in the path ('/' as %2F, '%' as %25) and decoded once.
TEST_F(Webhooks, DeliveryIdWithSlashAndPercentRoundTripsThroughShowAndReplay) {
  std::string delivery = "hook/" + NewDeliveryId() + "%1";
  std::string encoded = "hook%2F" + delivery.substr(5, delivery.size() - 7) + "%251";
  HttpResponse push =
      SendGitHub(http_, *gateway_a_, GitHubPush("acme/widget", "refs/heads/dev"), delivery);
  ASSERT_EQ(push.status, 202) << push.body;

  HttpResponse shown = http_.Get(gateway_a_->url() + "/v1/events/github/" + encoded, kAliceToken);
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(std::string(shown.Json()["delivery"]["delivery_id"].GetString()), delivery);

  HttpResponse replay =
      http_.Post(gateway_a_->url() + "/v1/events/github/" + encoded + "/replay", kAliceToken, "");
  ASSERT_EQ(replay.status, 202) << replay.body;
  EXPECT_EQ(std::string(replay.Json()["delivery_id"].GetString()), delivery) << replay.body;
  EXPECT_EQ(replay.Json()["replay"].GetInt(), 1) << replay.body;
}

// Issue 11, case 6: a repository name from an unsigned body cannot start a line of the log.
TEST_F(Webhooks, ARefusedDeliveryCannotForgeALogLine) {
  const std::string forged = "2026-11-29T23:59:59.000Z INFO worker: e-forged SUCCESS";
  HttpResponse refused =
      SendGitHub(http_, *gateway_a_, GitHubPush("org/x\\n" + forged, "refs/heads/main"),
                 NewDeliveryId(), "not the secret");  // JSON's \n: a newline once parsed
  ASSERT_EQ(refused.status, 401) << refused.body;
  std::string log = gateway_a_->Log();
  EXPECT_NE(log.find(forged), std::string::npos) << "the refusal names the repo, escaped: " << log;
  EXPECT_EQ(log.find("\n" + forged), std::string::npos) << log;
}

TEST_F(Webhooks, DryRunVerifiesAndMatchesButTriggersNothing) {
  std::string delivery = NewDeliveryId();
  std::string body = ReadFixture("github_push.json");
  HttpResponse anonymous =
      SendGitHub(http_, *gateway_a_, body, delivery, kGitHubSecret, "push", "?dry_run=true");
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  HttpResponse bob = SendGitHub(http_, *gateway_a_, body, delivery, kGitHubSecret, "push",
                                "?dry_run=true", {"Authorization: Bearer bob-token"});
  EXPECT_EQ(bob.status, 403) << bob.body;
  HttpResponse dry = SendGitHub(http_, *gateway_a_, body, delivery, kGitHubSecret, "push",
                                "?dry_run=true", {"Authorization: Bearer alice-token"});
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_NE(dry.body.find("\"dry_run\":true,\"signature\":\"valid\""), std::string::npos)
      << dry.body;
  EXPECT_NE(dry.body.find("\"job\":\"installer-images\",\"matched\":true"), std::string::npos)
      << dry.body;
  EXPECT_NE(dry.body.find("\"job\":\"widget-main\",\"matched\":false,\"reason\":\"repo differs"),
            std::string::npos)
      << dry.body;

  // Nothing was stored: the same delivery, sent for real, is a first delivery.
  HttpResponse real = SendGitHub(http_, *gateway_a_, body, delivery);
  ASSERT_EQ(real.status, 202) << real.body;
  EXPECT_EQ(real.headers.count("x-sluice-redelivery"), 0u);
  EXPECT_EQ(WaitForEnd(http_, *gateway_a_, ExecutionFor(real, "installer-images")), "SUCCESS");
}

TEST_F(Webhooks, EventsListSaysWhyAPushTriggeredNothing) {
  std::string delivery = NewDeliveryId();
  HttpResponse push =
      SendGitHub(http_, *gateway_a_, GitHubPush("acme/widget", "refs/heads/dev"), delivery);
  ASSERT_EQ(push.status, 202) << push.body;
  HttpResponse refused = SendGitHub(http_, *gateway_a_, GitHubPush("acme/widget", "refs/heads/x"),
                                    NewDeliveryId(), "wrong secret");
  ASSERT_EQ(refused.status, 401) << refused.body;

  HttpResponse list =
      http_.Get(gateway_a_->url() + "/v1/events?repo=acme/widget&since=1h", kAliceToken);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_NE(list.body.find("\"delivery_id\":\"" + delivery + "\""), std::string::npos) << list.body;
  EXPECT_NE(list.body.find("\"outcome\":\"matched no job\""), std::string::npos) << list.body;
  EXPECT_NE(list.body.find("branch regex: dev matches none of \\\"^main$\\\""), std::string::npos)
      << list.body;
  EXPECT_NE(list.body.find("\"outcome\":\"signature failed\",\"reason\":\"X-Hub-Signature-256 "
                           "matches no configured secret\""),
            std::string::npos)
      << list.body;
  // Bob sees only the jobs he may trigger.
  HttpResponse bob =
      http_.Get(gateway_a_->url() + "/v1/events?repo=acme/widget&since=1h", kBobToken);
  ASSERT_EQ(bob.status, 200) << bob.body;
  EXPECT_NE(bob.body.find("\"job\":\"bob-widget\""), std::string::npos) << bob.body;
  EXPECT_EQ(bob.body.find("\"job\":\"widget-main\""), std::string::npos) << bob.body;

  EXPECT_EQ(http_.Get(gateway_a_->url() + "/v1/events?since=yesterday", kAliceToken).status, 400);
  EXPECT_EQ(http_.Get(gateway_a_->url() + "/v1/events", "").status, 401);
}

TEST_F(Webhooks, GitLabTokenStandardWebhooksAndGiteaSignatures) {
  // GitLab's secret token.
  std::string gitlab_body = ReadFixture("gitlab_push.json");
  std::string gitlab_delivery = NewDeliveryId();
  HttpResponse token = http_.Request(
      "POST", gateway_a_->url() + "/hooks/gitlab",
      {"Content-Type: application/json", "X-Gitlab-Event: Push Hook",
       "X-Gitlab-Token: " + std::string(kGitLabToken), "Idempotency-Key: " + gitlab_delivery},
      gitlab_body, true);
  ASSERT_EQ(token.status, 202) << token.body;
  std::string project = ExecutionFor(token, "project-main");
  ASSERT_FALSE(project.empty()) << token.body;
  EXPECT_EQ(WaitForEnd(http_, *gateway_a_, project), "SUCCESS");
  EXPECT_NE(Log(project).find("project main"), std::string::npos) << Log(project);

  HttpResponse wrong =
      http_.Request("POST", gateway_a_->url() + "/hooks/gitlab",
                    {"Content-Type: application/json", "X-Gitlab-Event: Push Hook",
                     "X-Gitlab-Token: nope", "Idempotency-Key: " + NewDeliveryId()},
                    gitlab_body, true);
  EXPECT_EQ(wrong.status, 401) << wrong.body;

  // Standard Webhooks: v1,<base64 HMAC of id.timestamp.body>.
  std::string id = "msg_" + NewDeliveryId();
  std::string timestamp = std::to_string(std::time(nullptr));
  std::string signature =
      Base64Encode(HmacSha256Raw(kGitLabToken, id + "." + timestamp + "." + gitlab_body));
  HttpResponse standard = http_.Request(
      "POST", gateway_a_->url() + "/hooks/gitlab",
      {"Content-Type: application/json", "X-Gitlab-Event: Push Hook", "webhook-id: " + id,
       "webhook-timestamp: " + timestamp, "webhook-signature: v1," + signature},
      gitlab_body, true);
  ASSERT_EQ(standard.status, 202) << standard.body;
  EXPECT_FALSE(ExecutionFor(standard, "project-main").empty()) << standard.body;
  HttpResponse stale = http_.Request(
      "POST", gateway_a_->url() + "/hooks/gitlab",
      {"Content-Type: application/json", "X-Gitlab-Event: Push Hook", "webhook-id: " + id,
       "webhook-timestamp: 1000000000", "webhook-signature: v1," + signature},
      gitlab_body, true);
  EXPECT_EQ(stale.status, 401) << stale.body;

  // Gitea, and Forgejo's header names.
  std::string gitea_body = ReadFixture("gitea_push.json");
  std::string hex = HexEncode(HmacSha256Raw(kGiteaSecret, gitea_body));
  HttpResponse gitea =
      http_.Request("POST", gateway_a_->url() + "/hooks/gitea",
                    {"Content-Type: application/json", "X-Gitea-Event: push",
                     "X-Gitea-Delivery: " + NewDeliveryId(), "X-Gitea-Signature: " + hex},
                    gitea_body, true);
  ASSERT_EQ(gitea.status, 202) << gitea.body;
  std::string widget = ExecutionFor(gitea, "widget-main");
  ASSERT_FALSE(widget.empty()) << gitea.body;
  EXPECT_EQ(WaitForEnd(http_, *gateway_a_, widget), "SUCCESS");
  HttpResponse forgejo =
      http_.Request("POST", gateway_a_->url() + "/hooks/gitea",
                    {"Content-Type: application/json", "X-Forgejo-Event: push",
                     "X-Forgejo-Delivery: " + NewDeliveryId(), "X-Forgejo-Signature: " + hex},
                    gitea_body, true);
  EXPECT_EQ(forgejo.status, 202) << forgejo.body;

  // No secret reaches a log.
  for (const SluiceProcess* g : {gateway_a_, gateway_b_}) {
    for (const char* secret : {kGitHubSecret, kGitLabToken, kGiteaSecret}) {
      EXPECT_EQ(g->Log().find(secret), std::string::npos) << secret;
    }
  }
}

TEST_F(Webhooks, EveryRefusalHasItsStatusAndSaysWhy) {
  std::string body = ReadFixture("github_push.json");
  struct Case {
    const char* what;
    HttpResponse response;
    long status;
    const char* message;
  };
  std::string big(26 * 1024 * 1024, 'x');
  std::vector<Case> cases = {
      {"wrong secret", SendGitHub(http_, *gateway_a_, body, NewDeliveryId(), "guess"), 401,
       "X-Hub-Signature-256 matches no configured secret"},
      {"no signature",
       http_.Request("POST", gateway_a_->url() + "/hooks/github",
                     {"Content-Type: application/json", "X-GitHub-Event: push",
                      "X-GitHub-Delivery: " + NewDeliveryId()},
                     body, true),
       401, "X-Hub-Signature-256 is missing"},
      // Refused by the HTTP layer (declared length over the route's limit) or by the route.
      {"too large", SendGitHub(http_, *gateway_a_, big, NewDeliveryId()), 413, "26214400"},
      {"no delivery id",
       http_.Request(
           "POST", gateway_a_->url() + "/hooks/github",
           {"Content-Type: application/json", "X-GitHub-Event: push",
            "X-Hub-Signature-256: sha256=" + HexEncode(HmacSha256Raw(kGitHubSecret, body))},
           body, true),
       400, "X-GitHub-Delivery"},
      {"not JSON", SendGitHub(http_, *gateway_a_, "{not json", NewDeliveryId()), 400,
       "the event body is not JSON"},
      {"unknown parameter",
       SendGitHub(http_, *gateway_a_, body, NewDeliveryId(), kGitHubSecret, "push", "?x=1"), 400,
       "unknown query parameter \\\"x\\\""},
      {"unknown host",
       http_.Request("POST", gateway_a_->url() + "/hooks/bitbucket", {}, "{}", true), 404,
       "use /hooks/github, /hooks/gitlab or /hooks/gitea"},
      {"GET", http_.Request("GET", gateway_a_->url() + "/hooks/github"), 405, "allowed: POST"},
      {"event type ignored",
       SendGitHub(http_, *gateway_a_, body, NewDeliveryId(), kGitHubSecret, "issues"), 202,
       "ignored: Sluice does not act on github event \\\"issues\\\""},
      {"ping",
       SendGitHub(http_, *gateway_a_, ReadFixture("github_ping.json"), NewDeliveryId(),
                  kGitHubSecret, "ping"),
       200, "pong"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.response.status, c.status) << c.what << ": " << c.response.body;
    EXPECT_NE(c.response.body.find(c.message), std::string::npos)
        << c.what << ": " << c.response.body;
    if (c.status >= 400 && c.status != 405) {
      EXPECT_NE(c.response.body.find("\"code\""), std::string::npos) << c.what;
    }
  }
}

TEST_F(Webhooks, LargeDeliveryIsStoredWhole) {
  // 3 MiB: more than Kafka's default record size of 1 MB.
  std::string body = GitHubPush("acme/widget", "refs/heads/main", std::string(3 << 20, 'p'));
  HttpResponse r = SendGitHub(http_, *gateway_a_, body, NewDeliveryId());
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = ExecutionFor(r, "widget-main");
  ASSERT_FALSE(id.empty()) << r.body;
  EXPECT_EQ(WaitForEnd(http_, *gateway_a_, id), "SUCCESS");
}

TEST_F(Webhooks, SighupRotatesSecretsWithoutARestart) {
  std::string body = GitHubPush("acme/rotating", "refs/heads/main");
  EXPECT_EQ(SendGitHub(http_, *gateway_b_, body, NewDeliveryId(), kOldRotatingSecret).status, 202);
  EXPECT_EQ(SendGitHub(http_, *gateway_b_, body, NewDeliveryId(), kNewRotatingSecret).status, 401);

  std::ofstream(rotating_file_) << kNewRotatingSecret << "\n";
  ASSERT_EQ(kill(gateway_b_->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] {
    return gateway_b_->Log().find("SIGHUP: webhook settings reloaded") != std::string::npos;
  })) << gateway_b_->Log();
  EXPECT_EQ(SendGitHub(http_, *gateway_b_, body, NewDeliveryId(), kNewRotatingSecret).status, 202);
  EXPECT_EQ(SendGitHub(http_, *gateway_b_, body, NewDeliveryId(), kOldRotatingSecret).status, 401);
  EXPECT_TRUE(gateway_b_->Running());
  EXPECT_EQ(gateway_b_->Log().find(kNewRotatingSecret), std::string::npos);
}

// The delivery is in Kafka when the host hears 202: a gateway killed right after, with no worker
// up yet, loses nothing; a worker started later runs the job.
TEST(WebhooksDurability, GatewayKilledAfterTheAckStillEndsWithTheJobRun) {
  setenv("TEST_GITHUB_HOOK_SECRET", kGitHubSecret, 1);
  Deployment deployment(kJobs, "", "", Clients(), nullptr, "",
                        "  github: {secrets: {\"*\": [{token_env: TEST_GITHUB_HOOK_SECRET}]}}\n");
  SluiceProcess& gateway = deployment.StartGateway();
  HttpClient http;
  HttpResponse r = SendGitHub(http, gateway, ReadFixture("github_push.json"), NewDeliveryId());
  gateway.Kill();
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = ExecutionFor(r, "installer-images");
  ASSERT_FALSE(id.empty()) << r.body;

  deployment.StartWorker();
  SluiceProcess& other = deployment.StartGateway();
  EXPECT_EQ(WaitForEnd(http, other, id), "SUCCESS");
}

}  // namespace
}  // namespace sluice::testing
