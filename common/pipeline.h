#pragma once

// GitLab-style pipelines on Sluice's spine.
//
// A pipeline is a record in the compacted topic <prefix>pipelines, keyed by its id: what it was
// triggered with and the runs of its jobs. Each job run that starts is an ordinary execution in
// the results topic (its id is the job id in decimal), so claims, heartbeats, takeovers and aborts
// work for pipeline jobs exactly as for API triggers, and a job's state lives where every other
// execution's does.
//
// Who writes what:
//   - the gateway puts a PipelineCommand (start, play, retry, cancel) on the requests topic,
//     under the pipeline's command key (so that all of one pipeline's commands share a
//     partition), and writes a new pipeline's first record once its start command is in;
//   - the worker owning that partition of the requests topic is the pipeline's only writer from
//     then on: it applies each command to the record in topic order, triggers the jobs that are
//     due, and keeps the command's offset uncommitted until nothing more can happen. A rebalance
//     or a crash hands the commands, and so the pipeline, to the next owner, which resumes from
//     the record and the status view. `applied_offset` makes a command applied twice a no-op.
//
// Ids. GitLab's ids are integers, and JavaScript must read them exactly (below 2^53). A
// pipeline's id and its jobs' ids are drawn from the place of the command that created them
// in the requests topic (PipelineIdAt), which Kafka makes unique: gateways draw ids without
// talking to each other and never collide, whatever the load.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/execution.h"
#include "common/kafka.h"
#include "common/pipeline_progress.h"
#include "common/publisher.h"
#include "common/status.h"

namespace sluice {

// One run of a pipeline job. Each job gets a first run when its pipeline is created; a retry adds
// another run of the same name. A job's current run is its last.
struct PipelineJobRun {
  int64_t id = 0;  // the GitLab job id; its execution's id is this in decimal
  std::string name;
  // Variables of the play or retry call that made this run, over the pipeline's.
  std::map<std::string, std::string> variables;
  bool start = false;     // played or retried: trigger it now rather than by its stage
  bool canceled = false;  // cancel requested for this run
  std::string user;       // who played, retried or canceled it; empty for a first run
  TimePoint created_at;
  bool operator==(const PipelineJobRun&) const = default;
};

struct Pipeline {
  int64_t id = 0;
  int64_t iid = 0;  // GitLab's per-project number; Sluice uses the id (unique, no coordination)
  int64_t project_id = 0;
  std::string ref;
  bool tag = false;
  std::string sha;                 // empty when the project has no repository to resolve it
  std::string source = "trigger";  // "trigger", or "pipeline" when triggered with a job token
  std::string user;                // the owner of the trigger token (or the job token's job)
  int64_t trigger_id = 0;          // the trigger token it was triggered with (0: a job token)
  TimePoint created_at;
  TimePoint updated_at;
  std::map<std::string, std::string> variables;  // of the trigger call
  std::string payload;      // TRIGGER_PAYLOAD: the trigger request without its token, as JSON
  std::string fingerprint;  // of the request, to tell Idempotency-Key reuse apart
  std::string idempotency;  // SHA-256 of the trigger token's hash and the Idempotency-Key
  std::string command_key;  // the requests-topic key of this pipeline's commands
  std::vector<PipelineJobRun> jobs;
  bool canceled = false;
  int64_t applied_offset = -1;  // offset (requests topic) of the newest command applied
  bool operator==(const Pipeline&) const = default;
};

std::string EncodePipeline(const Pipeline& p);
StatusOr<Pipeline> DecodePipeline(std::string_view json);

// What a gateway asks of a pipeline's owner.
enum class PipelineCommandKind {
  kStart,      // a new pipeline: start its first stage
  kPlay,       // play a manual job (job_id), with variables
  kRetryJob,   // run job_id again, with variables or those of the run it retries
  kCancelJob,  // cancel job_id
  kCancel,     // cancel the pipeline
  kRetry,      // retry the pipeline's failed and canceled jobs
};
const char* PipelineCommandKindName(PipelineCommandKind kind);

struct PipelineCommand {
  PipelineCommandKind kind = PipelineCommandKind::kStart;
  int64_t pipeline_id = 0;  // 0 in a start command: the pipeline's id comes from its position
  int64_t job_id = 0;
  std::optional<std::map<std::string, std::string>> variables;
  std::string user;
  TimePoint time;
  RecordPosition position;  // where it is in the requests topic; set by its reader, not written
};

// The k-th id drawn from the command at `position`: 0 for a new pipeline, 1 + the job's index in
// the project's pipeline config for the jobs a command creates. Unique while the requests topic
// is not re-created: ((offset * 4096 + partition) * 64 + k) + 1, so up to 4096 partitions, 63
// jobs per pipeline, and 2^35 - 1 commands per partition before ids reach 2^53.
int64_t PipelineIdAt(RecordPosition position, int k);
// The id a command at `position` gives to a new run of `job_name` (its index in the project's
// jobs, plus one); 0 when the project has no such job.
int64_t NewJobIdAt(const ProjectConfig& project, RecordPosition position,
                   const std::string& job_name);
constexpr int kMaxPipelineJobs = 63;

// A requests-topic record is a trigger or, when it has a "pipeline_command" member, a command.
std::string EncodePipelineCommand(const PipelineCommand& c);
bool IsPipelineCommandRecord(std::string_view json);
StatusOr<PipelineCommand> DecodePipelineCommand(std::string_view json);

// --- What a pipeline's record and its jobs' executions add up to ---

struct PipelineJobState {
  PipelineJobRun run;
  std::string stage;
  std::optional<Execution> execution;  // once triggered
  PipelineJobStatus status = PipelineJobStatus::kCreated;
  bool current = false;  // the last run of its name
};

struct PipelineState {
  std::vector<PipelineJobState> jobs;  // every run, in the order created
  PipelineStatus status = PipelineStatus::kCreated;
  std::vector<int64_t> to_start;  // current runs that are due and not triggered yet
  std::vector<int64_t> to_abort;  // runs with a cancel requested whose execution has not ended
  // Nothing will change unless someone plays, retries or cancels.
  bool finished = false;

  const PipelineJobState* Job(int64_t id) const;
};

using ExecutionLookup = std::function<std::optional<Execution>(const std::string& id)>;

// Pure: the statuses GitLab would show and what the owner does next. A job's status is its
// execution's when it has one (TRIGGERED pending, PENDING running, SUCCESS success, FAILURE and
// ERROR failed, ABORTED canceled); without one it is canceled when a cancel was requested (for it
// or its pipeline), pending when played or retried, else what the stage rules make of it
// (created, manual or skipped; pending once due).
PipelineState EvaluatePipeline(const ProjectConfig& project, const Pipeline& pipeline,
                               const ExecutionLookup& lookup);

// Pure: whether `command` asks for what the gateway saw and `state` does not show yet, which only
// a status view behind the gateway's explains: a play of a current job that is still created (its
// earlier stages have not ended here yet), a retry of a current job still pending or running.
// Execution states only move forward, so such a view catches up; the owner waits for it rather
// than dropping the command.
bool PipelineCommandAwaitsView(const PipelineCommand& command, const PipelineState& state);

// Pure: applies `command` to `pipeline` given its state; returns whether the record changed. A
// command that no longer applies (the job was played meanwhile, say) changes nothing.
bool ApplyPipelineCommand(const ProjectConfig& project, const PipelineCommand& command,
                          const PipelineState& state, Pipeline& pipeline, TimePoint now);

// The trigger of a job run, as its pipeline's owner publishes it: the job id in decimal as its
// id, and, when the project has a repository, refs that check the pipeline's ref out of it.
Trigger PipelineJobTrigger(const ProjectConfig& project, const Pipeline& pipeline,
                           const PipelineJobRun& run, TimePoint now);

// --- The pipelines topic, read and followed ---

// Thread-safe: one writer (the topic follower, or a process applying its own acknowledged write)
// and many readers.
class PipelineStore {
 public:
  void Apply(const std::string& key, const std::string& value);
  // Keeps the newer of `pipeline` and the stored record (by applied_offset, then updated_at).
  void Put(const Pipeline& pipeline);
  std::optional<Pipeline> Get(int64_t id) const;
  // The pipeline one of whose runs has this job id.
  std::optional<Pipeline> FindByJob(int64_t job_id) const;
  // Newest first.
  std::vector<Pipeline> ForProject(int64_t project_id) const;
  // When a pipeline was last triggered with this trigger token: GitLab's `last_used`, known to
  // every reader of the topic without a write of its own.
  std::optional<TimePoint> TriggerLastUsed(int64_t trigger_id) const;
  // The pipeline created with this idempotency hash (Pipeline::idempotency), if any.
  std::optional<Pipeline> FindByIdempotency(const std::string& idempotency) const;

 private:
  mutable std::shared_mutex mutex_;
  std::map<int64_t, Pipeline> by_id_;
  std::map<int64_t, int64_t> pipeline_of_job_;
  std::map<std::string, int64_t> by_idempotency_;
  std::map<int64_t, TimePoint> trigger_last_used_;
};

class KafkaPipelines {
 public:
  explicit KafkaPipelines(const KafkaConfig& kafka);
  Status Start(Duration timeout) { return follower_.Start(timeout); }
  void Stop() { follower_.Stop(); }
  bool CaughtUp() const { return follower_.CaughtUp(); }
  PipelineStore& store() { return store_; }

 private:
  PipelineStore store_;
  TopicFollower follower_;
};

// "123" -> 123 for the decimal ids of GitLab's API (at most 16 digits); nullopt otherwise.
std::optional<int64_t> ParseDecimalId(std::string_view text);

}  // namespace sluice
