#pragma once

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
  // The COMPLETE environment of the child: nothing is inherited from the worker.
  std::map<std::string, std::string> env;
  // Directory the child starts in; empty = the worker's current directory.
  std::string working_dir;
  // stdout and stderr are both appended to this file (created 0644 if missing); empty discards
  // them. stdin is /dev/null.
  std::string log_path;
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
  // exit.
  virtual std::optional<ProcessExit> Poll() = 0;
  // Sends sig to the whole process group (the child is its own group leader). No-op after exit:
  // once the leader is reaped its id may be reused, so members it left behind are not reachable
  // through this object any more.
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
};

// fork + exec. Exec failures reach the parent through a close-on-exec pipe, so Start() only
// succeeds once the command is really running. Uses no threads and installs no signal handlers;
// the child only makes async-signal-safe calls between fork and exec, so Start() may be called
// from any thread of a multi-threaded program. Destroying a Process that is still running
// SIGKILLs its group and reaps it.
class PosixProcessRunner final : public ProcessRunner {
 public:
  StatusOr<std::unique_ptr<Process>> Start(const ProcessSpec& spec) override;
};

}  // namespace sluice
