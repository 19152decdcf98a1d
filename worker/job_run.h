#pragma once

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/execution.h"
#include "worker/executor.h"
#include "worker/job_environment.h"
#include "worker/job_log.h"
#include "worker/process_runner.h"
#include "worker/step_starter.h"
#include "worker/workspace_janitor.h"

namespace sluice {

// One attempt of one execution on this worker: prepares its directories, checks out its refs
// when the job asks for it, runs its command, enforces its timeout and aborts. Driven by Tick()
// from the worker's loop; never blocks. Not thread-safe.
class JobRun {
 public:
  struct Params {
    const JobConfig* job = nullptr;
    Trigger trigger;
    int attempt = 1;
    std::string worker_id;
    WorkerConfig worker;
    std::string inherited_path;  // PATH handed to jobs
    // Set for a job of a GitLab-style pipeline: it gets GitLab's environment
    // (BuildPipelineJobEnvironment) instead of Prow's, and `payload`, when not empty, in the
    // file TRIGGER_PAYLOAD names.
    struct Pipeline {
      const ProjectConfig* project = nullptr;
      const PipelineJobConfig* job = nullptr;
      PipelineJobContext context;
      std::string payload;
    };
    std::optional<Pipeline> pipeline;
    // 0 .. max_concurrency-1, unique among this worker's running jobs (the sandbox's user).
    int slot = 0;
    // Decides whether the workspace stays when the run ends (keep_failed_workspaces); without
    // one, the workspace is removed.
    WorkspaceJanitor* janitor = nullptr;
    // With both set, each step's process starts on `starter`'s threads, and `on_started` is
    // called there once it has (or has failed to): the caller's loop should Tick() soon. Else
    // steps start on the caller's thread.
    StepStarter* starter = nullptr;
    std::function<void()> on_started;
  };

  // `executor` runs the job's command; `checkout` its checkout steps (git, on the host's tools:
  // the sandbox for jobs in a sandbox or a container, else the process executor).
  JobRun(Params params, Executor& executor, Executor& checkout);
  ~JobRun();

  // Prepares the workspace and the log and starts the first step. It may finish at once (e.g.
  // the workspace cannot be made); check finished(). Whether the step's command could be
  // started is known at a later Tick() (it starts on another thread).
  void Start(TimePoint now);
  // Advances: next step, timeout, kill after the grace. Returns finished().
  bool Tick(TimePoint now);
  // Stops the job (SIGTERM to its process group, SIGKILL after `kill_after`, by default the
  // worker's kill_grace); it ends as `final_status` with `reason` unless it finished first.
  void Stop(TimePoint now, JobStatus final_status, std::string reason,
            std::optional<Duration> kill_after = std::nullopt);
  // Kills it at once without waiting; used when this worker lost the execution's lease.
  void KillNow();

  // Adds what the worker's loop can sleep on until this run needs a Tick(): the running step's
  // output pipe and a descriptor that becomes readable when its process ends (pidfd). False
  // when the process's end cannot be waited on that way (a process without a pidfd, e.g. a
  // test's fake): the loop must then come back soon by itself.
  bool AddWaitFds(std::vector<int>* fds) const;

  bool finished() const { return finished_; }
  JobStatus status() const { return status_; }
  const std::string& message() const { return message_; }
  std::optional<TimePoint> start_time() const { return start_time_; }
  std::optional<TimePoint> completion_time() const { return completion_time_; }
  const std::string& artifacts_dir() const { return artifacts_dir_; }
  const std::string& log_path() const { return log_path_; }

 private:
  struct Step {
    std::vector<std::string> argv;
    std::string working_dir;
    bool checkout = false;
    std::vector<std::string> read_only_paths;  // a local repository a checkout fetches from
  };
  void StartStep(TimePoint now);
  void Finish(TimePoint now, JobStatus status, std::string message);
  void AppendToLog(const std::string& line);
  std::string LogTailSince(long long offset) const;
  // Moves what the step has written so far into the log; at its end, everything.
  void DrainOutput(bool until_end);
  JobStep StepFor(const Step& step) const;

  Params params_;
  Executor& executor_;
  Executor& checkout_;
  JobRuntime runtime_;  // the job's, limits merged with the worker's
  std::vector<std::string> masked_;
  std::unique_ptr<JobLog> log_;
  int output_fd_ = -1;  // read end of the running step's output pipe
  std::string workspace_dir_;
  std::string artifacts_dir_;
  std::string log_path_;
  std::vector<Step> steps_;
  size_t next_step_ = 0;
  std::unique_ptr<Process> process_;
  int process_fd_ = -1;  // pidfd of process_, -1 if none could be opened
  void SetProcess(std::unique_ptr<Process> process);
  // The step's process while it is being started on another thread (StartStep).
  std::future<StatusOr<std::unique_ptr<Process>>> starting_;
  // Takes the started step's process in; false while it is still starting, or when it could
  // not start (the run is then finished).
  bool TakeStarted(TimePoint now);
  long long step_log_offset_ = 0;
  std::map<std::string, std::string> env_;

  std::optional<TimePoint> start_time_;
  std::optional<TimePoint> deadline_;
  // Set once a stop is under way: what it ends as, why, and when SIGKILL follows.
  std::optional<JobStatus> stop_status_;
  std::string stop_reason_;
  std::optional<TimePoint> kill_at_;

  bool finished_ = false;
  JobStatus status_ = JobStatus::kPending;
  std::string message_;
  std::optional<TimePoint> completion_time_;
};

}  // namespace sluice
