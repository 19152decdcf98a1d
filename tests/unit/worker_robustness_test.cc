// What keeps a worker from being stuck: Kafka errors classified once (retriable or not), a record
// that failed for good written compact, and a shutdown that ends in time whatever Kafka answers.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/json_codec.h"
#include "common/kafka.h"
#include "fakes.h"
#include "worker/worker.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(KafkaErrorClassTest, RetriableErrorsAreUnavailableAndTheRestAreFinal) {
  struct Case {
    rd_kafka_resp_err_t err;
    bool retriable;
  };
  const Case cases[] = {
      {RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, true},
      {RD_KAFKA_RESP_ERR__TRANSPORT, true},
      {RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, true},
      {RD_KAFKA_RESP_ERR__QUEUE_FULL, true},
      {RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, true},
      {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, true},
      {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, true},
      {RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, true},
      {RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, true},
      {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, false},
      {RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE, false},
      {RD_KAFKA_RESP_ERR_INVALID_RECORD, false},
      {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, false},
      {RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS, false},
      {RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(rd_kafka_err2name(c.err));
    EXPECT_EQ(IsRetriableKafkaError(c.err), c.retriable);
    Status status = KafkaStatus(c.err, "delivery failed");
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.code() == Code::kUnavailable, c.retriable) << status.ToString();
    EXPECT_EQ(IsRetriableDelivery(status), c.retriable);
  }
}

TEST(KafkaErrorClassTest, ARecordTooLargeIsInvalidArgumentAnswered413) {
  Status status = KafkaStatus(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, "delivery failed");
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_EQ(status.http_status(), 413);
  EXPECT_EQ(status.message(), "delivery failed: Broker: Message size too large");
}

TEST(KafkaErrorClassTest, SuccessIsNotARetriableDelivery) {
  EXPECT_FALSE(IsRetriableDelivery(Status::Ok()));
}

Execution HugeExecution() {
  Execution e;
  e.id = "0190f3a2-7b1c-7d2e-8f3a-0123456789ab";
  e.job_name = "periodic-to-trigger";
  e.job_status = JobStatus::kError;
  e.pod_spec_options.envs["RELEASE_IMAGE_LATEST"] = std::string(1048298, 'x');
  e.pod_spec_options.envs["SMALL"] = "kept";
  e.pod_spec_options.labels[std::string(5000, 'k')] = "a name that long is dropped";
  e.pod_spec_options.annotations["sluice.io/user"] = "dev";
  e.message = "record too large for the results topic: Broker: Message size too large";
  return e;
}

TEST(CompactRecordTest, CutsEveryLargeValueAndSaysHowMuch) {
  Execution compact = CompactRecord(HugeExecution());
  const std::string& env = compact.pod_spec_options.envs.at("RELEASE_IMAGE_LATEST");
  EXPECT_TRUE(env.starts_with(std::string(256, 'x'))) << env.substr(0, 300);
  EXPECT_TRUE(env.ends_with("... [1048042 bytes cut]")) << env.substr(256);
  EXPECT_EQ(compact.pod_spec_options.envs.at("SMALL"), "kept");
  EXPECT_TRUE(compact.pod_spec_options.labels.empty());
  EXPECT_EQ(compact.pod_spec_options.annotations.at("sluice.io/user"), "dev");
  EXPECT_TRUE(compact.message.starts_with(
      "record too large for the results topic: Broker: Message size too large ("))
      << compact.message;
  EXPECT_NE(compact.message.find("bytes of pod_spec_options left out"), std::string::npos);
}

TEST(CompactRecordTest, TheEncodedRecordIsSmall) {
  Execution huge = HugeExecution();
  ASSERT_GT(EncodeExecutionRecord(huge).size(), 1000000u);
  EXPECT_LT(EncodeExecutionRecord(CompactRecord(huge)).size(), 4096u);
}

TEST(CompactRecordTest, NeverSplitsAUtf8Sequence) {
  Execution e;
  // 255 ASCII bytes, then a 2-byte sequence across the 256-byte cut.
  e.pod_spec_options.envs["V"] = std::string(255, 'a') + "\xc3\xa9" + std::string(100, 'b');
  Execution compact = CompactRecord(e);
  EXPECT_TRUE(compact.pod_spec_options.envs.at("V").starts_with(std::string(255, 'a') + "..."))
      << compact.pod_spec_options.envs.at("V");
}

TEST(CompactRecordTest, CapsPullsAndTheMessage) {
  Execution e;
  e.refs.emplace();
  e.refs->pulls.resize(500);
  e.refs->pulls[0].title = std::string(10000, 't');
  e.message = std::string(5000, 'm');
  Execution compact = CompactRecord(e);
  EXPECT_EQ(compact.refs->pulls.size(), 20u);
  EXPECT_LT(compact.refs->pulls[0].title.size(), 300u);
  EXPECT_LT(compact.message.size(), 1100u);
}

TEST(CompactRecordTest, LeavesASmallRecordAlone) {
  Execution e;
  e.pod_spec_options.envs["A"] = "b";
  e.message = "the job's command ended with exit code 1";
  Execution compact = CompactRecord(e);
  EXPECT_EQ(compact.pod_spec_options, e.pod_spec_options);
  EXPECT_EQ(compact.message, e.message);
}

TEST(PlanShutdownTest, EverythingEndsWithinShutdownGracePlusKillGrace) {
  const TimePoint t0 = TestEpoch();
  ShutdownSchedule plan = PlanShutdown(t0, seconds(30), seconds(10));
  EXPECT_EQ(plan.stop_jobs_at, t0 + seconds(30));
  EXPECT_EQ(plan.job_kill_grace, seconds(5));
  EXPECT_EQ(plan.give_up_at, t0 + milliseconds(37500));
  EXPECT_EQ(plan.exit_by, t0 + seconds(40));
  // A killed job's report has time to land before the worker gives up, and the process has
  // time to exit before its deadline.
  EXPECT_LT(plan.stop_jobs_at + plan.job_kill_grace, plan.give_up_at);
  EXPECT_LT(plan.give_up_at, plan.exit_by);
}

TEST(PlanShutdownTest, ZeroGracesStopEverythingAtOnce) {
  const TimePoint t0 = TestEpoch();
  ShutdownSchedule plan = PlanShutdown(t0, seconds(0), seconds(0));
  EXPECT_EQ(plan.stop_jobs_at, t0);
  EXPECT_EQ(plan.give_up_at, t0);
  EXPECT_EQ(plan.exit_by, t0);
}

}  // namespace
}  // namespace sluice
