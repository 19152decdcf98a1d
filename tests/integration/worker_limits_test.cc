// A worker that Kafka refuses or ignores still ends what it holds: a record the results topic
// can never take (a trigger that fits, whose claim does not) ends its execution ERROR instead of
// being retried forever, and SIGTERM ends the
// worker within shutdown_grace + kill_grace (the harness's 5 s + 2 s) even with every broker down,
// leaving none of the job's processes behind.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>

#include "common/execution_id.h"
#include "common/json_codec.h"
#include "common/kafka.h"
#include "common/record_limits.h"
#include "tests/integration/api_helpers.h"
#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool ProcessGone(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] == 'Z';
}

TEST(WorkerLimits, ARecordTooLargeForTheResultsTopicEndsTheExecutionError) {
  Deployment d(
      "  - {name: periodic-to-trigger, type: periodic, allow_env_override: [RELEASE_IMAGE_LATEST],"
      "\n     command: [sh, -c, 'echo ran']}\n",
      "", "  request_timeout: 2s\n");
  SluiceProcess& gateway = d.StartGateway();
  SluiceProcess& worker = d.StartWorker();
  HttpClient http;

  // Straight into the requests topic: a trigger just under the topics' record limit fits, but
  // every record the worker writes for it (claim, heartbeat, end) adds the worker's fields and
  // is over it, so the worker's producer refuses them for good.
  auto publisher = KafkaPublisher::Create(d.kafka(), seconds(10), 4 * 1024 * 1024);
  ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
  Trigger t;
  t.id = NewExecutionIdV7(std::chrono::system_clock::now());
  t.job_name = "periodic-to-trigger";
  t.job_type = JobType::kPeriodic;
  t.create_time = std::chrono::system_clock::now() - seconds(30);  // past request_timeout
  t.client = "alice";
  t.pod_spec_options.envs["RELEASE_IMAGE_LATEST"] = "";
  const size_t target = kMaxRecordBytes - 200;
  t.pod_spec_options.envs["RELEASE_IMAGE_LATEST"] =
      std::string(target - EncodeTrigger(t).size(), 'x');
  ASSERT_EQ(EncodeTrigger(t).size(), target);
  Execution claim = Execution::FromTrigger(t, d.artifacts() + "/periodic-to-trigger/" + t.id);
  claim.job_status = JobStatus::kPending;
  claim.worker = "a-worker-0000";
  claim.attempt = 1;
  claim.heartbeat_time = claim.start_time = std::chrono::system_clock::now();
  ASSERT_GT(EncodeExecutionRecord(claim).size(), kMaxRecordBytes) << "the claim must not fit";
  std::promise<Status> acked;
  (*publisher)->Publish(d.kafka().RequestsTopic(), t.id, EncodeTrigger(t), [&](const Status& s) {
    acked.set_value(s);
  });
  Status s = acked.get_future().get();
  ASSERT_TRUE(s.ok()) << s.ToString();

  EXPECT_EQ(WaitForEnd(http, gateway, t.id, seconds(30)), "ERROR") << worker.Log();
  HttpResponse got = http.Get(gateway.url() + "/v1/executions/" + t.id, kAliceToken);
  EXPECT_LT(got.body.size(), 8192u) << "the ERROR record is compact";
  EXPECT_NE(got.body.find("record too large for the results topic"), std::string::npos)
      << got.body.substr(0, 2000);

  // The worker moved on: a normal trigger runs, and nothing is retried meanwhile.
  std::string next = TriggerPeriodic(http, gateway, "periodic-to-trigger");
  EXPECT_EQ(WaitForEnd(http, gateway, next, seconds(30)), "SUCCESS") << worker.Log();
  EXPECT_EQ(worker.Log().find("claim not acknowledged"), std::string::npos) << worker.Log();
  auto stopping = std::chrono::steady_clock::now();
  EXPECT_EQ(worker.Terminate(seconds(20)), 0) << worker.Log();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, seconds(7));
}

TEST(WorkerLimits, SigtermEndsTheWorkerInTimeWithKafkaDownAndLeavesNoJobProcess) {
  std::unique_ptr<KafkaCluster> own = OwnKafkaOnTheKafkaTier();
  Deployment d(
      // executor: process, so that the daemon's pid (written by the job) is the host's: the
      // runner's process-tree kill is what ends it. job_isolation_test covers the sandbox's.
      "  - {name: stubborn, type: periodic, executor: process,\n"
      "     command: [sh, -c, 'trap \"\" TERM; setsid sh -c \"echo \\$\\$ > $ARTIFACTS/daemon.pid;"
      " exec sleep 300\" & sleep 300']}\n",
      "", "", "", own.get());
  SluiceProcess& gateway = d.StartGateway();
  SluiceProcess& worker = d.StartWorker();
  HttpClient http;
  std::string id = TriggerPeriodic(http, gateway, "stubborn");
  ASSERT_FALSE(id.empty());
  const std::string pid_file = d.artifacts() + "/stubborn/" + id + "/daemon.pid";
  ASSERT_TRUE(WaitFor([&] { return !ReadText(pid_file).empty(); }, seconds(30))) << worker.Log();
  int daemon = std::stoi(ReadText(pid_file));
  ASSERT_FALSE(ProcessGone(daemon));

  d.SetKafkaDown(true);
  auto stopping = std::chrono::steady_clock::now();
  worker.Terminate(seconds(30));
  auto stopped_after = std::chrono::steady_clock::now() - stopping;
  EXPECT_LT(stopped_after, seconds(7) + std::chrono::milliseconds(500))
      << "shutdown_grace 5s + kill_grace 2s\n"
      << worker.Log();
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(daemon); }, seconds(2)))
      << "the job's setsid daemon " << daemon << " outlived the worker";
  d.SetKafkaDown(false);
}

}  // namespace
}  // namespace sluice::testing
