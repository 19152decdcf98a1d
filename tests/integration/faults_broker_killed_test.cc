// Fault tier, scenario 1: one broker of three is killed (kill -9) under a load of triggers and
// started again. Topics have replication factor 3 and min.insync.replicas 2, so the two brokers
// left keep taking triggers; a trigger Kafka cannot take within the deadline is refused with 503
// and Retry-After. Whatever the gateway answered 200 to runs, and runs exactly once.
//
// With acks=all the partition leaders wait for the killed broker until the controller fences it
// (broker.session.timeout.ms, 9s by default), so triggers stall for several seconds after the
// kill; with request_timeout 4s the gateway refuses those with 503 rather than keep clients
// waiting, and accepts again once the in-sync replica sets have shrunk. The load lasts long
// enough (30s) to show that recovery with the broker still down.

#include <gtest/gtest.h>

#include "tests/integration/harness/harness.h"
#include "tests/integration/harness/load.h"

namespace sluice::testing {
namespace {

TEST(FaultsBrokerKilled, EveryAcceptedTriggerRunsExactlyOnceAndEveryRefusalIs503WithRetryAfter) {
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
                    .duration = std::chrono::seconds(30)});
  load.Start();
  ASSERT_TRUE(WaitFor([&] { return load.accepted() >= 300; }, std::chrono::seconds(60)))
      << gateway.Log();
  ASSERT_TRUE(cluster.Kill(1));
  // Two in-sync replicas are enough: triggers are still accepted while the broker is down.
  const int accepted_at_kill = load.accepted();
  EXPECT_TRUE(
      WaitFor([&] { return load.accepted() >= accepted_at_kill + 200; }, std::chrono::seconds(40)))
      << "no triggers accepted with one broker down; gateway log:\n"
      << LogTails({&gateway});
  ASSERT_TRUE(cluster.Restart(1)) << cluster.Logs();
  std::vector<TriggerOutcome> outcomes = load.Wait();

  std::set<std::string> accepted = AcceptedIds(outcomes);
  std::map<std::string, std::string> statuses =
      WaitUntilEnded(http, gateway.url(), accepted, std::chrono::seconds(240));
  FaultFigures f = Tally(outcomes, ReadRuns(runs_log), statuses);
  PrintFigures("broker_killed", f);

  // Enough load to cross the fault, not a speed: on a busy 2-core machine the accepted count
  // varies by half from run to run (printed above; speed is measured in bench/).
  EXPECT_GE(f.accepted, 100);
  EXPECT_EQ(f.stuck, 0);
  EXPECT_EQ(f.not_success, 0);
  EXPECT_EQ(f.ran, f.accepted) << "an accepted trigger never ran";
  EXPECT_EQ(f.ran_twice, 0);
  EXPECT_EQ(f.overlapping, 0) << f.overlap_details
                              << LinesMentioning({&gateway, &first_worker, &second_worker},
                                                 f.overlapping_ids);
  EXPECT_EQ(f.refused_without_retry_after, 0);
  EXPECT_EQ(f.other_errors, 0);
  EXPECT_EQ(f.transport_errors, 0);
  for (const TriggerOutcome& o : outcomes) {
    if (o.status != 200 && o.status != 503) {
      ADD_FAILURE() << "request " << o.sequence << " answered " << o.status << ": " << o.detail;
      break;
    }
  }
  for (const auto& [id, status] : statuses) {
    if (status != "SUCCESS") {
      ADD_FAILURE() << id << " ended " << (status.empty() ? "(unknown)" : status) << "; logs:\n"
                    << LogTails({&gateway, &first_worker, &second_worker});
      break;
    }
  }
}

}  // namespace
}  // namespace sluice::testing
