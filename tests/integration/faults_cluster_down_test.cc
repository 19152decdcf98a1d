// Fault tier, scenario 4: every broker is killed for a while under load. The gateway cannot get
// acknowledgements, so each trigger is refused with 503 and Retry-After within its deadline
// (request_timeout 4s here); once Kafka is back, everything accepted before runs to SUCCESS.

#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/load.h"

namespace sluice::testing {
namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(4);

TEST(FaultsClusterDown, TriggersAreRefusedWithinTheDeadlineAndAcceptedOnesRunOnceKafkaIsBack) {
  CountedJobScene scene("  request_timeout: 4s\n");
  ASSERT_TRUE(scene.Ready());
  KafkaCluster& cluster = scene.cluster();
  const std::string& runs_log = scene.runs_log();
  HttpClient& http = scene.http();
  SluiceProcess& gateway = scene.gateway();
  SluiceProcess& first_worker = scene.worker(0);
  SluiceProcess& second_worker = scene.worker(1);

  TriggerLoad load({.gateway_urls = {gateway.url()},
                    .bodies = {PeriodicTriggerBody("counted")},
                    .threads = 16,
                    .requests_per_second = 100,
                    .duration = std::chrono::seconds(18)});
  load.Start();
  ASSERT_TRUE(WaitFor([&] { return load.accepted() >= 300; }, std::chrono::seconds(60)))
      << LogTails({&gateway});
  const auto down_at = std::chrono::steady_clock::now();
  for (int i = 1; i <= cluster.brokers(); ++i) ASSERT_TRUE(cluster.Kill(i));
  // Down long enough for a good number of refusals.
  const int answered_at_kill = load.answered();
  EXPECT_TRUE(
      WaitFor([&] { return load.answered() >= answered_at_kill + 16; }, std::chrono::seconds(30)));
  // All at once: one KRaft controller alone has no quorum and would not open its port.
  std::vector<std::thread> restarts;
  std::vector<int> restarted(cluster.brokers(), 0);
  for (int i = 1; i <= cluster.brokers(); ++i) {
    restarts.emplace_back([&, i] { restarted[i - 1] = cluster.Restart(i) ? 1 : 0; });
  }
  for (std::thread& t : restarts) t.join();
  for (int ok : restarted) ASSERT_EQ(ok, 1) << cluster.Logs();
  std::vector<TriggerOutcome> outcomes = load.Wait();

  std::set<std::string> accepted = AcceptedIds(outcomes);
  std::set<std::string> accepted_before_the_outage;
  int refused_slowly = 0;
  for (const TriggerOutcome& o : outcomes) {
    if (!o.execution_id.empty() && o.sent_at < down_at) {
      accepted_before_the_outage.insert(o.execution_id);
    }
    if (o.status == 503 && o.latency >= kRequestTimeout + std::chrono::seconds(2)) {
      if (refused_slowly == 0) ADD_FAILURE() << "a 503 took " << o.latency.count() << " ms";
      ++refused_slowly;
    }
  }
  std::map<std::string, std::string> statuses =
      WaitUntilEnded(http, gateway.url(), accepted, std::chrono::seconds(300));
  FaultFigures f = Tally(outcomes, ReadRuns(runs_log), statuses);
  PrintFigures("cluster_down", f);
  std::printf(
      "[faults] cluster_down: accepted_before_outage=%zu refused_after_deadline_plus_2s=%d\n",
      accepted_before_the_outage.size(), refused_slowly);
  std::fflush(stdout);

  EXPECT_GE(f.refused_503, 20) << "the outage did not show";
  EXPECT_EQ(f.refused_without_retry_after, 0);
  EXPECT_EQ(refused_slowly, 0);
  EXPECT_EQ(f.other_errors, 0);
  EXPECT_EQ(f.transport_errors, 0);
  for (const std::string& id : accepted_before_the_outage) {
    if (statuses[id] != "SUCCESS") {
      ADD_FAILURE() << id << ", accepted before the outage, ended "
                    << (statuses[id].empty() ? "(unknown)" : statuses[id]) << "\n"
                    << LogTails({&gateway, &first_worker, &second_worker});
      break;
    }
  }
  EXPECT_EQ(f.stuck, 0);
  EXPECT_EQ(f.not_success, 0);
  EXPECT_EQ(f.ran, f.accepted);
  EXPECT_EQ(f.overlapping, 0) << f.overlap_details;
}

}  // namespace
}  // namespace sluice::testing
