#pragma once

// Kafka's side of the metrics (common/metrics.h): how long records take to be acknowledged, which
// errors they fail with, and what librdkafka's statistics say about brokers, queues and lag.

#include <librdkafka/rdkafka.h>

#include <string_view>

#include "common/metrics.h"

namespace sluice {

// librdkafka emits its statistics every this often on the handles that ask for them.
inline constexpr int kKafkaStatisticsIntervalMs = 5000;

// Makes the handle of `conf` report its statistics (statistics.interval.ms) into the default
// registry. Only for handles whose main queue is served (rd_kafka_poll, or a consumer after
// rd_kafka_poll_set_consumer): the statistics arrive as events on it.
void EnableKafkaStatistics(rd_kafka_conf_t* conf);

// Sets the gauges of one statistics report (librdkafka's STATISTICS.md) of one handle:
// sluice_kafka_broker_rtt_seconds and sluice_kafka_broker_rtt_p99_seconds per broker,
// sluice_kafka_producer_queue_messages (msg_cnt) of a producer, and
// sluice_consumer_lag_records per assigned partition of a consumer (a partition no longer
// reported is dropped). False when the JSON is not a statistics object.
bool RecordKafkaStatistics(std::string_view json, metrics::Registry& registry);

// A record's acknowledgement (or failure) on `topic` after `seconds`: the produce histogram and,
// on failure, the error counter by librdkafka's error name.
void RecordKafkaDelivery(std::string_view topic, rd_kafka_resp_err_t err, double seconds);

}  // namespace sluice
