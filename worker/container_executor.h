#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"
#include "worker/executor.h"
#include "worker/process_runner.h"

namespace sluice {

// The longest NAME=VALUE line podman's --env-file reads (a Go bufio.Scanner line of 64 KiB less
// one byte; measured with podman 4.3: 65535 bytes pass, 65536 fail the whole run).
inline constexpr size_t kMaxContainerEnvLine = 65535;

// The --env-file text that gives a container exactly `env`, one NAME=VALUE line each. Values
// never reach podman's argv or its own environment (argv is world-readable in /proc; a job's
// variable named LD_PRELOAD or CONTAINERS_CONF in podman's environment would steer podman, which
// runs as the worker's user). Fails (InvalidArgument, naming the variable but never its value)
// for what the file format cannot carry: a name that is not printable ASCII without '=', '*' or
// blanks, a value with a line break or a trailing carriage return, a line over
// kMaxContainerEnvLine.
StatusOr<std::string> ContainerEnvFile(const std::map<std::string, std::string>& env);

// Who the job is inside the container: a worker running as root runs it as its own unprivileged
// uid and gid (worker.job_uid_base + the job's slot, as the sandbox does), which has no entry in
// the host's passwd; a rootless worker keeps its own uid (--userns=keep-id).
struct ContainerUser {
  std::optional<uid_t> uid;  // unset: rootless, --userns=keep-id
  std::optional<gid_t> gid;
};

// Everything of a `podman run` command line that is not read from the step.
struct ContainerRunOptions {
  std::string name;      // the container's name, unique on the host
  std::string env_file;  // ContainerEnvFile's text, in a file only the worker can read
  ContainerUser user;
  bool mount_log = false;  // the step's log exists: mount it read-only over itself
  // Used for the open files and processes rlimits a job's limits leave unset: podman would
  // otherwise try to raise them to its own default, which fails without CAP_SYS_RESOURCE.
  std::string default_nofile = "1024";
  std::string default_nproc = "-1";
};

// podman's argv for one step: worker.podman, worker.podman_args, then
//   run --rm --init --name NAME [--network none] --user UID:GID | --userns=keep-id
//   --cap-drop all --security-opt no-new-privileges --read-only --tmpfs /tmp:...
//   --http-proxy=false --unsetenv-all --env-file FILE
//   --volume W:W:rw --volume A:A:rw [--volume LOG:LOG:ro] [--volume P:P:ro ...] --workdir DIR
//   [--memory M --memory-swap M] [--pids-limit N] --ulimit nofile=... --ulimit nproc=...
//   [--ulimit cpu=S:S] [--ulimit fsize=B:B] IMAGE ARGV...
// Fails (InvalidArgument) on what podman would misread: an image that is empty or starts with
// '-', a path with ':' or ',' or a line break, an empty command.
StatusOr<std::vector<std::string>> PodmanRunArgv(const WorkerConfig& config, const JobStep& step,
                                                 const ContainerRunOptions& options);

// Runs a step in a podman container of the job's image (JobRuntime::image). The container sees
// the step's workspace and artifacts at their host paths, its log read-only, a private /tmp,
// its own PID, IPC, UTS and network namespaces (none at all when the job has no network), and
// nothing else of the host; it runs as an unprivileged user with no capabilities. The job's
// environment is exactly the step's (plus HOSTNAME, which podman always sets, and HOME=/ when the
// step has no HOME). Limits are podman's: memory and processes with the host's cgroups (a
// cgroup per container), the rest as rlimits.
//
// The returned Process is the `podman run` client, which exits with the container's exit code
// (128+N when the job died of signal N; 125-127: podman's own failures). SignalGroup sends a
// catchable signal with `podman kill --signal` (through the runner, waited for, bounded), and
// catatonit, the container's PID 1 (--init), passes it on to the job. SIGKILL kills the client
// and removes the container with `podman rm --force --time 0` (conmon, not the client, holds
// it), as does destroying a Process that is still running; a container that a signal ended is
// removed too when Poll() sees the client end.
class ContainerExecutor final : public Executor {
 public:
  // `runner` starts every podman process and must outlive this executor and its Processes.
  ContainerExecutor(const WorkerConfig& config, ProcessRunner& runner);
  ~ContainerExecutor() override;

  ExecutorKind kind() const override { return ExecutorKind::kContainer; }
  StatusOr<std::unique_ptr<Process>> Start(const JobStep& step) override;
  std::vector<std::string> Describe(const JobStep& step) const override;
  std::string LimitHit(const JobStep& step, const ProcessExit& exit) const override;
  // Whether podman runs on this host with the worker's flags (`podman info`; Unavailable, with
  // why, when not). It runs no container: the images are the jobs', and pulling one is theirs.
  static Status Probe(const WorkerConfig& config, ProcessRunner& runner);

  // Shared with the Processes this executor started (they may outlive it).
  struct Shared;

 private:
  WorkerConfig config_;
  ProcessRunner& runner_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace sluice
