// Fills a results topic with N executions for bench/ceilings.sh's catch-up row, fast.
//
//   catchup_fill BROKERS TOPIC N TRIGGERED.json TERMINAL.json
//   catchup_fill --dump BROKERS TOPIC KEY      prints the value of each record keyed KEY, a line
//                                              each, in partition order (to take the templates)
//
// The two files hold one real execution's records as Sluice wrote them (the gateway's TRIGGERED
// and the worker's terminal state). Execution i gets a distinct id of the same shape: the
// template's id with its last 12 hex digits replaced by i, substituted wherever the id occurs
// (also in paths), and both records keyed by it, as Sluice keys them. Records of 64 executions
// interleave as concurrent runs would. Prints records/s to stderr. Built by bench/ceilings.sh
// with g++ against the system librdkafka, outside the project's build: a tool, not a target.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// The value of the first "id" field of a JSON record, or "".
std::string IdOf(const std::string& record) {
  const std::string marker = "\"id\":\"";
  auto at = record.find(marker);
  if (at == std::string::npos) return "";
  at += marker.size();
  auto end = record.find('"', at);
  return end == std::string::npos ? "" : record.substr(at, end - at);
}

// The record split around each occurrence of id, so that filling in a new id is an append each.
std::vector<std::string> SplitOn(const std::string& record, const std::string& id) {
  std::vector<std::string> parts;
  size_t from = 0;
  for (size_t at; (at = record.find(id, from)) != std::string::npos; from = at + id.size()) {
    parts.push_back(record.substr(from, at - from));
  }
  parts.push_back(record.substr(from));
  return parts;
}

std::string Join(const std::vector<std::string>& parts, const std::string& id) {
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) out += id + parts[i];
  return out;
}

void Produce(rd_kafka_t* rk, rd_kafka_topic_t* topic, const std::string& key,
             const std::string& value) {
  while (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                          const_cast<char*>(value.data()), value.size(), key.data(), key.size(),
                          nullptr) != 0) {
    if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      std::fprintf(stderr, "catchup_fill: produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
      std::exit(1);
    }
    rd_kafka_poll(rk, 10);
  }
}

int delivery_errors = 0;

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  if (m->err && delivery_errors++ < 5) {
    std::fprintf(stderr, "catchup_fill: delivery: %s\n", rd_kafka_err2str(m->err));
  }
}

// Reads TOPIC from its beginning to its end, printing the values of the records keyed key.
int Dump(const char* brokers, const char* topic_name, const std::string& key) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "catchup-fill-dump", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "catchup_fill: %s\n", err);
    return 1;
  }
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, topic_name, nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 0, topic, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      md->topic_cnt != 1 || md->topics[0].partition_cnt == 0) {
    std::fprintf(stderr, "catchup_fill: no metadata for %s\n", topic_name);
    return 1;
  }
  const int partitions = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic_name, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int at_end = 0; at_end < partitions && std::chrono::steady_clock::now() < deadline;) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 500);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ++at_end;
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->key_len == key.size() &&
               std::string(static_cast<const char*>(m->key), m->key_len) == key) {
      std::fwrite(m->payload, 1, m->len, stdout);
      std::fputc('\n', stdout);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_topic_destroy(topic);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--dump") return Dump(argv[2], argv[3], argv[4]);
  if (argc != 6) {
    std::fprintf(stderr, "usage: catchup_fill BROKERS TOPIC N TRIGGERED.json TERMINAL.json\n");
    return 2;
  }
  const long n = std::atol(argv[3]);
  const std::string triggered = ReadFile(argv[4]);
  const std::string terminal = ReadFile(argv[5]);
  const std::string id = IdOf(triggered);
  if (id.size() < 12 || IdOf(terminal) != id) {
    std::fprintf(stderr, "catchup_fill: the two records must be of one execution with an id\n");
    return 2;
  }
  const auto triggered_parts = SplitOn(triggered, id);
  const auto terminal_parts = SplitOn(terminal, id);
  const std::string stem = id.substr(0, id.size() - 12);

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const char* settings[][2] = {{"bootstrap.servers", argv[1]},
                               {"linger.ms", "20"},
                               {"batch.size", "1000000"},
                               {"queue.buffering.max.messages", "500000"},
                               {"queue.buffering.max.kbytes", "1048576"},
                               {"acks", "all"}};
  for (auto& kv : settings) {
    if (rd_kafka_conf_set(conf, kv[0], kv[1], err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "catchup_fill: %s\n", err);
      return 1;
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "catchup_fill: %s\n", err);
    return 1;
  }
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, argv[2], nullptr);

  const auto t0 = std::chrono::steady_clock::now();
  constexpr long kInFlight = 64;
  char suffix[24];
  for (long first = 0; first < n; first += kInFlight) {
    const long last = first + kInFlight < n ? first + kInFlight : n;
    for (int phase = 0; phase < 2; ++phase) {
      for (long i = first; i < last; ++i) {
        std::snprintf(suffix, sizeof suffix, "%012lx", i);
        const std::string new_id = stem + suffix;
        Produce(rk, topic, new_id, Join(phase == 0 ? triggered_parts : terminal_parts, new_id));
      }
      rd_kafka_poll(rk, 0);
    }
  }
  while (rd_kafka_flush(rk, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "catchup_fill: %ld records (%ld executions) in %.1f s: %.0f records/s\n",
               2 * n, n, seconds, 2 * n / seconds);
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(rk);
  return delivery_errors == 0 ? 0 : 1;
}
