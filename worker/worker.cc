#include "worker/worker.h"

#include <unistd.h>

#include <cstdlib>
#include <set>
#include <thread>

#include "common/crypto.h"
#include "common/json_codec.h"
#include "common/log.h"
#include "worker/worker_metrics.h"

namespace sluice {
namespace {

constexpr const char* kComponent = "worker";
constexpr auto kRetryDelay = std::chrono::seconds(1);
// The most records taken from the consumer in one turn of the loop.
constexpr int kIntakePerTurn = 256;
// Triggers read but not yet started are bounded: intake pauses at this many waiting (or
// 8 per slot, if more) and resumes at half of it. The other half keeps the slots busy while
// librdkafka fetches again after the resume (about half a second in 2.0.2).
constexpr int kMinIntakeBound = 512;
// How often triggers waiting for a slot are decided anyway while every slot is busy: one may
// have been aborted or run elsewhere meanwhile.
constexpr auto kWaitingDecideEvery = std::chrono::milliseconds(100);
// The longest the loop sleeps with work in hand (timers: heartbeats, retries, deadlines), and
// while a job's end can only be noticed by looking (no pidfd).
constexpr auto kLongestSleep = std::chrono::milliseconds(50);
constexpr auto kPollingSleep = std::chrono::milliseconds(5);

bool HoldsSlot(int state_value) { return state_value >= 1 && state_value <= 4; }

// Limits of a compact record (CompactRecord): far below any broker's message.max.bytes.
constexpr size_t kCompactValueBytes = 256;
constexpr size_t kCompactMessageBytes = 1024;
constexpr size_t kCompactPulls = 20;

// `text` cut to at most `limit` bytes on a UTF-8 sequence boundary, with how much was cut.
std::string Shortened(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t end = limit;
  // Back off continuation bytes (10xxxxxx) so that no multi-byte sequence is split.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "... [" + std::to_string(text.size() - end) + " bytes cut]";
}

void ShortenValues(std::map<std::string, std::string>& values, size_t* cut) {
  std::map<std::string, std::string> kept;
  for (auto& [key, value] : values) {
    if (key.size() > kCompactValueBytes) {  // a name that long is no name: drop the entry
      *cut += key.size() + value.size();
      continue;
    }
    std::string shortened = Shortened(value, kCompactValueBytes);
    if (shortened.size() < value.size()) *cut += value.size() - shortened.size();
    kept.emplace(key, std::move(shortened));
  }
  values = std::move(kept);
}

}  // namespace

Execution CompactRecord(Execution record) {
  size_t cut = 0;
  ShortenValues(record.pod_spec_options.envs, &cut);
  ShortenValues(record.pod_spec_options.labels, &cut);
  ShortenValues(record.pod_spec_options.annotations, &cut);
  if (record.refs) {
    Refs& r = *record.refs;
    for (std::string* field : {&r.org, &r.repo, &r.repo_link, &r.base_ref, &r.base_sha,
                               &r.base_link, &r.path_alias, &r.clone_uri}) {
      *field = Shortened(*field, kCompactValueBytes);
    }
    if (r.pulls.size() > kCompactPulls) r.pulls.resize(kCompactPulls);
    for (Pull& pull : r.pulls) {
      for (std::string* field : {&pull.author, &pull.sha, &pull.title, &pull.ref, &pull.link,
                                 &pull.commit_link, &pull.author_link}) {
        *field = Shortened(*field, kCompactValueBytes);
      }
    }
  }
  record.job_name = Shortened(record.job_name, kCompactValueBytes);
  record.client = Shortened(record.client, kCompactValueBytes);
  if (cut > 0) {
    record.message += " (" + std::to_string(cut) + " bytes of pod_spec_options left out)";
  }
  record.message = Shortened(record.message, kCompactMessageBytes);
  return record;
}

ShutdownSchedule PlanShutdown(TimePoint stop_requested, Duration shutdown_grace,
                              Duration kill_grace) {
  ShutdownSchedule plan;
  plan.stop_jobs_at = stop_requested + shutdown_grace;
  plan.job_kill_grace = kill_grace / 2;
  plan.give_up_at = stop_requested + shutdown_grace + kill_grace * 3 / 4;
  plan.exit_by = stop_requested + shutdown_grace + kill_grace;
  return plan;
}

std::string NewWorkerId() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + HexEncode(RandomBytes(3));
}

Worker::Worker(const Config& config, Publisher& publisher, StatusView& view, AbortRegistry& aborts,
               PipelineStore& pipelines, const Executors& executors, const Clock& clock,
               std::string worker_id)
    : config_(config),
      publisher_(publisher),
      view_(view),
      aborts_(aborts),
      pipelines_(pipelines),
      executors_(executors),
      clock_(clock),
      pipeline_owner_(config, publisher, view, pipelines, clock),
      worker_id_(std::move(worker_id)),
      janitor_(config.worker.workspace, config.worker.keep_failed_workspaces) {
  const char* path = std::getenv("PATH");
  inherited_path_ = path ? path : "/usr/local/bin:/usr/bin:/bin";
}

Worker::~Worker() {
  ReleaseConsumerQueue();
  if (consumer_) rd_kafka_consumer_close(consumer_.get());
}

void Worker::ReleaseConsumerQueue() {
  if (consumer_queue_ == nullptr) return;
  rd_kafka_queue_io_event_enable(consumer_queue_, -1, nullptr, 0);
  rd_kafka_queue_destroy(consumer_queue_);
  consumer_queue_ = nullptr;
}

void Worker::EventQueue::Push(std::function<void(Worker&)> event) {
  LoopWake* to_wake = nullptr;  // alive while this queue is: it holds a reference
  {
    std::lock_guard<std::mutex> lock(mutex);
    events.push_back(std::move(event));
    to_wake = wake.get();
  }
  if (to_wake) to_wake->Wake();
}

void Worker::RebalanceTrampoline(rd_kafka_t*, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<Worker*>(opaque)->OnRebalance(err, partitions);
}

Status Worker::Start() {
  const KafkaConfig& k = config_.kafka;
  auto wake = LoopWake::Create();
  if (!wake.ok()) return wake.status();
  wake_ = std::move(*wake);
  {
    std::lock_guard<std::mutex> lock(events_->mutex);
    events_->wake = wake_;
  }
  // The status view's changes to executions held here wake the loop (a claim seen, say).
  std::weak_ptr<LoopWake> weak_wake = wake_;
  view_.store().OnChange([weak_wake](const Execution& e) {
    if (auto wake = weak_wake.lock()) wake->WakeIfWatched(e.id);
  });
  // Offsets are stored by hand once an execution's end is acknowledged, then auto-committed.
  auto consumer =
      JoinGroup(k, config_.worker.lease, k.topic_prefix + "workers", worker_id_, k.RequestsTopic(),
                [this](rd_kafka_conf_t* conf) {
                  rd_kafka_conf_set_opaque(conf, this);
                  rd_kafka_conf_set_rebalance_cb(conf, &Worker::RebalanceTrampoline);
                  // What librdkafka prefetches is bounded too (default 64 MiB): the worker holds
                  // only what it can start soon (UpdatePause), the rest stays in Kafka.
                  char err[256];
                  if (!config_.kafka.properties.count("queued.max.messages.kbytes")) {
                    rd_kafka_conf_set(conf, "queued.max.messages.kbytes", "8192", err, sizeof err);
                  }
                });
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(*consumer);
  consumer_queue_ = rd_kafka_queue_get_consumer(consumer_.get());
  rd_kafka_queue_io_event_enable(consumer_queue_, wake_->write_fd(), "1", 1);
  LogInfo(kComponent, "worker " + worker_id_ + " joined group " + k.topic_prefix + "workers");
  return Status::Ok();
}

void Worker::OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < partitions->cnt; ++i) {
      next_offset_.erase(partitions->elems[i].partition);
      stored_offset_.erase(partitions->elems[i].partition);
    }
    rd_kafka_assign(consumer_.get(), partitions);
    // librdkafka keeps a partition paused across a revoke and a later re-assignment to the same
    // consumer; left so, a partition this worker had paused would never be read again.
    rd_kafka_resume_partitions(consumer_.get(), partitions);
    paused_ = false;
    LogInfo(kComponent, "assigned " + std::to_string(partitions->cnt) + " partition(s)");
    return;
  }
  // Revoked: commit what is done; triggers not yet claimed belong to the next owner now.
  StoreOffsets();
  rd_kafka_commit(consumer_.get(), nullptr, 0);
  for (int i = 0; i < partitions->cnt; ++i) {
    int32_t p = partitions->elems[i].partition;
    next_offset_.erase(p);
    stored_offset_.erase(p);
    for (auto it = entries_.begin(); it != entries_.end();) {
      State state = it->second.state;
      if (it->first.first == p && (state == State::kDeciding || state == State::kPipeline)) {
        Forget(it->second);
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }
  rd_kafka_assign(consumer_.get(), nullptr);
  LogInfo(kComponent, "revoked " + std::to_string(partitions->cnt) + " partition(s)");
}

void Worker::Post(std::function<void(Worker&)> event) { events_->Push(std::move(event)); }

void Worker::Forget(const Entry& entry) {
  if (entry.trigger && wake_) wake_->Unwatch(entry.trigger->id);
}

void Worker::DrainEvents() {
  std::deque<std::function<void(Worker&)>> events;
  {
    std::lock_guard<std::mutex> lock(events_->mutex);
    events.swap(events_->events);
  }
  for (auto& e : events) e(*this);
}

int Worker::Running() const {
  int n = 0;
  for (const auto& [key, e] : entries_) {
    if (HoldsSlot(static_cast<int>(e.state))) ++n;
  }
  return n;
}

void Worker::OnRecord(const rd_kafka_message_t* msg) {
  EntryKey key{msg->partition, msg->offset};
  int64_t& next = next_offset_[msg->partition];
  next = std::max(next, msg->offset + 1);
  if (entries_.count(key)) return;  // redelivered while we still hold it
  Entry entry;
  entry.partition = msg->partition;
  entry.offset = msg->offset;
  std::string_view payload(static_cast<const char*>(msg->payload), msg->len);
  if (IsPipelineCommandRecord(payload)) {
    auto command = DecodePipelineCommand(payload);
    if (command.ok()) {
      command->position = RecordPosition{msg->partition, msg->offset};
      if (command->kind == PipelineCommandKind::kStart) {
        command->pipeline_id = PipelineIdAt(command->position, 0);
      }
      entry.command = std::move(*command);
      entry.state = State::kPipeline;
    } else {
      LogError(kComponent, "skipping unreadable pipeline command at partition " +
                               std::to_string(msg->partition) + " offset " +
                               std::to_string(msg->offset) + ": " + command.status().message());
      entry.state = State::kDone;
    }
    entries_.emplace(key, std::move(entry));
    return;
  }
  auto trigger = DecodeTrigger(payload);
  if (trigger.ok()) {
    if (wake_) wake_->Watch(trigger->id);
    entry.trigger = std::move(*trigger);
  } else {
    LogError(kComponent, "skipping unreadable trigger at partition " +
                             std::to_string(msg->partition) + " offset " +
                             std::to_string(msg->offset) + ": " + trigger.status().message());
    entry.state = State::kDone;
  }
  entries_.emplace(key, std::move(entry));
}

std::optional<JobConfig> Worker::JobFor(const Trigger& trigger) const {
  if (trigger.pipeline_id == 0) {
    const JobConfig* job = config_.FindJob(trigger.job_name);
    if (job == nullptr) return std::nullopt;
    return *job;
  }
  const ProjectConfig* project = config_.FindProject(std::to_string(trigger.project_id));
  if (project == nullptr) return std::nullopt;
  for (const PipelineJobConfig& job : project->jobs) {
    if (job.name == trigger.job_name) return PipelineJobRunConfig(*project, job);
  }
  return std::nullopt;
}

std::optional<JobRun::Params::Pipeline> Worker::PipelineRunFor(const Entry& entry) const {
  const Trigger& t = *entry.trigger;
  auto pipeline = pipelines_.Get(t.pipeline_id);
  auto job_id = ParseDecimalId(t.id);
  const ProjectConfig* project = config_.FindProject(std::to_string(t.project_id));
  if (!pipeline || !job_id || project == nullptr) return std::nullopt;
  JobRun::Params::Pipeline run;
  run.project = project;
  for (const PipelineJobConfig& job : project->jobs) {
    if (job.name == t.job_name) run.job = &job;
  }
  if (run.job == nullptr) return std::nullopt;
  PipelineJobContext& c = run.context;
  c.pipeline_id = pipeline->id;
  c.pipeline_iid = pipeline->iid;
  c.job_id = *job_id;
  c.source = pipeline->source;
  c.ref = pipeline->ref;
  c.sha = pipeline->sha;
  c.variables = pipeline->variables;
  for (const PipelineJobRun& r : pipeline->jobs) {
    if (r.id != *job_id) continue;
    for (const auto& [k, v] : r.variables) c.variables[k] = v;  // the play or retry call's win
  }
  c.job_token = entry.job_token;
  c.server_url = config_.gateway.public_url;
  run.payload = pipeline->payload;
  return run;
}

void Worker::AdvancePipelines(TimePoint now) {
  // Each pipeline's commands held here, oldest first (one pipeline's are all in one partition).
  std::map<int64_t, std::vector<PipelineOwner::HeldCommand>> held;
  std::map<int64_t, std::vector<EntryKey>> keys;
  for (const auto& [key, entry] : entries_) {
    if (entry.state != State::kPipeline) continue;
    held[entry.command->pipeline_id].push_back({key.second, &*entry.command});
    keys[entry.command->pipeline_id].push_back(key);
  }
  std::set<int64_t> ids;
  for (const auto& [pipeline_id, commands] : held) {
    ids.insert(pipeline_id);
    for (int64_t offset : pipeline_owner_.Advance(pipeline_id, commands, now)) {
      for (const EntryKey& key : keys[pipeline_id]) {
        if (key.second == offset) entries_[key].state = State::kDone;
      }
    }
  }
  pipeline_owner_.Retain(ids);
}

Execution Worker::RecordFor(const Entry& entry, JobStatus status, TimePoint now) const {
  const Trigger& t = *entry.trigger;
  Execution e =
      Execution::FromTrigger(t, ArtifactsPathFor(config_.worker.artifacts, t.job_name, t.id));
  e.job_status = status;
  e.worker = worker_id_;
  e.attempt = entry.attempt;
  e.heartbeat_time = now;
  if (status == JobStatus::kPending && !entry.job_token.empty()) {
    e.job_token_sha256 = Sha256Hex(entry.job_token);
  }
  if (entry.run) {
    e.start_time = entry.run->start_time();
    if (IsTerminal(status)) e.completion_time = entry.run->completion_time().value_or(now);
  } else if (IsTerminal(status)) {
    e.completion_time = now;
  }
  return e;
}

void Worker::Decide(Entry& entry, TimePoint now) {
  if (now < entry.retry_at) return;
  const Trigger& t = *entry.trigger;
  if (!entry.job) entry.job = JobFor(t);
  const JobConfig* job = entry.job ? &*entry.job : nullptr;
  TriggerFacts facts;
  facts.current = view_.store().State(t.id);
  facts.abort_requested = aborts_.AbortRequested(t.id);
  facts.running_here = active_ids_.count(t.id) > 0;
  facts.trigger_create_time = t.create_time;
  facts.now = now;
  facts.lease = config_.worker.lease;
  facts.view_wait = config_.gateway.request_timeout;
  facts.max_attempts = job ? job->max_attempts : 1;
  TriggerDecision d = DecideTrigger(facts);
  switch (d.kind) {
    case TriggerDecision::Kind::kWait:
      return;
    case TriggerDecision::Kind::kSkip: {
      // A trigger met again after its execution ended: a redelivery, or the twin of a create
      // that two gateways took at once. The twin's TRIGGERED record may land after the terminal
      // one and would then be what compaction keeps, so once it can no longer be in flight,
      // write the terminal state again to make it the id's last record.
      if (now - t.create_time < config_.gateway.request_timeout) return;
      auto ended = view_.store().Get(t.id);  // the whole record, to write it again
      if (!ended) return;
      entry.report = *ended;
      entry.report.takes_over.reset();  // ended already: nothing to take over
      entry.state = State::kReporting;
      return SendReport(entry);
    }
    case TriggerDecision::Kind::kAbort:
      return Report(entry, JobStatus::kAborted, d.message, now, d.takes_over);
    case TriggerDecision::Kind::kGiveUp:
      entry.attempt = d.attempt;
      return Report(entry, JobStatus::kError, d.message, now, d.takes_over);
    case TriggerDecision::Kind::kRun:
      if (busy_slots_ >= config_.worker.max_concurrency) return;  // no free slot yet
      entry.attempt = d.attempt;
      entry.takes_over = d.takes_over;
      if (job == nullptr) {
        return Report(entry, JobStatus::kError,
                      "job \"" + t.job_name + "\" is not configured on worker " + worker_id_, now);
      }
      // A pipeline job's token, valid while its claim is the execution's state.
      if (t.pipeline_id != 0) entry.job_token = "glcbt-" + HexEncode(RandomBytes(20));
      return Claim(entry, now);
  }
}

void Worker::Claim(Entry& entry, TimePoint now) {
  entry.state = State::kClaiming;
  ++busy_slots_;
  Execution claim = RecordFor(entry, JobStatus::kPending, now);
  claim.start_time = now;
  claim.takes_over = entry.takes_over;
  entry.beat_in_flight = false;
  EntryKey key{entry.partition, entry.offset};
  auto events = events_;
  publisher_.Publish(config_.kafka.ResultsTopic(), claim.id, EncodeExecutionRecord(claim),
                     [events, key, now](const Status& s) {
                       events->Push([key, s, now](Worker& w) {
                         auto it = w.entries_.find(key);
                         if (it == w.entries_.end() || it->second.state != State::kClaiming) return;
                         if (s.ok()) {
                           it->second.state = State::kConfirming;
                           it->second.renewed_at = now;
                         } else if (!IsRetriableDelivery(s)) {
                           // Sent again it fails again: the execution cannot run.
                           w.ReportUnwritable(it->second, s, w.clock_.Now());
                         } else {
                           LogWarn(kComponent, "claim not acknowledged: " + s.ToString());
                           it->second.state = State::kDeciding;
                           it->second.retry_at = w.clock_.Now() + kRetryDelay;
                         }
                       });
                     });
}

void Worker::StartRun(Entry& entry, TimePoint now) {
  JobRun::Params p;
  p.job = &*entry.job;
  p.trigger = *entry.trigger;
  if (entry.trigger->pipeline_id != 0) {
    p.pipeline = PipelineRunFor(entry);
    if (!p.pipeline) {
      return Report(entry, JobStatus::kError,
                    "pipeline " + std::to_string(entry.trigger->pipeline_id) +
                        " of this job is unknown to worker " + worker_id_,
                    now);
    }
  }
  p.attempt = entry.attempt;
  p.worker_id = worker_id_;
  p.worker = config_.worker;
  p.inherited_path = inherited_path_;
  ExecutorKind kind = entry.job->runtime.executor.value_or(
      config_.worker.executor.value_or(ExecutorKind::kSandbox));
  Executor* executor = executors_.Get(kind);
  // Checkouts run git on the host's tools: in a sandbox, unless the job runs as a process.
  Executor* checkout =
      kind == ExecutorKind::kProcess ? executor : executors_.Get(ExecutorKind::kSandbox);
  if (checkout == nullptr && !entry.job->clone) checkout = executor;  // never used
  if (executor == nullptr || checkout == nullptr) {
    return Report(entry, JobStatus::kError,
                  std::string("executor ") +
                      ExecutorName(executor == nullptr ? kind : ExecutorKind::kSandbox) +
                      " is not available on worker " + worker_id_,
                  now);
  }
  std::set<int> taken;
  for (const auto& [key, other] : entries_) {
    if (other.state == State::kRunning && other.run) taken.insert(other.slot);
  }
  entry.slot = 0;
  while (taken.count(entry.slot)) ++entry.slot;
  p.slot = entry.slot;
  p.janitor = &janitor_;
  if (wake_) {
    p.starter = &starter_;
    p.on_started = [wake = wake_] { wake->Wake(); };
  }
  entry.run = std::make_unique<JobRun>(std::move(p), *executor, *checkout);
  entry.state = State::kRunning;
  WorkerMetrics& metrics = WorkerMetrics::Get();
  metrics.jobs_started.With({entry.trigger->job_name}).Inc();
  metrics.job_start_delay.Observe(
      std::max(0.0, std::chrono::duration<double>(now - entry.trigger->create_time).count()));
  entry.next_heartbeat = now + config_.worker.heartbeat;
  LogInfo(kComponent, "running " + entry.trigger->job_name + " " + entry.trigger->id + " attempt " +
                          std::to_string(entry.attempt));
  entry.run->Start(now);
  if (entry.run->finished()) Report(entry, entry.run->status(), entry.run->message(), now);
}

void Worker::Report(Entry& entry, JobStatus status, std::string message, TimePoint now,
                    std::optional<LeaseTakeover> takes_over) {
  entry.report = RecordFor(entry, status, now);
  entry.report.message = std::move(message);
  entry.report.takes_over = std::move(takes_over);
  if (entry.report_compacted) entry.report = CompactRecord(std::move(entry.report));
  entry.state = State::kReporting;
  LogInfo(kComponent, entry.trigger->id + " " + JobStatusName(status) +
                          (entry.report.message.empty() ? "" : ": " + entry.report.message));
  SendReport(entry);
}

void Worker::ReportUnwritable(Entry& entry, const Status& error, TimePoint now) {
  std::string reason = error.code() == Code::kInvalidArgument && error.http_status() == 413
                           ? "record too large for the results topic: "
                           : "record cannot be written to the results topic: ";
  reason += error.message();
  if (entry.state == State::kReporting && IsTerminal(entry.report.job_status) &&
      entry.report.job_status != JobStatus::kError) {
    reason += "; the job had ended " + std::string(JobStatusName(entry.report.job_status));
  }
  LogError(kComponent, entry.trigger->id + ": " + reason);
  std::optional<LeaseTakeover> takes_over =
      entry.state == State::kReporting ? entry.report.takes_over : entry.takes_over;
  entry.report_compacted = true;
  entry.retry_at = now;
  Report(entry, JobStatus::kError, std::move(reason), now, std::move(takes_over));
}

void Worker::SendReport(Entry& entry) {
  entry.publish_in_flight = true;
  EntryKey key{entry.partition, entry.offset};
  auto events = events_;
  publisher_.Publish(config_.kafka.ResultsTopic(), entry.report.id,
                     EncodeExecutionRecord(entry.report), [events, key](const Status& s) {
                       events->Push([key, s](Worker& w) {
                         auto it = w.entries_.find(key);
                         if (it == w.entries_.end()) return;
                         it->second.publish_in_flight = false;
                         if (s.ok() && it->second.report.takes_over) {
                           // Void if the holder renewed its claim first: look again.
                           it->second.state = State::kDeciding;
                         } else if (s.ok()) {
                           it->second.state = State::kDone;
                           w.CountFinished(it->second);
                         } else if (!IsRetriableDelivery(s) && !it->second.report_compacted) {
                           w.ReportUnwritable(it->second, s, w.clock_.Now());
                         } else if (!IsRetriableDelivery(s)) {
                           // Even the compact record cannot be written: give up on it, so that
                           // the offset moves on instead of retrying forever.
                           LogError(kComponent, it->second.report.id +
                                                    ": terminal status cannot be written, "
                                                    "giving up: " +
                                                    s.ToString());
                           it->second.state = State::kDone;
                         } else {
                           LogWarn(kComponent,
                                   "status not acknowledged, retrying: " + s.ToString());
                           it->second.retry_at = w.clock_.Now() + kRetryDelay;
                         }
                       });
                     });
}

void Worker::SendHeartbeat(Entry& entry, TimePoint now) {
  Execution beat = RecordFor(entry, JobStatus::kPending, now);
  if (!entry.run) beat.start_time = now;  // a claim renewed before its run starts
  entry.beat_in_flight = true;
  EntryKey key{entry.partition, entry.offset};
  int attempt = entry.attempt;
  auto events = events_;
  publisher_.Publish(config_.kafka.ResultsTopic(), beat.id, EncodeExecutionRecord(beat),
                     [events, key, attempt, now](const Status& s) {
                       if (!s.ok()) LogWarn(kComponent, "heartbeat lost: " + s.ToString());
                       events->Push([key, attempt, now, s](Worker& w) {
                         auto it = w.entries_.find(key);
                         if (it == w.entries_.end() || it->second.attempt != attempt) return;
                         it->second.beat_in_flight = false;
                         if (s.ok()) it->second.renewed_at = std::max(it->second.renewed_at, now);
                       });
                     });
}

// The claim could not be renewed for half the lease (Kafka did not acknowledge the
// heartbeats): soon another worker may take the execution over, so this run stops now, before
// that can happen, and the trigger is decided again like any other whose holder was lost.
void Worker::Fence(Entry& entry, TimePoint now) {
  LogWarn(kComponent,
          entry.trigger->id + ": attempt " + std::to_string(entry.attempt) +
              " could not renew its claim for " +
              FormatDuration(std::chrono::duration_cast<Duration>(now - entry.renewed_at)) +
              " (lease " + FormatDuration(config_.worker.lease) +
              "); killing the job so that it never runs twice at once");
  WorkerMetrics::Get().fenced.Inc();
  entry.run->KillNow();
  entry.run.reset();
  entry.takes_over.reset();
  entry.beat_in_flight = false;
  entry.state = State::kDeciding;
  entry.retry_at = now;
}

void Worker::Advance(Entry& entry, TimePoint now, bool draining) {
  switch (entry.state) {
    case State::kDeciding:
      if (!draining) Decide(entry, now);
      return;
    case State::kClaiming:
      return;
    case State::kConfirming: {
      auto current = view_.store().State(entry.trigger->id);
      if (!current) return;
      bool ours = current->job_status == JobStatus::kPending && current->attempt == entry.attempt &&
                  current->worker == worker_id_;
      if (ours) {
        // Start only on a claim renewed well within the lease. One that reached Kafka late (a
        // partition leader moved, say) is renewed first, and counts once the view shows it:
        // were another worker's takeover written before the renewal, the view would show that.
        if (current->heartbeat_time && now - *current->heartbeat_time < RenewalLimit()) {
          entry.renewed_at = std::max(entry.renewed_at, *current->heartbeat_time);  // written
          entry.state = State::kReady;
          if (entry.takes_over) WorkerMetrics::Get().lease_takeovers.Inc();
          return StartRun(entry, now);  // its slot is taken since the claim
        } else if (!entry.beat_in_flight) {
          SendHeartbeat(entry, now);
        }
      } else if (IsTerminal(current->job_status) || current->attempt >= entry.attempt ||
                 (entry.takes_over && current->job_status == JobStatus::kPending &&
                  !(LeaseTakeover{current->worker, current->attempt, current->heartbeat_time} ==
                    *entry.takes_over))) {
        // Another worker claimed it first, or the holder this claim would take over renewed
        // its own claim before ours was written (which voids ours).
        LogInfo(kComponent, entry.trigger->id + ": another worker holds it; standing by");
        entry.state = State::kDeciding;
      }
      return;
    }
    case State::kReady:
      return StartRun(entry, now);
    case State::kRunning: {
      JobRun& run = *entry.run;
      auto current = view_.store().State(entry.trigger->id);
      if (current && (current->attempt > entry.attempt ||
                      (IsTerminal(current->job_status) && current->worker != worker_id_))) {
        // Our lease lapsed and another worker took over: stop without reporting.
        LogWarn(kComponent, entry.trigger->id + ": lease lost to " + current->worker + "; killing");
        run.KillNow();
        entry.state = State::kDone;
        return;
      }
      if (aborts_.AbortRequested(entry.trigger->id)) {
        run.Stop(now, JobStatus::kAborted, "aborted on request");
      }
      if (run.Tick(now)) return Report(entry, run.status(), run.message(), now);
      if (now - entry.renewed_at > RenewalLimit()) return Fence(entry, now);
      if (now >= entry.next_heartbeat) {
        entry.next_heartbeat = now + config_.worker.heartbeat;
        SendHeartbeat(entry, now);
      }
      return;
    }
    case State::kReporting:
      if (!entry.publish_in_flight && now >= entry.retry_at) SendReport(entry);
      return;
    case State::kDone:
    case State::kPipeline:  // moved on by AdvancePipelines
      return;
  }
}

void Worker::CountFinished(const Entry& entry) {
  const Execution& r = entry.report;
  if (!IsTerminal(r.job_status)) return;
  WorkerMetrics& metrics = WorkerMetrics::Get();
  metrics.jobs_finished.With({r.job_name, JobStatusName(r.job_status)}).Inc();
  if (entry.run && r.start_time && r.completion_time) {
    metrics.job_duration.With({r.job_name})
        .Observe(std::max(
            0.0, std::chrono::duration<double>(*r.completion_time - *r.start_time).count()));
  }
}

void Worker::UpdateSlotMetrics() {
  WorkerMetrics& metrics = WorkerMetrics::Get();
  int running = Running();
  metrics.jobs_running.Set(running);
  metrics.slots_busy.Set(running);
  metrics.slots_free.Set(std::max(0, config_.worker.max_concurrency - running));
}

void Worker::StoreOffsets() {
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(next_offset_.size())));
  for (const auto& [p, next] : next_offset_) {
    int64_t commit = next;
    for (const auto& [key, e] : entries_) {
      if (key.first == p && e.state != State::kDone) {
        commit = std::min(commit, key.second);
        break;  // entries are ordered by offset within a partition
      }
    }
    auto stored = stored_offset_.find(p);
    if (stored != stored_offset_.end() && stored->second >= commit) continue;
    rd_kafka_topic_partition_list_add(list.get(), config_.kafka.RequestsTopic().c_str(), p)
        ->offset = commit;
    stored_offset_[p] = commit;
  }
  if (list->cnt > 0) {
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(consumer_.get(), list.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      LogWarn(kComponent, std::string("offset store: ") + rd_kafka_err2str(err));
  }
  // Finished entries below each partition's stored offset, or of partitions we no longer own.
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto stored = stored_offset_.find(it->first.first);
    bool owned = next_offset_.count(it->first.first) > 0;
    bool below = stored != stored_offset_.end() && it->first.second < stored->second;
    if (it->second.state == State::kDone && (below || !owned)) {
      Forget(it->second);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

void Worker::LogSummary(TimePoint now) {
  constexpr auto kSummaryEvery = std::chrono::seconds(10);
  if (now < next_summary_) return;
  next_summary_ = now + kSummaryEvery;
  static const char* const kNames[] = {"deciding", "claiming",  "confirming", "ready",
                                       "running",  "reporting", "done",       "pipeline command"};
  int counts[std::size(kNames)] = {};
  for (const auto& [key, e] : entries_) ++counts[static_cast<int>(e.state)];
  if (static_cast<int>(entries_.size()) == counts[static_cast<int>(State::kDone)]) return;
  std::string line = "holding " + std::to_string(entries_.size()) + " trigger(s):";
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (counts[i] > 0) line += " " + std::to_string(counts[i]) + " " + kNames[i];
  }
  line += std::string("; ") + std::to_string(next_offset_.size()) + " partition(s) owned" +
          (paused_ ? ", intake paused" : "");
  LogInfo(kComponent, line);
}

int Worker::IntakeBound() const {
  return std::max(kMinIntakeBound, 8 * config_.worker.max_concurrency);
}

void Worker::UpdatePause() {
  // Intake pauses while IntakeBound() triggers wait here for a slot, and resumes once half of
  // them have started: pausing and resuming are rare (librdkafka takes ~0.5 s to fetch again
  // after a resume, which the half left covers), and the rest stays in Kafka, bounded by
  // queued.max.messages.kbytes in librdkafka's own queue.
  int bound = IntakeBound();
  // Pipeline commands do not count: a pipeline waits for its jobs, whose triggers may be in
  // this very worker's partitions.
  int waiting = 0;
  int held = 0;
  for (const auto& [key, e] : entries_) {
    waiting += e.state == State::kDeciding;
    held += e.state != State::kPipeline;
  }
  bool want_pause =
      intake_stopped_ || held >= 2 * bound || (paused_ ? waiting > bound / 2 : waiting >= bound);
  if (want_pause == paused_) return;
  rd_kafka_topic_partition_list_t* assignment = nullptr;
  if (rd_kafka_assignment(consumer_.get(), &assignment) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  KafkaPartitionList owned(assignment);
  if (want_pause) {
    rd_kafka_pause_partitions(consumer_.get(), owned.get());
  } else {
    rd_kafka_resume_partitions(consumer_.get(), owned.get());
  }
  paused_ = want_pause;
}

void Worker::SweepArtifactsWhenDue(TimePoint now) {
  if (!artifacts_sweep_.Due(now)) return;
  artifacts_sweep_.Ran(now);
  if (artifacts_sweep_first_) {
    artifacts_sweep_first_ = false;
    if (Status pruned = janitor_.Prune(); !pruned.ok()) {
      LogWarn(kComponent, "kept failed workspaces: " + pruned.message());
    }
  }
  std::unordered_set<std::string> running;
  for (const auto& [key, entry] : entries_) {
    if (entry.trigger && entry.state != State::kDone) running.insert(entry.trigger->id);
  }
  auto report =
      SweepArtifacts(config_.worker.artifacts, config_.worker.artifacts_retention, now, running);
  if (!report.ok()) {
    LogWarn(kComponent, "artifacts sweep: " + report.status().message());
  } else if (report->executions_removed > 0 || report->failures > 0) {
    LogInfo(kComponent,
            "artifacts sweep: removed " + std::to_string(report->executions_removed) + " of " +
                std::to_string(report->executions_seen) + " executions older than " +
                FormatDuration(config_.worker.artifacts_retention) +
                (report->failures > 0 ? "; could not remove " + std::to_string(report->failures) +
                                            " (" + report->first_failure + ")"
                                      : ""));
  }
}

void Worker::WaitForWork() {
  // Records wait in librdkafka's queue, or triggers wait for a slot freed in the last turn.
  if (intake_more_ || turn_again_) return;
  if (wake_ == nullptr) {  // not started: nothing to sleep on
    std::this_thread::sleep_for(kPollingSleep);
    return;
  }
  std::vector<int> fds;
  bool must_look = false;  // a running job whose end no descriptor tells
  for (const auto& [key, entry] : entries_) {
    if (entry.state == State::kRunning && entry.run && !entry.run->AddWaitFds(&fds)) {
      must_look = true;
    }
  }
  wake_->Wait(fds, must_look ? kPollingSleep : kLongestSleep);
}

void Worker::TakeRecords() {
  int taken = 0;
  intake_more_ = false;
  while (taken < kIntakePerTurn) {
    KafkaMessage msg(rd_kafka_consumer_poll(consumer_.get(), 0));
    if (!msg) return;
    ++taken;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (!intake_stopped_) OnRecord(msg.get());
    } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      LogWarn(kComponent, std::string("consumer: ") + rd_kafka_message_errstr(msg.get()));
    }
  }
  intake_more_ = true;  // the rest next turn, after the held ones moved on
}

void Worker::Run(const std::atomic<bool>& stop) {
  std::optional<ShutdownSchedule> shutdown;
  bool stopped_jobs = false;
  bool gave_up = false;
  while (true) {
    TimePoint now = clock_.Now();
    bool draining = stop.load();
    if (draining && !intake_stopped_) {
      intake_stopped_ = true;
      shutdown = PlanShutdown(now, config_.worker.shutdown_grace, config_.worker.kill_grace);
      LogInfo(kComponent, "stopping intake; " + std::to_string(Running()) +
                              " execution(s) get up to " +
                              FormatDuration(config_.worker.shutdown_grace) + " to finish");
    }
    WaitForWork();
    now = clock_.Now();
    TakeRecords();
    DrainEvents();
    SweepArtifactsWhenDue(now);
    // Nothing is decided before the status view and the aborts are read to their end: a trigger
    // that looks new to an empty view may have run already.
    bool view_ready = view_.CaughtUp() && aborts_.CaughtUp();
    active_ids_.clear();
    for (const auto& [key, entry] : entries_) {
      if (entry.trigger && entry.state != State::kDeciding && entry.state != State::kDone) {
        active_ids_.insert(entry.trigger->id);
      }
    }
    busy_slots_ = Running();
    // While every slot is busy, waiting triggers are decided only now and then: a backlog of
    // them costs little per turn.
    bool decide_waiting = now >= next_waiting_decide_;
    if (decide_waiting) next_waiting_decide_ = now + kWaitingDecideEvery;
    int waiting = 0;
    int freed = 0;
    for (auto& [key, entry] : entries_) {
      if (entry.state == State::kDeciding &&
          (!view_ready || (busy_slots_ >= config_.worker.max_concurrency && !decide_waiting))) {
        ++waiting;
        continue;
      }
      bool held_slot = HoldsSlot(static_cast<int>(entry.state));
      Advance(entry, now, draining);
      if (held_slot && !HoldsSlot(static_cast<int>(entry.state))) ++freed;
      // A trigger met twice (a record duplicated in the topic) may have both copies deciding
      // in this same turn: the second must see that the first has just claimed its id.
      if (entry.trigger && entry.state != State::kDeciding && entry.state != State::kDone) {
        active_ids_.insert(entry.trigger->id);
      }
    }
    // A slot freed after triggers were passed over for want of one: they get it next turn, at
    // once.
    turn_again_ = freed > 0 && waiting > 0 && !draining;
    if (view_ready && !draining) AdvancePipelines(now);
    if (shutdown && now >= shutdown->stop_jobs_at && !stopped_jobs) {
      stopped_jobs = true;
      for (auto& [key, entry] : entries_) {
        if (entry.state == State::kRunning) {
          entry.run->Stop(now, JobStatus::kAborted,
                          "worker shut down before the job finished (shutdown_grace " +
                              FormatDuration(config_.worker.shutdown_grace) + ")",
                          shutdown->job_kill_grace);
        }
      }
    }
    StoreOffsets();
    UpdatePause();
    UpdateSlotMetrics();
    LogSummary(now);
    if (draining) {
      int busy = 0;
      for (const auto& [key, entry] : entries_) {
        // A pipeline's commands stay uncommitted; the next owner carries the pipeline on.
        if (entry.state != State::kDeciding && entry.state != State::kDone &&
            entry.state != State::kPipeline) {
          ++busy;
        }
      }
      if (busy == 0) break;
      if (now >= shutdown->give_up_at) {
        // Kafka has not acknowledged what these need; their offsets stay uncommitted, so the
        // next owner of their partitions decides them again (a claim here simply lapses).
        gave_up = true;
        LogWarn(kComponent, "shutdown: leaving " + std::to_string(busy) +
                                " execution(s) unacknowledged to the next owner");
        for (auto& [key, entry] : entries_) {
          if (entry.run) entry.run->KillNow();
        }
        break;
      }
    }
  }
  StoreOffsets();
  if (!gave_up && publisher_.Reachable()) {
    rd_kafka_commit(consumer_.get(), nullptr, 0);
    ReleaseConsumerQueue();
    rd_kafka_consumer_close(consumer_.get());
    consumer_.reset();
  }
  // Otherwise Kafka is not answering: a synchronous commit or a group leave could block for the
  // session timeout. The stored offsets are committed by the consumer's close in the
  // destructor, which the process's exit deadline (ShutdownSchedule::exit_by) bounds.
  LogInfo(kComponent, "worker " + worker_id_ + " stopped");
}

}  // namespace sluice
