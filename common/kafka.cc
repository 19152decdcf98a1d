#include "common/kafka.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "common/git_delivery.h"
#include "common/kafka_metrics.h"
#include "common/log.h"
#include "common/record_limits.h"

namespace sluice {
namespace {

constexpr const char* kComponent = "kafka";

// Sleeps up to `total`, waking early when `stop` turns true.
void InterruptibleSleep(const std::atomic<bool>& stop, Duration total) {
  auto until = std::chrono::steady_clock::now() + total;
  while (!stop.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Runs `attempt` until it succeeds, fails with a non-retriable error, or `timeout` passes.
// Start-up calls need this: a freshly created topic has no partition leaders for a moment.
template <typename F>
Status RetryStartup(Duration timeout, F attempt) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    Status s = attempt();
    if (s.ok() || s.code() != Code::kUnavailable || std::chrono::steady_clock::now() >= until) {
      return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// A record's opaque: its callback, and when it was handed to librdkafka (for the metrics).
struct PendingRecord {
  PositionedCallback done;
  std::chrono::steady_clock::time_point queued_at;
};

void DeliveryReport(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  auto* pending = static_cast<PendingRecord*>(msg->_private);
  if (pending == nullptr) return;
  RecordKafkaDelivery(
      msg->rkt ? rd_kafka_topic_name(msg->rkt) : "", msg->err,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - pending->queued_at).count());
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    pending->done(Status::Ok(), RecordPosition{msg->partition, msg->offset});
  } else {
    pending->done(KafkaStatus(msg->err, "delivery failed"), RecordPosition{});
  }
  delete pending;
}

}  // namespace

void RdKafkaDeleter::operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }

bool IsRetriableKafkaError(rd_kafka_resp_err_t err) {
  switch (err) {
    // librdkafka's own transient states: no broker, no leader yet, timeouts, full queues.
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__NODE_UPDATE:
    case RD_KAFKA_RESP_ERR__RETRY:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__DESTROY:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    // Broker errors the Kafka protocol marks retriable (a leader moving, replicas catching up).
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
      return true;
    default:
      // Everything else fails the same way however often it is sent: a record too large, an
      // invalid record, a missing permission. librdkafka has already retried what it could
      // before a delivery report carries an error, so a report's unknown error is final too.
      return false;
  }
}

Status KafkaStatus(rd_kafka_resp_err_t err, const std::string& context) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  std::string message = context + ": " + rd_kafka_err2str(err);
  switch (err) {
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Unavailable(message + " (is the topic created?)");
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
      return Status(Code::kInvalidArgument, message).WithHttpStatus(413);
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
      return Internal(message + " (check kafka.properties credentials)");
    default:
      if (IsRetriableKafkaError(err)) return Unavailable(message);
      return Internal(message);
  }
}

bool IsRetriableDelivery(const Status& status) {
  return !status.ok() && status.code() == Code::kUnavailable;
}

StatusOr<KafkaConf> MakeKafkaConf(const KafkaConfig& kafka,
                                  const std::map<std::string, std::string>& overrides) {
  KafkaConf conf(rd_kafka_conf_new());
  char err[512];
  auto set = [&](const std::string& k, const std::string& v, const std::string& where) -> Status {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return InvalidArgument(where + ": " + err);
    }
    return Status::Ok();
  };
  if (Status s = set("bootstrap.servers", kafka.brokers, "kafka.brokers"); !s.ok()) return s;
  if (Status s = set("log_level", "4", "log_level"); !s.ok()) return s;
  for (const auto& [k, v] : kafka.properties) {
    if (Status s = set(k, v, "kafka.properties." + k); !s.ok()) return s;
  }
  for (const auto& [k, v] : overrides) {
    if (Status s = set(k, v, k); !s.ok()) return s;
  }
  return conf;
}

StatusOr<KafkaHandle> JoinGroup(const KafkaConfig& k, Duration lease, const std::string& group,
                                const std::string& client_id, const std::string& topic,
                                const std::function<void(rd_kafka_conf_t*)>& prepare) {
  std::map<std::string, std::string> overrides = {
      {"group.id", group},
      {"client.id", client_id},
      {"enable.auto.commit", "true"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"fetch.wait.max.ms", "50"},
      {"socket.nagle.disable", "true"},
  };
  // A dead member's partitions move on after the session timeout; tie it to the lease unless
  // the operator set it.
  if (!k.properties.count("session.timeout.ms")) {
    long long ms = std::clamp<long long>(lease.count(), 6000, 45000);
    overrides["session.timeout.ms"] = std::to_string(ms);
    overrides["heartbeat.interval.ms"] = std::to_string(std::max<long long>(ms / 5, 500));
  }
  auto conf = MakeKafkaConf(k, overrides);
  if (!conf.ok()) return conf.status();
  // Served by the member's consumer_poll once the main queue is forwarded to it (below).
  EnableKafkaStatistics(conf->get());
  if (prepare) prepare(conf->get());
  char err[512];
  KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), err, sizeof err));
  if (!consumer) return Internal(std::string("cannot create Kafka consumer: ") + err);
  rd_kafka_poll_set_consumer(consumer.get());
  KafkaPartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t e = rd_kafka_subscribe(consumer.get(), topics.get()); e) {
    return KafkaStatus(e, "cannot subscribe to " + topic);
  }
  return consumer;
}

std::map<std::string, std::string> ResultsTopicSettings(const Config& config) {
  const Duration retention = config.results.retention;
  // Kafka deletes whole segments, once their newest record is older than retention.ms: a
  // segment rolled every tenth of the retention (at most a day, at least a minute) keeps a
  // record at most about 10% (or a day) past it.
  const Duration segment =
      std::clamp<Duration>(retention / 10, std::chrono::minutes(1), std::chrono::hours(24));
  return {{"cleanup.policy", "compact,delete"},
          {"retention.ms", std::to_string(retention.count())},
          {"segment.ms", std::to_string(segment.count())},
          {"max.message.bytes", std::to_string(kMaxRecordBytes)}};
}

std::string FormatTopicSettings(const std::map<std::string, std::string>& settings) {
  std::string text;
  for (const auto& [name, value] : settings) {
    if (!text.empty()) text += " ";
    text += "--config " + name + "=" + value;
  }
  return text;
}

Status EnsureTopics(const Config& config, Duration timeout) {
  const KafkaConfig& kafka = config.kafka;
  auto conf = MakeKafkaConf(kafka, {});
  if (!conf.ok()) return conf.status();
  char err[512];
  KafkaHandle rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), err, sizeof err));
  if (!rk) return Internal(std::string("cannot create Kafka admin client: ") + err);

  std::set<std::string> existing;
  Status reached = RetryStartup(timeout, [&]() -> Status {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t merr = rd_kafka_metadata(rk.get(), 1, nullptr, &md, 5000);
    if (merr != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaStatus(merr, "cannot reach Kafka at " + kafka.brokers);
    }
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) existing.insert(md->topics[i].topic);
    }
    rd_kafka_metadata_destroy(md);
    return Status::Ok();
  });
  if (!reached.ok()) return reached;

  struct Wanted {
    std::string name;
    std::map<std::string, std::string> settings;
  };
  // Every topic but events takes records of kMaxRecordBytes, the size the gateway checks a
  // request's records against (common/record_limits.h), whatever the broker's default.
  const std::string max_record = std::to_string(kMaxRecordBytes);
  const std::map<std::string, std::string> plain = {{"max.message.bytes", max_record}};
  const std::map<std::string, std::string> compact = {{"cleanup.policy", "compact"},
                                                      {"max.message.bytes", max_record}};
  // Deliveries: one record per delivery id, kept for the retention, whole bodies allowed.
  const std::map<std::string, std::string> events = {
      {"cleanup.policy", "compact,delete"},
      {"retention.ms", std::to_string(config.webhooks.retention.count())},
      {"max.message.bytes", std::to_string(MaxDeliveryRecordBytes(config.webhooks))}};
  // Results: the latest record of every execution, deleted once older than results.retention.
  const std::map<std::string, std::string> results = ResultsTopicSettings(config);
  std::vector<Wanted> wanted = {{kafka.RequestsTopic(), plain},    {kafka.ResultsTopic(), results},
                                {kafka.ControlTopic(), compact},   {kafka.TriggersTopic(), compact},
                                {kafka.PipelinesTopic(), compact}, {kafka.EventsTopic(), events}};
  if (existing.count(kafka.ResultsTopic())) {
    // Sluice never changes an existing topic (docs/operations.md); the views drop expired
    // executions whatever the topic keeps, so only its disk use and a start's catch-up depend on
    // it.
    LogInfo(kComponent, kafka.ResultsTopic() +
                            " exists and is left as it is; for its records to "
                            "leave with results.retention it needs " +
                            FormatTopicSettings(results));
  }
  std::vector<rd_kafka_NewTopic_t*> new_topics;
  for (const Wanted& w : wanted) {
    if (existing.count(w.name)) continue;
    rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(w.name.c_str(), kafka.partitions,
                                                   kafka.replication_factor, err, sizeof err);
    if (t == nullptr) return InvalidArgument("cannot create topic " + w.name + ": " + err);
    for (const auto& [name, value] : w.settings) {
      rd_kafka_NewTopic_set_config(t, name.c_str(), value.c_str());
    }
    new_topics.push_back(t);
  }
  if (new_topics.empty()) return Status::Ok();

  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk.get());
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(options, static_cast<int>(timeout.count()), err,
                                              sizeof err);
  rd_kafka_CreateTopics(rk.get(), new_topics.data(), new_topics.size(), options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
  Status result = Status::Ok();
  if (event == nullptr) {
    result = Unavailable("timed out creating topics on " + kafka.brokers);
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = KafkaStatus(rd_kafka_event_error(event), "cannot create topics");
  } else {
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(event);
    size_t n = 0;
    const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i) {
      rd_kafka_resp_err_t terr = rd_kafka_topic_result_error(topics[i]);
      if (terr == RD_KAFKA_RESP_ERR_NO_ERROR) {
        LogInfo(kComponent, std::string("created topic ") + rd_kafka_topic_result_name(topics[i]));
      } else if (terr != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* msg = rd_kafka_topic_result_error_string(topics[i]);
        result = KafkaStatus(terr, std::string("cannot create topic ") +
                                       rd_kafka_topic_result_name(topics[i]) +
                                       (msg ? std::string(" (") + msg + ")" : ""));
      }
    }
  }
  if (event) rd_kafka_event_destroy(event);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy_array(new_topics.data(), new_topics.size());
  return result;
}

// --- KafkaPublisher ---

StatusOr<std::unique_ptr<KafkaPublisher>> KafkaPublisher::Create(const KafkaConfig& kafka,
                                                                 Duration message_timeout,
                                                                 size_t max_message_bytes) {
  std::map<std::string, std::string> overrides = {
      // A 2xx promises the trigger is stored: every in-sync replica has it, and a
      // retried send cannot duplicate or reorder it.
      {"enable.idempotence", "true"},
      {"acks", "all"},
      // librdkafka 2.0.2 leaves Nagle on; a lone trigger would wait for the ACK timer.
      {"socket.nagle.disable", "true"},
      {"message.timeout.ms", std::to_string(message_timeout.count())},
      {"message.max.bytes", std::to_string(std::max(max_message_bytes, kMaxRecordBytes))},
  };
  // How long a record waits for others to share its batch. Every trigger waits for it before
  // its 200, so it is kept short: librdkafka sends one request per partition, so at a thousand
  // triggers a second a batch rarely gets a second record anyway, and under saturation the
  // in-flight limit (5 per broker with idempotence) batches what queues behind it. 2 ms cost
  // about 1.5 ms of every trigger's median latency and saved about a tenth of the broker's CPU
  // per trigger at saturation (bench/, one broker on loopback). kafka.properties may set it.
  if (!kafka.properties.count("linger.ms") && !kafka.properties.count("queue.buffering.max.ms")) {
    overrides["linger.ms"] = "0.5";
  }
  auto conf = MakeKafkaConf(kafka, overrides);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), DeliveryReport);
  EnableKafkaStatistics(conf->get());  // served by PollLoop
  char err[512];
  KafkaHandle rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), err, sizeof err));
  if (!rk) return InvalidArgument(std::string("cannot create Kafka producer: ") + err);
  return std::unique_ptr<KafkaPublisher>(new KafkaPublisher(std::move(rk)));
}

KafkaPublisher::KafkaPublisher(KafkaHandle producer) : producer_(std::move(producer)) {
  poll_thread_ = std::thread([this] { PollLoop(); });
  probe_thread_ = std::thread([this] { ProbeLoop(); });
}

KafkaPublisher::~KafkaPublisher() {
  stopping_.store(true);
  if (probe_thread_.joinable()) probe_thread_.join();
  if (poll_thread_.joinable()) poll_thread_.join();
  rd_kafka_flush(producer_.get(), 5000);
  // Whatever is still queued fails now, so that every callback runs exactly once.
  rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(producer_.get(), 0);
}

void KafkaPublisher::Publish(const std::string& topic, const std::string& key,
                             const std::string& value, DeliveryCallback done) {
  PublishPositioned(topic, key, value,
                    [done = std::move(done)](const Status& s, RecordPosition) { done(s); });
}

void KafkaPublisher::PublishPositioned(const std::string& topic, const std::string& key,
                                       const std::string& value, PositionedCallback done) {
  if (stopping_.load()) {
    done(Unavailable("the publisher is shutting down"), RecordPosition{});
    return;
  }
  auto* opaque = new PendingRecord{std::move(done), std::chrono::steady_clock::now()};
  rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
      // An empty value is a tombstone: no payload at all, so that compaction deletes the key.
      RD_KAFKA_V_VALUE(value.empty() ? nullptr : const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    RecordKafkaDelivery(topic, err, 0);
    opaque->done(KafkaStatus(err, "cannot queue record for " + topic), RecordPosition{});
    delete opaque;
  }
}

void KafkaPublisher::Flush(Duration timeout) {
  rd_kafka_flush(producer_.get(), static_cast<int>(timeout.count()));
}

void KafkaPublisher::PollLoop() {
  while (!stopping_.load()) rd_kafka_poll(producer_.get(), 100);
}

void KafkaPublisher::ProbeLoop() {
  while (!stopping_.load()) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(producer_.get(), 0, nullptr, &md, 2000);
    if (md) rd_kafka_metadata_destroy(md);
    bool ok = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (ok != reachable_.exchange(ok)) {
      if (ok) {
        LogInfo(kComponent, "brokers reachable");
      } else {
        LogWarn(kComponent, std::string("brokers unreachable: ") + rd_kafka_err2str(err));
      }
    }
    InterruptibleSleep(stopping_, std::chrono::seconds(2));
  }
}

// --- TopicFollower ---

TopicFollower::TopicFollower(KafkaConfig kafka, std::string topic, RecordHandler on_record)
    : kafka_(std::move(kafka)), topic_(std::move(topic)), on_record_(std::move(on_record)) {}

TopicFollower::~TopicFollower() { Stop(); }

Status TopicFollower::Start(Duration timeout) {
  // librdkafka wants a group.id even for assign(); it is never joined or committed to.
  auto conf = MakeKafkaConf(kafka_, {{"group.id", kafka_.topic_prefix + "follower"},
                                     {"enable.partition.eof", "true"},
                                     {"enable.auto.commit", "false"},
                                     {"auto.offset.reset", "earliest"},
                                     {"fetch.wait.max.ms", "50"},
                                     {"socket.nagle.disable", "true"}});
  if (!conf.ok()) return conf.status();
  char err[512];
  consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), err, sizeof err));
  if (!consumer_) return Internal(std::string("cannot create Kafka consumer: ") + err);

  int partitions = 0;
  KafkaPartitionList assignment;
  Status ready = RetryStartup(timeout, [&]() -> Status {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(consumer_.get(), topic_.c_str(), nullptr);
    rd_kafka_resp_err_t merr = rd_kafka_metadata(consumer_.get(), 0, rkt, &md, 5000);
    rd_kafka_topic_destroy(rkt);
    if (merr != RD_KAFKA_RESP_ERR_NO_ERROR)
      return KafkaStatus(merr, "cannot read metadata of " + topic_);
    rd_kafka_resp_err_t terr =
        md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    partitions = terr == RD_KAFKA_RESP_ERR_NO_ERROR ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    if (partitions <= 0) return KafkaStatus(terr, "topic " + topic_ + " is not available");
    end_offsets_.assign(partitions, 0);
    partition_done_.assign(partitions, false);
    assignment.reset(rd_kafka_topic_partition_list_new(partitions));
    for (int p = 0; p < partitions; ++p) {
      int64_t low = 0, high = 0;
      rd_kafka_resp_err_t werr =
          rd_kafka_query_watermark_offsets(consumer_.get(), topic_.c_str(), p, &low, &high, 5000);
      if (werr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return KafkaStatus(werr, "cannot read end offsets of " + topic_);
      }
      end_offsets_[p] = high;
      partition_done_[p] = high <= low;
      rd_kafka_topic_partition_list_add(assignment.get(), topic_.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
    return Status::Ok();
  });
  if (!ready.ok()) return ready;
  rd_kafka_resp_err_t aerr = rd_kafka_assign(consumer_.get(), assignment.get());
  if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(aerr, "cannot assign " + topic_);
  bool all = true;
  for (bool d : partition_done_) all = all && d;
  caught_up_.store(all);
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void TopicFollower::Stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  if (consumer_) {
    rd_kafka_consumer_close(consumer_.get());
    consumer_.reset();
  }
}

int64_t TopicFollower::LagRecords() const {
  if (!consumer_ || !thread_.joinable()) return 0;
  int partitions = static_cast<int>(end_offsets_.size());
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p);
  }
  if (rd_kafka_position(consumer_.get(), list.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
  int64_t lag = 0;
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = list->elems[i];
    int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(consumer_.get(), topic_.c_str(), tp.partition, &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    // No position yet: nothing of the partition read, so all of it is behind.
    int64_t position = tp.offset >= 0 ? tp.offset : std::max<int64_t>(low, 0);
    lag += std::max<int64_t>(0, high - position);
  }
  return lag;
}

void TopicFollower::Loop() {
  while (!stopping_.load()) {
    KafkaMessage msg(rd_kafka_consumer_poll(consumer_.get(), 100));
    if (after_poll_) after_poll_();
    if (!msg) continue;
    int32_t p = msg->partition;
    bool in_range = p >= 0 && p < static_cast<int32_t>(partition_done_.size());
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (in_range) partition_done_[p] = true;
    } else if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      LogWarn(kComponent, topic_ + ": " + rd_kafka_message_errstr(msg.get()));
      continue;
    } else {
      Record r;
      if (msg->key) r.key.assign(static_cast<const char*>(msg->key), msg->key_len);
      if (msg->payload) r.value.assign(static_cast<const char*>(msg->payload), msg->len);
      r.partition = p;
      r.offset = msg->offset;
      on_record_(r);
      if (in_range && msg->offset + 1 >= end_offsets_[p]) partition_done_[p] = true;
    }
    if (!caught_up_.load()) {
      bool all = true;
      for (bool d : partition_done_) all = all && d;
      if (all) {
        caught_up_.store(true);
        LogInfo(kComponent, topic_ + ": caught up");
      }
    }
  }
}

}  // namespace sluice
