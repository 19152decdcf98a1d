// The webhook routes through GatewayService: POST /hooks/{github,gitlab,gitea} (signatures,
// limits, storing a delivery in the events topic before answering, redeliveries, dry runs),
// POST /v1/events/{host}/{id}/replay and GET /v1/events, with a fake publisher and a manual clock.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/execution_id.h"
#include "common/git_delivery.h"
#include "fakes.h"
#include "gateway/api.h"
#include "gateway/gateway_service.h"
#include "gateway/webhooks.h"
#include "tests/unit/reply_helpers.h"

namespace sluice {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

constexpr const char* kPublicUrl = "https://sluice.example";
constexpr const char* kGitHubSecret = "gh-secret";
constexpr const char* kGitLabToken = "gl-token";
constexpr const char* kGiteaSecret = "gitea-secret";
constexpr const char* kAdminToken = "admin-token";
constexpr const char* kCiToken = "ci-token";
constexpr size_t kGitHubMaxBody = 4096;

// The postsubmits a push of openshift/assisted-installer's release-4.12 is matched against.
const std::vector<std::string> kPostsubmits = {"images", "installer-e2e", "other-repo",
                                               "gitlab-build", "gitea-build"};

std::string GitHubSignature(const std::string& secret, const std::string& body) {
  return "sha256=" + HexEncode(HmacSha256Raw(secret, body));
}

ClientConfig Client(std::string name, std::string_view token, std::vector<std::string> allow,
                    bool admin) {
  ClientConfig c;
  c.name = std::move(name);
  c.token_sha256 = Sha256Hex(token);
  c.allow_jobs = std::move(allow);
  c.admin = admin;
  return c;
}

// The members `key` of an array's objects, in order.
std::vector<std::string> Column(const rapidjson::Value& array, const char* key) {
  std::vector<std::string> out;
  if (!array.IsArray()) return out;
  for (const auto& v : array.GetArray()) out.push_back(Str(v, key));
  return out;
}

// The error body of the contract: {"code": <code>, "message": "...", "details": []}.
void ExpectError(const ApiReply& reply, int http, Code code, const std::string& message = "") {
  EXPECT_EQ(reply.status, http) << reply.body;
  rapidjson::Document doc = Json(reply.body);
  ASSERT_TRUE(doc.IsObject()) << reply.body;
  ASSERT_TRUE(doc.HasMember("code") && doc["code"].IsInt()) << reply.body;
  EXPECT_EQ(doc["code"].GetInt(), static_cast<int>(code)) << reply.body;
  EXPECT_NE(Str(doc, "message").find(message), std::string::npos) << reply.body;
}

// A GitHub push fixture of another repository.
std::string GitHubPushOf(const std::string& full_name) {
  std::string body = Fixture("github_push.json");
  const std::string from = "openshift/assisted-installer";
  for (size_t at = body.find(from); at != std::string::npos; at = body.find(from, at)) {
    body.replace(at, from.size(), full_name);
    at += full_name.size();
  }
  return body;
}

// Replies that may come from another thread, with the thread that sent each.
class ReplyCollector {
 public:
  ReplyFn Fn() {
    return [this](ApiReply r) {
      std::lock_guard<std::mutex> lock(mutex_);
      replies_.emplace_back(std::move(r), std::this_thread::get_id());
      arrived_.notify_all();
    };
  }
  // The first reply, once it came (status 0 if none within 10 s).
  std::pair<ApiReply, std::thread::id> WaitFirst() {
    std::unique_lock<std::mutex> lock(mutex_);
    bool came =
        arrived_.wait_for(lock, std::chrono::seconds(10), [&] { return !replies_.empty(); });
    EXPECT_TRUE(came) << "no reply within 10 s";
    if (!came) return {ApiReply{0, "", "", {}, {}}, std::thread::id()};
    return replies_.front();
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mutex_);
    return replies_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::pair<ApiReply, std::thread::id>> replies_;
};

class WebhooksApiTest : public ::testing::Test {
 protected:
  WebhooksApiTest()
      : config_(MakeConfig()),
        deliveries_(hours(7 * 24)),
        settings_(MakeWebhooks()),
        service_(config_, publisher_, view_, clock_, std::nullopt,
                 WebhookViews{deliveries_, settings_, [this] { return caught_up_; }}) {}

  static Config MakeConfig() {
    Config c;
    c.gateway.public_url = kPublicUrl;
    c.clients.push_back(Client("ops", kAdminToken, {}, true));
    c.clients.push_back(Client("ci", kCiToken, {"images", "other-*"}, false));
    c.jobs.push_back(Postsubmit("images", "openshift/assisted-installer", {"^release-"},
                                {"^release-4\\.11$"}, {"^v4\\."}));
    c.jobs.push_back(Postsubmit("installer-e2e", "openshift/assisted-installer", {"^release-"}));
    c.jobs.push_back(Postsubmit("other-repo", "openshift/installer", {}));
    c.jobs.push_back(Postsubmit("gitlab-build", "group/project", {"^main$"}));
    c.jobs.push_back(Postsubmit("gitea-build", "acme/widget", {"^main$"}));
    JobConfig nightly;
    nightly.name = "nightly";
    nightly.type = JobType::kPeriodic;
    nightly.command = {"true"};
    c.jobs.push_back(nightly);
    return c;
  }

  // GitHub and GitLab are configured; Gitea is not.
  static WebhooksConfig MakeWebhooks() {
    WebhooksConfig w;
    w.hosts[GitHost::kGitHub].secrets["*"] = {Secret(kGitHubSecret)};
    w.hosts[GitHost::kGitHub].max_body_bytes = kGitHubMaxBody;
    w.hosts[GitHost::kGitLab].secrets["group/project"] = {Secret(kGitLabToken)};
    return w;
  }

  static ApiRequest GitHub(const std::string& delivery, const std::string& body,
                           const std::string& event = "push",
                           const std::string& secret = kGitHubSecret) {
    ApiRequest r;
    r.method = "POST";
    r.path = "/hooks/github";
    r.content_type = "application/json";
    r.body = body;
    r.headers = {{"content-type", "application/json"},
                 {"user-agent", "GitHub-Hookshot/044aadd"},
                 {"x-github-event", event},
                 {"x-github-hook-id", "292430182"}};
    if (!delivery.empty()) r.headers["x-github-delivery"] = delivery;
    if (!secret.empty()) r.headers["x-hub-signature-256"] = GitHubSignature(secret, body);
    return r;
  }
  static ApiRequest GitHubPush(const std::string& delivery,
                               const std::string& secret = kGitHubSecret) {
    return GitHub(delivery, Fixture("github_push.json"), "push", secret);
  }
  static ApiRequest WithAuth(ApiRequest r, const std::string& token) {
    r.authorization = "Bearer " + token;
    return r;
  }
  static ApiRequest Api(std::string method, std::string path, const std::string& token) {
    ApiRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    if (!token.empty()) r.authorization = "Bearer " + token;
    return r;
  }

  // Hands the request to the service; the returned list fills as the service replies (possibly
  // from a FakePublisher completion).
  std::shared_ptr<std::vector<ApiReply>> Send(const ApiRequest& request) {
    return sluice::Send(service_, request);
  }
  // For calls answered without Kafka: exactly one reply, at once.
  ApiReply Call(const ApiRequest& request) { return sluice::Call(service_, request); }
  // Sends a delivery that publishes one record, acknowledges it and returns the one answer.
  ApiReply Stored(const ApiRequest& request) {
    size_t index = publisher_.size();
    auto replies = Send(request);
    EXPECT_EQ(publisher_.size(), index + 1) << "one record per delivery";
    EXPECT_TRUE(replies->empty()) << "answered before Kafka had the delivery";
    if (publisher_.size() == index + 1) publisher_.Complete(index);
    EXPECT_EQ(replies->size(), 1u);
    return replies->empty() ? ApiReply{0, "", "", {}, {}} : replies->front();
  }
  // The last published events record, decoded.
  DeliveryRecord LastPublished() {
    auto records = publisher_.records();
    EXPECT_FALSE(records.empty());
    if (records.empty()) return {};
    EXPECT_EQ(records.back().topic, config_.kafka.EventsTopic());
    StatusOr<DeliveryRecord> r = DecodeDeliveryRecord(records.back().value);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : DeliveryRecord{};
  }

  Config config_;
  FakePublisher publisher_;
  FakeStatusView view_;
  ManualClock clock_;
  DeliveryStore deliveries_;
  WebhookSettings settings_;
  bool caught_up_ = true;
  GatewayService service_;  // last: its deadline thread stops before the rest goes
};

// --- Receiving a delivery ---

TEST_F(WebhooksApiTest, AVerifiedPushIsStoredInTheEventsTopicBeforeItIsAnswered) {
  const std::string body = Fixture("github_push.json");
  auto replies = Send(GitHubPush("d-1"));
  EXPECT_TRUE(replies->empty()) << "no answer before Kafka has the delivery";
  ASSERT_EQ(publisher_.size(), 1u);
  FakePublisher::Record published = publisher_.records()[0];
  EXPECT_EQ(published.topic, config_.kafka.EventsTopic());
  EXPECT_EQ(published.key, "github/d-1");

  StatusOr<DeliveryRecord> record = DecodeDeliveryRecord(published.value);
  ASSERT_TRUE(record.ok()) << record.status().message();
  EXPECT_EQ(record->body, body) << "the body is kept whole";
  EXPECT_EQ(record->replay, 0);
  EXPECT_EQ(record->received_at, clock_.Now());
  EXPECT_EQ(record->event.branch, "release-4.12");
  EXPECT_EQ(record->headers.count("x-hub-signature-256"), 0u) << "signatures are not kept";
  EXPECT_EQ(record->headers.at("x-github-event"), "push");
  EXPECT_EQ(record->headers.at("x-github-hook-id"), "292430182");
  const std::string images_id = ExecutionIdForDelivery("github", "d-1", 0, "images");
  const std::string e2e_id = ExecutionIdForDelivery("github", "d-1", 0, "installer-e2e");
  std::vector<std::string> matched;
  for (const JobMatch* m : record->Matched()) matched.push_back(m->execution_id);
  EXPECT_EQ(matched, (std::vector<std::string>{images_id, e2e_id}));
  EXPECT_FALSE(deliveries_.Get(GitHost::kGitHub, "d-1")) << "not stored until Kafka has it";

  publisher_.Complete(0);
  ASSERT_EQ(replies->size(), 1u);
  const ApiReply& reply = replies->front();
  EXPECT_EQ(reply.status, 202) << reply.body;
  rapidjson::Document doc = Json(reply.body);
  EXPECT_EQ(Str(doc, "delivery"), "github/d-1");
  EXPECT_EQ(Str(doc, "outcome"), "triggered");
  EXPECT_EQ(Str(doc, "repo"), "openshift/assisted-installer");
  ASSERT_TRUE(doc.HasMember("executions") && doc["executions"].IsArray()) << reply.body;
  EXPECT_EQ(Column(doc["executions"], "job"),
            (std::vector<std::string>{"images", "installer-e2e"}));
  EXPECT_EQ(Column(doc["executions"], "id"), (std::vector<std::string>{images_id, e2e_id}));
  EXPECT_EQ(Str(doc["executions"][0], "url"),
            std::string(kPublicUrl) + "/v1/executions/" + images_id);
  EXPECT_EQ(Column(doc["not_matched"], "job"),
            (std::vector<std::string>{"other-repo", "gitlab-build", "gitea-build"}));
  EXPECT_NE(Str(doc["not_matched"][0], "reason").find("repo differs"), std::string::npos)
      << reply.body;
  EXPECT_TRUE(deliveries_.Get(GitHost::kGitHub, "d-1")) << "a redelivery here is known at once";
}

TEST_F(WebhooksApiTest, ADeliveryKafkaDidNotStoreIs503AndMayBeRedelivered) {
  auto replies = Send(GitHubPush("d-1"));
  ASSERT_EQ(publisher_.size(), 1u);
  publisher_.Complete(0, Unavailable("broker down"));
  ASSERT_EQ(replies->size(), 1u);
  ExpectError(replies->front(), 503, Code::kUnavailable, "nothing was triggered");
  EXPECT_EQ(Header(replies->front(), "Retry-After"), "5");
  EXPECT_FALSE(deliveries_.Get(GitHost::kGitHub, "d-1"));

  EXPECT_EQ(Stored(GitHubPush("d-1")).status, 202) << "the redelivery is stored";
  EXPECT_EQ(publisher_.records()[1].key, "github/d-1");
}

TEST_F(WebhooksApiTest, APublishThatFailsAtOnceIs503) {
  publisher_.FailImmediately(Unavailable("queue full"));
  ApiReply reply = Call(GitHubPush("d-1"));
  ExpectError(reply, 503, Code::kUnavailable);
  EXPECT_TRUE(Header(reply, "Retry-After"));
}

TEST_F(WebhooksApiTest, AnUnverifiedDeliveryIs401AndNothingIsPublished) {
  const std::string body = Fixture("github_push.json");
  struct Case {
    const char* name;
    ApiRequest request;
    std::string message;
  };
  ApiRequest tampered = GitHubPush("d-1");
  tampered.body += " ";
  ApiRequest malformed = GitHubPush("d-1");
  malformed.headers["x-hub-signature-256"] = "sha1=abc";
  const Case cases[] = {
      {"signed with another secret", GitHubPush("d-1", "not-the-secret"), "no configured secret"},
      {"no signature", GitHubPush("d-1", ""), "X-Hub-Signature-256 is missing"},
      {"body changed after signing", tampered, "no configured secret"},
      {"malformed signature", malformed, "sha256="},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ApiReply reply = Call(c.request);
    ExpectError(reply, 401, Code::kUnauthenticated, c.message);
    EXPECT_EQ(reply.body.find(kGitHubSecret), std::string::npos) << reply.body;
  }
  EXPECT_EQ(publisher_.size(), 0u);
  EXPECT_FALSE(deliveries_.Get(GitHost::kGitHub, "d-1"));
}

TEST_F(WebhooksApiTest, TheSignatureIsCheckedBeforeTheBodyIsRead) {
  const std::string not_json = "this is not JSON {";
  ExpectError(Call(GitHub("d-1", not_json, "push", "")), 401, Code::kUnauthenticated,
              "X-Hub-Signature-256 is missing");
  ExpectError(Call(GitHub("d-2", not_json, "push", "not-the-secret")), 401, Code::kUnauthenticated,
              "no configured secret");
  // Only a signed body is read, and then found not to be JSON.
  ExpectError(Call(GitHub("d-3", not_json)), 400, Code::kInvalidArgument, "not JSON");
  EXPECT_EQ(publisher_.size(), 0u);
}

TEST_F(WebhooksApiTest, ABodyOverTheHostsLimitIs413) {
  std::string body = Fixture("github_push.json");
  ASSERT_LT(body.size(), kGitHubMaxBody);
  body.append(kGitHubMaxBody - body.size(), ' ');  // JSON may end in whitespace
  EXPECT_EQ(Stored(GitHub("at-limit", body)).status, 202) << "exactly at the limit";

  ApiReply reply = Call(GitHub("over-limit", body + " "));
  ExpectError(reply, 413, Code::kInvalidArgument, std::to_string(kGitHubMaxBody));
  EXPECT_EQ(publisher_.size(), 1u);
}

TEST_F(WebhooksApiTest, RequestsThatNameNoConfiguredWebhookAreRefused) {
  ApiRequest gitea = GitHubPush("d-1");
  gitea.path = "/hooks/gitea";
  ExpectError(Call(gitea), 404, Code::kNotFound, "webhooks.gitea.secrets");
  ApiRequest unknown = GitHubPush("d-1");
  unknown.path = "/hooks/bitbucket";
  ExpectError(Call(unknown), 404, Code::kNotFound, "/hooks/github");
  ApiRequest get = GitHubPush("d-1");
  get.method = "GET";
  ApiReply reply = Call(get);
  EXPECT_EQ(reply.status, 405) << reply.body;
  EXPECT_EQ(Header(reply, "Allow"), "POST");
  EXPECT_EQ(publisher_.size(), 0u);
}

TEST_F(WebhooksApiTest, QueryParametersOtherThanDryRunAre400) {
  ApiRequest extra = GitHubPush("d-1");
  extra.query = {{"job", "images"}};
  ExpectError(Call(extra), 400, Code::kInvalidArgument, "unknown query parameter \"job\"");
  ApiRequest bad = WithAuth(GitHubPush("d-1"), kAdminToken);
  bad.query = {{"dry_run", "maybe"}};
  ExpectError(Call(bad), 400, Code::kInvalidArgument, "dry_run");
  EXPECT_EQ(publisher_.size(), 0u);
}

TEST_F(WebhooksApiTest, ADeliveryWithoutItsIdIs400) {
  ApiReply reply = Call(GitHubPush(""));
  ExpectError(reply, 400, Code::kInvalidArgument, "X-GitHub-Delivery");
  EXPECT_EQ(publisher_.size(), 0u);
}

TEST_F(WebhooksApiTest, AnEventTypeSluiceDoesNotActOnIsStoredAndIgnored) {
  ApiReply reply = Stored(GitHub("d-issue", Fixture("github_push.json"), "issues"));
  EXPECT_EQ(reply.status, 202) << reply.body;
  rapidjson::Document doc = Json(reply.body);
  EXPECT_EQ(Str(doc, "outcome"), "ignored");
  EXPECT_NE(Str(doc, "message").find("\"issues\""), std::string::npos) << reply.body;
  EXPECT_TRUE(doc["executions"].Empty()) << reply.body;
  EXPECT_TRUE(DeliveryTriggers(LastPublished(), clock_.Now()).empty());
}

TEST_F(WebhooksApiTest, APingIsAnswered200) {
  ApiReply reply = Stored(GitHub("d-ping", Fixture("github_ping.json"), "ping"));
  EXPECT_EQ(reply.status, 200) << reply.body;
  rapidjson::Document doc = Json(reply.body);
  EXPECT_EQ(Str(doc, "outcome"), "ping");
  EXPECT_TRUE(doc["executions"].Empty()) << reply.body;
}

TEST_F(WebhooksApiTest, ABranchDeletionTriggersNothing) {
  ApiReply reply = Stored(GitHub("d-del", Fixture("github_delete.json")));
  EXPECT_EQ(reply.status, 202) << reply.body;
  rapidjson::Document doc = Json(reply.body);
  EXPECT_EQ(Str(doc, "outcome"), "deletion");
  EXPECT_EQ(Str(doc, "kind"), "branch deleted");
  EXPECT_TRUE(doc["executions"].Empty()) << reply.body;
  DeliveryRecord published = LastPublished();
  EXPECT_TRUE(published.Matched().empty());
  EXPECT_TRUE(DeliveryTriggers(published, clock_.Now()).empty());
}

TEST_F(WebhooksApiTest, ATagPushTriggersTheJobsWithAMatchingTagRule) {
  ApiReply reply = Stored(GitHub("d-tag", Fixture("github_tag.json")));
  EXPECT_EQ(reply.status, 202) << reply.body;
  rapidjson::Document doc = Json(reply.body);
  EXPECT_EQ(Column(doc["executions"], "job"), std::vector<std::string>{"images"});
  std::vector<Trigger> triggers = DeliveryTriggers(LastPublished(), clock_.Now());
  ASSERT_EQ(triggers.size(), 1u);
  ASSERT_TRUE(triggers[0].refs);
  EXPECT_EQ(triggers[0].refs->base_ref, "v4.12.3");
}

// --- Redeliveries ---

TEST_F(WebhooksApiTest, ARedeliveryIsAnsweredAsTheFirstDeliveryWithoutPublishing) {
  ApiReply first = Stored(GitHubPush("d-1"));
  ASSERT_EQ(first.status, 202);
  clock_.Advance(minutes(5));
  ApiReply again = Call(GitHubPush("d-1"));
  EXPECT_EQ(again.status, first.status);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(Header(again, "X-Sluice-Redelivery"), "true");
  EXPECT_FALSE(Header(first, "X-Sluice-Redelivery"));
  EXPECT_EQ(publisher_.size(), 1u);
}

TEST_F(WebhooksApiTest, ARedeliveryStillNeedsAValidSignature) {
  ASSERT_EQ(Stored(GitHubPush("d-1")).status, 202);
  ExpectError(Call(GitHubPush("d-1", "wrong")), 401, Code::kUnauthenticated);
}

TEST_F(WebhooksApiTest, ADeliveryAnotherGatewayStoredIsARedeliveryHere) {
  DeliveryRecord r;
  r.event.host = GitHost::kGitHub;
  r.event.kind = GitEvent::Kind::kBranchPush;
  r.event.event_type = "push";
  r.event.delivery_id = "d-elsewhere";
  r.received_at = clock_.Now() - minutes(1);
  r.matches = {{"images", true, "elsewhere", ""}};
  AssignExecutionIds(GitHost::kGitHub, "d-elsewhere", 0, r.matches);
  deliveries_.Apply(r.Key(), EncodeDeliveryRecord(r));

  ApiReply reply = Call(GitHubPush("d-elsewhere"));
  EXPECT_EQ(reply.status, 202) << reply.body;
  EXPECT_EQ(Header(reply, "X-Sluice-Redelivery"), "true");
  rapidjson::Document doc = Json(reply.body);
  EXPECT_EQ(Column(doc["executions"], "id"), std::vector<std::string>{r.matches[0].execution_id});
  EXPECT_EQ(publisher_.size(), 0u);
}

// --- Large bodies ---

TEST_F(WebhooksApiTest, ALargeBodyIsVerifiedOffTheCallingThreadAndASmallOneInline) {
  WebhooksConfig large = MakeWebhooks();
  large.hosts[GitHost::kGitHub].max_body_bytes = 1024 * 1024;
  settings_.Replace(large);
  std::string body = Fixture("github_push.json");
  body.append(200 * 1024 - body.size(), ' ');

  ReplyCollector unsigned_large;
  service_.Handle(GitHub("big-1", body, "push", ""), unsigned_large.Fn());
  auto [refused, refused_on] = unsigned_large.WaitFirst();
  ExpectError(refused, 401, Code::kUnauthenticated, "X-Hub-Signature-256 is missing");
  EXPECT_NE(refused_on, std::this_thread::get_id());

  ReplyCollector signed_large;
  service_.Handle(GitHub("big-2", body), signed_large.Fn());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (publisher_.size() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(publisher_.size(), 1u);
  EXPECT_EQ(signed_large.size(), 0u) << "answered before Kafka had the delivery";
  publisher_.Complete(0);
  EXPECT_EQ(signed_large.WaitFirst().first.status, 202);
  EXPECT_EQ(LastPublished().event.delivery_id, "big-2");

  ReplyCollector small;
  service_.Handle(GitHubPush("small-1", ""), small.Fn());
  ASSERT_EQ(small.size(), 1u) << "a small body is answered before Handle returns";
  auto [small_reply, small_on] = small.WaitFirst();
  EXPECT_EQ(small_reply.status, 401);
  EXPECT_EQ(small_on, std::this_thread::get_id());
}

TEST_F(WebhooksApiTest, AnUnsignedLargeBodyIsNotRead) {
  WebhooksConfig large = MakeWebhooks();
  large.hosts[GitHost::kGitHub].max_body_bytes = 1024 * 1024;
  settings_.Replace(large);
  std::string body = Fixture("github_push.json");
  body.append(200 * 1024 - body.size(), ' ');
  ReplyCollector replies;
  service_.Handle(GitHub("big-1", body, "push", "not-the-secret"), replies.Fn());
  ExpectError(replies.WaitFirst().first, 401, Code::kUnauthenticated);

  // A small refused body names the repository it claims; a large one was never read.
  ExpectError(Call(GitHubPush("small-1", "not-the-secret")), 401, Code::kUnauthenticated);
  rapidjson::Document doc = Json(Call(Api("GET", "/v1/events", kAdminToken)).body);
  const rapidjson::Value& refused = doc["refused_by_this_gateway"];
  ASSERT_EQ(refused.Size(), 2u);
  EXPECT_EQ(Str(refused[0], "delivery_id"), "small-1");
  EXPECT_EQ(Str(refused[0], "repo"), "openshift/assisted-installer");
  EXPECT_EQ(Str(refused[1], "delivery_id"), "big-1");
  EXPECT_EQ(Str(refused[1], "repo"), "<absent>");
}

// --- Dry runs ---

TEST_F(WebhooksApiTest, ADryRunNeedsAnAdminClient) {
  ApiRequest anonymous = GitHubPush("d-1");
  anonymous.query = {{"dry_run", "true"}};
  ExpectError(Call(anonymous), 401, Code::kUnauthenticated);
  ApiRequest ci = WithAuth(anonymous, kCiToken);
  ExpectError(Call(ci), 403, Code::kPermissionDenied, "admin");
  EXPECT_EQ(publisher_.size(), 0u);
}

TEST_F(WebhooksApiTest, ADryRunSaysWhatWouldBeTriggeredAndPublishesNothing) {
  ApiRequest request = WithAuth(GitHubPush("d-1"), kAdminToken);
  request.query = {{"dry_run", "true"}};
  ApiReply reply = Call(request);
  EXPECT_EQ(reply.status, 200) << reply.body;
  rapidjson::Document doc = Json(reply.body);
  ASSERT_TRUE(doc.HasMember("dry_run") && doc["dry_run"].IsBool()) << reply.body;
  EXPECT_TRUE(doc["dry_run"].GetBool());
  EXPECT_EQ(Str(doc, "signature"), "valid");
  EXPECT_FALSE(doc.HasMember("note")) << "the delivery is not known";
  ASSERT_TRUE(doc.HasMember("delivery")) << reply.body;
  const rapidjson::Value& matches = doc["delivery"]["matches"];
  EXPECT_EQ(Column(matches, "job"), kPostsubmits);
  ASSERT_EQ(matches.Size(), kPostsubmits.size());
  EXPECT_TRUE(matches[0]["matched"].GetBool());
  EXPECT_EQ(Str(matches[0], "execution_id"), ExecutionIdForDelivery("github", "d-1", 0, "images"));
  EXPECT_FALSE(matches[2]["matched"].GetBool());
  EXPECT_EQ(publisher_.size(), 0u);
  EXPECT_FALSE(deliveries_.Get(GitHost::kGitHub, "d-1"));
}

TEST_F(WebhooksApiTest, DryRunFalseIsAnOrdinaryDeliveryThatNeedsNoClient) {
  ApiRequest request = GitHubPush("d-1");
  request.query = {{"dry_run", "false"}};
  EXPECT_EQ(Stored(request).status, 202);
  EXPECT_EQ(publisher_.records()[0].key, "github/d-1");
}

TEST_F(WebhooksApiTest, ADryRunStillChecksTheSignature) {
  ApiRequest request = WithAuth(GitHubPush("d-1", "wrong"), kAdminToken);
  request.query = {{"dry_run", "1"}};
  ExpectError(Call(request), 401, Code::kUnauthenticated);
}

TEST_F(WebhooksApiTest, AnAdminMayDryRunAPayloadWithoutItsSignatureAndNothingIsChecked) {
  // The dashboard's form: a pasted payload, no secret at hand.
  ApiRequest unsigned_push = GitHubPush("");
  unsigned_push.headers.erase("x-hub-signature-256");
  unsigned_push.headers.erase("x-github-delivery");
  unsigned_push.query = {{"dry_run", "true"}};
  ExpectError(Call(WithAuth(unsigned_push, kCiToken)), 403, Code::kPermissionDenied, "admin");
  ApiReply reply = Call(WithAuth(unsigned_push, kAdminToken));
  EXPECT_EQ(reply.status, 200) << reply.body;
  rapidjson::Document doc = Json(reply.body);
  EXPECT_EQ(Str(doc, "signature"), "not sent");
  ASSERT_TRUE(doc.HasMember("delivery")) << reply.body;
  EXPECT_EQ(Column(doc["delivery"]["matches"], "job"), kPostsubmits);
  EXPECT_EQ(publisher_.size(), 0u);
  // Without dry_run the same bytes are refused as ever.
  ApiRequest delivered = unsigned_push;
  delivered.query.clear();
  ExpectError(Call(delivered), 401, Code::kUnauthenticated, "X-Hub-Signature-256");
}

TEST_F(WebhooksApiTest, ADryRunOfAKnownDeliveryNotesIt) {
  ASSERT_EQ(Stored(GitHubPush("d-1")).status, 202);
  ApiRequest request = WithAuth(GitHubPush("d-1"), kAdminToken);
  request.query = {{"dry_run", ""}};
  ApiReply reply = Call(request);
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_NE(Str(Json(reply.body), "note").find("known"), std::string::npos) << reply.body;
  EXPECT_EQ(publisher_.size(), 1u);
}

// --- Replays ---

TEST_F(WebhooksApiTest, ADeliveryIdOfSpacesOrControlCharactersIs400) {
  ExpectError(Call(GitHubPush("a b")), 400, Code::kInvalidArgument, "printable ASCII");
  ExpectError(Call(GitHubPush(std::string(256, 'x'))), 400, Code::kInvalidArgument,
              "over 255 characters");
  EXPECT_EQ(publisher_.size(), 0u);
}

TEST_F(WebhooksApiTest, ADeliveryIdThatLooksLikeAReplayKeyIsItsOwnDelivery) {
  ASSERT_EQ(Stored(GitHubPush("d-1")).status, 202);
  ASSERT_EQ(Stored(Api("POST", "/v1/events/github/d-1/replay", kAdminToken)).status, 202);
  ApiReply reply = Stored(GitHubPush("d-1/replay/1"));
  EXPECT_EQ(reply.status, 202) << reply.body;
  EXPECT_FALSE(Header(reply, "X-Sluice-Redelivery").has_value());
  ASSERT_EQ(publisher_.size(), 3u);
  EXPECT_EQ(publisher_.records()[2].key, "github/d-1%2Freplay%2F1");
}

TEST_F(WebhooksApiTest, ADeliveryIdWithSlashAndPercentRoundTripsThroughShowAndReplay) {
  const std::string id = "a/b%c+d";
  ASSERT_EQ(Stored(GitHubPush(id)).status, 202);
  for (const char* path : {"/v1/events/github/a%2Fb%25c+d", "/v1/events/github/a%2fb%25c%2Bd"}) {
    SCOPED_TRACE(path);
    ApiReply shown = Call(Api("GET", path, kAdminToken));
    ASSERT_EQ(shown.status, 200) << shown.body;
    EXPECT_EQ(Str(Json(shown.body)["delivery"], "delivery_id"), id);
  }
  ApiReply replayed = Stored(Api("POST", "/v1/events/github/a%2Fb%25c+d/replay", kAdminToken));
  EXPECT_EQ(replayed.status, 202) << replayed.body;
  DeliveryRecord record = LastPublished();
  EXPECT_EQ(record.event.delivery_id, id);
  EXPECT_EQ(record.replay, 1);
  ApiReply shown = Call(Api("GET", "/v1/events/github/a%2Fb%25c+d", kAdminToken));
  EXPECT_EQ(Json(shown.body)["replays"].Size(), 1u) << shown.body;
}

TEST_F(WebhooksApiTest, TheDeliveryIdInThePathIsDecodedExactlyOnce) {
  ASSERT_EQ(Stored(GitHubPush("a%2Fb")).status, 202);  // an id that is literally a%2Fb
  ASSERT_EQ(Stored(GitHubPush("a/b")).status, 202);
  ApiReply literal = Call(Api("GET", "/v1/events/github/a%252Fb", kAdminToken));
  ASSERT_EQ(literal.status, 200) << literal.body;
  EXPECT_EQ(Str(Json(literal.body)["delivery"], "delivery_id"), "a%2Fb");
  ApiReply slash = Call(Api("GET", "/v1/events/github/a%2Fb", kAdminToken));
  ASSERT_EQ(slash.status, 200) << slash.body;
  EXPECT_EQ(Str(Json(slash.body)["delivery"], "delivery_id"), "a/b");
}

TEST_F(WebhooksApiTest, APercentWithoutTwoHexDigitsInTheDeliveryIdIs400) {
  for (const char* path : {"/v1/events/github/a%2", "/v1/events/github/a%zz", "/v1/events/github/%",
                           "/v1/events/github/a%g0/replay"}) {
    SCOPED_TRACE(path);
    std::string method = std::string(path).ends_with("/replay") ? "POST" : "GET";
    ExpectError(Call(Api(method, path, kAdminToken)), 400, Code::kInvalidArgument, "%25");
  }
  EXPECT_EQ(publisher_.size(), 0u);
}

TEST_F(WebhooksApiTest, AReplayStoresTheDeliveryAgainWithNewExecutionIds) {
  ASSERT_EQ(Stored(GitHubPush("d-1")).status, 202);
  clock_.Advance(hours(1));
  ApiReply reply = Stored(Api("POST", "/v1/events/github/d-1/replay", kAdminToken));
  EXPECT_EQ(reply.status, 202) << reply.body;
  ASSERT_EQ(publisher_.size(), 2u);
  EXPECT_EQ(publisher_.records()[1].key, "github/d-1/replay/1");
  DeliveryRecord replay = LastPublished();
  EXPECT_EQ(replay.replay, 1);
  EXPECT_EQ(replay.requested_by, "ops");
  EXPECT_EQ(replay.received_at, clock_.Now());
  EXPECT_EQ(replay.event.branch, "release-4.12");
  const std::string id = ExecutionIdForDelivery("github", "d-1", 1, "images");
  EXPECT_NE(id, ExecutionIdForDelivery("github", "d-1", 0, "images"));
  ASSERT_FALSE(replay.Matched().empty());
  EXPECT_EQ(replay.Matched()[0]->execution_id, id);

  rapidjson::Document doc = Json(reply.body);
  ASSERT_TRUE(doc.HasMember("replay") && doc["replay"].IsInt()) << reply.body;
  EXPECT_EQ(doc["replay"].GetInt(), 1);
  EXPECT_EQ(Str(doc, "requested_by"), "ops");
  EXPECT_EQ(Column(doc["executions"], "id")[0], id);

  EXPECT_EQ(Stored(Api("POST", "/v1/events/github/d-1/replay", kAdminToken)).status, 202);
  EXPECT_EQ(publisher_.records()[2].key, "github/d-1/replay/2");
}

TEST_F(WebhooksApiTest, AReplayNeedsAnAdminAndAStoredDelivery) {
  ASSERT_EQ(Stored(GitHubPush("d-1")).status, 202);
  ExpectError(Call(Api("POST", "/v1/events/github/d-1/replay", "")), 401, Code::kUnauthenticated);
  ExpectError(Call(Api("POST", "/v1/events/github/d-1/replay", kCiToken)), 403,
              Code::kPermissionDenied, "admin");
  ExpectError(Call(Api("POST", "/v1/events/github/unknown/replay", kAdminToken)), 404,
              Code::kNotFound, "\"unknown\"");
  ExpectError(Call(Api("POST", "/v1/events/gitlab/d-1/replay", kAdminToken)), 404, Code::kNotFound);
  EXPECT_EQ(Call(Api("GET", "/v1/events/github/d-1/replay", kAdminToken)).status, 405);
  EXPECT_EQ(publisher_.size(), 1u);
}

// --- Listing deliveries ---

TEST_F(WebhooksApiTest, TheListShowsStoredDeliveriesWithReasonsAndRefusedOnes) {
  ASSERT_EQ(Stored(GitHubPush("d-1")).status, 202);
  clock_.Advance(minutes(1));
  ExpectError(Call(GitHubPush("d-bad", "wrong")), 401, Code::kUnauthenticated);

  ApiReply reply = Call(Api("GET", "/v1/events", kAdminToken));
  EXPECT_EQ(reply.status, 200) << reply.body;
  rapidjson::Document doc = Json(reply.body);
  ASSERT_TRUE(doc.HasMember("events") && doc["events"].IsArray()) << reply.body;
  ASSERT_EQ(doc["events"].Size(), 1u) << reply.body;
  const rapidjson::Value& event = doc["events"][0];
  EXPECT_EQ(Str(event, "delivery"), "github/d-1");
  EXPECT_EQ(Str(event, "outcome"), "triggered");
  EXPECT_EQ(Column(event["matches"], "job"), kPostsubmits) << "an admin sees every job";
  for (const auto& m : event["matches"].GetArray()) {
    EXPECT_NE(Str(m, "reason"), "") << Str(m, "job");
  }
  EXPECT_EQ(Str(event["matches"][0], "execution_id"),
            ExecutionIdForDelivery("github", "d-1", 0, "images"));

  ASSERT_TRUE(doc.HasMember("refused_by_this_gateway")) << reply.body;
  const rapidjson::Value& refused = doc["refused_by_this_gateway"];
  ASSERT_EQ(refused.Size(), 1u) << reply.body;
  EXPECT_EQ(Str(refused[0], "delivery_id"), "d-bad");
  EXPECT_EQ(Str(refused[0], "host"), "github");
  EXPECT_EQ(Str(refused[0], "repo"), "openshift/assisted-installer");
  EXPECT_EQ(Str(refused[0], "outcome"), "signature failed");
  EXPECT_NE(Str(refused[0], "reason").find("no configured secret"), std::string::npos);
}

TEST_F(WebhooksApiTest, AClientThatIsNotAnAdminSeesOnlyItsJobs) {
  ASSERT_EQ(Stored(GitHubPush("d-1")).status, 202);
  ApiReply reply = Call(Api("GET", "/v1/events", kCiToken));
  EXPECT_EQ(reply.status, 200) << reply.body;
  rapidjson::Document doc = Json(reply.body);
  ASSERT_EQ(doc["events"].Size(), 1u) << reply.body;
  EXPECT_EQ(Column(doc["events"][0]["matches"], "job"),
            (std::vector<std::string>{"images", "other-repo"}));

  ApiReply shown = Call(Api("GET", "/v1/events/github/d-1", kCiToken));
  EXPECT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(Column(Json(shown.body)["delivery"]["matches"], "job"),
            (std::vector<std::string>{"images", "other-repo"}));
}

TEST_F(WebhooksApiTest, TheListIsFilteredByItsQuery) {
  ASSERT_EQ(Stored(GitHubPush("d-old")).status, 202);
  clock_.Advance(hours(2));
  ASSERT_EQ(Stored(GitHubPush("d-new")).status, 202);
  auto deliveries = [&](std::map<std::string, std::string> query) {
    ApiRequest r = Api("GET", "/v1/events", kAdminToken);
    r.query = std::move(query);
    ApiReply reply = Call(r);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return Column(Json(reply.body)["events"], "delivery_id");
  };
  EXPECT_EQ(deliveries({}), (std::vector<std::string>{"d-new", "d-old"}));
  EXPECT_EQ(deliveries({{"since", "1h"}}), std::vector<std::string>{"d-new"});
  EXPECT_EQ(deliveries({{"since", FormatRfc3339(TestEpoch())}}),
            (std::vector<std::string>{"d-new", "d-old"}));
  EXPECT_EQ(deliveries({{"limit", "1"}}), std::vector<std::string>{"d-new"});
  EXPECT_EQ(deliveries({{"host", "gitlab"}}), std::vector<std::string>{});
  EXPECT_EQ(deliveries({{"repo", "openshift/assisted-installer"}}).size(), 2u);
  EXPECT_EQ(deliveries({{"repo", "openshift/installer"}}), std::vector<std::string>{});
}

TEST_F(WebhooksApiTest, TheListRefusesABadQueryOrNoClient) {
  struct Case {
    std::string key;
    std::string value;
    std::string message;
  };
  const Case cases[] = {
      {"since", "bad", "since:"},
      {"since", "", "since:"},
      {"limit", "0", "limit:"},
      {"limit", "501", "limit:"},
      {"limit", "ten", "limit:"},
      {"host", "bitbucket", "host:"},
      {"order", "asc", "unknown query parameter \"order\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key + "=" + c.value);
    ApiRequest r = Api("GET", "/v1/events", kAdminToken);
    r.query = {{c.key, c.value}};
    ExpectError(Call(r), 400, Code::kInvalidArgument, c.message);
  }
  ExpectError(Call(Api("GET", "/v1/events", "")), 401, Code::kUnauthenticated);
  ExpectError(Call(Api("GET", "/v1/events", "not-a-client")), 401, Code::kUnauthenticated);
}

TEST_F(WebhooksApiTest, ADeliveryIsShownWithItsReplaysNewestFirst) {
  ASSERT_EQ(Stored(GitHubPush("d-1")).status, 202);
  clock_.Advance(minutes(1));
  ASSERT_EQ(Stored(Api("POST", "/v1/events/github/d-1/replay", kAdminToken)).status, 202);
  clock_.Advance(minutes(1));
  ASSERT_EQ(Stored(Api("POST", "/v1/events/github/d-1/replay", kAdminToken)).status, 202);

  ApiReply reply = Call(Api("GET", "/v1/events/github/d-1", kAdminToken));
  EXPECT_EQ(reply.status, 200) << reply.body;
  rapidjson::Document doc = Json(reply.body);
  EXPECT_EQ(Str(doc["delivery"], "delivery_id"), "d-1");
  EXPECT_FALSE(doc["delivery"].HasMember("replay"));
  ASSERT_TRUE(doc.HasMember("replays") && doc["replays"].IsArray()) << reply.body;
  ASSERT_EQ(doc["replays"].Size(), 2u) << reply.body;
  EXPECT_EQ(doc["replays"][0]["replay"].GetInt(), 2);
  EXPECT_EQ(doc["replays"][1]["replay"].GetInt(), 1);

  ExpectError(Call(Api("GET", "/v1/events/github/d-2", kAdminToken)), 404, Code::kNotFound);
  ExpectError(Call(Api("GET", "/v1/events/github/d-1", "")), 401, Code::kUnauthenticated);
}

// --- GitLab and Gitea ---

TEST_F(WebhooksApiTest, AGitLabPushWithItsTokenIsStoredWithoutTheToken) {
  ApiRequest r;
  r.method = "POST";
  r.path = "/hooks/gitlab";
  r.content_type = "application/json";
  r.body = Fixture("gitlab_push.json");
  r.headers = {{"x-gitlab-event", "Push Hook"},
               {"x-gitlab-event-uuid", "uuid-1"},
               {"x-gitlab-token", kGitLabToken}};
  ApiReply reply = Stored(r);
  EXPECT_EQ(reply.status, 202) << reply.body;
  EXPECT_EQ(publisher_.records()[0].key, "gitlab/uuid-1");
  EXPECT_EQ(publisher_.records()[0].value.find(kGitLabToken), std::string::npos)
      << "the token is not kept";
  rapidjson::Document doc = Json(reply.body);
  EXPECT_EQ(Column(doc["executions"], "job"), std::vector<std::string>{"gitlab-build"});
  EXPECT_EQ(Column(doc["executions"], "id"), std::vector<std::string>{ExecutionIdForDelivery(
                                                 "gitlab", "uuid-1", 0, "gitlab-build")});

  r.headers["x-gitlab-token"] = "wrong";
  r.headers["x-gitlab-event-uuid"] = "uuid-2";
  ExpectError(Call(r), 401, Code::kUnauthenticated);
  EXPECT_EQ(publisher_.size(), 1u);
}

TEST_F(WebhooksApiTest, AGiteaPushIsVerifiedByItsSignatureOnceGiteaIsConfigured) {
  WebhooksConfig with_gitea = MakeWebhooks();
  with_gitea.hosts[GitHost::kGitea].secrets["acme"] = {Secret(kGiteaSecret)};
  settings_.Replace(with_gitea);
  auto gitea = [](const std::string& delivery, const std::string& secret) {
    ApiRequest r;
    r.method = "POST";
    r.path = "/hooks/gitea";
    r.content_type = "application/json";
    r.body = Fixture("gitea_push.json");
    r.headers = {{"x-gitea-event", "push"},
                 {"x-gitea-delivery", delivery},
                 {"x-gitea-signature", HexEncode(HmacSha256Raw(secret, r.body))}};
    return r;
  };
  ApiReply reply = Stored(gitea("g-1", kGiteaSecret));
  EXPECT_EQ(reply.status, 202) << reply.body;
  EXPECT_EQ(publisher_.records()[0].key, "gitea/g-1");
  EXPECT_EQ(Column(Json(reply.body)["executions"], "job"), std::vector<std::string>{"gitea-build"});

  ExpectError(Call(gitea("g-2", kGitHubSecret)), 401, Code::kUnauthenticated);
  EXPECT_EQ(publisher_.size(), 1u);
}

// --- Secrets in force ---

TEST_F(WebhooksApiTest, AnOldSecretWorksUntilItsExpiry) {
  TimePoint expiry = clock_.Now() + hours(1);
  WebhooksConfig rotating = MakeWebhooks();
  rotating.hosts[GitHost::kGitHub].secrets["*"] = {Secret("new"), Secret("old", expiry)};
  settings_.Replace(rotating);

  EXPECT_EQ(Stored(GitHubPush("d-1", "old")).status, 202);
  EXPECT_EQ(Stored(GitHubPush("d-2", "new")).status, 202);
  clock_.Advance(hours(1));
  ExpectError(Call(GitHubPush("d-3", "old")), 401, Code::kUnauthenticated);
  EXPECT_EQ(Stored(GitHubPush("d-4", "new")).status, 202);
  EXPECT_EQ(publisher_.size(), 3u);
}

TEST_F(WebhooksApiTest, TheSecretThatSignedMustBeOfTheRepositorysMostSpecificScope) {
  WebhooksConfig scoped = MakeWebhooks();  // "*": kGitHubSecret
  scoped.hosts[GitHost::kGitHub].secrets["openshift"] = {Secret("org-secret")};
  scoped.hosts[GitHost::kGitHub].secrets["openshift/assisted-installer"] = {Secret("repo-secret")};
  settings_.Replace(scoped);
  const std::string repo = GitHubPushOf("openshift/assisted-installer");
  const std::string org = GitHubPushOf("openshift/installer");
  const std::string other = GitHubPushOf("acme/widget");
  struct Case {
    std::string delivery;
    const std::string& body;
    std::string secret;
    int want;
  };
  const Case cases[] = {
      {"repo-by-repo", repo, "repo-secret", 202},   {"repo-by-org", repo, "org-secret", 401},
      {"repo-by-star", repo, kGitHubSecret, 401},   {"org-by-org", org, "org-secret", 202},
      {"org-by-repo", org, "repo-secret", 401},     {"org-by-star", org, kGitHubSecret, 401},
      {"other-by-star", other, kGitHubSecret, 202}, {"other-by-org", other, "org-secret", 401},
  };
  size_t stored = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.delivery);
    ApiRequest request = GitHub(c.delivery, c.body, "push", c.secret);
    if (c.want == 202) {
      EXPECT_EQ(Stored(request).status, 202);
      ++stored;
    } else {
      ExpectError(Call(request), 401, Code::kUnauthenticated, "not configured for its repository");
    }
  }
  EXPECT_EQ(publisher_.size(), stored);
}

TEST_F(WebhooksApiTest, ReplacingTheSettingsSwapsTheSecrets) {
  EXPECT_EQ(Stored(GitHubPush("d-1")).status, 202);
  WebhooksConfig next = MakeWebhooks();
  next.hosts[GitHost::kGitHub].secrets["*"] = {Secret("rotated")};
  settings_.Replace(next);
  ExpectError(Call(GitHubPush("d-2")), 401, Code::kUnauthenticated);
  EXPECT_EQ(Stored(GitHubPush("d-3", "rotated")).status, 202);
}

TEST_F(WebhooksApiTest, ReplacingTheSettingsMayRemoveAHost) {
  WebhooksConfig without_github = MakeWebhooks();
  without_github.hosts.erase(GitHost::kGitHub);
  settings_.Replace(without_github);
  ExpectError(Call(GitHubPush("d-1")), 404, Code::kNotFound);
  EXPECT_EQ(publisher_.size(), 0u);
}

// --- Readiness ---

TEST_F(WebhooksApiTest, TheGatewayIsNotReadyUntilTheDeliveriesViewCaughtUp) {
  EXPECT_EQ(Call(Api("GET", "/readyz", "")).status, 200);
  caught_up_ = false;
  ExpectError(Call(Api("GET", "/readyz", "")), 503, Code::kUnavailable, "deliveries");
}

TEST_F(WebhooksApiTest, WithoutWebhookViewsTheRoutesDoNotExist) {
  GatewayService plain(config_, publisher_, view_, clock_);
  auto replies = std::make_shared<std::vector<ApiReply>>();
  plain.Handle(GitHubPush("d-1"), [replies](ApiReply r) { replies->push_back(std::move(r)); });
  ASSERT_EQ(replies->size(), 1u);
  EXPECT_EQ(replies->front().status, 404) << replies->front().body;
  EXPECT_EQ(publisher_.size(), 0u);
}

}  // namespace
}  // namespace sluice
