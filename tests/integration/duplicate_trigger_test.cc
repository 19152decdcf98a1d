// A trigger record that is in the requests topic twice (a producer retry after a timeout can do
// that) runs once. Both copies reach the worker and wait on the same condition (here: the
// gateway's TRIGGERED record, which never comes), so both are decided in the same turn of the
// worker's loop; the second must see that the first has just claimed the execution.

#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <string>

#include "common/execution_id.h"
#include "common/json_codec.h"
#include "common/kafka.h"
#include "tests/integration/api_helpers.h"
#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

int LinesIn(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

TEST(DuplicateTrigger, ATriggerRecordedTwiceRunsOnce) {
  Deployment d(
      "  - {name: counted, type: periodic, max_attempts: 1,\n"
      "     command: [sh, -c, 'echo run >> $ARTIFACTS/runs.txt; sleep 1']}\n",
      "  max_concurrency: 4\n", "  request_timeout: 2s\n");
  SluiceProcess& gateway = d.StartGateway();
  d.StartWorker();
  HttpClient http;
  // A first execution through the API, to know the worker is consuming.
  std::string warm_up = TriggerPeriodic(http, gateway, "counted");
  ASSERT_EQ(WaitForEnd(http, gateway, warm_up, std::chrono::seconds(60)), "SUCCESS");
  // Each run appends to its execution's artifacts, which every attempt of an execution shares.
  ASSERT_EQ(LinesIn(d.artifacts() + "/counted/" + warm_up + "/runs.txt"), 1);

  auto publisher = KafkaPublisher::Create(d.kafka(), std::chrono::seconds(10));
  ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
  Trigger t;
  t.id = NewExecutionIdV7(std::chrono::system_clock::now());
  t.job_name = "counted";
  t.job_type = JobType::kPeriodic;
  t.create_time = std::chrono::system_clock::now();
  t.client = "alice";
  const std::string record = EncodeTrigger(t);
  for (int copy = 0; copy < 2; ++copy) {
    std::promise<Status> acked;
    (*publisher)->Publish(d.kafka().RequestsTopic(), t.id, record, [&](const Status& s) {
      acked.set_value(s);
    });
    Status s = acked.get_future().get();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  EXPECT_EQ(WaitForEnd(http, gateway, t.id, std::chrono::seconds(60)), "SUCCESS");
  // Any second run would have started by now (it would have been decided with the first).
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(LinesIn(d.artifacts() + "/counted/" + t.id + "/runs.txt"), 1)
      << "the duplicated trigger ran more than once";
}

}  // namespace
}  // namespace sluice::testing
