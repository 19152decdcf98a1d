#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/execution.h"
#include "common/status.h"

namespace sluice {

// Plain data with the defaults of the configuration contract (README "Configuration").

struct GatewayConfig {
  std::string listen = "0.0.0.0:8080";
  std::string public_url = "http://localhost:8080";
  size_t max_body_bytes = 1048576;
  Duration request_timeout = std::chrono::seconds(10);
  int threads = 2;            // Pistache network threads
  int max_in_flight = 10000;  // triggers waiting for Kafka per gateway; more answer 429
  // The HTTP front door's limits (gateway/http_connection.h; README "Limits").
  Duration header_timeout = std::chrono::seconds(10);  // first byte of a request to its headers
  Duration body_timeout = std::chrono::seconds(60);    // headers to the body's last byte
  Duration idle_timeout = std::chrono::seconds(60);    // a kept-alive connection with no request
  int max_connections = 1024;                          // open connections per gateway
  // Request environment overrides (pod_spec_options.envs, GitLab variables): each value, and
  // all names and values together. Well below the kernel's ARG_MAX for a job's exec.
  size_t max_env_value_bytes = 128 * 1024;
  size_t max_env_total_bytes = 256 * 1024;
};

// How log lines are written (common/log.h).
enum class LogFormat { kText, kJson };
struct LogConfig {
  LogFormat format = LogFormat::kText;
};

struct KafkaConfig {
  std::string brokers = "localhost:9092";
  std::string topic_prefix = "sluice.";
  int partitions = 12;
  int replication_factor = 1;
  std::map<std::string, std::string> properties;  // passed to librdkafka as is (SASL, TLS, ...)

  std::string RequestsTopic() const { return topic_prefix + "requests"; }
  std::string ResultsTopic() const { return topic_prefix + "results"; }
  std::string ControlTopic() const { return topic_prefix + "control"; }
  std::string TriggersTopic() const { return topic_prefix + "triggers"; }
  std::string PipelinesTopic() const { return topic_prefix + "pipelines"; }
  // Verified webhook deliveries, keyed "<host>/<delivery id>" (common/git_delivery.h).
  std::string EventsTopic() const { return topic_prefix + "events"; }
};

// --- How a job runs (issue 12; worker/executor.h) ---

// What isolates a job from the worker and from other jobs:
//   sandbox:   bubblewrap; new user, PID, mount, IPC and UTS namespaces, the host's system
//              directories read-only, its own workspace and artifacts, nothing else;
//   container: podman; the job's `image`, its workspace and artifacts mounted;
//   process:   a plain child process of the worker, which can read the worker's secrets; only
//              when named explicitly, and the worker warns at start-up.
enum class ExecutorKind { kSandbox, kContainer, kProcess };
const char* ExecutorName(ExecutorKind kind);  // "sandbox", "container", "process"
std::optional<ExecutorKind> ExecutorFromName(std::string_view name);

// Resource limits of one job. Unset fields of a job's limits take the worker's; unset fields of
// the worker's are not limited.
struct JobLimits {
  std::optional<uint64_t> memory_bytes;  // the job's memory (per process under rlimits)
  std::optional<int> processes;          // processes and threads of the job
  std::optional<Duration> cpu_time;      // CPU time (per process under rlimits)
  std::optional<int> open_files;         // open file descriptors per process
  std::optional<uint64_t> file_bytes;    // the largest file the job may write (output size)

  // This job's limits, with the unset ones taken from `defaults`.
  JobLimits Over(const JobLimits& defaults) const;
  bool operator==(const JobLimits&) const = default;
};

// Where a job's secret comes from: the worker's environment variable or a file on the worker's
// host (trailing whitespace removed). Read by the worker when the job starts, never by gateways.
struct SecretSource {
  std::string token_env;
  std::string token_file;
  std::string Describe() const;  // "token_env X" / "token_file F", for messages; never the value
  bool operator==(const SecretSource&) const = default;
};

// How one job runs: the same keys on a job and on a pipeline job.
struct JobRuntime {
  std::optional<ExecutorKind> executor;  // unset: worker.executor
  std::string image;                     // container: the image podman runs (required there)
  bool network = true;                   // false: the job has no network, loopback included
  JobLimits limits;
  // Secrets the job gets as environment variables; their values are masked in its log.
  std::map<std::string, SecretSource> secret_env;
};

struct WorkerConfig {
  int max_concurrency = 4;
  std::string workspace = "/var/lib/sluice/work";
  std::string artifacts = "/var/lib/sluice/artifacts";
  Duration heartbeat = std::chrono::seconds(5);
  Duration lease = std::chrono::seconds(30);
  Duration shutdown_grace = std::chrono::seconds(30);
  Duration kill_grace = std::chrono::seconds(10);  // SIGTERM to SIGKILL on timeout or abort
  // The executor of jobs that name none. Unset means sandbox; process must be named.
  std::optional<ExecutorKind> executor;
  // Defaults of every job's limits.
  JobLimits limits = {.memory_bytes = 4ull << 30,
                      .processes = 1024,
                      .cpu_time = std::nullopt,
                      .open_files = 4096,
                      .file_bytes = 8ull << 30};
  // A job's log: past this many bytes it says so once and drops the rest (GitLab's default).
  uint64_t max_log_bytes = 4ull << 20;
  // Workspaces of failed executions kept (the newest N); the others go when the execution ends.
  int keep_failed_workspaces = 0;
  // Artifacts (logs included) older than this are removed by the worker that finds them.
  Duration artifacts_retention = std::chrono::hours(7 * 24);
  // A worker running as root runs each sandboxed job as an unprivileged user of its own:
  // job_uid_base + the job's slot (0 .. max_concurrency-1), never a user of the host.
  uint32_t job_uid_base = 2100000000;
  std::string bwrap = "bwrap";    // the bubblewrap program
  std::string podman = "podman";  // the podman program
  // Global flags put before `run` on every podman command line (worker/container_executor.h),
  // e.g. ["--runtime", "runc"] where crun cannot run (a cgroup v1 hybrid host) or
  // ["--root", DIR, "--runroot", DIR] for a private image store.
  std::vector<std::string> podman_args;
  // Where the worker serves GET /metrics (Prometheus text format); empty: no listener. `sluice
  // dev` serves the worker's metrics on the gateway's port instead.
  std::string metrics_listen = "127.0.0.1:9464";
};

struct RateLimit {
  double per_second = 0;  // sustained rate; 0 = unlimited
  int burst = 0;
};

struct ClientConfig {
  std::string name;
  std::string token_sha256;  // lower-case hex; resolved from token_sha256, token_file or token_env
  std::string token_file;    // the file it came from, if any: no job may see it
  std::vector<std::string> allow_jobs;  // exact names or globs with '*'
  RateLimit rate_limit;
  // May replay webhook deliveries and dry-run them (POST /v1/events/.../replay, ?dry_run=true),
  // and sees every job's matches in GET /v1/events.
  bool admin = false;
};

struct JobConfig {
  std::string name;
  JobType type = JobType::kPeriodic;
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::vector<std::string> allow_env_override;  // exact names and PREFIX* globs
  Duration timeout = std::chrono::hours(1);
  int max_attempts = 1;
  std::string repo;                   // "org/repo" the job builds; empty = any
  std::vector<std::string> branches;  // regexes base_ref must match; empty = any
  // Postsubmits triggered by a Git host's push (issue 5): branches matching one of these never
  // trigger the job; a tag push triggers it only when the tag matches one of `tags`.
  std::vector<std::string> skip_branches;
  std::vector<std::string> tags;
  bool clone = false;
  // Where a `clone: true` job may fetch from: globs over the clone URI the worker derives from
  // the request's refs (clone_uri, else repo_link, else https://github.com/<org>/<repo>).
  std::vector<std::string> allow_clone_uri = {"https://github.com/*"};
  JobRuntime runtime;  // executor, image, network, limits, secret_env
};

// --- GitLab-style projects and their pipelines ---

enum class ProjectRole { kReporter, kDeveloper, kMaintainer };  // ordered: each includes the last

// When a pipeline job runs, as GitLab's `when`: after the earlier stages succeeded, only when
// played (manual), or whatever became of the earlier stages.
enum class JobWhen { kOnSuccess, kManual, kAlways };

struct PipelineJobConfig {
  std::string name;
  std::string stage;
  JobWhen when = JobWhen::kOnSuccess;
  // Whether the pipeline may succeed without this job succeeding. GitLab's default: true for
  // manual jobs (they are optional), false otherwise.
  bool allow_failure = false;
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  Duration timeout = std::chrono::hours(1);
  JobRuntime runtime;  // executor, image, network, limits, secret_env
};

struct ProjectConfig {
  int64_t id = 0;
  std::string path;  // "group/project"
  // The refs that exist: globs with '*'. Any other ref is "Reference not found".
  std::vector<std::string> branches;
  std::vector<std::string> tags;
  std::string repository;  // optional: where jobs check the ref out from
  std::map<std::string, std::string> variables;
  // Variables declared `masked: true`: their values are replaced by [MASKED] in job logs.
  std::set<std::string> masked_variables;
  // Secrets every job of the project gets (a job's own secret_env wins), masked in its log.
  std::map<std::string, SecretSource> secret_env;
  std::map<std::string, ProjectRole> members;  // client name -> role
  std::vector<std::string> stages;
  std::vector<PipelineJobConfig> jobs;
};

// --- Webhooks of Git hosts (issue 5) ---

// One secret a host may sign with. Kept in clear text in memory: an HMAC needs it. Several may
// be valid at once (rotation), each until its optional expiry.
struct WebhookSecret {
  std::string secret;
  std::optional<TimePoint> expires;
  std::string source;  // where it came from ("token_env GH_HOOK_SECRET"), for logs; never the value

  bool ValidAt(TimePoint now) const { return !expires || now < *expires; }
};

struct WebhookHostConfig {
  // By scope: "org/repo", "org" or "*"; the most specific scope that has secrets wins.
  std::map<std::string, std::vector<WebhookSecret>> secrets;
  size_t max_body_bytes = 25 * 1024 * 1024;  // GitHub's own limit on what it sends
};

enum class GitHost { kGitHub, kGitLab, kGitea };
const char* GitHostName(GitHost host);  // "github", "gitlab", "gitea"

struct WebhooksConfig {
  std::map<GitHost, WebhookHostConfig> hosts;  // only the hosts configured
  // How far a Standard Webhooks signature's timestamp may be from now.
  Duration timestamp_tolerance = std::chrono::minutes(5);
  // How long deliveries are kept in the events topic (its retention.ms) and in the gateways'
  // memory: a redelivery within it is answered as the first delivery was. At least 24h.
  Duration retention = std::chrono::hours(7 * 24);
};

// The results topic and every process's status view of it (`results:`).
struct ResultsConfig {
  // Executions whose last activity (completion, last heartbeat, creation) is older than this
  // leave the results topic (its retention.ms, with cleanup.policy=compact,delete) and every
  // gateway's and worker's status view. At least 1m and longer than worker.lease.
  Duration retention = std::chrono::hours(30 * 24);
};

// GitLab's API, settings every gateway shares (`gitlab:`).
struct GitLabConfig {
  // 32 bytes (64 hex digits in the file) under which each trigger token is kept sealed with
  // AES-256-GCM, so that its owner sees it whole, as GitLab shows it. Empty: only the token's
  // hash and first 4 characters are kept, and its owner too sees 4 characters.
  std::string trigger_token_key;
  std::string trigger_token_key_source;  // "token_env X" / "token_file F"; never the value
};

struct Config {
  GatewayConfig gateway;
  LogConfig log;
  KafkaConfig kafka;
  WorkerConfig worker;
  std::vector<ClientConfig> clients;
  std::vector<JobConfig> jobs;
  std::vector<ProjectConfig> projects;
  WebhooksConfig webhooks;
  GitLabConfig gitlab;
  ResultsConfig results;

  const JobConfig* FindJob(const std::string& name) const;
  // By numeric id ("9") or by path, plain or URL-encoded ("group/project", "group%2Fproject").
  const ProjectConfig* FindProject(const std::string& id_or_path) const;
};

std::optional<ProjectRole> ProjectRoleFromName(std::string_view name);
const char* ProjectRoleName(ProjectRole role);

// Reads and validates a config file. Unknown keys, wrong types and bad values are errors whose
// message names the key path, e.g. "jobs[1].timeout: expected a duration like 10s or 5m".
// Tokens given by token_file or token_env are read and hashed here; the clear text is not kept.
StatusOr<Config> LoadConfigFile(const std::string& path);
StatusOr<Config> LoadConfigText(const std::string& yaml_text);

}  // namespace sluice
