#pragma once

#include <string>
#include <vector>

#include "worker/executor.h"

namespace sluice {

// Resource limits as setrlimit(2) values, for the executors that enforce them so: memory as
// RLIMIT_DATA (per process), processes as RLIMIT_NPROC (only when `per_job_user`: the count is
// per user, so it is the job's own only when the job runs as a user of its own), CPU time,
// open files and file size.
std::vector<ProcessSpec::ResourceLimit> RlimitsFor(const JobLimits& limits, bool per_job_user);
// "memory 4 GiB per process, 1024 processes, 4096 open files, files up to 8 GiB, CPU time
// unlimited", as RlimitsFor enforces them.
std::string DescribeRlimits(const JobLimits& limits, bool per_job_user);
// "512 MiB", "3 KiB", "17 bytes".
std::string FormatBytes(uint64_t bytes);

// The `sandbox` executor: every step in a bubblewrap sandbox of its own (new user, PID, mount,
// IPC, UTS and cgroup namespaces; a network namespace without `network`), as an unprivileged
// user: with a worker running as root, uid job_uid_base + the job's slot; otherwise the worker's
// own uid, mapped to 1000 inside. The sandbox sees the host's system directories (/usr and the
// /bin, /sbin, /lib* links, /etc, /opt) read-only, the job's workspace and artifacts read-write
// at their host paths (its log read-only), a private /tmp, /dev and /proc of its own PID
// namespace, and nothing else; paths given as hidden (the worker's configuration, secret files)
// are covered even where they lie under a system directory. The sandbox's PID 1 is bwrap's: when
// the job's command ends, or the sandbox is killed, the kernel ends every process in it.
class SandboxExecutor final : public Executor {
 public:
  // `hidden`: host paths the job must not see even inside the system directories.
  SandboxExecutor(const WorkerConfig& worker, ProcessRunner& runner,
                  std::vector<std::string> hidden);
  ExecutorKind kind() const override { return ExecutorKind::kSandbox; }
  StatusOr<std::unique_ptr<Process>> Start(const JobStep& step) override;
  std::vector<std::string> Describe(const JobStep& step) const override;
  std::string LimitHit(const JobStep& step, const ProcessExit& exit) const override;

  // bwrap's argument list for the step (without the program), and the ProcessSpec to start.
  std::vector<std::string> BwrapArguments(const JobStep& step) const;
  ProcessSpec SpecFor(const JobStep& step) const;
  // Whether bubblewrap can make a sandbox on this host: runs one, with the same namespaces.
  static Status Probe(const std::string& bwrap, ProcessRunner& runner);
  bool per_job_user() const { return per_job_user_; }

 private:
  const WorkerConfig worker_;
  ProcessRunner& runner_;
  const std::vector<std::string> hidden_;
  const bool per_job_user_;        // the worker runs as root: each slot has a user of its own
  const std::string cgroup_note_;  // why limits are rlimits here, for the log's header
};

}  // namespace sluice
