#include "common/kafka_metrics.h"

#include <rapidjson/document.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace sluice {
namespace {

using metrics::Family;
using metrics::Gauge;
using metrics::Registry;

struct StatisticsFamilies {
  explicit StatisticsFamilies(Registry& r)
      : rtt(r.AddGauge("sluice_kafka_broker_rtt_seconds",
                       "Mean round-trip time of requests to a broker over librdkafka's last "
                       "statistics window (5 s), per Kafka client handle of the process.",
                       {"kafka_client", "broker"})),
        rtt_p99(r.AddGauge("sluice_kafka_broker_rtt_p99_seconds",
                           "99th percentile of the round-trip time of requests to a broker over "
                           "librdkafka's last statistics window (5 s).",
                           {"kafka_client", "broker"})),
        queue(r.AddGauge("sluice_kafka_producer_queue_messages",
                         "Records in a producer's queue, waiting to be sent or acknowledged "
                         "(librdkafka's msg_cnt).",
                         {"kafka_client"})),
        lag(r.AddGauge("sluice_consumer_lag_records",
                       "Records of an assigned partition not yet consumed by this process's "
                       "consumer group member: the partition's end offset minus the stored "
                       "offset, from librdkafka's statistics.",
                       {"topic", "partition"})) {}
  Family<Gauge>& rtt;
  Family<Gauge>& rtt_p99;
  Family<Gauge>& queue;
  Family<Gauge>& lag;
};

struct ProduceFamilies {
  ProduceFamilies()
      : duration(metrics::DefaultRegistry().AddHistogram(
            "sluice_kafka_produce_duration_seconds",
            "Time from handing a record to librdkafka to its acknowledgement or failure.",
            {"topic"}, metrics::LatencyBuckets())),
        errors(metrics::DefaultRegistry().AddCounter(
            "sluice_kafka_produce_errors_total",
            "Records Kafka did not acknowledge, by librdkafka's error name.", {"topic", "error"})) {
  }
  Family<metrics::Histogram>& duration;
  Family<metrics::Counter>& errors;
};

ProduceFamilies& Produce() {
  static ProduceFamilies* families = new ProduceFamilies();
  return *families;
}

// The partitions each consumer handle reported a lag for last time, so that one it no longer
// reports (revoked) is dropped from the output.
std::mutex lag_mutex;
std::map<std::string, std::set<std::pair<std::string, std::string>>>& ReportedLag() {
  static auto* reported = new std::map<std::string, std::set<std::pair<std::string, std::string>>>;
  return *reported;
}

int64_t IntMember(const rapidjson::Value& v, const char* name, int64_t otherwise) {
  if (!v.IsObject()) return otherwise;
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsInt64()) return otherwise;
  return it->value.GetInt64();
}

std::string StringMember(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return "";
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

int StatisticsCallback(rd_kafka_t*, char* json, size_t json_len, void*) {
  RecordKafkaStatistics(std::string_view(json, json_len), metrics::DefaultRegistry());
  return 0;  // librdkafka frees the JSON
}

}  // namespace

void EnableKafkaStatistics(rd_kafka_conf_t* conf) {
  char err[256];
  rd_kafka_conf_set(conf, "statistics.interval.ms",
                    std::to_string(kKafkaStatisticsIntervalMs).c_str(), err, sizeof err);
  rd_kafka_conf_set_stats_cb(conf, StatisticsCallback);
}

bool RecordKafkaStatistics(std::string_view json, Registry& registry) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return false;
  // Read through const values: their iterators compare without C++20's reversed-operator
  // ambiguity (clang warns about rapidjson's non-const ones).
  const rapidjson::Value& root = doc;
  std::string client = StringMember(root, "name");
  std::string type = StringMember(root, "type");
  if (client.empty()) return false;
  StatisticsFamilies families(registry);

  auto brokers = root.FindMember("brokers");
  if (brokers != root.MemberEnd() && brokers->value.IsObject()) {
    for (const auto& b : brokers->value.GetObject()) {
      // Bootstrap and coordinator entries are librdkafka's own; brokers have a node id.
      if (IntMember(b.value, "nodeid", -1) < 0) continue;
      std::string name = StringMember(b.value, "name");
      auto rtt = b.value.FindMember("rtt");
      if (name.empty() || rtt == b.value.MemberEnd()) continue;
      // Microseconds; a window without requests reports 0.
      families.rtt.With({client, name}).Set(IntMember(rtt->value, "avg", 0) / 1e6);
      families.rtt_p99.With({client, name}).Set(IntMember(rtt->value, "p99", 0) / 1e6);
    }
  }
  if (type == "producer") {
    families.queue.With({client}).Set(static_cast<double>(IntMember(root, "msg_cnt", 0)));
  }
  if (type != "consumer") return true;

  std::set<std::pair<std::string, std::string>> now;
  auto topics = root.FindMember("topics");
  if (topics != root.MemberEnd() && topics->value.IsObject()) {
    for (const auto& t : topics->value.GetObject()) {
      auto partitions = t.value.FindMember("partitions");
      if (partitions == t.value.MemberEnd() || !partitions->value.IsObject()) continue;
      std::string topic(t.name.GetString(), t.name.GetStringLength());
      for (const auto& p : partitions->value.GetObject()) {
        int64_t partition = IntMember(p.value, "partition", -1);
        if (partition < 0) continue;  // librdkafka's unassigned-partition entry
        // The stored offset moves first (the worker stores it once a trigger is done, then
        // commits it every few seconds); -1 is an unknown lag (not assigned, not fetched yet).
        int64_t lag =
            IntMember(p.value, "consumer_lag_stored", IntMember(p.value, "consumer_lag", -1));
        if (lag < 0) continue;
        std::string label = std::to_string(partition);
        families.lag.With({topic, label}).Set(static_cast<double>(lag));
        now.emplace(topic, label);
      }
    }
  }
  std::lock_guard<std::mutex> lock(lag_mutex);
  auto& before = ReportedLag()[client];
  for (const auto& [topic, partition] : before) {
    if (!now.count({topic, partition})) families.lag.Remove({topic, partition});
  }
  before = std::move(now);
  return true;
}

void RecordKafkaDelivery(std::string_view topic, rd_kafka_resp_err_t err, double seconds) {
  ProduceFamilies& f = Produce();
  f.duration.With({topic}).Observe(seconds);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) f.errors.With({topic, rd_kafka_err2name(err)}).Inc();
}

}  // namespace sluice
