#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice {

// What to run and where its output goes.
struct ProcessSpec {
  // argv[0] is looked up in the PATH of `env` (not of the worker), with execvp's rules: a name
  // with a '/' is used as is (relative to working_dir), EACCES on one candidate does not stop
  // the search, and a file the kernel cannot execute (ENOEXEC) is run with /bin/sh. Without PATH
  // in `env` the search path is "/bin:/usr/bin".
  std::vector<std::string> argv;
  // The COMPLETE environment of the child: nothing is inherited from the worker, except that
  // PosixProcessRunner adds SLUICE_PROCESS_TREE, the tag by which it finds the process's
  // descendants (kProcessTreeVariable).
  std::map<std::string, std::string> env;
  // Directory the child starts in; empty = the worker's current directory.
  std::string working_dir;
  // stdout and stderr are both appended to this file (created 0644 if missing); empty discards
  // them. stdin is /dev/null.
  std::string log_path;
  // When >= 0, stdout and stderr go to this descriptor instead (a pipe the caller reads); the
  // caller keeps and closes its own copy.
  int output_fd = -1;
  // Resource limits set in the child before exec, soft and hard alike (RLIMIT_DATA, ...).
  struct ResourceLimit {
    int resource = 0;
    uint64_t value = 0;
    bool operator==(const ResourceLimit&) const = default;
  };
  std::vector<ResourceLimit> rlimits;
  // The program supervises the job it starts (bwrap): a signal other than SIGKILL goes to the
  // rest of its tree but not to it, so that the job may end gracefully while its supervisor
  // stays; SIGKILL goes to all.
  bool leader_supervises = false;
  // Descriptors the child gets as 3, 4, 5, ... in this order (bwrap --bind-fd 3 ...); every
  // other descriptor above 2 is closed in the child. The caller keeps and closes its own.
  std::vector<int> pass_fds;
};

// How a process ended.
struct ProcessExit {
  bool signaled = false;  // killed by a signal
  int exit_code = 0;      // valid when !signaled
  int signal = 0;         // valid when signaled
  bool success() const { return !signaled && exit_code == 0; }
  // "exit code 3" / "killed by signal 9 (SIGKILL)".
  std::string Describe() const;
  bool operator==(const ProcessExit&) const = default;
};

// A started child process. Used from one thread at a time.
class Process {
 public:
  virtual ~Process() = default;
  virtual int pid() const = 0;
  // Non-blocking: the exit once the process has ended (reaped), else nullopt. Idempotent after
  // exit. A runner may take more than one call after the end to reap it (PosixProcessRunner
  // ends the process's tree on the call after the one that saw it end): callers poll until an
  // exit comes.
  virtual std::optional<ProcessExit> Poll() = 0;
  // Sends sig to the whole process group (the child is its own group leader) and, where the
  // runner tracks them, to the descendants that left the group (setsid, double fork). No-op
  // after exit: by then the runner has killed whatever the process left behind.
  virtual void SignalGroup(int sig) = 0;
};

// The process seam: the worker starts every child through this, unit tests use a fake.
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Starts the process in its own process group. Fails (Status, not exception) when it cannot be
  // started, e.g. the command is not found or not executable ("cannot run \"foo\": No such file
  // or directory"), the working dir does not exist, or the log file cannot be opened.
  virtual StatusOr<std::unique_ptr<Process>> Start(const ProcessSpec& spec) = 0;
  // How a started process's whole tree is ended with it, for the job's log.
  virtual std::string TreeMechanism() const { return "its process group"; }
};

// The environment variable PosixProcessRunner tags every child with ("<worker pid>-<n>",
// unique per started process on this host). Descendants inherit it across setsid and double
// forks, which is how the runner finds what a process left behind.
inline constexpr char kProcessTreeVariable[] = "SLUICE_PROCESS_TREE";

// fork + exec. Exec failures reach the parent through a close-on-exec pipe, so Start() only
// succeeds once the command is really running. Uses no threads and installs no signal handlers;
// the child only makes async-signal-safe calls between fork and exec, so Start() may be called
// from any thread of a multi-threaded program. Destroying a Process that is still running
// SIGKILLs its group and reaps it.
//
// A process's tree ends with it. The runner makes this process a child subreaper
// (PR_SET_CHILD_SUBREAPER), so that descendants orphaned by a job (setsid, double fork) are
// re-parented here rather than to init. Once the leader has exited (or is killed), every process
// of its group, every process carrying its SLUICE_PROCESS_TREE tag and every descendant of those
// is SIGKILLed, in rounds until none is left, and those re-parented here are reaped. A
// descendant that both leaves the group and clears its environment (env -i) is not found; a
// cgroup would be needed for that. Every child of this process must be started through a
// PosixProcessRunner: zombies re-parented here that no runner started are reaped by it.
class PosixProcessRunner final : public ProcessRunner {
 public:
  PosixProcessRunner();
  StatusOr<std::unique_ptr<Process>> Start(const ProcessSpec& spec) override;
  std::string TreeMechanism() const override { return mechanism_; }

 private:
  std::string mechanism_;
};

// SIGKILLs the whole tree of every process started by a PosixProcessRunner in this process and
// not yet reaped, and reaps what it can. For a worker that must exit now (its shutdown deadline)
// and must not leave jobs running behind it. Thread-safe.
void KillAllProcessTrees();

}  // namespace sluice
