#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/kafka.h"
#include "common/status.h"

struct rd_kafka_mock_cluster_s;

namespace sluice {

// A Kafka-protocol broker in this process: librdkafka's mock cluster, serving produce, fetch and
// consumer groups to ordinary clients over loopback TCP. In memory and not durable; compaction
// is not performed (readers keep the latest record per key anyway). Used by `sluice dev` and the
// integration tests: the one way to start a test broker.
class EmbeddedBroker {
 public:
  static StatusOr<std::unique_ptr<EmbeddedBroker>> Start(int brokers = 1);
  ~EmbeddedBroker();
  // "127.0.0.1:port[,...]".
  const std::string& bootstrap() const { return bootstrap_; }
  // Creates Sluice's three topics for `kafka` (its prefix and partition count).
  Status CreateTopics(const KafkaConfig& kafka);
  // Makes every broker unreachable (connections refused) or reachable again.
  void SetDown(bool down);

 private:
  EmbeddedBroker() = default;
  KafkaHandle host_;
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstrap_;
  int brokers_ = 1;
};

}  // namespace sluice
