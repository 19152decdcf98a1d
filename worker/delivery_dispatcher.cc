#include "worker/delivery_dispatcher.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "common/json_codec.h"
#include "common/log.h"

namespace sluice {

namespace {

constexpr const char* kComponent = "dispatcher";
constexpr auto kRetryDelay = std::chrono::seconds(1);
constexpr auto kAckWait = std::chrono::seconds(30);

// Counts acknowledgements of one dispatch; the dispatcher's thread waits on it.
struct Acks {
  std::mutex mutex;
  std::condition_variable done;
  size_t remaining = 0;
  Status error;
};

}  // namespace

DispatchPlan PlanDispatch(
    const std::vector<Trigger>& triggers,
    const std::function<std::optional<Execution>(const std::string&)>& current,
    const std::string& artifacts) {
  DispatchPlan plan;
  for (const Trigger& t : triggers) {
    std::optional<Execution> known = current(t.id);
    if (!known) {
      plan.records.push_back(
          Execution::FromTrigger(t, ArtifactsPathFor(artifacts, t.job_name, t.id)));
    } else if (known->job_status != JobStatus::kTriggered) {
      continue;  // claimed or ended: its trigger was met already
    }
    plan.triggers.push_back(t);
  }
  return plan;
}

DeliveryDispatcher::DeliveryDispatcher(const Config& config, Publisher& publisher, StatusView& view,
                                       const Clock& clock, std::string worker_id)
    : config_(config),
      publisher_(publisher),
      view_(view),
      clock_(clock),
      worker_id_(std::move(worker_id)) {}

DeliveryDispatcher::~DeliveryDispatcher() { Stop(); }

Status DeliveryDispatcher::Start() {
  const KafkaConfig& k = config_.kafka;
  auto consumer = JoinGroup(k, config_.worker.lease, k.topic_prefix + "dispatchers",
                            worker_id_ + "-dispatcher", k.EventsTopic());
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(*consumer);
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void DeliveryDispatcher::Stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  if (consumer_) {
    rd_kafka_consumer_close(consumer_.get());
    consumer_.reset();
  }
}

void DeliveryDispatcher::Loop() {
  while (!stopping_.load()) {
    // A plan read from a view that has not caught up would write TRIGGERED records again.
    if (!view_.CaughtUp()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    KafkaMessage msg(rd_kafka_consumer_poll(consumer_.get(), 200));
    if (!msg) continue;
    if (msg->err) {
      if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        LogWarn(kComponent, std::string("consumer: ") + rd_kafka_message_errstr(msg.get()));
      }
      continue;
    }
    std::string_view value(static_cast<const char*>(msg->payload), msg->len);
    auto record = DecodeDeliveryRecord(value);
    if (!record.ok()) {
      LogError(kComponent, "skipping unreadable delivery at partition " +
                               std::to_string(msg->partition) + " offset " +
                               std::to_string(msg->offset) + ": " + record.status().message());
    } else {
      while (!stopping_.load()) {
        Status s = Dispatch(*record);
        if (s.ok()) break;
        LogWarn(kComponent,
                "delivery " + record->Key() + " not dispatched, retrying: " + s.ToString());
        std::this_thread::sleep_for(kRetryDelay);
      }
      if (stopping_.load()) break;  // not dispatched: the next owner dispatches it
    }
    KafkaPartitionList done(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(done.get(), rd_kafka_topic_name(msg->rkt), msg->partition)
        ->offset = msg->offset + 1;
    rd_kafka_offsets_store(consumer_.get(), done.get());
  }
}

Status DeliveryDispatcher::Dispatch(const DeliveryRecord& record) {
  std::vector<Trigger> triggers = DeliveryTriggers(record, clock_.Now());
  if (triggers.empty()) return Status::Ok();
  DispatchPlan plan = PlanDispatch(
      triggers, [this](const std::string& id) { return view_.store().Get(id); },
      config_.worker.artifacts);
  auto acks = std::make_shared<Acks>();
  acks->remaining = plan.records.size() + plan.triggers.size();
  if (acks->remaining == 0) return Status::Ok();
  auto on_ack = [acks](const Status& s) {
    std::lock_guard<std::mutex> lock(acks->mutex);
    if (!s.ok() && acks->error.ok()) acks->error = s;
    if (--acks->remaining == 0) acks->done.notify_all();
  };
  const KafkaConfig& k = config_.kafka;
  for (const Execution& e : plan.records) {
    publisher_.Publish(k.ResultsTopic(), e.id, EncodeExecutionRecord(e), on_ack);
  }
  for (const Trigger& t : plan.triggers) {
    publisher_.Publish(k.RequestsTopic(), t.id, EncodeTrigger(t), on_ack);
  }
  std::unique_lock<std::mutex> lock(acks->mutex);
  if (!acks->done.wait_for(lock, kAckWait, [&] { return acks->remaining == 0; })) {
    return Unavailable("Kafka did not acknowledge within " + FormatDuration(kAckWait));
  }
  if (!acks->error.ok()) return acks->error;
  LogInfo(kComponent, "dispatched " + record.Key() + ": " + std::to_string(plan.triggers.size()) +
                          " trigger(s), " + std::to_string(plan.records.size()) + " new");
  return Status::Ok();
}

}  // namespace sluice
