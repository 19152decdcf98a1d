#include <gtest/gtest.h>

#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

TEST(Smoke, TriggeredPeriodicJobReachesSuccessWithItsLog) {
  Deployment d(
      "  - {name: hello, type: periodic, command: [sh, -c, 'echo hello from $JOB_NAME']}\n");
  SluiceProcess& gateway = d.StartGateway();
  d.StartWorker();
  HttpClient http;
  std::string id = TriggerPeriodic(http, gateway, "hello");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(WaitForEnd(http, gateway, id), "SUCCESS") << gateway.Log();
  HttpResponse log = http.Get(gateway.url() + "/v1/executions/" + id + "/log", kAliceToken);
  EXPECT_EQ(log.status, 200);
  EXPECT_NE(log.body.find("hello from hello"), std::string::npos) << log.body;
}

}  // namespace
}  // namespace sluice::testing
