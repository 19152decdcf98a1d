#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"
#include "worker/process_runner.h"

namespace sluice {

// One step of a job (a checkout command or the job's command), as the job run hands it to its
// executor. Paths are the worker's; an executor that isolates the job shows the job exactly
// these paths, at the same places, so that HOME, ARTIFACTS and TRIGGER_PAYLOAD stay true.
struct JobStep {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // the COMPLETE environment the job's command gets
  std::string working_dir;                 // inside workspace_dir
  std::string workspace_dir;               // read-write, the job's own
  std::string artifacts_dir;               // read-write, the job's own
  std::string log_path;                    // inside artifacts_dir; read-only for the job
  int output_fd = -1;                      // stdout and stderr go here when >= 0, else log_path
  // Host paths the step may read (a local repository a checkout fetches from).
  std::vector<std::string> read_only_paths;
  std::string name;    // "<execution id>-<attempt>": names a container, say
  int slot = 0;        // 0 .. max_concurrency-1, unique among the worker's running jobs
  JobRuntime runtime;  // limits already merged with the worker's defaults
};

// Runs a job's steps with the isolation of one executor kind (sandbox, container, process).
// Jobs, logs, timeouts, aborts, heartbeats and results are the job run's, whatever the executor:
// an executor only starts a step and hands back a Process to poll and signal. A Kubernetes Pod
// executor would be one more implementation (docs/architecture.md, "Executors").
class Executor {
 public:
  virtual ~Executor() = default;
  virtual ExecutorKind kind() const = 0;
  // Starts the step, or says why it cannot (the job ends ERROR with that message).
  virtual StatusOr<std::unique_ptr<Process>> Start(const JobStep& step) = 0;
  // Lines for the head of the job's log: what isolates the job, which limits apply and how
  // they are enforced (cgroup or rlimits), how its process tree ends.
  virtual std::vector<std::string> Describe(const JobStep& step) const = 0;
  // Why a step that ended with `exit` ended so, when a limit explains it ("memory limit 512 MiB
  // reached"); empty otherwise. Called once per step, after the step's process has ended.
  virtual std::string LimitHit(const JobStep& step, const ProcessExit& exit) const {
    (void)step;
    (void)exit;
    return "";
  }
};

// The executor of each kind this worker can use: those its jobs name must be present, the others
// may be missing (nullptr).
struct Executors {
  std::unique_ptr<Executor> sandbox;
  std::unique_ptr<Executor> container;
  std::unique_ptr<Executor> process;
  Executor* Get(ExecutorKind kind) const;
};

}  // namespace sluice

namespace sluice {

// The executors this worker's jobs need, each checked on this host: the sandbox by a trial
// sandbox, the container executor by its program. Fails, naming the jobs, when a needed one
// cannot run here; warns (log) when jobs run as plain processes. `hidden`: host paths no sandbox
// may show (the configuration file; secret files are added from the config).
StatusOr<Executors> MakeExecutors(const Config& config, ProcessRunner& runner,
                                  std::vector<std::string> hidden);

}  // namespace sluice
