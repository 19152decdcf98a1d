// The scaled topology of issue 3: 3 brokers, 2 gateways and 3 workers, each a separate process.
// Triggers are spread over both gateways, every worker runs jobs, and either gateway answers for
// every execution, whichever gateway took it.

#include <gtest/gtest.h>

#include <regex>

#include "tests/integration/api_helpers.h"
#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/load.h"

namespace sluice::testing {
namespace {

// The partition count of the worker's most recent "assigned N partition(s)" line (-1: none yet).
int LatestAssignment(const SluiceProcess& worker) {
  static const std::regex kAssigned(R"(assigned (\d+) partition)");
  std::string log = worker.Log();
  int latest = -1;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kAssigned);
       it != std::sregex_iterator(); ++it) {
    latest = std::stoi((*it)[1].str());
  }
  return latest;
}

TEST(FaultsScaledTopology, TwoGatewaysAndThreeWorkersShareTheLoadAndAnyGatewayAnswers) {
  KafkaCluster cluster(3);
  ASSERT_TRUE(cluster.ok());
  StopAtOnceAtTheEnd stop_at_once(cluster);
  TempDir scratch;
  const std::string runs_log = scratch.path() + "/runs.log";
  Deployment d("  - {name: counted, type: periodic, " + CountedJob(runs_log, 0.2) + "}\n",
               "  max_concurrency: 8\n", "", "", &cluster);
  SluiceProcess& a = d.StartGateway();
  SluiceProcess& b = d.StartGateway();
  std::vector<SluiceProcess*> workers = {&d.StartWorker(), &d.StartWorker(), &d.StartWorker()};
  HttpClient http;
  ASSERT_TRUE(WaitUntilReady(http, a)) << a.Log();
  ASSERT_TRUE(WaitUntilReady(http, b)) << b.Log();
  // Every worker holds partitions (4 partitions over 3 workers).
  ASSERT_TRUE(WaitFor(
      [&] {
        for (SluiceProcess* w : workers) {
          if (LatestAssignment(*w) < 1) return false;
        }
        return true;
      },
      std::chrono::seconds(90)))
      << LogTails(workers);

  TriggerLoad load({.gateway_urls = {a.url(), b.url()},
                    .bodies = {PeriodicTriggerBody("counted")},
                    .threads = 16,
                    .requests_per_second = 100,
                    .duration = std::chrono::seconds(10)});
  load.Start();
  std::vector<TriggerOutcome> outcomes = load.Wait();
  std::set<std::string> accepted = AcceptedIds(outcomes);
  std::map<std::string, int> accepted_by_gateway;
  for (const TriggerOutcome& o : outcomes) {
    if (!o.execution_id.empty()) ++accepted_by_gateway[o.gateway_url];
  }

  std::map<std::string, std::string> statuses =
      WaitUntilEnded(http, a.url(), accepted, std::chrono::seconds(240));
  FaultFigures f = Tally(outcomes, ReadRuns(runs_log), statuses);

  // Who ran what, from the first line of each build log.
  std::map<std::string, int> runs_by_worker_id;
  for (const std::string& id : accepted) {
    std::string log = ReadFileText(d.artifacts() + "/counted/" + id + "/build-log.txt");
    std::vector<std::string> ran_on = WorkersInLog(log);
    if (!ran_on.empty()) ++runs_by_worker_id[ran_on.front()];
  }
  // Either gateway answers for every execution, with the same status.
  int unanswered = 0;
  int disagreeing = 0;
  for (const std::string& id : accepted) {
    std::string on_a = StatusOf(http, a, id);
    std::string on_b = StatusOf(http, b, id);
    if (on_a.empty() || on_b.empty()) ++unanswered;
    if (on_a != on_b) ++disagreeing;
  }
  PrintFigures("scaled_topology", f);
  std::printf("[faults] scaled_topology: accepted_on_a=%d accepted_on_b=%d",
              accepted_by_gateway[a.url()], accepted_by_gateway[b.url()]);
  for (const auto& [worker, n] : runs_by_worker_id)
    std::printf(" ran_on[%s]=%d", worker.c_str(), n);
  std::printf(" unanswered=%d disagreeing=%d\n", unanswered, disagreeing);
  std::fflush(stdout);

  // Enough load to cross the fault, not a speed: on a busy 2-core machine the accepted count
  // varies by half from run to run (printed above; speed is measured in bench/).
  EXPECT_GE(f.accepted, 100);
  EXPECT_GT(accepted_by_gateway[a.url()], 0);
  EXPECT_GT(accepted_by_gateway[b.url()], 0);
  EXPECT_EQ(f.stuck, 0) << LogTails(workers);
  EXPECT_EQ(f.not_success, 0);
  EXPECT_EQ(f.ran, f.accepted);
  EXPECT_EQ(f.ran_twice, 0);
  EXPECT_EQ(f.overlapping, 0) << f.overlap_details;
  EXPECT_EQ(f.refused_503 + f.other_errors + f.transport_errors, 0);
  EXPECT_EQ(runs_by_worker_id.size(), workers.size()) << "not every worker ran jobs";
  EXPECT_EQ(unanswered, 0);
  EXPECT_EQ(disagreeing, 0);
}

}  // namespace
}  // namespace sluice::testing
