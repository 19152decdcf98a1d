// Several gateways and workers sharing one broker: the gateways are stateless (any of them
// answers for any execution, across restarts), an Idempotency-Key holds across gateways, and the
// workers share the load.

#include <gtest/gtest.h>

#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/api_helpers.h"
#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

// Each run appends a line to runs.txt in the execution's artifacts directory, so the file counts
// the runs of one execution.
constexpr char kJobs[] =
    "  - {name: once, type: periodic, command: [sh, -c, 'echo run >> $ARTIFACTS/runs.txt; sleep "
    "1']}\n"
    "  - {name: other, type: periodic, command: ['true']}\n"
    "  - {name: short, type: periodic, command: [sh, -c, 'echo short; sleep 1']}\n"
    "  - {name: hello, type: periodic, command: [sh, -c, 'echo hello from $JOB_NAME']}\n";

std::string RunsFile(const Deployment& d, const std::string& job, const std::string& id) {
  return d.artifacts() + "/" + job + "/" + id + "/runs.txt";
}

TEST(ScaleOut, SameIdempotencyKeyOnTwoGatewaysAtOnceGivesOneExecutionAndOneRun) {
  Deployment d(kJobs);
  SluiceProcess& a = d.StartGateway();
  SluiceProcess& b = d.StartGateway();
  d.StartWorker();
  const std::vector<std::string> key = {"Idempotency-Key: nightly-2024-06-01"};

  HttpResponse from_a;
  HttpResponse from_b;
  std::latch start(2);
  std::thread ta([&] {
    HttpClient http;
    start.arrive_and_wait();
    from_a = PostExecution(http, a, PeriodicBody("once"), key);
  });
  std::thread tb([&] {
    HttpClient http;
    start.arrive_and_wait();
    from_b = PostExecution(http, b, PeriodicBody("once"), key);
  });
  ta.join();
  tb.join();

  ASSERT_EQ(from_a.status, 200) << from_a.body << from_a.error;
  ASSERT_EQ(from_b.status, 200) << from_b.body << from_b.error;
  std::string id = StringField(from_a, "id");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(StringField(from_b, "id"), id);

  HttpClient http;
  ASSERT_EQ(WaitForEnd(http, a, id), "SUCCESS") << a.Log();
  EXPECT_EQ(ReadFileText(RunsFile(d, "once", id)), "run\n");
  std::string log = LogOf(http, a, id);
  EXPECT_EQ(WorkersInLog(log).size(), 1u) << log;
  // The second copy of the trigger may reach the worker after the first run ended; it must not
  // start a second one.
  EXPECT_FALSE(WaitFor([&] { return ReadFileText(RunsFile(d, "once", id)) != "run\n"; },
                       std::chrono::seconds(3)))
      << ReadFileText(RunsFile(d, "once", id));
  // Both gateways list it once.
  for (SluiceProcess* gateway : {&a, &b}) {
    HttpResponse listed = http.Get(gateway->url() + "/v1/executions?job_name=once", kAliceToken);
    EXPECT_EQ(ListedIds(listed), std::vector<std::string>{id}) << listed.body;
  }
}

TEST(ScaleOut, SameIdempotencyKeyAfterTheEndGivesTheSameExecutionWithoutRunningAgain) {
  Deployment d(kJobs);
  SluiceProcess& a = d.StartGateway();
  SluiceProcess& b = d.StartGateway();
  d.StartWorker();
  const std::vector<std::string> key = {"Idempotency-Key: release-42"};
  HttpClient http;
  HttpResponse first = PostExecution(http, a, PeriodicBody("once"), key);
  ASSERT_EQ(first.status, 200) << first.body;
  std::string id = StringField(first, "id");
  ASSERT_EQ(WaitForEnd(http, b, id), "SUCCESS");

  HttpResponse again = PostExecution(http, b, PeriodicBody("once"), key);

  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(StringField(again, "id"), id);
  EXPECT_EQ(StringField(again, "job_status"), "SUCCESS") << again.body;
  EXPECT_FALSE(WaitFor([&] { return ReadFileText(RunsFile(d, "once", id)) != "run\n"; },
                       std::chrono::seconds(3)))
      << ReadFileText(RunsFile(d, "once", id));
}

TEST(ScaleOut, SameIdempotencyKeyWithADifferentBodyConflicts) {
  Deployment d(kJobs);
  SluiceProcess& a = d.StartGateway();
  SluiceProcess& b = d.StartGateway();
  const std::vector<std::string> key = {"Idempotency-Key: deploy-7"};
  HttpClient http;
  HttpResponse first = PostExecution(http, a, PeriodicBody("other"), key);
  ASSERT_EQ(first.status, 200) << first.body;
  std::string id = StringField(first, "id");
  ASSERT_TRUE(WaitFor([&] { return StatusOf(http, b, id) == "TRIGGERED"; }));

  for (SluiceProcess* gateway : {&a, &b}) {
    HttpResponse conflict = PostExecution(http, *gateway, PeriodicBody("hello"), key);
    ExpectErrorBody(conflict, 409, kFailedPreconditionCode);
    EXPECT_NE(StringField(conflict, "message").find("Idempotency-Key"), std::string::npos)
        << conflict.body;
  }
  EXPECT_EQ(StatusOf(http, a, id), "TRIGGERED");
  rapidjson::Document e = GetExecution(http, a, id);
  EXPECT_EQ(StringField(e, "job_name"), "other");
}

TEST(ScaleOut, JobsTriggeredOnOneGatewaySpreadOverTwoWorkersAndAreReadOnTheOther) {
  Deployment d(kJobs);
  SluiceProcess& a = d.StartGateway();
  SluiceProcess& b = d.StartGateway();
  SluiceProcess& first_worker = d.StartWorker();
  SluiceProcess& second_worker = d.StartWorker();
  // Both workers hold partitions before the triggers arrive.
  ASSERT_TRUE(WaitFor(
      [&] {
        return first_worker.Log().find("assigned") != std::string::npos &&
               second_worker.Log().find("assigned") != std::string::npos;
      },
      std::chrono::seconds(60)))
      << first_worker.Log() << second_worker.Log();
  HttpClient http;
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(TriggerPeriodic(http, a, "short"));

  std::set<std::string> workers;
  for (const std::string& id : ids) {
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(WaitForEnd(http, b, id, std::chrono::seconds(90)), "SUCCESS") << id;
    std::string log = LogOf(http, b, id);
    EXPECT_NE(log.find("short"), std::string::npos) << log;
    for (const std::string& w : WorkersInLog(log)) workers.insert(w);
  }
  EXPECT_GE(workers.size(), 2u) << "all jobs ran on one worker";
}

TEST(ScaleOut, RestartedGatewayStillAnswersForOldExecutions) {
  Deployment d(kJobs);
  SluiceProcess& old_gateway = d.StartGateway();
  d.StartWorker();
  HttpClient http;
  std::string id = TriggerPeriodic(http, old_gateway, "hello");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(WaitForEnd(http, old_gateway, id), "SUCCESS");

  EXPECT_EQ(old_gateway.Terminate(), 0) << old_gateway.Log();
  SluiceProcess& new_gateway = d.StartGateway();
  ASSERT_TRUE(WaitFor([&] { return http.Get(new_gateway.url() + "/readyz", "").status == 200; }));

  // Ready means caught up: the old execution is there at once.
  rapidjson::Document e = GetExecution(http, new_gateway, id);
  ASSERT_TRUE(e.IsObject()) << "old execution not found after the restart";
  EXPECT_EQ(StringField(e, "job_status"), "SUCCESS");
  EXPECT_EQ(StringField(e, "job_name"), "hello");
  EXPECT_TRUE(HasField(e, "completion_time"));
  EXPECT_NE(LogOf(http, new_gateway, id).find("hello from hello"), std::string::npos);
  HttpResponse listed = http.Get(new_gateway.url() + "/v1/executions?job_name=hello", kAliceToken);
  EXPECT_EQ(ListedIds(listed), std::vector<std::string>{id}) << listed.body;
}

}  // namespace
}  // namespace sluice::testing
