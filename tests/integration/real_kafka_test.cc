// The same spine against a real Apache Kafka broker (scripts/kafka.sh): what the embedded broker
// cannot show — topic creation and configs, leader elections after creation, a real group
// coordinator.

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

std::string Brokers() {
  const char* b = std::getenv("SLUICE_TEST_KAFKA_BROKERS");
  return b ? b : "";
}

class RealKafka : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Brokers().empty())
        << "the kafka tier needs a real broker: run scripts/test.sh, or scripts/kafka.sh start "
           "and set SLUICE_TEST_KAFKA_BROKERS=127.0.0.1:19092";
  }
};

// The setting `name` (cleanup.policy, retention.ms, ...) of `topic`, read with the admin API.
std::string TopicSetting(const std::string& topic, const std::string& name) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", Brokers().c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  rd_kafka_ConfigResource_t* res =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_DescribeConfigs(rk, &res, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000);
  std::string value;
  if (ev && rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    size_t n = 0;
    const rd_kafka_ConfigResource_t** rs =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      size_t cnt = 0;
      const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[i], &cnt);
      for (size_t j = 0; j < cnt; ++j) {
        if (rd_kafka_ConfigEntry_name(entries[j]) == name) {
          value = rd_kafka_ConfigEntry_value(entries[j]);
        }
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_ConfigResource_destroy(res);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return value;
}

TEST_F(RealKafka, GatewayCreatesTopicsWithCompactedResultsAndControl) {
  Deployment d("  - {name: hello, type: periodic, command: [sh, -c, 'echo hello']}\n");
  ASSERT_FALSE(d.embedded());
  d.StartGateway();
  std::string prefix = d.kafka().topic_prefix;
  // Results leave with results.retention (30 days by default), in segments of a day at most.
  EXPECT_EQ(TopicSetting(prefix + "results", "cleanup.policy"), "compact,delete");
  EXPECT_EQ(TopicSetting(prefix + "results", "retention.ms"), "2592000000");
  EXPECT_EQ(TopicSetting(prefix + "results", "segment.ms"), "86400000");
  EXPECT_EQ(TopicSetting(prefix + "control", "cleanup.policy"), "compact");
  EXPECT_EQ(TopicSetting(prefix + "requests", "cleanup.policy"), "delete");
}

TEST_F(RealKafka, TriggerRunsToSuccessAndAnyGatewayAnswers) {
  Deployment d(
      "  - {name: hello, type: periodic, command: [sh, -c, 'echo hello from $JOB_NAME']}\n");
  SluiceProcess& a = d.StartGateway();
  SluiceProcess& b = d.StartGateway();
  d.StartWorker();
  HttpClient http;
  std::string id = TriggerPeriodic(http, a, "hello");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(WaitForEnd(http, b, id), "SUCCESS");
  HttpResponse log = http.Get(b.url() + "/v1/executions/" + id + "/log", kAliceToken);
  EXPECT_NE(log.body.find("hello from hello"), std::string::npos) << log.body;
}

TEST_F(RealKafka, IdempotencyKeyAcrossTwoGatewaysRunsTheJobOnce) {
  Deployment d(
      "  - {name: once, type: periodic, command: [sh, -c, 'echo run >> $ARTIFACTS/runs.txt']}\n");
  SluiceProcess& a = d.StartGateway();
  SluiceProcess& b = d.StartGateway();
  d.StartWorker();
  std::string body = R"({"job_name": "once", "job_execution_type": "PERIODIC"})";
  HttpResponse ra, rb;
  std::thread ta([&] {
    HttpClient h;
    ra = h.Post(a.url() + "/v1/executions", kAliceToken, body, {"Idempotency-Key: k-1"});
  });
  std::thread tb([&] {
    HttpClient h;
    rb = h.Post(b.url() + "/v1/executions", kAliceToken, body, {"Idempotency-Key: k-1"});
  });
  ta.join();
  tb.join();
  ASSERT_EQ(ra.status, 200) << ra.body;
  ASSERT_EQ(rb.status, 200) << rb.body;
  std::string id = ra.Json()["id"].GetString();
  EXPECT_EQ(id, rb.Json()["id"].GetString());
  HttpClient http;
  EXPECT_EQ(WaitForEnd(http, a, id), "SUCCESS");
  std::ifstream runs(d.artifacts() + "/once/" + id + "/runs.txt");
  std::string all((std::istreambuf_iterator<char>(runs)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all, "run\n");
}

TEST_F(RealKafka, WorkerKilledMidJobIsReplacedAndTheJobRunsAgain) {
  Deployment d(
      "  - {name: slow, type: periodic, max_attempts: 2,"
      " command: [sh, -c, 'echo attempt; sleep 4']}\n");
  SluiceProcess& gateway = d.StartGateway();
  SluiceProcess& first = d.StartWorker();
  HttpClient http;
  std::string id = TriggerPeriodic(http, gateway, "slow");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitFor([&] { return StatusOf(http, gateway, id) == "PENDING"; }));
  first.Kill();
  d.StartWorker();
  EXPECT_EQ(WaitForEnd(http, gateway, id, std::chrono::seconds(120)), "SUCCESS");
  HttpResponse log = http.Get(gateway.url() + "/v1/executions/" + id + "/log", kAliceToken);
  EXPECT_NE(log.body.find("attempt 2 of slow"), std::string::npos) << log.body;
}

}  // namespace
}  // namespace sluice::testing
