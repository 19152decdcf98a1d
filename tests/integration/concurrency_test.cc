// A worker runs at most worker.max_concurrency executions at once; the rest wait in Kafka
// (its partitions are paused) and run as slots free up.

#include <gtest/gtest.h>

#include <set>

#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

TEST(Concurrency, AWorkerNeverRunsMoreThanMaxConcurrencyAtOnce) {
  Deployment d("  - {name: nap, type: periodic, command: [sh, -c, 'sleep 1']}\n",
               "  max_concurrency: 2\n");
  SluiceProcess& gateway = d.StartGateway();
  d.StartWorker();
  HttpClient http;
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(TriggerPeriodic(http, gateway, "nap"));

  int most_pending = 0;
  std::set<std::string> ended;
  bool all_ended = WaitFor(
      [&] {
        auto list = http.Get(gateway.url() + "/v1/executions?job_name=nap", kAliceToken).Json();
        if (!list.IsObject() || !list["job_execution"].IsArray()) return false;
        int pending = 0;
        for (auto& e : list["job_execution"].GetArray()) {
          std::string status = e["job_status"].GetString();
          if (status == "PENDING") ++pending;
          if (status == "SUCCESS") ended.insert(e["id"].GetString());
        }
        most_pending = std::max(most_pending, pending);
        return ended.size() == ids.size();
      },
      std::chrono::seconds(90));
  EXPECT_TRUE(all_ended) << ended.size() << " of " << ids.size() << " ended";
  EXPECT_LE(most_pending, 2) << "more executions ran at once than max_concurrency";
  EXPECT_EQ(most_pending, 2) << "the worker never used both of its slots";
}

}  // namespace
}  // namespace sluice::testing
