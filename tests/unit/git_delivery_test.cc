// Webhook deliveries as the events topic holds them: the record codec, keys and execution ids,
// the triggers a delivery starts, the gateways' in-memory view of the topic (DeliveryStore) and
// the dispatchers' plan (PlanDispatch).

#include "common/git_delivery.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/execution_id.h"
#include "fakes.h"
#include "worker/delivery_dispatcher.h"

namespace sluice {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

GitEvent BranchPush(std::string delivery_id = "72d3162e-cc78") {
  GitEvent e;
  e.host = GitHost::kGitHub;
  e.kind = GitEvent::Kind::kBranchPush;
  e.event_type = "push";
  e.delivery_id = std::move(delivery_id);
  e.org = "openshift";
  e.repo = "assisted-installer";
  e.ref = "refs/heads/release-4.12";
  e.branch = "release-4.12";
  e.sha = "a336f38f75f91a876313daacbf097f25dfe21bbf";
  e.before = "bc8fd4d3f1f7aa0c1c5b2f1d0e9a8b7c6d5e4f30";
  e.pusher = "release-bot";
  e.repo_link = "https://github.com/openshift/assisted-installer";
  e.clone_uri = "https://github.com/openshift/assisted-installer.git";
  e.compare_link = "https://github.com/openshift/assisted-installer/compare/bc8fd4d3...a336f38f";
  return e;
}

GitEvent TagPush(std::string delivery_id = "tag-delivery") {
  GitEvent e = BranchPush(std::move(delivery_id));
  e.kind = GitEvent::Kind::kTagPush;
  e.ref = "refs/tags/v4.12.3";
  e.branch.clear();
  e.tag = "v4.12.3";
  return e;
}

// A delivery of `event` with one matched job ("images") and one that did not match ("docs").
DeliveryRecord Delivery(GitEvent event, int replay = 0, TimePoint at = TestEpoch()) {
  DeliveryRecord r;
  r.event = std::move(event);
  r.replay = replay;
  r.received_at = at;
  r.content_type = "application/json";
  r.headers = {{"x-github-event", "push"}, {"x-github-delivery", r.event.delivery_id}};
  r.body = R"({"ref":"refs/heads/release-4.12"})";
  r.matches = {{"images", true, "branch release-4.12 matches \"^release-\"", ""},
               {"docs", false, "repo differs: job builds openshift/docs", ""}};
  AssignExecutionIds(r.event.host, r.event.delivery_id, replay, r.matches);
  return r;
}

void ExpectSameRecord(const DeliveryRecord& got, const DeliveryRecord& want) {
  EXPECT_EQ(got.event, want.event);
  EXPECT_EQ(got.replay, want.replay);
  EXPECT_EQ(got.requested_by, want.requested_by);
  EXPECT_EQ(got.received_at, want.received_at);
  EXPECT_EQ(got.content_type, want.content_type);
  EXPECT_EQ(got.headers, want.headers);
  EXPECT_EQ(got.body, want.body);
  EXPECT_EQ(got.matches, want.matches);
}

std::vector<std::string> Keys(const std::vector<DeliveryRecord>& records) {
  std::vector<std::string> out;
  for (const DeliveryRecord& r : records) out.push_back(r.Key());
  return out;
}

// --- Names ---

TEST(GitDeliveryNames, HostsAndKindsReadBackFromTheirNames) {
  for (GitHost host : {GitHost::kGitHub, GitHost::kGitLab, GitHost::kGitea}) {
    EXPECT_EQ(GitHostFromName(GitHostName(host)), host) << GitHostName(host);
  }
  EXPECT_EQ(GitHostFromName("bitbucket"), std::nullopt);
  EXPECT_EQ(GitHostFromName("GitHub"), std::nullopt) << "names are lower-case";
  for (GitEvent::Kind kind :
       {GitEvent::Kind::kBranchPush, GitEvent::Kind::kTagPush, GitEvent::Kind::kBranchDeleted,
        GitEvent::Kind::kTagDeleted, GitEvent::Kind::kPing, GitEvent::Kind::kIgnored}) {
    EXPECT_EQ(GitEventKindFromName(GitEventKindName(kind)), kind) << GitEventKindName(kind);
  }
  EXPECT_EQ(GitEventKindFromName("merge request"), std::nullopt);
}

// --- Codec ---

TEST(DeliveryRecordCodec, ADeliveryRoundTripsWithABodyOfAnyBytes) {
  DeliveryRecord r = Delivery(BranchPush(), 0, TestEpoch() + milliseconds(123));
  static constexpr char kBody[] = "{\"a\":\"q\\\"uote\"}\0\x01\xff'\n\r\0end";
  r.body = std::string(kBody, sizeof kBody - 1);
  ASSERT_EQ(r.body.size(), 25u);
  std::string encoded = EncodeDeliveryRecord(r);
  EXPECT_EQ(encoded.find("uote"), std::string::npos) << "the body is base64: " << encoded;
  StatusOr<DeliveryRecord> decoded = DecodeDeliveryRecord(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  ExpectSameRecord(*decoded, r);
}

TEST(DeliveryRecordCodec, AReplayRoundTripsWithWhoAskedForIt) {
  DeliveryRecord r = Delivery(TagPush(), 2, TestEpoch() + hours(3));
  r.requested_by = "release-admin";
  r.body.clear();
  r.headers.clear();
  r.content_type.clear();
  StatusOr<DeliveryRecord> decoded = DecodeDeliveryRecord(EncodeDeliveryRecord(r));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  ExpectSameRecord(*decoded, r);
  EXPECT_EQ(decoded->Key(), "github/tag-delivery/replay/2");
}

TEST(DeliveryRecordCodec, RefusesWhatIsNotADeliveryRecord) {
  struct Case {
    const char* name;
    std::string json;
    std::string message;  // a part of the error's message
  };
  const std::string event = R"("kind":"branch push","delivery_id":"d")";
  const Case cases[] = {
      {"not JSON", "not json", ""},
      {"negative replay", R"({"git_delivery":{"host":"github",)" + event + R"(,"replay":-1}})",
       "replay is negative"},
      {"not an object", "[]", "not a git_delivery record"},
      {"another record", R"({"id":"0190","job_name":"j"})", "not a git_delivery record"},
      {"member not an object", R"({"git_delivery":"x"})", "not a git_delivery record"},
      {"unknown host", R"({"git_delivery":{"host":"bitbucket",)" + event + "}}",
       "unknown host \"bitbucket\""},
      {"unknown kind",
       R"({"git_delivery":{"host":"github","kind":"merge request","delivery_id":"d"}})",
       "unknown kind \"merge request\""},
      {"no delivery id", R"({"git_delivery":{"host":"github","kind":"ping"}})",
       "delivery_id is missing"},
      {"matched without an execution id",
       R"({"git_delivery":{"host":"github",)" + event +
           R"(,"matches":[{"job":"images","matched":true,"reason":"r"}]}})",
       "the match of job \"images\" has no execution id"},
      {"matched with a malformed execution id",
       R"({"git_delivery":{"host":"github",)" + event +
           R"(,"matches":[{"job":"images","matched":true,"execution_id":"12345"}]}})",
       "has no execution id"},
      {"a match that is not an object",
       R"({"git_delivery":{"host":"github",)" + event + R"(,"matches":["images"]}})",
       "a match is not an object"},
      {"body not base64",
       R"({"git_delivery":{"host":"github",)" + event + R"(,"body_base64":"!!not base64"}})",
       "body_base64 is not base64"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StatusOr<DeliveryRecord> r = DecodeDeliveryRecord(c.json);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
  }
}

TEST(DeliveryRecordCodec, AnUnmatchedJobNeedsNoExecutionId) {
  StatusOr<DeliveryRecord> r = DecodeDeliveryRecord(
      R"({"git_delivery":{"host":"gitea","kind":"branch deleted","delivery_id":"d",)"
      R"("matches":[{"job":"images","matched":false,"reason":"a branch deletion"}]}})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->event.host, GitHost::kGitea);
  EXPECT_EQ(r->event.kind, GitEvent::Kind::kBranchDeleted);
  ASSERT_EQ(r->matches.size(), 1u);
  EXPECT_TRUE(r->Matched().empty());
  EXPECT_EQ(r->body, "");
}

// --- Keys and execution ids ---

TEST(DeliveryKey, NamesTheHostTheDeliveryAndAReplaysNumber) {
  EXPECT_EQ(DeliveryKey(GitHost::kGitHub, "72d3162e"), "github/72d3162e");
  EXPECT_EQ(DeliveryKey(GitHost::kGitLab, "key-1", 0), "gitlab/key-1");
  EXPECT_EQ(DeliveryKey(GitHost::kGitea, "9", 3), "gitea/9/replay/3");

  DeliveryRecord r = Delivery(BranchPush("abc"));
  EXPECT_EQ(r.Key(), "github/abc");
  r.replay = 1;
  EXPECT_EQ(r.Key(), "github/abc/replay/1");
  r.event.host = GitHost::kGitLab;
  EXPECT_EQ(r.Key(), "gitlab/abc/replay/1");
}

TEST(DeliveryKey, NoDeliveryIdReadsAsAnothersReplay) {
  // An id holding "/replay/1" must not be the key of delivery "d-1"'s first replay.
  EXPECT_EQ(DeliveryKey(GitHost::kGitHub, "d-1/replay/1"), "github/d-1%2Freplay%2F1");
  EXPECT_NE(DeliveryKey(GitHost::kGitHub, "d-1/replay/1"), DeliveryKey(GitHost::kGitHub, "d-1", 1));
  EXPECT_NE(DeliveryKey(GitHost::kGitHub, "a%2Fb"), DeliveryKey(GitHost::kGitHub, "a/b"));
}

TEST(AssignExecutionIds, GivesMatchedJobsTheIdEveryGatewayDerives) {
  std::vector<JobMatch> matches = {
      {"images", true, "r", ""}, {"docs", false, "r", "stale-id"}, {"release", true, "r", ""}};
  AssignExecutionIds(GitHost::kGitHub, "d1", 0, matches);
  EXPECT_EQ(matches[0].execution_id, ExecutionIdForDelivery("github", "d1", 0, "images"));
  EXPECT_TRUE(IsExecutionId(matches[0].execution_id)) << matches[0].execution_id;
  EXPECT_EQ(matches[1].execution_id, "") << "an unmatched job starts no execution";
  EXPECT_TRUE(IsExecutionId(matches[2].execution_id)) << matches[2].execution_id;
  EXPECT_NE(matches[0].execution_id, matches[2].execution_id) << "one id per job";

  std::vector<JobMatch> again = matches;
  AssignExecutionIds(GitHost::kGitHub, "d1", 0, again);
  EXPECT_EQ(again, matches) << "same delivery, same ids";

  std::set<std::string> ids = {matches[0].execution_id};
  auto id_of_images = [](GitHost host, const char* delivery, int replay) {
    std::vector<JobMatch> m = {{"images", true, "r", ""}};
    AssignExecutionIds(host, delivery, replay, m);
    return m[0].execution_id;
  };
  EXPECT_TRUE(ids.insert(id_of_images(GitHost::kGitHub, "d1", 1)).second) << "a replay";
  EXPECT_TRUE(ids.insert(id_of_images(GitHost::kGitHub, "d1", 2)).second) << "another replay";
  EXPECT_TRUE(ids.insert(id_of_images(GitHost::kGitLab, "d1", 0)).second) << "another host";
  EXPECT_TRUE(ids.insert(id_of_images(GitHost::kGitHub, "d2", 0)).second) << "another delivery";
}

// --- Triggers ---

TEST(DeliveryTriggers, ABranchPushStartsEachMatchedJobWithTheBranchAsBaseRef) {
  DeliveryRecord r = Delivery(BranchPush("d1"));
  TimePoint now = TestEpoch() + seconds(7);
  std::vector<Trigger> triggers = DeliveryTriggers(r, now);
  ASSERT_EQ(triggers.size(), 1u) << "docs did not match";
  const Trigger& t = triggers[0];
  EXPECT_EQ(t.id, ExecutionIdForDelivery("github", "d1", 0, "images"));
  EXPECT_EQ(t.job_name, "images");
  EXPECT_EQ(t.job_type, JobType::kPostsubmit);
  ASSERT_TRUE(t.refs.has_value());
  EXPECT_EQ(t.refs->org, "openshift");
  EXPECT_EQ(t.refs->repo, "assisted-installer");
  EXPECT_EQ(t.refs->base_ref, "release-4.12");
  EXPECT_EQ(t.refs->base_sha, "a336f38f75f91a876313daacbf097f25dfe21bbf");
  EXPECT_EQ(t.refs->base_link, r.event.compare_link);
  EXPECT_EQ(t.refs->repo_link, "https://github.com/openshift/assisted-installer");
  EXPECT_EQ(t.refs->clone_uri, "https://github.com/openshift/assisted-installer.git");
  EXPECT_TRUE(t.refs->pulls.empty());
  const auto& annotations = t.pod_spec_options.annotations;
  EXPECT_EQ(annotations.at("sluice.io/source"), "webhook");
  EXPECT_EQ(annotations.at("sluice.io/user"), "release-bot");
  EXPECT_EQ(annotations.at("sluice.io/delivery"), "github/d1");
  EXPECT_EQ(t.create_time, now);
  EXPECT_EQ(t.client, "webhook:github");
}

TEST(DeliveryTriggers, ATagPushReplayHasTheTagAsBaseRefAndTheReplaysKey) {
  DeliveryRecord r = Delivery(TagPush("t1"), 1);
  r.requested_by = "admin";
  std::vector<Trigger> triggers = DeliveryTriggers(r, TestEpoch());
  ASSERT_EQ(triggers.size(), 1u);
  ASSERT_TRUE(triggers[0].refs.has_value());
  EXPECT_EQ(triggers[0].refs->base_ref, "v4.12.3");
  EXPECT_EQ(triggers[0].id, ExecutionIdForDelivery("github", "t1", 1, "images"));
  EXPECT_EQ(triggers[0].pod_spec_options.annotations.at("sluice.io/delivery"),
            "github/t1/replay/1");
}

TEST(DeliveryTriggers, ADeliveryThatMatchedNothingStartsNothing) {
  DeliveryRecord r = Delivery(BranchPush());
  for (JobMatch& m : r.matches) m.matched = false;
  AssignExecutionIds(r.event.host, r.event.delivery_id, 0, r.matches);
  EXPECT_TRUE(DeliveryTriggers(r, TestEpoch()).empty());
}

// --- Record size ---

TEST(MaxDeliveryRecordBytes, HoldsTheBase64OfTheLargestHostsBody) {
  WebhooksConfig webhooks;
  webhooks.hosts[GitHost::kGitHub].max_body_bytes = 1000;
  webhooks.hosts[GitHost::kGitLab].max_body_bytes = 3 * 1024 * 1024 + 1;
  webhooks.hosts[GitHost::kGitea].max_body_bytes = 10;
  size_t max = MaxDeliveryRecordBytes(webhooks);
  size_t largest = webhooks.hosts[GitHost::kGitLab].max_body_bytes;
  EXPECT_GE(max, (largest + 2) / 3 * 4);

  // A delivery whose body is the largest allowed, of bytes that JSON would have to escape.
  DeliveryRecord r = Delivery(BranchPush());
  r.event.host = GitHost::kGitLab;
  r.body.assign(largest, '"');
  for (size_t i = 0; i < r.body.size(); i += 7) r.body[i] = '\0';
  for (int i = 0; i < 20; ++i) {
    r.headers["x-header-" + std::to_string(i)] = std::string(200, 'h');
    r.matches.push_back({"job-" + std::to_string(i), false, std::string(300, 'r'), ""});
  }
  EXPECT_LE(EncodeDeliveryRecord(r).size(), max);
}

TEST(MaxDeliveryRecordBytes, GrowsWithTheLargestAllowedBody) {
  WebhooksConfig small;
  small.hosts[GitHost::kGitHub].max_body_bytes = 1024;
  WebhooksConfig large;
  large.hosts[GitHost::kGitHub].max_body_bytes = 1024;
  large.hosts[GitHost::kGitea].max_body_bytes = 30 * 1024 * 1024;
  EXPECT_GE(MaxDeliveryRecordBytes(large), 40u * 1024 * 1024);
  EXPECT_GT(MaxDeliveryRecordBytes(large), MaxDeliveryRecordBytes(small));
}

// --- DeliveryStore ---

TEST(DeliveryStore, KeepsADeliveryWithoutItsBody) {
  DeliveryStore store(hours(24));
  DeliveryRecord r = Delivery(BranchPush("d1"));
  ASSERT_FALSE(r.body.empty());
  store.Put(r);
  std::optional<DeliveryRecord> got = store.Get(GitHost::kGitHub, "d1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->body, "");
  DeliveryRecord want = r;
  want.body.clear();
  ExpectSameRecord(*got, want);
  EXPECT_FALSE(store.Get(GitHost::kGitLab, "d1").has_value()) << "delivery ids are per host";
  EXPECT_FALSE(store.Get(GitHost::kGitHub, "d2").has_value());
}

TEST(DeliveryStore, CountsReplaysAndGetReturnsTheDeliveryItself) {
  DeliveryStore store(hours(24));
  store.Put(Delivery(BranchPush("d1")));
  EXPECT_EQ(store.Replays(GitHost::kGitHub, "d1"), 0);
  DeliveryRecord first_replay = Delivery(BranchPush("d1"), 1, TestEpoch() + seconds(1));
  first_replay.requested_by = "admin";
  store.Put(first_replay);
  store.Put(Delivery(BranchPush("d1"), 2, TestEpoch() + seconds(2)));
  EXPECT_EQ(store.Replays(GitHost::kGitHub, "d1"), 2);
  EXPECT_EQ(store.Replays(GitHost::kGitLab, "d1"), 0);
  EXPECT_EQ(store.Replays(GitHost::kGitHub, "unknown"), 0);
  std::optional<DeliveryRecord> got = store.Get(GitHost::kGitHub, "d1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->replay, 0);
  EXPECT_EQ(got->received_at, TestEpoch());
}

TEST(DeliveryStore, ListsNewestFirstAndFilters) {
  DeliveryStore store(hours(24));
  DeliveryRecord a = Delivery(BranchPush("a"), 0, TestEpoch());
  DeliveryRecord b = Delivery(BranchPush("b"), 0, TestEpoch() + seconds(2));
  DeliveryRecord b1 = Delivery(BranchPush("b"), 1, TestEpoch() + seconds(3));
  GitEvent other_repo = BranchPush("c");
  other_repo.host = GitHost::kGitLab;
  other_repo.org = "group";
  other_repo.repo = "project";
  DeliveryRecord c = Delivery(other_repo, 0, TestEpoch() + seconds(1));
  for (const DeliveryRecord& r : {a, b1, c, b}) store.Put(r);

  EXPECT_EQ(Keys(store.List({})),
            (std::vector<std::string>{"github/b/replay/1", "github/b", "gitlab/c", "github/a"}));

  DeliveryStore::Query by_repo;
  by_repo.repo = "group/project";
  EXPECT_EQ(Keys(store.List(by_repo)), std::vector<std::string>{"gitlab/c"});

  DeliveryStore::Query by_host;
  by_host.host = GitHost::kGitHub;
  EXPECT_EQ(Keys(store.List(by_host)),
            (std::vector<std::string>{"github/b/replay/1", "github/b", "github/a"}));

  DeliveryStore::Query since;
  since.since = TestEpoch() + seconds(2);
  EXPECT_EQ(Keys(store.List(since)), (std::vector<std::string>{"github/b/replay/1", "github/b"}))
      << "since is inclusive";

  DeliveryStore::Query limited;
  limited.limit = 2;
  EXPECT_EQ(Keys(store.List(limited)), (std::vector<std::string>{"github/b/replay/1", "github/b"}));

  DeliveryStore::Query none;
  none.repo = "openshift/other";
  EXPECT_TRUE(store.List(none).empty());
}

TEST(DeliveryStore, DeliveriesAtTheSameInstantListInAStableOrder) {
  DeliveryStore store(hours(24));
  for (const char* id : {"b", "a", "c"}) store.Put(Delivery(BranchPush(id)));
  EXPECT_EQ(Keys(store.List({})), (std::vector<std::string>{"github/c", "github/b", "github/a"}));
}

TEST(DeliveryStore, ForgetsDeliveriesOlderThanTheRetention) {
  DeliveryStore store(hours(24));
  store.Put(Delivery(BranchPush("old"), 0, TestEpoch()));
  store.Put(Delivery(BranchPush("recent"), 0, TestEpoch() + hours(10)));
  // Eviction is amortised over many puts; 1100 are more than one round of it.
  TimePoint later = TestEpoch() + hours(25);
  for (int i = 0; i < 1100; ++i) {
    store.Put(Delivery(BranchPush("new-" + std::to_string(i)), 0, later + milliseconds(i)));
  }
  EXPECT_FALSE(store.Get(GitHost::kGitHub, "old").has_value())
      << "received 25h before the newest; retention 24h";
  EXPECT_TRUE(store.Get(GitHost::kGitHub, "recent").has_value());
  EXPECT_TRUE(store.Get(GitHost::kGitHub, "new-0").has_value());
  DeliveryStore::Query all;
  all.limit = 5000;
  EXPECT_EQ(store.List(all).size(), 1101u);
}

TEST(DeliveryStore, AppliesTopicRecordsAndTombstones) {
  DeliveryStore store(hours(24));
  DeliveryRecord r = Delivery(BranchPush("d1"));
  store.Apply("github/d1", EncodeDeliveryRecord(r));
  std::optional<DeliveryRecord> got = store.Get(GitHost::kGitHub, "d1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->body, "") << "gateways do not keep bodies";
  EXPECT_EQ(got->matches, r.matches);

  store.Apply("github/d1", "");
  EXPECT_FALSE(store.Get(GitHost::kGitHub, "d1").has_value()) << "a tombstone erases";
}

TEST(DeliveryStore, SkipsAnUnreadableRecord) {
  DeliveryStore store(hours(24));
  store.Apply("github/d0", EncodeDeliveryRecord(Delivery(BranchPush("d0"))));
  store.Apply("github/bad", "not json");
  store.Apply("github/bad2", R"({"git_delivery":{"host":"bitbucket","kind":"ping"}})");
  EXPECT_FALSE(store.Get(GitHost::kGitHub, "bad").has_value());
  EXPECT_EQ(Keys(store.List({})), std::vector<std::string>{"github/d0"});
}

// --- PlanDispatch ---

class PlanDispatchTest : public ::testing::Test {
 protected:
  static constexpr const char* kArtifacts = "/artifacts";

  PlanDispatchTest() : triggers_(DeliveryTriggers(Delivery(BranchPush("d1")), TestEpoch())) {}

  DispatchPlan PlanWith(std::optional<JobStatus> status) {
    return PlanDispatch(
        triggers_,
        [&](const std::string& id) -> std::optional<Execution> {
          asked_.push_back(id);
          if (!status) return std::nullopt;
          Execution e = Execution::FromTrigger(triggers_[0], "/elsewhere");
          e.job_status = *status;
          return e;
        },
        kArtifacts);
  }

  std::vector<Trigger> triggers_;
  std::vector<std::string> asked_;
};

TEST_F(PlanDispatchTest, AnUnknownExecutionGetsItsTriggeredRecordAndItsTrigger) {
  ASSERT_EQ(triggers_.size(), 1u);
  DispatchPlan plan = PlanWith(std::nullopt);
  EXPECT_EQ(asked_, std::vector<std::string>{triggers_[0].id});
  ASSERT_EQ(plan.records.size(), 1u);
  const Execution& e = plan.records[0];
  EXPECT_EQ(e.id, triggers_[0].id);
  EXPECT_EQ(e.job_name, "images");
  EXPECT_EQ(e.job_type, JobType::kPostsubmit);
  EXPECT_EQ(e.job_status, JobStatus::kTriggered);
  EXPECT_EQ(e.gcs_path, ArtifactsPathFor(kArtifacts, "images", triggers_[0].id));
  EXPECT_EQ(e.refs, triggers_[0].refs);
  ASSERT_EQ(plan.triggers.size(), 1u);
  EXPECT_EQ(plan.triggers[0].id, triggers_[0].id);
}

TEST_F(PlanDispatchTest, ATriggeredExecutionGetsOnlyItsTriggerAgain) {
  DispatchPlan plan = PlanWith(JobStatus::kTriggered);
  EXPECT_TRUE(plan.records.empty());
  ASSERT_EQ(plan.triggers.size(), 1u);
  EXPECT_EQ(plan.triggers[0].id, triggers_[0].id);
}

TEST_F(PlanDispatchTest, AClaimedOrEndedExecutionGetsNothing) {
  for (JobStatus status : {JobStatus::kPending, JobStatus::kSuccess, JobStatus::kFailure,
                           JobStatus::kAborted, JobStatus::kError}) {
    DispatchPlan plan = PlanWith(status);
    EXPECT_TRUE(plan.records.empty()) << static_cast<int>(status);
    EXPECT_TRUE(plan.triggers.empty()) << static_cast<int>(status);
  }
}

TEST(PlanDispatch, EachTriggerIsPlannedOnItsOwn) {
  DeliveryRecord r = Delivery(BranchPush("d1"));
  r.matches = {{"new", true, "r", ""}, {"waiting", true, "r", ""}, {"running", true, "r", ""}};
  AssignExecutionIds(r.event.host, "d1", 0, r.matches);
  std::vector<Trigger> triggers = DeliveryTriggers(r, TestEpoch());
  ASSERT_EQ(triggers.size(), 3u);
  DispatchPlan plan = PlanDispatch(
      triggers,
      [&](const std::string& id) -> std::optional<Execution> {
        if (id == triggers[0].id) return std::nullopt;
        Execution e = Execution::FromTrigger(id == triggers[1].id ? triggers[1] : triggers[2], "");
        if (id == triggers[2].id) e.job_status = JobStatus::kPending;
        return e;
      },
      "/a");
  ASSERT_EQ(plan.records.size(), 1u);
  EXPECT_EQ(plan.records[0].job_name, "new");
  ASSERT_EQ(plan.triggers.size(), 2u);
  EXPECT_EQ(plan.triggers[0].job_name, "new");
  EXPECT_EQ(plan.triggers[1].job_name, "waiting");
}

TEST(PlanDispatch, NoTriggersNoPlan) {
  bool asked = false;
  DispatchPlan plan = PlanDispatch(
      {},
      [&](const std::string&) -> std::optional<Execution> {
        asked = true;
        return std::nullopt;
      },
      "/a");
  EXPECT_FALSE(asked);
  EXPECT_TRUE(plan.records.empty());
  EXPECT_TRUE(plan.triggers.empty());
}

}  // namespace
}  // namespace sluice
