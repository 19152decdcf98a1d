#include "worker/trigger_decision.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "fakes.h"

namespace sluice {

// Lets GoogleTest print a decision's kind by name (found by argument-dependent lookup).
inline const char* KindName(TriggerDecision::Kind kind) {
  switch (kind) {
    case TriggerDecision::Kind::kSkip:
      return "skip";
    case TriggerDecision::Kind::kWait:
      return "wait";
    case TriggerDecision::Kind::kRun:
      return "run";
    case TriggerDecision::Kind::kAbort:
      return "abort";
    case TriggerDecision::Kind::kGiveUp:
      return "give up";
  }
  return "?";
}
inline void PrintTo(TriggerDecision::Kind kind, std::ostream* os) { *os << KindName(kind); }

namespace {

using Kind = TriggerDecision::Kind;
using std::chrono::seconds;

// The trigger was created at the test epoch; `now` is `age` seconds later. lease 30s,
// view_wait 10s.
TriggerFacts Facts(int age_seconds, std::optional<Execution> current = std::nullopt,
                   int max_attempts = 1) {
  TriggerFacts f;
  if (current) f.current = ExecutionState::Of(*current);
  f.trigger_create_time = TestEpoch();
  f.now = TestEpoch() + seconds(age_seconds);
  f.lease = seconds(30);
  f.view_wait = seconds(10);
  f.max_attempts = max_attempts;
  return f;
}

Execution State(JobStatus status, int attempt = 0, std::string worker = "",
                std::optional<int> heartbeat_second = std::nullopt) {
  Execution e;
  e.id = "0190f3a2-7b1c-7d2e-8f3a-0123456789ab";
  e.job_name = "periodic-echo";
  e.job_status = status;
  e.attempt = attempt;
  e.worker = std::move(worker);
  e.create_time = TestEpoch();
  if (heartbeat_second) e.heartbeat_time = TestEpoch() + seconds(*heartbeat_second);
  return e;
}

TEST(DecideTriggerTest, Table) {
  struct Case {
    std::string name;
    TriggerFacts facts;
    Kind kind;
    int attempt;
  };
  TriggerFacts running_here = Facts(100, State(JobStatus::kPending, 1, "me", 0));
  running_here.running_here = true;
  TriggerFacts abort_triggered = Facts(1, State(JobStatus::kTriggered));
  abort_triggered.abort_requested = true;
  TriggerFacts abort_unknown = Facts(1);
  abort_unknown.abort_requested = true;
  TriggerFacts abort_terminal = Facts(1, State(JobStatus::kSuccess, 1, "w1", 0));
  abort_terminal.abort_requested = true;
  TriggerFacts running_here_terminal = Facts(1, State(JobStatus::kSuccess, 1, "w1", 0));
  running_here_terminal.running_here = true;

  const Case cases[] = {
      {"already running on this worker", running_here, Kind::kWait, 0},
      {"running here wins over terminal", running_here_terminal, Kind::kWait, 0},
      {"SUCCESS", Facts(1, State(JobStatus::kSuccess, 1, "w1", 0)), Kind::kSkip, 0},
      {"FAILURE", Facts(1, State(JobStatus::kFailure, 1, "w1", 0)), Kind::kSkip, 0},
      {"ABORTED", Facts(1, State(JobStatus::kAborted, 0, "w1", 0)), Kind::kSkip, 0},
      {"ERROR", Facts(1, State(JobStatus::kError, 1, "w1", 0)), Kind::kSkip, 0},
      {"terminal and abort requested", abort_terminal, Kind::kSkip, 0},
      {"abort requested, TRIGGERED", abort_triggered, Kind::kAbort, 0},
      {"abort requested, not in the view", abort_unknown, Kind::kAbort, 0},
      {"unknown, younger than view_wait", Facts(9), Kind::kWait, 0},
      {"unknown, exactly view_wait old", Facts(10), Kind::kRun, 1},
      {"unknown, older than view_wait", Facts(11), Kind::kRun, 1},
      {"TRIGGERED", Facts(0, State(JobStatus::kTriggered)), Kind::kRun, 1},
      {"PENDING, fresh heartbeat", Facts(40, State(JobStatus::kPending, 1, "w1", 20)), Kind::kWait,
       0},
      {"PENDING, heartbeat just under the lease",
       Facts(49, State(JobStatus::kPending, 1, "w1", 20)), Kind::kWait, 0},
      {"PENDING, heartbeat exactly the lease old",
       Facts(50, State(JobStatus::kPending, 1, "w1", 20), 2), Kind::kRun, 2},
      {"PENDING, stale heartbeat, attempts left",
       Facts(60, State(JobStatus::kPending, 1, "w1", 20), 3), Kind::kRun, 2},
      {"PENDING attempt 2, stale heartbeat, attempts left",
       Facts(100, State(JobStatus::kPending, 2, "w2", 50), 3), Kind::kRun, 3},
      {"PENDING, stale heartbeat, no attempts left",
       Facts(60, State(JobStatus::kPending, 1, "w1", 20), 1), Kind::kGiveUp, 1},
      {"PENDING attempt 3 of 3, stale", Facts(200, State(JobStatus::kPending, 3, "w3", 100), 3),
       Kind::kGiveUp, 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TriggerDecision d = DecideTrigger(c.facts);
    EXPECT_EQ(d.kind, c.kind) << d.message;
    if (c.kind == Kind::kRun || c.kind == Kind::kGiveUp) {
      EXPECT_EQ(d.attempt, c.attempt);
    }
  }
}

TEST(DecideTriggerTest, GivingUpNamesTheLostWorkerAndTheAttempt) {
  TriggerDecision d = DecideTrigger(Facts(60, State(JobStatus::kPending, 1, "worker-7f3a", 20), 1));
  ASSERT_EQ(d.kind, Kind::kGiveUp);
  EXPECT_NE(d.message.find("worker-7f3a"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("attempt 1"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("max_attempts"), std::string::npos) << d.message;
}

TEST(DecideTriggerTest, APendingRecordWithoutHeartbeatIsJudgedByItsStartTime) {
  Execution pending = State(JobStatus::kPending, 1, "w1");
  pending.start_time = TestEpoch() + seconds(50);
  EXPECT_EQ(DecideTrigger(Facts(60, pending, 2)).kind, Kind::kWait);
  TriggerDecision stale = DecideTrigger(Facts(90, pending, 2));
  EXPECT_EQ(stale.kind, Kind::kRun);
  EXPECT_EQ(stale.attempt, 2);
}

// An abort of a running execution is the owning worker's to carry out (SIGTERM, kill_grace,
// then ABORTED once the process has ended). A worker that meets the same trigger again (after a
// rebalance, say) while the owner's heartbeat is fresh must leave it alone, not record ABORTED
// "before it started" while the job still runs elsewhere.
TEST(DecideTriggerTest, AnAbortOfAnExecutionALiveWorkerRunsIsLeftToThatWorker) {
  TriggerFacts f = Facts(40, State(JobStatus::kPending, 1, "w1", 35), 2);
  f.abort_requested = true;
  TriggerDecision d = DecideTrigger(f);
  EXPECT_EQ(d.kind, Kind::kWait) << d.message;
}

TEST(DecideTriggerTest, AnAbortOfAnExecutionWhoseWorkerWasLostIsRecordedHere) {
  TriggerFacts f = Facts(100, State(JobStatus::kPending, 1, "w1", 20), 2);
  f.abort_requested = true;
  EXPECT_EQ(DecideTrigger(f).kind, Kind::kAbort) << "rather than a rerun nobody wants";
}

// A takeover names the holder's record it replaces, so that it is void if that holder's
// heartbeat reached the results topic first; a first claim names none.
TEST(DecideTriggerTest, ATakeoverNamesTheRecordOfTheLostHolder) {
  TriggerDecision next = DecideTrigger(Facts(60, State(JobStatus::kPending, 1, "w1", 20), 2));
  ASSERT_EQ(next.kind, Kind::kRun);
  ASSERT_TRUE(next.takes_over.has_value());
  EXPECT_EQ(next.takes_over->worker, "w1");
  EXPECT_EQ(next.takes_over->attempt, 1);
  EXPECT_EQ(next.takes_over->heartbeat_time, TestEpoch() + seconds(20));

  TriggerDecision give_up = DecideTrigger(Facts(60, State(JobStatus::kPending, 3, "w3", 20), 3));
  ASSERT_EQ(give_up.kind, Kind::kGiveUp);
  ASSERT_TRUE(give_up.takes_over.has_value());
  EXPECT_EQ(give_up.takes_over->attempt, 3);

  TriggerFacts abort_lost = Facts(100, State(JobStatus::kPending, 1, "w1", 20), 2);
  abort_lost.abort_requested = true;
  TriggerDecision aborted = DecideTrigger(abort_lost);
  ASSERT_EQ(aborted.kind, Kind::kAbort);
  ASSERT_TRUE(aborted.takes_over.has_value());
  EXPECT_NE(aborted.message.find("w1"), std::string::npos) << aborted.message;

  EXPECT_FALSE(DecideTrigger(Facts(0, State(JobStatus::kTriggered))).takes_over.has_value());
  EXPECT_FALSE(DecideTrigger(Facts(11)).takes_over.has_value());
}

// A heartbeat stamped long ago may reach the results topic late (a partition leader moved), or
// this worker's view may have stalled; either way the holder only just showed up here. It is
// judged lost only once this view has also shown that same record for a whole lease.
TEST(DecideTriggerTest, AHolderIsNotLostUntilThisViewShowedItsLastRecordForALease) {
  Execution late = State(JobStatus::kPending, 1, "w1", 20);
  late.seen_time = TestEpoch() + seconds(55);
  EXPECT_EQ(DecideTrigger(Facts(60, late, 2)).kind, Kind::kWait);
  EXPECT_EQ(DecideTrigger(Facts(84, late, 2)).kind, Kind::kWait);
  TriggerDecision lapsed = DecideTrigger(Facts(85, late, 2));
  EXPECT_EQ(lapsed.kind, Kind::kRun);
  EXPECT_EQ(lapsed.attempt, 2);
}

TEST(DecideTriggerTest, AbortBeforeStartSaysSo) {
  TriggerFacts f = Facts(1, State(JobStatus::kTriggered));
  f.abort_requested = true;
  TriggerDecision d = DecideTrigger(f);
  ASSERT_EQ(d.kind, Kind::kAbort);
  EXPECT_FALSE(d.message.empty());
}

}  // namespace
}  // namespace sluice
