// Workers that die or are stopped mid-job. The deployment's worker lease is 3s and its heartbeat
// 500ms; the consumer group's session timeout is at least 6s, so a lost worker's triggers move on
// after roughly 6-10s. The waits are generous because the machine is shared.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/api_helpers.h"
#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

constexpr auto kFailoverTimeout = std::chrono::seconds(90);

constexpr char kJobs[] =
    "  - {name: retried, type: periodic, max_attempts: 2, timeout: 60s,\n"
    "     command: [sh, -c, 'echo started; sleep 5; echo done']}\n"
    "  - {name: single, type: periodic, max_attempts: 1, timeout: 60s,\n"
    "     command: [sh, -c, 'echo started; sleep 5; echo done']}\n"
    "  - {name: brief, type: periodic, command: [sh, -c, 'echo started; sleep 2; echo done']}\n"
    "  - {name: lengthy, type: periodic, command: [sh, -c, 'echo started; sleep 60']}\n"
    "  - {name: counted, type: periodic, command: [sh, -c, 'echo run >> $ARTIFACTS/runs.txt']}\n"
    "  - {name: marker, type: periodic, command: ['true']}\n";

// Triggers `job` and waits until a worker runs it (its log says "started").
std::string TriggerAndWaitUntilRunning(HttpClient& http, SluiceProcess& gateway,
                                       const std::string& job) {
  std::string id = TriggerPeriodic(http, gateway, job);
  EXPECT_FALSE(id.empty());
  if (id.empty()) return "";
  EXPECT_TRUE(WaitForLog(http, gateway, id, "started")) << "never started";
  // The job's log is read from disk; the claim reaches the gateway's view through Kafka, which
  // may take a moment longer on a loaded machine.
  EXPECT_TRUE(
      WaitFor([&] { return StatusOf(http, gateway, id) == "PENDING"; }, std::chrono::seconds(10)))
      << StatusOf(http, gateway, id);
  return id;
}

TEST(WorkerFailover, WorkerKilledMidJobIsReplacedByAttemptTwoWhenMaxAttemptsAllows) {
  Deployment d(kJobs);
  SluiceProcess& gateway = d.StartGateway();
  SluiceProcess& doomed = d.StartWorker();
  HttpClient http;
  std::string id = TriggerAndWaitUntilRunning(http, gateway, "retried");
  ASSERT_FALSE(id.empty());

  doomed.Kill();
  d.StartWorker();

  EXPECT_EQ(WaitForEnd(http, gateway, id, kFailoverTimeout), "SUCCESS") << gateway.Log();
  std::string log = LogOf(http, gateway, id);
  EXPECT_NE(log.find("[sluice] attempt 2 of retried"), std::string::npos) << log;
  std::vector<std::string> workers = WorkersInLog(log);
  ASSERT_EQ(workers.size(), 2u) << log;
  EXPECT_NE(workers[0], workers[1]) << "attempt 2 should run on the surviving worker";
}

TEST(WorkerFailover, WorkerKilledMidJobEndsErrorNamingTheLostWorkerWhenNoAttemptsAreLeft) {
  Deployment d(kJobs);
  SluiceProcess& gateway = d.StartGateway();
  SluiceProcess& doomed = d.StartWorker();
  HttpClient http;
  std::string id = TriggerAndWaitUntilRunning(http, gateway, "single");
  ASSERT_FALSE(id.empty());
  std::vector<std::string> workers = WorkersInLog(LogOf(http, gateway, id));
  ASSERT_EQ(workers.size(), 1u);

  doomed.Kill();
  d.StartWorker();

  EXPECT_EQ(WaitForEnd(http, gateway, id, kFailoverTimeout), "ERROR") << gateway.Log();
  rapidjson::Document e = GetExecution(http, gateway, id);
  std::string message = StringField(e, "message");
  EXPECT_NE(message.find("lost"), std::string::npos) << message;
  EXPECT_NE(message.find(workers[0]), std::string::npos) << message;
  EXPECT_TRUE(HasField(e, "completion_time"));
  EXPECT_EQ(LogOf(http, gateway, id).find("[sluice] attempt 2"), std::string::npos)
      << "no second attempt is allowed";
}

TEST(WorkerShutdown, SigtermLetsARunningShortJobFinishBeforeTheWorkerExits) {
  Deployment d(kJobs);
  SluiceProcess& gateway = d.StartGateway();
  SluiceProcess& worker = d.StartWorker();
  HttpClient http;
  std::string id = TriggerAndWaitUntilRunning(http, gateway, "brief");
  ASSERT_FALSE(id.empty());

  EXPECT_EQ(worker.Terminate(), 0) << worker.Log();

  // The worker reported the end before it exited.
  EXPECT_EQ(WaitForEnd(http, gateway, id, std::chrono::seconds(10)), "SUCCESS");
  EXPECT_NE(LogOf(http, gateway, id).find("done"), std::string::npos);
}

TEST(WorkerShutdown, SigtermAbortsAJobStillRunningAfterShutdownGrace) {
  Deployment d(kJobs);
  SluiceProcess& gateway = d.StartGateway();
  SluiceProcess& worker = d.StartWorker();
  HttpClient http;
  std::string id = TriggerAndWaitUntilRunning(http, gateway, "lengthy");
  ASSERT_FALSE(id.empty());

  auto stopping = std::chrono::steady_clock::now();
  EXPECT_EQ(worker.Terminate(), 0) << worker.Log();
  auto stopped_after = std::chrono::steady_clock::now() - stopping;

  EXPECT_EQ(WaitForEnd(http, gateway, id, std::chrono::seconds(10)), "ABORTED");
  EXPECT_LT(stopped_after, std::chrono::seconds(30))
      << "shutdown_grace is 5s and kill_grace 2s; the 60s job must not hold the worker";
  std::string message = StringField(GetExecution(http, gateway, id), "message");
  EXPECT_NE(message.find("shut"), std::string::npos)
      << "should say the worker shut down: " << message;
}

TEST(WorkerRedelivery, WorkerRestartedAfterItsJobEndedDoesNotRunItAgain) {
  Deployment d(kJobs);
  SluiceProcess& gateway = d.StartGateway();
  SluiceProcess& worker = d.StartWorker();
  HttpClient http;
  std::string id = TriggerPeriodic(http, gateway, "counted");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(WaitForEnd(http, gateway, id), "SUCCESS");
  std::string runs = d.artifacts() + "/counted/" + id + "/runs.txt";
  ASSERT_EQ(ReadFileText(runs), "run\n");

  // No chance to commit its offsets: the trigger is delivered again to the next worker.
  worker.Kill();
  SluiceProcess& next = d.StartWorker();
  // Once the next worker has run a later trigger it has read its partitions.
  std::string later = TriggerPeriodic(http, gateway, "marker");
  ASSERT_EQ(WaitForEnd(http, gateway, later, kFailoverTimeout), "SUCCESS") << next.Log();

  EXPECT_FALSE(WaitFor([&] { return ReadFileText(runs) != "run\n"; }, std::chrono::seconds(3)))
      << ReadFileText(runs);
  EXPECT_EQ(StatusOf(http, gateway, id), "SUCCESS");
  EXPECT_EQ(WorkersInLog(LogOf(http, gateway, id)).size(), 1u);
}

}  // namespace
}  // namespace sluice::testing
