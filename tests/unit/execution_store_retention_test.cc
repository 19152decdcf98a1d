// The status view's compact store: records come back exactly as applied, executions leave with
// the retention and nothing of them stays behind, and the results topic is made to match.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/execution_packing.h"
#include "common/execution_store.h"
#include "common/kafka.h"
#include "execution_expect.h"
#include "fakes.h"

namespace sluice {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const std::string kUuid = "0190f3a2-7b1c-7d2e-8f3a-0123456789ab";

Execution Minimal(const std::string& id, JobStatus status, TimePoint create) {
  Execution e;
  e.id = id;
  e.job_name = "periodic-echo";
  e.job_type = JobType::kPeriodic;
  e.job_status = status;
  e.create_time = create;
  e.client = "ci";
  return e;
}

// A record with every field set, the links and path following GitHub's layout and
// ArtifactsPathFor (stored as one byte each).
Execution Full(const std::string& id) {
  Execution e = Minimal(id, JobStatus::kPending, TestEpoch());
  e.job_name = "pull-ci-openshift-installer-release-4.18-e2e-aws-ovn";
  e.job_type = JobType::kPresubmit;
  Refs refs;
  refs.org = "openshift";
  refs.repo = "installer";
  refs.repo_link = "https://github.com/openshift/installer";
  refs.base_ref = "release-4.18";
  refs.base_sha = "0123456789abcdef0123456789abcdef01234567";
  refs.base_link = refs.repo_link + "/commit/" + refs.base_sha;
  refs.path_alias = "github.com/openshift/installer";
  refs.clone_uri = "https://github.com/openshift/installer.git";
  Pull pull;
  pull.number = 4711;
  pull.author = "someone";
  pull.sha = "fedcba9876543210fedcba9876543210fedcba98";
  pull.title = "OCPBUGS-1: fix the thing";
  pull.ref = "refs/pull/4711/head";
  pull.link = refs.repo_link + "/pull/4711";
  pull.commit_link = pull.link + "/commits/" + pull.sha;
  pull.author_link = "https://github.com/someone";
  refs.pulls.push_back(pull);
  e.refs = refs;
  e.pod_spec_options.envs = {{"RELEASE_IMAGE_LATEST", "quay.io/ocp:4.18"}, {"A", ""}};
  e.pod_spec_options.labels = {{"team", "installer"}};
  e.pod_spec_options.annotations = {{"sluice.io/source", "api"}};
  e.gcs_path = ArtifactsPathFor("/var/lib/sluice/artifacts", e.job_name, id);
  e.start_time = TestEpoch() + milliseconds(1500);
  e.heartbeat_time = TestEpoch() + milliseconds(6789);
  e.message = "a message";
  e.client = "release-bot";
  e.fingerprint = std::string(64, 'f');
  e.worker = "sluice-worker-1-4711-a1b2c3";
  e.attempt = 2;
  LeaseTakeover lost;
  lost.worker = "sluice-worker-0-1-ffffff";
  lost.attempt = 1;
  lost.heartbeat_time = TestEpoch() + milliseconds(1234);
  e.takes_over = lost;
  e.pipeline_id = 9007199254740991;
  e.project_id = 9;
  e.job_token_sha256 = std::string(64, '0');
  return e;
}

// The same record with nothing following a pattern: every string kept as it is.
Execution Irregular(const std::string& id) {
  Execution e = Full(id);
  e.refs->base_sha = "not-a-sha";
  e.refs->base_link = "https://example.com/c/1";
  e.refs->pulls[0].sha = "ABCDEF";  // upper case hex is kept as text
  e.refs->pulls[0].number = -3;
  e.refs->pulls[0].link = "https://example.com/p";
  e.refs->pulls[0].commit_link = "";
  e.refs->pulls.push_back(Pull{});
  e.gcs_path = "gs://bucket/elsewhere/" + id;
  e.fingerprint = "abc";  // odd length
  e.takes_over->heartbeat_time.reset();
  e.pipeline_id = -1;
  e.job_token_sha256 = "";
  e.completion_time = TestEpoch() + hours(1);
  e.job_status = JobStatus::kFailure;
  return e;
}

TEST(ExecutionPackingTest, UuidsPackTo16BytesAndBack) {
  uint8_t bytes[16];
  ASSERT_TRUE(PackUuid(kUuid, bytes));
  EXPECT_EQ(bytes[0], 0x01);
  EXPECT_EQ(bytes[15], 0xab);
  EXPECT_EQ(UnpackUuid(bytes), kUuid);
  EXPECT_FALSE(PackUuid("0190F3A2-7B1C-7D2E-8F3A-0123456789AB", bytes));  // would come back lower
  EXPECT_FALSE(PackUuid("123456789", bytes));
  EXPECT_FALSE(PackUuid("0190f3a2-7b1c-7d2e-8f3a-0123456789a", bytes));
  EXPECT_FALSE(PackUuid("0190f3a2x7b1c-7d2e-8f3a-0123456789ab", bytes));
}

TEST(ExecutionPackingTest, ColdFieldsComeBackExactlyAndGiveBackTheirStrings) {
  for (const Execution& e :
       {Full(kUuid), Irregular(kUuid), Minimal(kUuid, JobStatus::kTriggered, TestEpoch())}) {
    StringPool pool;
    std::string packed;
    EncodeCold(e, e.fingerprint, pool, &packed);
    Execution got;
    got.id = e.id;
    got.job_name = e.job_name;
    DecodeCold(packed, pool, &got);
    SCOPED_TRACE(e.gcs_path);
    EXPECT_EQ(got.refs, e.refs);
    EXPECT_EQ(got.pod_spec_options, e.pod_spec_options);
    EXPECT_EQ(got.gcs_path, e.gcs_path);
    EXPECT_EQ(got.message, e.message);
    EXPECT_EQ(got.fingerprint, e.fingerprint);
    EXPECT_EQ(got.takes_over, e.takes_over);
    EXPECT_EQ(got.pipeline_id, e.pipeline_id);
    EXPECT_EQ(got.project_id, e.project_id);
    EXPECT_EQ(got.job_token_sha256, e.job_token_sha256);
    ReleaseCold(packed, pool);
    EXPECT_EQ(pool.size(), 0u);
  }
}

TEST(ExecutionPackingTest, ARegularRecordPacksSmall) {
  StringPool pool;
  std::string packed;
  Execution e = Full(kUuid);
  EncodeCold(e, e.fingerprint, pool, &packed);
  // Two shas (20 bytes each), the fingerprint and the job token (32 each), the pull's title and
  // ref: the rest is pooled or follows from other fields, with a byte or a few per field.
  const Pull& pull = e.refs->pulls[0];
  EXPECT_LT(packed.size(), 20u + 20u + 32u + 32u + pull.title.size() + pull.ref.size() + 64u);
}

TEST(ExecutionStoreRoundTripTest, GetGivesBackEveryFieldOfAMixOfExecutions) {
  ManualClock clock;
  ExecutionStore store(clock);
  std::vector<Execution> applied = {
      Full(kUuid),
      Irregular("0190f3a2-7b1c-7d2e-8f3a-0123456789ac"),
      Full("0190F3A2-7B1C-7D2E-8F3A-0123456789AD"),  // upper case: kept as text
      Full("123456789"),                             // a GitLab job id
      Minimal("a-custom-id", JobStatus::kTriggered, TestEpoch() + seconds(5)),
  };
  applied.back().create_time.reset();
  for (const Execution& e : applied) ASSERT_TRUE(store.Apply(e)) << e.id;
  ASSERT_EQ(store.size(), applied.size());
  for (Execution want : applied) {
    SCOPED_TRACE(want.id);
    std::optional<Execution> got = store.Get(want.id);
    ASSERT_TRUE(got.has_value());
    want.seen_time = clock.Now();
    ExpectSameExecution(*got, want);
    EXPECT_EQ(got->seen_time, clock.Now());
  }
  EXPECT_FALSE(store.Get("0190f3a2-7b1c-7d2e-8f3a-0123456789ff").has_value());
  EXPECT_FALSE(store.Get("0190f3a2-7b1c-7d2e-8f3a-0123456789AB").has_value());  // not kUuid
}

TEST(ExecutionStoreRoundTripTest, StateIsTheStatusPartOfGet) {
  ManualClock clock;
  ExecutionStore store(clock);
  Execution e = Irregular(kUuid);
  store.Apply(e);
  std::optional<ExecutionState> state = store.State(kUuid);
  ASSERT_TRUE(state.has_value());
  Execution stored = *store.Get(kUuid);
  ExecutionState want = ExecutionState::Of(stored);
  EXPECT_EQ(state->job_status, want.job_status);
  EXPECT_EQ(state->attempt, want.attempt);
  EXPECT_EQ(state->worker, want.worker);
  EXPECT_EQ(state->create_time, want.create_time);
  EXPECT_EQ(state->start_time, want.start_time);
  EXPECT_EQ(state->completion_time, want.completion_time);
  EXPECT_EQ(state->heartbeat_time, want.heartbeat_time);
  EXPECT_EQ(state->seen_time, clock.Now());
  EXPECT_FALSE(store.State("0190f3a2-7b1c-7d2e-8f3a-0123456789ff").has_value());
}

TEST(ExecutionStoreRoundTripTest, AHeartbeatKeepsTheLargeFieldsAndWhatOnlyTheFirstRecordKnew) {
  ExecutionStore store;
  Execution claim = Full(kUuid);
  claim.takes_over.reset();
  store.Apply(claim);
  Execution beat = claim;
  beat.heartbeat_time = *claim.heartbeat_time + seconds(5);
  beat.fingerprint = "";
  beat.client = "";
  ASSERT_TRUE(store.Apply(beat));
  Execution got = *store.Get(kUuid);
  EXPECT_EQ(got.heartbeat_time, beat.heartbeat_time);
  EXPECT_EQ(got.fingerprint, claim.fingerprint);
  EXPECT_EQ(got.client, claim.client);
  EXPECT_EQ(got.refs, claim.refs);
}

TEST(ExecutionStoreRoundTripTest, IdListenersHearEveryChangeAndOnlyChanges) {
  ExecutionStore store;
  std::vector<std::string> changed;
  std::vector<JobStatus> full;
  store.OnChangedId([&](const std::string& id) { changed.push_back(id); });
  store.OnChange([&](const Execution& e) { full.push_back(e.job_status); });
  Execution e = Minimal(kUuid, JobStatus::kTriggered, TestEpoch());
  store.Apply(e);
  store.Apply(e);  // a second TRIGGERED record changes nothing
  e.job_status = JobStatus::kSuccess;
  store.Apply(e);
  EXPECT_EQ(changed, (std::vector<std::string>{kUuid, kUuid}));
  EXPECT_EQ(full, (std::vector<JobStatus>{JobStatus::kTriggered, JobStatus::kSuccess}));
}

// --- retention ---

constexpr Duration kRetention = std::chrono::minutes(10);

std::string IdOf(int i) {
  char id[40];
  std::snprintf(id, sizeof id, "0190f3a2-7b1c-7d2e-8f3a-%012x", i);
  return id;
}

TEST(ExecutionStoreRetentionTest, TerminalExecutionsLeaveByTheirCompletionTime) {
  ManualClock clock;
  ExecutionStore store(clock, kRetention);
  Execution done = Minimal(IdOf(1), JobStatus::kSuccess, TestEpoch());
  done.completion_time = TestEpoch() + minutes(5);
  store.Apply(done);
  clock.Advance(minutes(14));  // 9 minutes after its completion
  EXPECT_EQ(store.EvictExpired(), 0u);
  EXPECT_TRUE(store.Get(IdOf(1)).has_value());
  clock.Advance(minutes(2));  // 11 minutes after
  EXPECT_EQ(store.EvictExpired(), 1u);
  EXPECT_FALSE(store.Get(IdOf(1)).has_value());
  EXPECT_FALSE(store.State(IdOf(1)).has_value());
  EXPECT_EQ(store.size(), 0u);
  EXPECT_TRUE(store.List({}).executions.empty());
}

TEST(ExecutionStoreRetentionTest, ARunningExecutionStaysWhileItsHeartbeatsComeHoweverOld) {
  ManualClock clock;
  ExecutionStore store(clock, kRetention);
  Execution claim = Minimal(IdOf(1), JobStatus::kPending, TestEpoch());
  claim.worker = "w1";
  claim.attempt = 1;
  claim.start_time = TestEpoch();
  for (int minute = 0; minute <= 120; ++minute) {
    claim.heartbeat_time = TestEpoch() + minutes(minute);
    clock.Set(TestEpoch() + minutes(minute));
    store.Apply(claim);
    EXPECT_EQ(store.EvictExpired(), 0u) << "minute " << minute;
  }
  EXPECT_EQ(store.State(IdOf(1))->job_status, JobStatus::kPending);
  // Its worker is gone and nothing more is heard of it: it goes a retention later.
  clock.Advance(kRetention + seconds(1));
  EXPECT_EQ(store.EvictExpired(), 1u);
}

TEST(ExecutionStoreRetentionTest, ANeverClaimedExecutionLeavesByItsCreateTime) {
  ManualClock clock;
  ExecutionStore store(clock, kRetention);
  store.Apply(Minimal(IdOf(1), JobStatus::kTriggered, TestEpoch()));
  clock.Advance(kRetention - seconds(1));
  EXPECT_EQ(store.EvictExpired(), 0u);
  clock.Advance(seconds(2));
  EXPECT_EQ(store.EvictExpired(), 1u);
}

TEST(ExecutionStoreRetentionTest, SweepingInStepsDropsTheSameAsOnePass) {
  ManualClock clock;
  ExecutionStore store(clock, kRetention);
  const int n = 3 * static_cast<int>(ExecutionStore::kSweepStep) + 5;
  for (int i = 0; i < n; ++i) {
    Execution e = Minimal(IdOf(i), i % 2 ? JobStatus::kSuccess : JobStatus::kPending, TestEpoch());
    if (i % 2) e.completion_time = TestEpoch();
    e.heartbeat_time = i % 2 ? TestEpoch() : TestEpoch() + hours(1);  // half still beat
    store.Apply(e);
  }
  clock.Advance(minutes(30));
  size_t dropped = 0;
  int calls = 0;
  for (; calls < 10; ++calls) dropped += store.Sweep();
  EXPECT_EQ(dropped, static_cast<size_t>(n / 2));
  EXPECT_EQ(store.size(), static_cast<size_t>(n - n / 2));
  // The next pass waits for its interval.
  EXPECT_EQ(store.Sweep(), 0u);
}

TEST(ExecutionStoreRetentionTest, PagingAcrossEvictionsReturnsEveryRemainingExecutionOnce) {
  ManualClock clock;
  ExecutionStore store(clock, kRetention);
  const int n = 1200;
  for (int i = 0; i < n; ++i) {
    Execution e = Minimal(IdOf(i), JobStatus::kSuccess, TestEpoch() + seconds(i % 300));
    e.completion_time = TestEpoch() + seconds(i % 7 == 0 ? 0 : 3600);
    store.Apply(e);
  }
  ListQuery query;
  query.page_size = 37;
  ListPage first = store.List(query);
  std::set<std::string> seen;
  for (const Execution& e : first.executions) seen.insert(e.id);
  clock.Advance(minutes(15));  // those completed at 0 expire
  size_t dropped = store.EvictExpired();
  EXPECT_EQ(dropped, static_cast<size_t>((n + 6) / 7));
  query.page_token = first.next_page_token;
  while (!query.page_token.empty()) {
    ListPage page = store.List(query);
    for (const Execution& e : page.executions) {
      EXPECT_TRUE(seen.insert(e.id).second) << e.id << " listed twice";
      EXPECT_FALSE(e.completion_time == TestEpoch()) << e.id << " had expired";
    }
    query.page_token = page.next_page_token;
  }
  EXPECT_EQ(store.size(), static_cast<size_t>(n) - dropped);
  for (int i = 0; i < n; ++i) {
    if (i % 7 != 0) {
      EXPECT_TRUE(seen.count(IdOf(i))) << IdOf(i) << " never listed";
    }
  }
}

TEST(ExecutionStoreRetentionTest, InternedStringsGoWithTheLastExecutionUsingThem) {
  ManualClock clock;
  ExecutionStore store(clock, kRetention);
  for (int i = 0; i < 500; ++i) {
    Execution e = Full(IdOf(i));
    e.worker = "worker-" + std::to_string(i);  // every worker new, as after restarts
    e.message = "unique message " + std::to_string(i);
    store.Apply(e);
  }
  EXPECT_GT(store.InternedStrings(), 1000u);
  Execution done = Full(IdOf(0));
  done.job_status = JobStatus::kSuccess;
  done.worker = "worker-0";
  done.completion_time = done.heartbeat_time;
  store.Apply(done);
  clock.Advance(hours(2));
  EXPECT_EQ(store.EvictExpired(), 500u);
  EXPECT_EQ(store.InternedStrings(), 0u);
  EXPECT_FALSE(store.RunningWithJobToken(std::string(64, '0')).has_value());
}

TEST(ExecutionStoreRetentionTest, AnEvictedRunningJobsTokenNoLongerAnswers) {
  ManualClock clock;
  ExecutionStore store(clock, kRetention);
  Execution claim = Full(kUuid);
  claim.takes_over.reset();
  store.Apply(claim);
  ASSERT_TRUE(store.RunningWithJobToken(claim.job_token_sha256).has_value());
  clock.Advance(hours(1));
  store.EvictExpired();
  EXPECT_FALSE(store.RunningWithJobToken(claim.job_token_sha256).has_value());
  // A slot reused by another execution does not inherit it.
  store.Apply(Minimal(IdOf(7), JobStatus::kPending, clock.Now()));
  EXPECT_FALSE(store.RunningWithJobToken(claim.job_token_sha256).has_value());
}

TEST(ExecutionStoreRetentionTest, TheSweepIntervalIsATenthOfTheRetentionAtMostAMinute) {
  EXPECT_EQ(ExecutionStore(SystemClock::Instance(), minutes(1)).SweepInterval(), seconds(6));
  EXPECT_EQ(ExecutionStore().SweepInterval(), minutes(1));
}

// --- the results topic ---

TEST(ResultsTopicTest, IsCompactedAndDeletedAfterTheRetentionWithSegmentsThatRoll) {
  Config config;
  std::map<std::string, std::string> settings = ResultsTopicSettings(config);
  EXPECT_EQ(settings["cleanup.policy"], "compact,delete");
  EXPECT_EQ(settings["retention.ms"], std::to_string(30LL * 24 * 3600 * 1000));
  EXPECT_EQ(settings["segment.ms"], std::to_string(24LL * 3600 * 1000));  // a day at most
  config.results.retention = hours(5);
  settings = ResultsTopicSettings(config);
  EXPECT_EQ(settings["retention.ms"], std::to_string(5LL * 3600 * 1000));
  EXPECT_EQ(settings["segment.ms"], std::to_string(30LL * 60 * 1000));
  config.results.retention = minutes(1);
  EXPECT_EQ(ResultsTopicSettings(config)["segment.ms"], "60000");  // a minute at least
  EXPECT_NE(ResultsTopicSettings(config)["max.message.bytes"], "");
  EXPECT_EQ(FormatTopicSettings({{"a", "1"}, {"b", "2"}}), "--config a=1 --config b=2");
}

}  // namespace
}  // namespace sluice
