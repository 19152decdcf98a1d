// WorkerRoster: the workers a gateway sees through the results topic, and what each runs.

#include "gateway/worker_roster.h"

#include <gtest/gtest.h>

#include "fakes.h"

namespace sluice {
namespace {

class WorkerRosterTest : public ::testing::Test {
 protected:
  WorkerRosterTest() : store_(clock_), roster_(store_) {}

  Execution Record(const std::string& id, JobStatus status, const std::string& worker,
                   int attempt = 1) {
    Execution e;
    e.id = id;
    e.job_name = "build";
    e.job_status = status;
    e.create_time = clock_.Now();
    if (!worker.empty()) {
      e.worker = worker;
      e.attempt = attempt;
      e.start_time = clock_.Now();
      e.heartbeat_time = clock_.Now();
    }
    if (IsTerminal(status)) e.completion_time = clock_.Now();
    return e;
  }

  std::vector<WorkerRoster::Worker> Seen() const {
    return roster_.SeenSince(clock_.Now() - std::chrono::minutes(10));
  }

  ManualClock clock_;
  ExecutionStore store_;
  WorkerRoster roster_;
};

TEST_F(WorkerRosterTest, AClaimShowsItsWorkerRunningTheExecution) {
  store_.Apply(Record("a", JobStatus::kTriggered, ""));
  EXPECT_TRUE(Seen().empty()) << "a trigger names no worker";
  store_.Apply(Record("a", JobStatus::kPending, "w1"));
  auto seen = Seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].name, "w1");
  EXPECT_EQ(seen[0].running, std::vector<std::string>{"a"});
  EXPECT_EQ(seen[0].last_seen, clock_.Now());
}

TEST_F(WorkerRosterTest, AResultEndsTheRunButTheWorkerStaysSeen) {
  store_.Apply(Record("a", JobStatus::kPending, "w1"));
  store_.Apply(Record("b", JobStatus::kPending, "w1"));
  clock_.Advance(std::chrono::seconds(5));
  store_.Apply(Record("a", JobStatus::kSuccess, "w1"));
  auto seen = Seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].running, std::vector<std::string>{"b"});
  EXPECT_EQ(seen[0].last_seen, clock_.Now()) << "the result is the newest sign of life";
}

TEST_F(WorkerRosterTest, ATakeoverMovesTheRunToTheNewWorker) {
  store_.Apply(Record("a", JobStatus::kPending, "w1", 1));
  store_.Apply(Record("a", JobStatus::kPending, "w2", 2));
  auto seen = Seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].name, "w1");
  EXPECT_TRUE(seen[0].running.empty());
  EXPECT_EQ(seen[1].name, "w2");
  EXPECT_EQ(seen[1].running, std::vector<std::string>{"a"});
}

TEST_F(WorkerRosterTest, AnIdleWorkerIsNoLongerSeenAfterTheWindow) {
  store_.Apply(Record("a", JobStatus::kPending, "w1"));
  store_.Apply(Record("a", JobStatus::kFailure, "w1"));
  clock_.Advance(std::chrono::minutes(11));
  EXPECT_TRUE(Seen().empty());
  store_.Apply(Record("b", JobStatus::kPending, "w2"));
  clock_.Advance(std::chrono::minutes(11));
  ASSERT_EQ(Seen().size(), 1u) << "a worker holding a claim stays however old its heartbeat";
  EXPECT_EQ(Seen()[0].name, "w2");
}

TEST_F(WorkerRosterTest, IdleWorkersAreBounded) {
  for (size_t i = 0; i < WorkerRoster::kMaxIdleWorkers + 10; ++i) {
    std::string id = "e" + std::to_string(i);
    store_.Apply(Record(id, JobStatus::kPending, "w" + std::to_string(i)));
    store_.Apply(Record(id, JobStatus::kSuccess, "w" + std::to_string(i)));
  }
  EXPECT_LE(Seen().size(), WorkerRoster::kMaxIdleWorkers + 1);
}

}  // namespace
}  // namespace sluice
