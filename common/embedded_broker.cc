#include "common/embedded_broker.h"

// rdkafka_mock.h must follow rdkafka.h.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace sluice {

StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(int brokers) {
  std::unique_ptr<EmbeddedBroker> b(new EmbeddedBroker());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  b->host_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err));
  if (!b->host_) return Internal(std::string("cannot start the embedded broker: ") + err);
  b->cluster_ = rd_kafka_mock_cluster_new(b->host_.get(), brokers);
  if (b->cluster_ == nullptr) return Internal("cannot start the embedded broker");
  b->bootstrap_ = rd_kafka_mock_cluster_bootstraps(b->cluster_);
  b->brokers_ = brokers;
  return b;
}

EmbeddedBroker::~EmbeddedBroker() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
}

Status EmbeddedBroker::CreateTopics(const KafkaConfig& kafka) {
  for (const std::string& topic :
       {kafka.RequestsTopic(), kafka.ResultsTopic(), kafka.ControlTopic(), kafka.TriggersTopic(),
        kafka.PipelinesTopic(), kafka.EventsTopic()}) {
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
        cluster_, topic.c_str(), kafka.partitions, std::min(kafka.replication_factor, brokers_));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(err, "cannot create topic " + topic);
  }
  return Status::Ok();
}

void EmbeddedBroker::SetDown(bool down) {
  for (int id = 1; id <= brokers_; ++id) {
    if (down) {
      rd_kafka_mock_broker_set_down(cluster_, id);
    } else {
      rd_kafka_mock_broker_set_up(cluster_, id);
    }
  }
}

}  // namespace sluice
