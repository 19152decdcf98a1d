#include "common/execution_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "fakes.h"

namespace sluice {
namespace {

using std::chrono::seconds;

constexpr JobStatus kTriggered = JobStatus::kTriggered;
constexpr JobStatus kPending = JobStatus::kPending;
constexpr JobStatus kSuccess = JobStatus::kSuccess;
constexpr JobStatus kFailure = JobStatus::kFailure;
constexpr JobStatus kAborted = JobStatus::kAborted;
constexpr JobStatus kError = JobStatus::kError;

const std::string kId = "0190f3a2-7b1c-7d2e-8f3a-0123456789ab";

// One record of execution kId as a gateway (TRIGGERED, attempt 0) or a worker writes it.
Execution Record(JobStatus status, int attempt = 0, std::string worker = "",
                 int heartbeat_second = -1) {
  Execution e;
  e.id = kId;
  e.job_name = "periodic-echo";
  e.job_type = JobType::kPeriodic;
  e.job_status = status;
  e.attempt = attempt;
  e.worker = std::move(worker);
  e.create_time = TestEpoch();
  e.client = "ci";
  e.fingerprint = "fp";
  if (heartbeat_second >= 0) e.heartbeat_time = TestEpoch() + seconds(heartbeat_second);
  return e;
}

struct SupersedesCase {
  std::string name;
  Execution incoming;
  Execution current;
  bool want;
};

void ExpectSupersedes(const std::vector<SupersedesCase>& cases) {
  for (const SupersedesCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Supersedes(c.incoming, c.current), c.want);
  }
}

TEST(SupersedesTest, StatesOnlyMoveForward) {
  ExpectSupersedes({
      {"TRIGGERED -> PENDING", Record(kPending, 1, "w1", 1), Record(kTriggered), true},
      {"PENDING -> TRIGGERED", Record(kTriggered), Record(kPending, 1, "w1", 1), false},
      {"TRIGGERED again", Record(kTriggered), Record(kTriggered), false},
      {"TRIGGERED -> SUCCESS", Record(kSuccess, 1, "w1", 2), Record(kTriggered), true},
      {"PENDING -> SUCCESS", Record(kSuccess, 1, "w1", 2), Record(kPending, 1, "w1", 1), true},
      {"PENDING -> ERROR", Record(kError, 1, "w2", 40), Record(kPending, 1, "w1", 1), true},
      {"SUCCESS -> FAILURE", Record(kFailure, 1, "w1", 3), Record(kSuccess, 1, "w1", 2), false},
      {"SUCCESS -> SUCCESS", Record(kSuccess, 1, "w1", 3), Record(kSuccess, 1, "w1", 2), false},
      {"ABORTED -> ERROR", Record(kError, 2, "w2", 9), Record(kAborted, 1, "w1", 2), false},
      {"FAILURE -> PENDING", Record(kPending, 2, "w2", 9), Record(kFailure, 1, "w1", 2), false},
      {"ERROR -> TRIGGERED", Record(kTriggered), Record(kError, 1, "w1", 2), false},
      {"higher attempt wins", Record(kPending, 2, "w2", 1), Record(kPending, 1, "w1", 5), true},
      {"lower attempt loses", Record(kPending, 1, "w1", 9), Record(kPending, 2, "w2", 1), false},
      {"same attempt, other worker loses", Record(kPending, 1, "w2", 9),
       Record(kPending, 1, "w1", 1), false},
      {"same worker, later heartbeat wins", Record(kPending, 1, "w1", 6),
       Record(kPending, 1, "w1", 1), true},
      {"same worker, earlier heartbeat loses", Record(kPending, 1, "w1", 1),
       Record(kPending, 1, "w1", 6), false},
  });
}

// A record that takes over from worker w1's attempt 1 whose heartbeat was at `beat_second`.
Execution Takeover(JobStatus status, int attempt, int beat_second) {
  Execution e = Record(status, attempt, "w2", 40);
  e.takes_over = LeaseTakeover{"w1", 1, TestEpoch() + seconds(beat_second)};
  return e;
}

TEST(SupersedesTest, ATakeoverAppliesOnlyWhileTheLostHoldersRecordIsTheState) {
  ExpectSupersedes({
      {"claim over the record it names", Takeover(kPending, 2, 5), Record(kPending, 1, "w1", 5),
       true},
      {"claim after the holder renewed", Takeover(kPending, 2, 5), Record(kPending, 1, "w1", 6),
       false},
      {"ERROR over the record it names", Takeover(kError, 1, 5), Record(kPending, 1, "w1", 5),
       true},
      {"ERROR after the holder renewed", Takeover(kError, 1, 5), Record(kPending, 1, "w1", 6),
       false},
      {"claim over another worker's record", Takeover(kPending, 2, 5), Record(kPending, 1, "w3", 5),
       false},
      {"claim after someone else took over", Takeover(kPending, 2, 5),
       Record(kPending, 2, "w3", 30), false},
      {"claim where only TRIGGERED is known (compacted)", Takeover(kPending, 2, 5),
       Record(kTriggered), true},
      {"claim after the holder ended", Takeover(kPending, 2, 5), Record(kSuccess, 1, "w1", 9),
       false},
  });
}

// A holder's heartbeat and a takeover race to the results topic; whichever is written first
// decides, and every reader of the topic (which applies it in order) agrees.
TEST(ExecutionStoreApplyTest, TheFirstOfAHeartbeatAndATakeoverInTheTopicDecides) {
  ExecutionStore renewed_first;
  renewed_first.Apply(Record(kPending, 1, "w1", 5));
  EXPECT_TRUE(renewed_first.Apply(Record(kPending, 1, "w1", 6)));
  EXPECT_FALSE(renewed_first.Apply(Takeover(kPending, 2, 5)));
  EXPECT_EQ(renewed_first.Get(kId)->worker, "w1");

  ExecutionStore taken_first;
  taken_first.Apply(Record(kPending, 1, "w1", 5));
  EXPECT_TRUE(taken_first.Apply(Takeover(kPending, 2, 5)));
  EXPECT_FALSE(taken_first.Apply(Record(kPending, 1, "w1", 6)));
  EXPECT_EQ(taken_first.Get(kId)->worker, "w2");
  EXPECT_EQ(taken_first.Get(kId)->attempt, 2);
}

TEST(ExecutionStoreApplyTest, StampsWhenThisViewTookEachStateIn) {
  ManualClock clock;
  ExecutionStore store(clock);
  store.Apply(Record(kTriggered));
  EXPECT_EQ(store.Get(kId)->seen_time, clock.Now());
  clock.Advance(seconds(3));
  store.Apply(Record(kPending, 1, "w1", 1));
  EXPECT_EQ(store.Get(kId)->seen_time, TestEpoch() + seconds(3));
  clock.Advance(seconds(3));
  store.Apply(Record(kPending, 1, "w2", 2));  // a losing claim changes nothing
  EXPECT_EQ(store.Get(kId)->seen_time, TestEpoch() + seconds(3));
}

// Every order of `records` ends in the same stored state.
void ExpectEveryOrderEndsIn(std::vector<Execution> records, JobStatus status, int attempt,
                            const std::string& worker) {
  std::vector<int> order(records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  int permutations = 0;
  do {
    std::string trace;
    for (int i : order) trace += std::string(JobStatusName(records[i].job_status)) + " ";
    SCOPED_TRACE(trace);
    ExecutionStore store;
    for (int i : order) store.Apply(records[i]);
    std::optional<Execution> got = store.Get(kId);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->job_status, status);
    EXPECT_EQ(got->attempt, attempt);
    EXPECT_EQ(got->worker, worker);
    EXPECT_EQ(got->create_time, TestEpoch());
    EXPECT_EQ(store.size(), 1u);
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_GT(permutations, 1);
}

TEST(ExecutionStoreApplyTest, OutOfOrderRecordsOfOneRunEndInItsTerminalState) {
  ExpectEveryOrderEndsIn({Record(kTriggered), Record(kPending, 1, "w1", 1),
                          Record(kPending, 1, "w1", 6), Record(kSuccess, 1, "w1", 9)},
                         kSuccess, 1, "w1");
}

TEST(ExecutionStoreApplyTest, OutOfOrderRecordsOfARetriedRunEndInTheLastAttempt) {
  ExpectEveryOrderEndsIn({Record(kTriggered), Record(kPending, 1, "w1", 1),
                          Record(kPending, 2, "w2", 40), Record(kFailure, 2, "w2", 50)},
                         kFailure, 2, "w2");
}

TEST(ExecutionStoreApplyTest, WithoutATerminalRecordTheLatestHeartbeatOfTheLatestAttemptWins) {
  ExpectEveryOrderEndsIn({Record(kTriggered), Record(kPending, 1, "w1", 1),
                          Record(kPending, 2, "w2", 40), Record(kPending, 2, "w2", 45)},
                         kPending, 2, "w2");
}

TEST(ExecutionStoreApplyTest, KeepsWhatOnlyTheFirstRecordKnew) {
  ExecutionStore store;
  store.Apply(Record(kTriggered));
  Execution claim = Record(kPending, 1, "w1", 1);
  claim.create_time.reset();
  claim.client.clear();
  claim.fingerprint.clear();
  ASSERT_TRUE(store.Apply(claim));
  std::optional<Execution> got = store.Get(kId);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->job_status, kPending);
  EXPECT_EQ(got->create_time, TestEpoch());
  EXPECT_EQ(got->client, "ci");
  EXPECT_EQ(got->fingerprint, "fp");
}

TEST(ExecutionStoreApplyTest, ReportsChangesAndNotifiesListenersOnlyForThem) {
  ExecutionStore store;
  std::vector<JobStatus> seen;
  store.OnChange([&](const Execution& e) { seen.push_back(e.job_status); });
  EXPECT_TRUE(store.Apply(Record(kTriggered)));
  EXPECT_TRUE(store.Apply(Record(kPending, 1, "w1", 1)));
  EXPECT_FALSE(store.Apply(Record(kTriggered)));
  EXPECT_FALSE(store.Apply(Record(kPending, 1, "w2", 2)));
  EXPECT_TRUE(store.Apply(Record(kSuccess, 1, "w1", 3)));
  EXPECT_FALSE(store.Apply(Record(kFailure, 1, "w1", 4)));
  EXPECT_EQ(seen, (std::vector<JobStatus>{kTriggered, kPending, kSuccess}));
}

TEST(ExecutionStoreGetTest, UnknownIdIsAbsent) {
  ExecutionStore store;
  store.Apply(Record(kTriggered));
  EXPECT_FALSE(store.Get("0190f3a2-7b1c-7d2e-8f3a-000000000000").has_value());
  EXPECT_TRUE(store.Get(kId).has_value());
}

// An execution of `job` created `second` seconds after the test epoch.
Execution Created(const std::string& id, const std::string& job, int second,
                  JobStatus status = kTriggered) {
  Execution e;
  e.id = id;
  e.job_name = job;
  e.job_type = JobType::kPeriodic;
  e.job_status = status;
  e.create_time = TestEpoch() + seconds(second);
  return e;
}

std::vector<std::string> Ids(const ListPage& page) {
  std::vector<std::string> ids;
  for (const Execution& e : page.executions) ids.push_back(e.id);
  return ids;
}

// Executions "a" (oldest) to "g" (newest) of three jobs in various states; "d2" shares d's time.
ExecutionStore& Populate(ExecutionStore& store) {
  store.Apply(Created("a", "nightly", 1, kSuccess));
  store.Apply(Created("b", "images", 2, kFailure));
  store.Apply(Created("c", "nightly", 3, kPending));
  store.Apply(Created("d", "secret", 4, kSuccess));
  store.Apply(Created("d2", "nightly", 4, kSuccess));
  store.Apply(Created("e", "images", 5, kTriggered));
  store.Apply(Created("f", "nightly", 6, kSuccess));
  store.Apply(Created("g", "secret", 7, kError));
  return store;
}

TEST(ExecutionStoreListTest, NewestFirstByCreateTimeThenId) {
  ExecutionStore store;
  Populate(store);
  ListPage page = store.List(ListQuery{});
  EXPECT_EQ(Ids(page), (std::vector<std::string>{"g", "f", "e", "d2", "d", "c", "b", "a"}));
  EXPECT_EQ(page.next_page_token, "");
}

TEST(ExecutionStoreListTest, OrderIsByCreateTimeNotByArrival) {
  ExecutionStore store;
  store.Apply(Created("late-arrival-but-oldest", "nightly", 1));
  store.Apply(Created("newest", "nightly", 9));
  store.Apply(Created("middle", "nightly", 5));
  EXPECT_EQ(Ids(store.List(ListQuery{})),
            (std::vector<std::string>{"newest", "middle", "late-arrival-but-oldest"}));
}

TEST(ExecutionStoreListTest, Filters) {
  ExecutionStore store;
  Populate(store);
  struct Case {
    std::string name;
    ListQuery query;
    std::vector<std::string> want;
  };
  ListQuery by_job;
  by_job.job_name = "nightly";
  ListQuery by_status;
  by_status.status = kSuccess;
  ListQuery by_both;
  by_both.job_name = "nightly";
  by_both.status = kSuccess;
  ListQuery visible;
  visible.visible = [](const std::string& job) { return job != "secret"; };
  ListQuery visible_and_status;
  visible_and_status.visible = visible.visible;
  visible_and_status.status = kSuccess;
  ListQuery none;
  none.job_name = "no-such-job";
  const Case cases[] = {
      {"job_name", by_job, {"f", "d2", "c", "a"}},
      {"status", by_status, {"f", "d2", "d", "a"}},
      {"job_name and status", by_both, {"f", "d2", "a"}},
      {"visible", visible, {"f", "e", "d2", "c", "b", "a"}},
      {"visible and status", visible_and_status, {"f", "d2", "a"}},
      {"nothing matches", none, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ListPage page = store.List(c.query);
    EXPECT_EQ(Ids(page), c.want);
    EXPECT_EQ(page.next_page_token, "");
  }
}

TEST(ExecutionStoreListTest, FiltersByClientAndSource) {
  ExecutionStore store;
  Execution api = Created("0190f3a2-7b1c-7d2e-8f3a-0123456789ab", "nightly", 1);
  api.client = "release-bot";
  Execution hook = Created("0190f3a2-7b1c-7d2e-8f3a-0123456789ac", "nightly", 2);
  hook.client = "webhook:github";
  Execution job = Created("4398046511169", "run_tests", 3);  // a pipeline's job: decimal id
  job.client = "release-bot";
  Execution other = Created("0190f3a2-7b1c-7d2e-8f3a-0123456789ad", "images", 4);
  other.client = "ci";
  for (const Execution& e : {api, hook, job, other}) store.Apply(e);
  struct Case {
    std::string client, source;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"release-bot", "", {job.id, api.id}},
      {"", "api", {other.id, api.id}},
      {"", "webhook", {hook.id}},
      {"", "pipeline", {job.id}},
      {"release-bot", "api", {api.id}},
      {"ci", "webhook", {}},
      {"webhook:github", "", {hook.id}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.client + " / " + c.source);
    ListQuery q;
    q.client = c.client;
    q.source = c.source;
    EXPECT_EQ(Ids(store.List(q)), c.want);
  }
}

TEST(ExecutionSourceTest, NamesWhereAnExecutionCameFrom) {
  EXPECT_EQ(ExecutionSource("0190f3a2-7b1c-7d2e-8f3a-0123456789ab", "dev"), "api");
  EXPECT_EQ(ExecutionSource("0190f3a2-7b1c-7d2e-8f3a-0123456789ab", "webhook:gitea"), "webhook");
  EXPECT_EQ(ExecutionSource("4398046511169", "dev"), "pipeline");
  EXPECT_EQ(ExecutionSource("", "dev"), "api");
}

// Follows next_page_token to the end; returns every page's ids.
std::vector<std::vector<std::string>> AllPages(const ExecutionStore& store, ListQuery query) {
  std::vector<std::vector<std::string>> pages;
  for (int guard = 0; guard < 100; ++guard) {
    ListPage page = store.List(query);
    pages.push_back(Ids(page));
    if (page.next_page_token.empty()) return pages;
    query.page_token = page.next_page_token;
  }
  ADD_FAILURE() << "paging does not end";
  return pages;
}

TEST(ExecutionStoreListTest, PagingReturnsEachExecutionExactlyOnce) {
  ExecutionStore store;
  Populate(store);
  struct Case {
    size_t page_size;
    std::vector<std::vector<std::string>> want;
  };
  const Case cases[] = {
      {3, {{"g", "f", "e"}, {"d2", "d", "c"}, {"b", "a"}}},
      {4, {{"g", "f", "e", "d2"}, {"d", "c", "b", "a"}}},  // last page full: no empty page after
      {8, {{"g", "f", "e", "d2", "d", "c", "b", "a"}}},
      {50, {{"g", "f", "e", "d2", "d", "c", "b", "a"}}},
      {1, {{"g"}, {"f"}, {"e"}, {"d2"}, {"d"}, {"c"}, {"b"}, {"a"}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("page_size " + std::to_string(c.page_size));
    ListQuery q;
    q.page_size = c.page_size;
    EXPECT_EQ(AllPages(store, q), c.want);
  }
}

TEST(ExecutionStoreListTest, PagingCombinesWithFilters) {
  ExecutionStore store;
  Populate(store);
  ListQuery q;
  q.page_size = 2;
  q.visible = [](const std::string& job) { return job != "secret"; };
  q.status = kSuccess;
  EXPECT_EQ(AllPages(store, q), (std::vector<std::vector<std::string>>{{"f", "d2"}, {"a"}}));
}

TEST(ExecutionStoreListTest, ExecutionsCreatedWhilePagingDoNotShiftLaterPages) {
  ExecutionStore store;
  Populate(store);
  ListQuery q;
  q.page_size = 3;
  ListPage first = store.List(q);
  ASSERT_EQ(Ids(first), (std::vector<std::string>{"g", "f", "e"}));
  store.Apply(Created("h", "nightly", 8));
  store.Apply(Created("i", "nightly", 9));
  q.page_token = first.next_page_token;
  EXPECT_EQ(Ids(store.List(q)), (std::vector<std::string>{"d2", "d", "c"}));
}

TEST(ExecutionStoreListTest, StatusChangesKeepTheListOrder) {
  ExecutionStore store;
  store.Apply(Created("old", "nightly", 1));
  store.Apply(Created("new", "nightly", 2));
  Execution done = Created("old", "nightly", 1, kSuccess);
  done.attempt = 1;
  store.Apply(done);
  EXPECT_EQ(Ids(store.List(ListQuery{})), (std::vector<std::string>{"new", "old"}));
  EXPECT_EQ(store.size(), 2u);
}

TEST(PageTokenTest, RoundTrips) {
  std::string token = EncodePageToken(1795428000123LL, kId);
  auto back = DecodePageToken(token);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->first, 1795428000123LL);
  EXPECT_EQ(back->second, kId);
}

TEST(PageTokenTest, RejectsGarbage) {
  struct Case {
    std::string name;
    std::string token;
  };
  const Case cases[] = {
      {"not hex", "zz"},
      {"odd length", "abc"},
      {"hex without a dot", HexEncode("12345")},
      {"dot first", HexEncode(".some-id")},
      {"letters before the dot", HexEncode("12a4.some-id")},
      {"negative time", HexEncode("-5.some-id")},
      {"too long", std::string(400, 'a')},
      {"spaces", "31 2e61"},
      {"time too large for 64 bits", HexEncode("99999999999999999999999.some-id")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name + ": " + c.token);
    auto got = DecodePageToken(c.token);
    EXPECT_FALSE(got.has_value()) << "decoded to (" << got->first << ", " << got->second << ")";
  }
}

}  // namespace
}  // namespace sluice
