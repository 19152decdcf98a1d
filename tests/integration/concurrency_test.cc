// A worker runs at most worker.max_concurrency executions at once; the rest wait in Kafka
// (its partitions are paused) and run as slots free up.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <utility>
#include <vector>

#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

// Measured on the jobs' processes, not on the status view: the view may show a new claim
// before the SUCCESS of the run whose slot it took (they are records of two partitions), so it
// can count one execution too many for a moment.
TEST(Concurrency, AWorkerNeverRunsMoreThanMaxConcurrencyAtOnce) {
  Deployment d(
      "  - {name: nap, type: periodic, command: [sh, -c, 'echo \"$(date +%s%N) 1\" >> "
      "$ARTIFACTS/span.txt; sleep 1; echo \"$(date +%s%N) -1\" >> "
      "$ARTIFACTS/span.txt']}\n",
      "  max_concurrency: 2\n");
  SluiceProcess& gateway = d.StartGateway();
  d.StartWorker();
  HttpClient http;
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(TriggerPeriodic(http, gateway, "nap"));
  bool all_ended = WaitFor(
      [&] {
        for (const std::string& id : ids) {
          if (StatusOf(http, gateway, id) != "SUCCESS") return false;
        }
        return true;
      },
      std::chrono::seconds(90));
  EXPECT_TRUE(all_ended);

  // Each run wrote "<ns> 1" when it started and "<ns> -1" when it ended, in its own artifacts
  // (a sandboxed job reaches no other directory the test can read).
  std::vector<std::pair<long long, int>> events;
  for (const std::string& id : ids) {
    std::ifstream in(d.artifacts() + "/nap/" + id + "/span.txt");
    long long ns;
    int delta;
    while (in >> ns >> delta) events.emplace_back(ns, delta);
  }
  ASSERT_EQ(events.size(), 2 * ids.size());
  std::sort(events.begin(), events.end());  // at one instant an end (-1) sorts before a start
  int running = 0, most = 0;
  for (const auto& [time, step] : events) {
    running += step;
    most = std::max(most, running);
  }
  EXPECT_LE(most, 2) << "more executions ran at once than max_concurrency";
  EXPECT_EQ(most, 2) << "the worker never used both of its slots";
}

}  // namespace
}  // namespace sluice::testing
