// Git hosts' webhooks: signatures (GitHub's published example, GitLab's token and Standard
// Webhooks, Gitea's), secret rotation, the hosts' payloads (fixtures under tests/fixtures), and
// postsubmit matching with its reasons.

#include "gateway/git_event.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/crypto.h"
#include "tests/unit/reply_helpers.h"

namespace sluice {
namespace {

const TimePoint kNow = *ParseRfc3339("2026-11-23T10:00:00Z");

std::vector<const WebhookSecret*> Pointers(const std::vector<WebhookSecret>& secrets) {
  std::vector<const WebhookSecret*> out;
  for (const WebhookSecret& s : secrets) out.push_back(&s);
  return out;
}

// --- Signatures ---

TEST(GitHubSignature, GitHubsPublishedExampleVerifies) {
  // docs.github.com, "Validating webhook deliveries": this secret and body give this signature.
  std::vector<WebhookSecret> secrets = {Secret("It's a Secret to Everybody")};
  HeaderMap headers = {{"x-hub-signature-256",
                        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}};
  EXPECT_TRUE(VerifyGitEvent(GitHost::kGitHub, Pointers(secrets), headers, "Hello, World!", kNow,
                             std::chrono::minutes(5))
                  .ok());
}

TEST(GitHubSignature, AWrongOrMissingSignatureIsUnauthenticatedWithoutRevealingIt) {
  std::vector<WebhookSecret> secrets = {Secret("It's a Secret to Everybody")};
  struct Case {
    HeaderMap headers;
    std::string body;
    std::string reason;
  };
  const std::string good =
      "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
  const Case cases[] = {
      {{}, "Hello, World!", "X-Hub-Signature-256 is missing"},
      {{{"x-hub-signature-256", good}}, "Hello, World?", "matches no configured secret"},
      {{{"x-hub-signature-256", good.substr(7)}}, "Hello, World!", "does not start with sha256="},
      {{{"x-hub-signature-256", "sha256=00"}}, "Hello, World!", "matches no configured secret"},
  };
  for (const Case& c : cases) {
    Status s = VerifyGitEvent(GitHost::kGitHub, Pointers(secrets), c.headers, c.body, kNow,
                              std::chrono::minutes(5));
    EXPECT_EQ(s.code(), Code::kUnauthenticated) << c.reason;
    EXPECT_NE(s.message().find(c.reason), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find("Secret to Everybody"), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find("757107ea"), std::string::npos) << s.message();
  }
}

TEST(GitHubSignature, UpperCaseHexIsAccepted) {
  std::vector<WebhookSecret> secrets = {Secret("It's a Secret to Everybody")};
  HeaderMap headers = {{"x-hub-signature-256",
                        "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"}};
  EXPECT_TRUE(VerifyGitEvent(GitHost::kGitHub, Pointers(secrets), headers, "Hello, World!", kNow,
                             std::chrono::minutes(5))
                  .ok());
}

TEST(SecretRotation, TheOldSecretWorksUntilItsExpiryThenOnlyTheNewOne) {
  WebhookHostConfig config;
  TimePoint expiry = kNow + std::chrono::hours(1);
  config.secrets["openshift/assisted-installer"] = {Secret("new"), Secret("old", expiry)};
  config.secrets["*"] = {Secret("fallback")};
  std::string body = "{}";
  auto signed_with = [&](const std::string& secret) {
    return HeaderMap{{"x-hub-signature-256", "sha256=" + HexEncode(HmacSha256Raw(secret, body))}};
  };
  auto verify = [&](const std::string& secret, TimePoint now) {
    return VerifyGitEvent(GitHost::kGitHub,
                          SecretsFor(config, "openshift", "assisted-installer", now),
                          signed_with(secret), body, now, std::chrono::minutes(5))
        .ok();
  };
  EXPECT_TRUE(verify("new", kNow));
  EXPECT_TRUE(verify("old", kNow));
  EXPECT_FALSE(verify("old", expiry)) << "expired at its expiry";
  EXPECT_TRUE(verify("new", expiry));
  EXPECT_FALSE(verify("fallback", kNow)) << "the most specific scope decides";
  // Another repository of the org falls back to "*".
  EXPECT_EQ(SecretsFor(config, "openshift", "other", kNow).size(), 1u);
  EXPECT_EQ(SecretsFor(config, "openshift", "other", kNow)[0]->secret, "fallback");
}

TEST(SecretScopes, RepoThenOrgThenStar) {
  WebhookHostConfig config;
  config.secrets["acme"] = {Secret("org")};
  config.secrets["acme/widget"] = {Secret("repo")};
  config.secrets["*"] = {Secret("star")};
  EXPECT_EQ(SecretsFor(config, "acme", "widget", kNow)[0]->secret, "repo");
  EXPECT_EQ(SecretsFor(config, "acme", "gadget", kNow)[0]->secret, "org");
  EXPECT_EQ(SecretsFor(config, "other", "x", kNow)[0]->secret, "star");
  WebhookHostConfig none;
  none.secrets["acme"] = {Secret("org")};
  EXPECT_TRUE(SecretsFor(none, "other", "x", kNow).empty());
  EXPECT_EQ(VerifyGitEvent(GitHost::kGitHub, {}, {}, "", kNow, std::chrono::minutes(5)).code(),
            Code::kUnauthenticated);
}

TEST(SigningSecrets, EverySecretOfTheHostIsACandidateAndTheSignersAreNamed) {
  WebhookHostConfig config;
  config.secrets["*"] = {Secret("shared"), Secret("old", kNow - std::chrono::hours(1))};
  config.secrets["acme"] = {Secret("org")};
  config.secrets["acme/widget"] = {Secret("shared")};  // the same value in a second scope
  std::vector<const WebhookSecret*> all = AllSecrets(config, kNow);
  EXPECT_EQ(all.size(), 3u) << "every scope's unexpired secrets";

  const std::string body = "not JSON: the body is never read here";
  auto signed_with = [&](const std::string& secret) {
    HeaderMap headers = {
        {"x-hub-signature-256", "sha256=" + HexEncode(HmacSha256Raw(secret, body))}};
    return SigningSecrets(GitHost::kGitHub, all, headers, body, kNow, std::chrono::minutes(5));
  };
  auto org = signed_with("org");
  ASSERT_TRUE(org.ok()) << org.status().message();
  ASSERT_EQ(org->size(), 1u);
  EXPECT_EQ((*org)[0], &config.secrets["acme"][0]);
  auto shared = signed_with("shared");
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(shared->size(), 2u) << "both scopes that hold the value signed it";
  EXPECT_EQ(signed_with("old").status().code(), Code::kUnauthenticated) << "expired";
  EXPECT_EQ(signed_with("guess").status().code(), Code::kUnauthenticated);
}

TEST(GitLabToken, ComparedWholeAgainstEachSecret) {
  std::vector<WebhookSecret> secrets = {Secret("first"), Secret("second")};
  auto verify = [&](HeaderMap headers) {
    return VerifyGitEvent(GitHost::kGitLab, Pointers(secrets), headers, "{}", kNow,
                          std::chrono::minutes(5));
  };
  EXPECT_TRUE(verify({{"x-gitlab-token", "second"}}).ok());
  EXPECT_EQ(verify({{"x-gitlab-token", "secon"}}).code(), Code::kUnauthenticated);
  EXPECT_EQ(verify({{"x-gitlab-token", "second "}}).code(), Code::kUnauthenticated);
  EXPECT_EQ(verify({}).code(), Code::kUnauthenticated);
}

TEST(GitLabStandardWebhooks, SignatureOverIdTimestampAndBodyWithinTheTolerance) {
  std::string key = "a signing key of 24 bytes";
  std::vector<WebhookSecret> secrets = {Secret("whsec_" + Base64Encode(key))};
  std::string body = R"({"object_kind":"push"})";
  auto headers = [&](TimePoint sent, const std::string& signed_body) {
    std::string ts = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(sent.time_since_epoch()).count());
    std::string sig = Base64Encode(HmacSha256Raw(key, "msg_1." + ts + "." + signed_body));
    return HeaderMap{{"webhook-id", "msg_1"},
                     {"webhook-timestamp", ts},
                     {"webhook-signature", "v1,bm90IHRoaXMgb25l v1," + sig}};
  };
  auto verify = [&](HeaderMap h) {
    return VerifyGitEvent(GitHost::kGitLab, Pointers(secrets), h, body, kNow,
                          std::chrono::minutes(5));
  };
  EXPECT_TRUE(verify(headers(kNow - std::chrono::minutes(4), body)).ok());
  EXPECT_EQ(verify(headers(kNow - std::chrono::minutes(6), body)).code(), Code::kUnauthenticated);
  EXPECT_EQ(verify(headers(kNow + std::chrono::minutes(6), body)).code(), Code::kUnauthenticated);
  EXPECT_EQ(verify(headers(kNow, body + " ")).code(), Code::kUnauthenticated);
  HeaderMap no_id = headers(kNow, body);
  no_id.erase("webhook-id");
  EXPECT_EQ(verify(no_id).code(), Code::kUnauthenticated);
}

TEST(GiteaSignature, HexHmacOfTheBodyInEitherHeader) {
  std::vector<WebhookSecret> secrets = {Secret("gitea secret")};
  std::string body = Fixture("gitea_push.json");
  std::string sig = HexEncode(HmacSha256Raw("gitea secret", body));
  auto verify = [&](HeaderMap h) {
    return VerifyGitEvent(GitHost::kGitea, Pointers(secrets), h, body, kNow,
                          std::chrono::minutes(5));
  };
  EXPECT_TRUE(verify({{"x-gitea-signature", sig}}).ok());
  EXPECT_TRUE(verify({{"x-forgejo-signature", sig}}).ok());
  EXPECT_EQ(verify({{"x-gitea-signature", HexEncode(HmacSha256Raw("other", body))}}).code(),
            Code::kUnauthenticated);
  EXPECT_EQ(verify({}).code(), Code::kUnauthenticated);
}

// --- Payloads ---

TEST(ParseGitEvent, EveryHostsFixturesReadAsTheirKind) {
  struct Case {
    GitHost host;
    std::string file;
    HeaderMap headers;
    GitEvent::Kind kind;
    std::string full_name;
    std::string branch_or_tag;
  };
  const Case cases[] = {
      {GitHost::kGitHub,
       "github_push.json",
       {{"x-github-event", "push"}},
       GitEvent::Kind::kBranchPush,
       "openshift/assisted-installer",
       "release-4.12"},
      {GitHost::kGitHub,
       "github_tag.json",
       {{"x-github-event", "push"}},
       GitEvent::Kind::kTagPush,
       "openshift/assisted-installer",
       "v4.12.3"},
      {GitHost::kGitHub,
       "github_delete.json",
       {{"x-github-event", "push"}},
       GitEvent::Kind::kBranchDeleted,
       "openshift/assisted-installer",
       "feature-x"},
      {GitHost::kGitHub,
       "github_ping.json",
       {{"x-github-event", "ping"}},
       GitEvent::Kind::kPing,
       "openshift/assisted-installer",
       ""},
      {GitHost::kGitHub,
       "github_push.json",
       {{"x-github-event", "create"}},
       GitEvent::Kind::kIgnored,
       "openshift/assisted-installer",
       ""},
      {GitHost::kGitLab,
       "gitlab_push.json",
       {{"x-gitlab-event", "Push Hook"}},
       GitEvent::Kind::kBranchPush,
       "group/project",
       "main"},
      {GitHost::kGitLab,
       "gitlab_tag.json",
       {{"x-gitlab-event", "Tag Push Hook"}},
       GitEvent::Kind::kTagPush,
       "group/project",
       "v1.2.0"},
      {GitHost::kGitLab,
       "gitlab_delete.json",
       {{"x-gitlab-event", "Push Hook"}},
       GitEvent::Kind::kBranchDeleted,
       "group/project",
       "feature-x"},
      {GitHost::kGitLab,
       "gitlab_push.json",
       {{"x-gitlab-event", "Merge Request Hook"}},
       GitEvent::Kind::kIgnored,
       "group/project",
       ""},
      {GitHost::kGitea,
       "gitea_push.json",
       {{"x-gitea-event", "push"}},
       GitEvent::Kind::kBranchPush,
       "acme/widget",
       "main"},
      {GitHost::kGitea,
       "gitea_tag.json",
       {{"x-forgejo-event", "push"}},
       GitEvent::Kind::kTagPush,
       "acme/widget",
       "v0.9.0"},
      {GitHost::kGitea,
       "gitea_delete.json",
       {{"x-gitea-event", "push"}},
       GitEvent::Kind::kBranchDeleted,
       "acme/widget",
       "old-feature"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file + " as " + c.headers.begin()->second);
    auto e = ParseGitEvent(c.host, c.headers, "application/json", Fixture(c.file));
    ASSERT_TRUE(e.ok()) << e.status().message();
    EXPECT_EQ(e->kind, c.kind) << GitEventKindName(e->kind);
    EXPECT_EQ(e->FullName(), c.full_name);
    std::string name = e->kind == GitEvent::Kind::kTagPush ? e->tag : e->branch;
    EXPECT_EQ(name, c.branch_or_tag);
  }
}

TEST(ParseGitEvent, AGitHubPushGivesTheRefsAJobNeeds) {
  auto e = ParseGitEvent(GitHost::kGitHub,
                         {{"x-github-event", "push"}, {"x-github-delivery", "72d3162e-cc78"}},
                         "application/json", Fixture("github_push.json"));
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->delivery_id, "72d3162e-cc78");
  EXPECT_EQ(e->org, "openshift");
  EXPECT_EQ(e->repo, "assisted-installer");
  EXPECT_EQ(e->sha, "a336f38f75f91a876313daacbf097f25dfe21bbf");
  EXPECT_EQ(e->pusher, "release-bot");
  EXPECT_EQ(e->repo_link, "https://github.com/openshift/assisted-installer");
  EXPECT_EQ(e->clone_uri, "https://github.com/openshift/assisted-installer.git");
  EXPECT_EQ(e->compare_link,
            "https://github.com/openshift/assisted-installer/compare/bc8fd4d3f1f7...a336f38f75f9");
}

TEST(ParseGitEvent, GitHubsFormEncodingCarriesTheJsonInPayload) {
  std::string json = Fixture("github_push.json");
  std::string form = "payload=";
  for (unsigned char c : json) {
    if (std::isalnum(c)) {
      form.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      form += buf;
    }
  }
  auto e = ParseGitEvent(GitHost::kGitHub, {{"x-github-event", "push"}},
                         "application/x-www-form-urlencoded", form);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->branch, "release-4.12");
}

TEST(ParseGitEvent, GitLabsDeliveryIdPrefersIdempotencyKey) {
  HeaderMap h = {{"x-gitlab-event", "Push Hook"},
                 {"x-gitlab-event-uuid", "uuid-1"},
                 {"webhook-id", "msg-1"},
                 {"idempotency-key", "key-1"}};
  EXPECT_EQ(GitDeliveryId(GitHost::kGitLab, h), "key-1");
  h.erase("idempotency-key");
  EXPECT_EQ(GitDeliveryId(GitHost::kGitLab, h), "msg-1");
  h.erase("webhook-id");
  EXPECT_EQ(GitDeliveryId(GitHost::kGitLab, h), "uuid-1");
}

TEST(ParseGitEvent, RefusesWhatItCannotRead) {
  EXPECT_EQ(ParseGitEvent(GitHost::kGitHub, {}, "application/json", "{}").status().code(),
            Code::kInvalidArgument)
      << "no event type";
  EXPECT_EQ(
      ParseGitEvent(GitHost::kGitHub, {{"x-github-event", "push"}}, "application/json", "not json")
          .status()
          .code(),
      Code::kInvalidArgument);
  EXPECT_EQ(ParseGitEvent(GitHost::kGitHub, {{"x-github-event", "push"}}, "application/json",
                          R"({"ref": "refs/heads/main"})")
                .status()
                .code(),
            Code::kInvalidArgument)
      << "no repository";
  EXPECT_EQ(ParseGitEvent(GitHost::kGitLab, {{"x-gitlab-event", "Push Hook"}},
                          "application/x-www-form-urlencoded", "payload=%7B%7D")
                .status()
                .code(),
            Code::kInvalidArgument)
      << "forms are GitHub's only";
}

// --- Matching ---

TEST(MatchPostsubmits, EachJobMatchesOrSaysWhyNot) {
  JobConfig periodic;
  periodic.name = "nightly";
  periodic.type = JobType::kPeriodic;
  std::vector<JobConfig> jobs = {
      Postsubmit("images", "openshift/assisted-installer", {"^release-4\\.12$"}),
      Postsubmit("other-repo", "openshift/installer", {}),
      Postsubmit("not-release", "openshift/assisted-installer", {"^master$"}),
      Postsubmit("skipper", "openshift/assisted-installer", {}, {"^release-"}),
      Postsubmit("any", "", {}),
      periodic,
  };
  auto e = ParseGitEvent(GitHost::kGitHub, {{"x-github-event", "push"}}, "application/json",
                         Fixture("github_push.json"));
  ASSERT_TRUE(e.ok());
  std::vector<JobMatch> m = MatchPostsubmits(jobs, *e);
  ASSERT_EQ(m.size(), 5u) << "periodic jobs are not postsubmits";
  EXPECT_TRUE(m[0].matched) << m[0].reason;
  EXPECT_FALSE(m[1].matched);
  EXPECT_NE(m[1].reason.find("repo differs"), std::string::npos) << m[1].reason;
  EXPECT_FALSE(m[2].matched);
  EXPECT_NE(m[2].reason.find("branch regex"), std::string::npos) << m[2].reason;
  EXPECT_FALSE(m[3].matched);
  EXPECT_NE(m[3].reason.find("skip_branches"), std::string::npos) << m[3].reason;
  EXPECT_TRUE(m[4].matched) << m[4].reason;
}

TEST(MatchPostsubmits, TagsMatchOnlyJobsWithATagRule) {
  std::vector<JobConfig> jobs = {
      Postsubmit("release", "openshift/assisted-installer", {}, {}, {"^v4\\."}),
      Postsubmit("branches-only", "openshift/assisted-installer", {}),
      Postsubmit("v5", "openshift/assisted-installer", {}, {}, {"^v5\\."}),
  };
  auto e = ParseGitEvent(GitHost::kGitHub, {{"x-github-event", "push"}}, "application/json",
                         Fixture("github_tag.json"));
  ASSERT_TRUE(e.ok());
  std::vector<JobMatch> m = MatchPostsubmits(jobs, *e);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_TRUE(m[0].matched) << m[0].reason;
  EXPECT_FALSE(m[1].matched);
  EXPECT_NE(m[1].reason.find("tag rule"), std::string::npos) << m[1].reason;
  EXPECT_FALSE(m[2].matched);
  EXPECT_NE(m[2].reason.find("tag rule"), std::string::npos) << m[2].reason;
}

TEST(MatchPostsubmits, AJobWithTagsAndNoBranchesIsForTagsOnly) {
  std::vector<JobConfig> jobs = {
      Postsubmit("release", "openshift/assisted-installer", {}, {}, {"^v4\\."}),
      Postsubmit("both", "openshift/assisted-installer", {"^release-"}, {}, {"^v4\\."}),
  };
  auto e = ParseGitEvent(GitHost::kGitHub, {{"x-github-event", "push"}}, "application/json",
                         Fixture("github_push.json"));
  ASSERT_TRUE(e.ok());
  std::vector<JobMatch> m = MatchPostsubmits(jobs, *e);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_FALSE(m[0].matched);
  EXPECT_NE(m[0].reason.find("tags but no branches"), std::string::npos) << m[0].reason;
  EXPECT_TRUE(m[1].matched) << m[1].reason;
}

TEST(MatchPostsubmits, ABranchDeletionOrPingTriggersNothing) {
  std::vector<JobConfig> jobs = {Postsubmit("any", "", {})};
  for (const char* file : {"github_delete.json", "github_ping.json"}) {
    std::string type = std::string(file) == "github_ping.json" ? "ping" : "push";
    auto e = ParseGitEvent(GitHost::kGitHub, {{"x-github-event", type}}, "application/json",
                           Fixture(file));
    ASSERT_TRUE(e.ok()) << file;
    std::vector<JobMatch> m = MatchPostsubmits(jobs, *e);
    ASSERT_EQ(m.size(), 1u);
    EXPECT_FALSE(m[0].matched) << file;
    EXPECT_NE(m[0].reason.find("triggers nothing"), std::string::npos) << m[0].reason;
  }
}

TEST(WhyNothingTriggers, ReadsAsASentenceForEveryEventThatStartsNoJob) {
  struct Case {
    const char* event_type;
    std::string body;
    std::string reason;
  };
  const Case cases[] = {
      {"issues", R"({"action":"opened","repository":{"full_name":"o/r"}})",
       "event \"issues\" is ignored: only push and tag push events trigger jobs"},
      {"push",
       R"({"ref":"refs/notes/commits","after":"a336f38f75f91a876313daacbf097f25dfe21bbf",)"
       R"("repository":{"full_name":"o/r"}})",
       "ref \"refs/notes/commits\" is neither a branch nor a tag; only branch and tag pushes "
       "trigger jobs"},
      {"push", Fixture("github_delete.json"),
       "branch feature-x was deleted; a deletion triggers nothing"},
      {"ping", Fixture("github_ping.json"), "a ping only checks the hook; it triggers nothing"},
  };
  std::vector<JobConfig> jobs = {Postsubmit("any", "", {})};
  for (const Case& c : cases) {
    auto e = ParseGitEvent(GitHost::kGitHub, {{"x-github-event", c.event_type}}, "application/json",
                           c.body);
    ASSERT_TRUE(e.ok()) << c.reason << ": " << e.status().ToString();
    EXPECT_EQ(WhyNothingTriggers(*e), c.reason);
    std::vector<JobMatch> m = MatchPostsubmits(jobs, *e);
    ASSERT_EQ(m.size(), 1u);
    EXPECT_FALSE(m[0].matched);
    EXPECT_EQ(m[0].reason, c.reason);
  }
}

}  // namespace
}  // namespace sluice
