// The results topic is compacted: only the last record of an execution id survives. When two
// gateways take the same Idempotency-Key at the same moment, both publish a trigger and a
// TRIGGERED record; the last record of the id must still be its terminal state.

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

#include "common/json_codec.h"
#include "common/kafka.h"
#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

// Every record of `topic` for one key, in log order (one partition per key).
class KeyRecords {
 public:
  KeyRecords(const KafkaConfig& kafka, const std::string& topic, std::string key)
      : key_(std::move(key)), follower_(kafka, topic, [this](const TopicFollower::Record& r) {
          if (r.key != key_) return;
          std::lock_guard<std::mutex> lock(mutex_);
          values_.push_back(r.value);
        }) {
    EXPECT_TRUE(follower_.Start(std::chrono::seconds(15)).ok());
  }
  std::vector<std::string> values() {
    std::lock_guard<std::mutex> lock(mutex_);
    return values_;
  }

 private:
  std::string key_;
  std::mutex mutex_;
  std::vector<std::string> values_;
  TopicFollower follower_;
};

std::string StatusIn(const std::string& record) {
  auto e = DecodeExecutionRecord(record);
  return e.ok() ? JobStatusName(e->job_status) : "unreadable";
}

TEST(Compaction, TheLastResultsRecordOfATwinCreateIsItsTerminalState) {
  Deployment d("  - {name: twin, type: periodic, command: [sh, -c, 'echo twin']}\n", "",
               "  request_timeout: 2s\n");
  SluiceProcess& a = d.StartGateway();
  SluiceProcess& b = d.StartGateway();
  d.StartWorker();
  std::string body = R"({"job_name": "twin", "job_execution_type": "1"})";
  std::vector<std::string> key = {"Idempotency-Key: twin-1"};
  HttpResponse ra, rb;
  std::thread ta([&] {
    HttpClient h;
    ra = h.Post(a.url() + "/v1/executions", kAliceToken, body, key);
  });
  std::thread tb([&] {
    HttpClient h;
    rb = h.Post(b.url() + "/v1/executions", kAliceToken, body, key);
  });
  ta.join();
  tb.join();
  ASSERT_EQ(ra.status, 200) << ra.body;
  ASSERT_EQ(rb.status, 200) << rb.body;
  std::string id = ra.Json()["id"].GetString();
  HttpClient http;
  ASSERT_EQ(WaitForEnd(http, a, id), "SUCCESS");

  const KafkaConfig& kafka = d.kafka();
  KeyRecords triggers(kafka, kafka.RequestsTopic(), id);
  KeyRecords results(kafka, kafka.ResultsTopic(), id);
  ASSERT_TRUE(WaitFor([&] { return !triggers.values().empty() && !results.values().empty(); }));
  size_t twins = triggers.values().size();
  ASSERT_GE(twins, 1u);
  ASSERT_LE(twins, 2u);
  // With a twin, the worker writes the terminal state again once the twin's TRIGGERED record
  // can no longer be in flight; wait for it rather than for a time.
  size_t wanted_terminal_records = twins;
  EXPECT_TRUE(WaitFor([&] {
    size_t terminal = 0;
    for (const auto& v : results.values()) terminal += StatusIn(v) == "SUCCESS";
    return terminal == wanted_terminal_records;
  })) << twins
      << " trigger(s) for the id";
  auto all = results.values();
  EXPECT_EQ(StatusIn(all.back()), "SUCCESS")
      << "the last record of the id is what compaction keeps";
}

}  // namespace
}  // namespace sluice::testing
