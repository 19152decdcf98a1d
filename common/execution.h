#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sluice {

// Numbers as in Prow's gangway.proto (JobExecutionType). BATCH (4) is not supported.
enum class JobType { kUnspecified = 0, kPeriodic = 1, kPostsubmit = 2, kPresubmit = 3 };

// Numbers as in Prow's gangway.proto (JobExecutionStatus).
enum class JobStatus {
  kUnspecified = 0,
  kTriggered = 1,
  kPending = 2,
  kSuccess = 3,
  kFailure = 4,
  kAborted = 5,
  kError = 6,
};

const char* JobTypeName(JobType type);                          // "PERIODIC", ...
const char* JobTypeConfigName(JobType type);                    // "periodic", ...
std::optional<JobType> JobTypeFromName(std::string_view name);  // either spelling
const char* JobStatusName(JobStatus status);
std::optional<JobStatus> JobStatusFromName(std::string_view name);
bool IsTerminal(JobStatus status);

// Where an execution came from, for filtering lists: "webhook" (a Git host's push: its client
// is "webhook:<host>"), "pipeline" (a GitLab-style pipeline's job: its id is the job's decimal
// id) or "api" (POST /v1/executions). From the id and client alone, so the status view answers
// it without unpacking a record.
std::string_view ExecutionSource(std::string_view id, std::string_view client);
inline constexpr std::string_view kExecutionSources[] = {"api", "webhook", "pipeline"};

struct Pull {
  int number = 0;
  std::string author;
  std::string sha;
  std::string title;
  std::string ref;
  std::string link;
  std::string commit_link;
  std::string author_link;
  bool operator==(const Pull&) const = default;
};

struct Refs {
  std::string org;
  std::string repo;
  std::string repo_link;
  std::string base_ref;
  std::string base_sha;
  std::string base_link;
  std::vector<Pull> pulls;
  std::string path_alias;
  std::string clone_uri;
  bool operator==(const Refs&) const = default;
};

struct PodSpecOptions {
  std::map<std::string, std::string> envs;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  bool operator==(const PodSpecOptions&) const = default;
};

// A request to run a job, as published to the requests topic. Everything a worker needs besides
// the job's configuration, which it looks up by name.
struct Trigger {
  std::string id;
  std::string job_name;
  JobType job_type = JobType::kUnspecified;
  std::optional<Refs> refs;
  PodSpecOptions pod_spec_options;
  TimePoint create_time;
  std::string client;       // authenticated client that asked for it
  std::string fingerprint;  // hash of the request, to tell Idempotency-Key reuse apart
  // Set for a job of a GitLab-style pipeline (common/pipeline.h); the id is then its job id.
  int64_t pipeline_id = 0;
  int64_t project_id = 0;
};

// The holder's record a worker saw when it took over a lost holder's execution: the claim (or
// the ERROR that ends it) is valid only if this is still the execution's state when the record
// takes its place in the results topic. Every reader applies the topic in the same order, so all
// agree whether a takeover won or the holder renewed its lease first.
struct LeaseTakeover {
  std::string worker;
  int attempt = 0;
  std::optional<TimePoint> heartbeat_time;
  bool operator==(const LeaseTakeover&) const = default;
};

// The latest known state of one execution: the value of the compacted results topic, keyed by id.
// Fields past job_url are Sluice's own bookkeeping; they are not part of Prow's JobExecution.
struct Execution {
  std::string id;
  std::string job_name;
  JobType job_type = JobType::kUnspecified;
  JobStatus job_status = JobStatus::kUnspecified;
  std::optional<Refs> refs;
  PodSpecOptions pod_spec_options;
  std::string gcs_path;
  std::optional<TimePoint> create_time;
  std::optional<TimePoint> start_time;
  std::optional<TimePoint> completion_time;

  std::string message;  // why it ended as it did (timeout, git error, worker lost, ...)
  std::string client;   // who triggered it
  std::string fingerprint;
  std::string worker;  // worker holding or having held it
  int attempt = 0;     // 1-based run attempt; 0 while TRIGGERED
  std::optional<TimePoint> heartbeat_time;
  std::optional<LeaseTakeover> takes_over;  // set on a record that takes over a lost holder's
  int64_t pipeline_id = 0;                  // as the trigger's
  int64_t project_id = 0;
  // SHA-256 of the CI_JOB_TOKEN of a running pipeline job; written with its claim and heartbeats,
  // absent from its terminal record, so the token is valid only while the job runs.
  std::string job_token_sha256;

  // When this process's status view took this state in. Local: never written to Kafka.
  std::optional<TimePoint> seen_time;

  static Execution FromTrigger(const Trigger& trigger, std::string gcs_path);
};

// The status part of an execution's latest state: what hot paths (a worker's decisions, a long
// poll) read, without decoding the rest. Field names are Execution's.
struct ExecutionState {
  JobStatus job_status = JobStatus::kUnspecified;
  int attempt = 0;
  std::string worker;
  std::optional<TimePoint> create_time;
  std::optional<TimePoint> start_time;
  std::optional<TimePoint> completion_time;
  std::optional<TimePoint> heartbeat_time;
  std::optional<TimePoint> seen_time;

  static ExecutionState Of(const Execution& e);
};

// The URI a `clone: true` job fetches refs from: clone_uri, else repo_link, else
// https://github.com/<org>/<repo>; "" when none can be derived.
std::string CloneUri(const Refs& refs);

// The location of an execution's artifacts: <artifacts>/<job_name>/<id>.
std::string ArtifactsPathFor(const std::string& artifacts_root, const std::string& job_name,
                             const std::string& id);

}  // namespace sluice
