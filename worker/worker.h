#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>

#include "common/clock.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/pipeline.h"
#include "common/publisher.h"
#include "common/status_view.h"
#include "worker/executor.h"
#include "worker/job_run.h"
#include "worker/loop_wake.h"
#include "worker/pipeline_owner.h"
#include "worker/trigger_decision.h"
#include "worker/workspace_janitor.h"

namespace sluice {

// A member of the workers' consumer group on the requests topic. At-least-once: a trigger's
// offset is stored only once its terminal status is acknowledged, so a worker that dies leaves
// its triggers to be redelivered; the status view's claims and heartbeats keep a redelivered
// trigger from running twice at once. One thread runs Run(); delivery callbacks are handed to it
// through a queue.
class Worker {
 public:
  // `pipelines`: the pipelines topic's view, for the pipeline commands and pipeline jobs met on
  // the requests topic.
  Worker(const Config& config, Publisher& publisher, StatusView& view, AbortRegistry& aborts,
         PipelineStore& pipelines, const Executors& executors, const Clock& clock,
         std::string worker_id);
  ~Worker();

  // Joins the consumer group. Blocking; start-up only.
  Status Start();
  // Runs until `stop` turns true, then stops intake, lets running jobs finish for up to
  // worker.shutdown_grace, aborts the rest, reports them and leaves the group.
  void Run(const std::atomic<bool>& stop);

  const std::string& id() const { return worker_id_; }

 private:
  enum class State {
    kDeciding,    // asking the status view what to do
    kClaiming,    // PENDING claim sent, waiting for its acknowledgement
    kConfirming,  // claim acknowledged; waiting to see it win in the status view
    kReady,       // claim confirmed, waiting for a free slot
    kRunning,
    kReporting,  // terminal status sent, waiting for its acknowledgement
    kDone,       // terminal status acknowledged (or nothing to do): the offset may move on
    kPipeline,   // a pipeline command: its pipeline's owner (PipelineOwner) moves it on
  };
  struct Entry {
    int32_t partition = 0;
    int64_t offset = 0;
    std::optional<Trigger> trigger;          // nullopt when the record could not be read
    std::optional<PipelineCommand> command;  // instead of a trigger: kPipeline
    std::optional<JobConfig> job;            // the job's configuration, once decided
    std::string job_token;                   // CI_JOB_TOKEN of a pipeline job's attempt
    State state = State::kDeciding;
    int attempt = 0;
    std::unique_ptr<JobRun> run;
    int slot = 0;      // of the run: 0 .. max_concurrency-1 (a sandbox's user)
    Execution report;  // the terminal record being reported
    bool publish_in_flight = false;
    TimePoint retry_at;
    TimePoint next_heartbeat;
    // The lost holder's record this worker's claim takes over (none for a first claim).
    std::optional<LeaseTakeover> takes_over;
    // The heartbeat_time of this worker's newest acknowledged claim or heartbeat for the entry:
    // no other worker takes the execution over within a lease of it.
    TimePoint renewed_at;
    bool beat_in_flight = false;
    // Set once a record for the entry failed for good (too large, say): its terminal record is
    // then written compact (CompactRecord).
    bool report_compacted = false;
  };
  using EntryKey = std::pair<int32_t, int64_t>;

  void OnRecord(const rd_kafka_message_t* msg);
  // The configuration a trigger's job runs with: a configured job, or a pipeline's job;
  // nullopt when this worker has no such job.
  std::optional<JobConfig> JobFor(const Trigger& trigger) const;
  // What a pipeline job's run needs of its pipeline; nullopt when the pipeline is unknown here.
  std::optional<JobRun::Params::Pipeline> PipelineRunFor(const Entry& entry) const;
  void AdvancePipelines(TimePoint now);
  void Advance(Entry& entry, TimePoint now, bool draining);
  void Decide(Entry& entry, TimePoint now);
  void Claim(Entry& entry, TimePoint now);
  void StartRun(Entry& entry, TimePoint now);
  void Report(Entry& entry, JobStatus status, std::string message, TimePoint now,
              std::optional<LeaseTakeover> takes_over = std::nullopt);
  // A record for the entry failed with a non-retriable error: the execution ends ERROR with the
  // reason, in a compact record, and its offset moves on once that lands (or fails for good).
  void ReportUnwritable(Entry& entry, const Status& error, TimePoint now);
  void SendReport(Entry& entry);
  void SendHeartbeat(Entry& entry, TimePoint now);
  void Fence(Entry& entry, TimePoint now);
  // A claim renewed longer ago than this may be about to be taken over: the worker starts
  // nothing on it, and stops a run whose claim it cannot renew.
  Duration RenewalLimit() const { return config_.worker.lease / 2; }
  Execution RecordFor(const Entry& entry, JobStatus status, TimePoint now) const;
  void Post(std::function<void(Worker&)> event);
  void DrainEvents();
  void StoreOffsets();
  // Metrics: a terminal status acknowledged (finished, duration); the slots, every turn.
  void CountFinished(const Entry& entry);
  void UpdateSlotMetrics();
  // Every `kSummaryEvery` while it holds triggers, one line of how many are in each state.
  void LogSummary(TimePoint now);
  void UpdatePause();
  // How many triggers may wait here for a slot before intake pauses.
  int IntakeBound() const;
  int Running() const;
  // Sleeps until there is something to do (LoopWake), at most a timer's granularity.
  void WaitForWork();
  // Takes up to kIntakePerTurn records (and serves the consumer's events), without waiting.
  void TakeRecords();
  // The entry is about to be dropped: its execution's changes no longer wake the loop.
  void Forget(const Entry& entry);
  void ReleaseConsumerQueue();
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  static void RebalanceTrampoline(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t* partitions, void* opaque);

  const Config& config_;
  Publisher& publisher_;
  StatusView& view_;
  AbortRegistry& aborts_;
  PipelineStore& pipelines_;
  const Executors& executors_;
  const Clock& clock_;
  PipelineOwner pipeline_owner_;
  std::string worker_id_;
  std::string inherited_path_;

  // Starts jobs' processes off this loop; outlives entries_ (a run waits for its start).
  StepStarter starter_{2};
  KafkaHandle consumer_;
  rd_kafka_queue_t* consumer_queue_ = nullptr;  // the consumer's queue, wakes the loop (IO event)
  std::shared_ptr<LoopWake> wake_;
  bool intake_more_ = false;  // the last turn left records in librdkafka's queue
  bool turn_again_ = false;   // the last turn freed a slot that waiting triggers can take
  int busy_slots_ = 0;        // slots taken, counted each turn and as claims are sent
  TimePoint next_waiting_decide_;
  std::map<EntryKey, Entry> entries_;
  std::map<int32_t, int64_t> next_offset_;    // per assigned partition: one past the last seen
  std::map<int32_t, int64_t> stored_offset_;  // per assigned partition: last offset stored
  // Ids of executions this worker claims, runs or reports, rebuilt every turn of Run().
  std::unordered_set<std::string> active_ids_;
  WorkspaceJanitor janitor_;  // kept failed workspaces (keep_failed_workspaces)
  SweepSchedule artifacts_sweep_{std::chrono::minutes(10)};  // artifacts_retention
  bool artifacts_sweep_first_ = true;
  // At start and then every 10 minutes: removes artifacts older than artifacts_retention (and,
  // the first time, kept failed workspaces beyond keep_failed_workspaces).
  void SweepArtifactsWhenDue(TimePoint now);
  bool paused_ = false;
  TimePoint next_summary_;
  bool intake_stopped_ = false;

  // Delivery callbacks post here; Run() drains it. Shared so that a callback arriving after the
  // worker is gone still has somewhere to post. Events look entries up again by key: a revoke
  // may have dropped them meanwhile.
  struct EventQueue {
    std::mutex mutex;
    std::deque<std::function<void(Worker&)>> events;
    std::shared_ptr<LoopWake> wake;  // woken by every event posted
    void Push(std::function<void(Worker&)> event);
  };
  std::shared_ptr<EventQueue> events_ = std::make_shared<EventQueue>();
};

// `record` small enough for any results topic, for a record that failed for good: every value
// of pod_spec_options and refs cut to 256 bytes (on a UTF-8 boundary, saying how much was cut),
// names longer than that dropped, at most 20 pulls, the message cut to 1 KiB.
Execution CompactRecord(Execution record);

// When a stopping worker does what, from the moment it was asked to stop (SIGTERM), so that the
// process ends within shutdown_grace + kill_grace whatever Kafka answers: running jobs get
// shutdown_grace to finish, are then stopped (SIGTERM, SIGKILL after half the kill_grace), their
// ends are reported until give_up_at, and whatever is then still unacknowledged is left to the
// next owner of its partition (its offset is not committed). exit_by is the process's deadline.
struct ShutdownSchedule {
  TimePoint stop_jobs_at;
  Duration job_kill_grace{};
  TimePoint give_up_at;
  TimePoint exit_by;
};
ShutdownSchedule PlanShutdown(TimePoint stop_requested, Duration shutdown_grace,
                              Duration kill_grace);

// "<hostname>-<pid>-<random>", unique per process.
std::string NewWorkerId();

}  // namespace sluice
