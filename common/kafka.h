#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/publisher.h"
#include "common/status.h"

namespace sluice {

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const;
};
struct RdKafkaConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
struct RdKafkaMessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct RdKafkaPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, RdKafkaConfDeleter>;
using KafkaMessage = std::unique_ptr<rd_kafka_message_t, RdKafkaMessageDeleter>;
using KafkaPartitionList =
    std::unique_ptr<rd_kafka_topic_partition_list_t, RdKafkaPartitionListDeleter>;

// The one classification of librdkafka errors: true when sending the same record again may
// succeed (timeouts, transport failures, no leader, queue full), false when it fails the same way
// every time (a record too large for the broker, an invalid record, a missing permission).
bool IsRetriableKafkaError(rd_kafka_resp_err_t err);

// The one table from librdkafka errors to canonical codes: UNAVAILABLE exactly for the retriable
// errors (IsRetriableKafkaError), so callers answer 503; a record too large is INVALID_ARGUMENT
// (HTTP 413); any other error is final and not UNAVAILABLE.
Status KafkaStatus(rd_kafka_resp_err_t err, const std::string& context);

// Whether a failed Publish (its callback's Status) may succeed when sent again. A Status from
// KafkaStatus, or UNAVAILABLE from a publisher that is shutting down or a fake.
bool IsRetriableDelivery(const Status& status);

// A librdkafka configuration: bootstrap servers, the user's properties, then `overrides`.
StatusOr<KafkaConf> MakeKafkaConf(const KafkaConfig& kafka,
                                  const std::map<std::string, std::string>& overrides);

// A member of a consumer group subscribed to `topic`, as every worker process runs them (the
// workers on requests, the dispatchers on events): offsets stored by hand, then auto-committed;
// reading from the earliest offset when the group has none; a session timeout tied to `lease`
// (6 s to 45 s) unless kafka.properties sets one. `prepare` may set callbacks on the
// configuration before the consumer is made.
StatusOr<KafkaHandle> JoinGroup(const KafkaConfig& kafka, Duration lease, const std::string& group,
                                const std::string& client_id, const std::string& topic,
                                const std::function<void(rd_kafka_conf_t*)>& prepare = nullptr);

// Creates Sluice's topics when missing: requests; results (compacted and deleted after
// results.retention); control, triggers and pipelines (compacted); events (compacted and deleted
// after webhooks.retention, records as large as a delivery of the largest allowed body). Blocking;
// called at start-up only.
Status EnsureTopics(const Config& config, Duration timeout);
// The settings of the results topic Sluice creates: cleanup.policy=compact,delete, retention.ms
// = results.retention, segment.ms = a tenth of it (between 1 minute and 1 day) so that old
// segments can be deleted, and max.message.bytes.
std::map<std::string, std::string> ResultsTopicSettings(const Config& config);
// "--config k=v ..." as kafka-configs.sh and kafka-topics.sh take them.
std::string FormatTopicSettings(const std::map<std::string, std::string>& settings);

// The producer every Sluice process uses: idempotent, acks=all, Nagle off, small linger. A
// dedicated thread serves delivery reports; another probes the cluster for Reachable().
class KafkaPublisher final : public Publisher {
 public:
  // message_timeout bounds how long a record may wait for its acknowledgement; callers keep it
  // below their own deadline so that the failure arrives in time to answer 503.
  // max_message_bytes: the largest record it may send (librdkafka's message.max.bytes); never
  // less than kMaxRecordBytes, which every topic but events takes.
  static StatusOr<std::unique_ptr<KafkaPublisher>> Create(const KafkaConfig& kafka,
                                                          Duration message_timeout,
                                                          size_t max_message_bytes = 1000000);
  ~KafkaPublisher() override;

  void Publish(const std::string& topic, const std::string& key, const std::string& value,
               DeliveryCallback done) override;
  void PublishPositioned(const std::string& topic, const std::string& key, const std::string& value,
                         PositionedCallback done) override;
  bool Reachable() const override { return reachable_.load(); }
  // Waits up to `timeout` for queued records to be acknowledged.
  void Flush(Duration timeout);

 private:
  explicit KafkaPublisher(KafkaHandle producer);
  void PollLoop();
  void ProbeLoop();

  KafkaHandle producer_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> reachable_{false};
  std::thread poll_thread_;
  std::thread probe_thread_;
};

// Reads every partition of one topic from the beginning and then follows it, calling on_record
// for each record on its own thread. CaughtUp() turns true once every partition has been read up
// to the end offset it had when Start() ran.
class TopicFollower {
 public:
  struct Record {
    std::string key;
    std::string value;  // empty for a tombstone
    int32_t partition = 0;
    int64_t offset = 0;
  };
  using RecordHandler = std::function<void(const Record&)>;

  TopicFollower(KafkaConfig kafka, std::string topic, RecordHandler on_record);
  ~TopicFollower();
  // Runs `after_poll` on the follower's thread after every poll, a record read or not (at least
  // every 100 ms): housekeeping of what the records feed, such as the status view's sweep. Set
  // before Start().
  void AfterEveryPoll(std::function<void()> after_poll) { after_poll_ = std::move(after_poll); }
  // Blocking (metadata and end offsets); called at start-up only.
  Status Start(Duration timeout);
  void Stop();
  bool CaughtUp() const { return caught_up_.load(); }
  // Records of the topic not read yet: over every partition, the end offset librdkafka last
  // learnt (from its fetches; no request is made) minus the position. 0 before Start().
  int64_t LagRecords() const;

 private:
  void Loop();

  KafkaConfig kafka_;
  std::string topic_;
  RecordHandler on_record_;
  std::function<void()> after_poll_;
  KafkaHandle consumer_;
  std::vector<int64_t> end_offsets_;  // high watermark per partition at start
  std::vector<bool> partition_done_;  // reached end_offsets_ (touched by the loop thread only)
  std::atomic<bool> caught_up_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace sluice
