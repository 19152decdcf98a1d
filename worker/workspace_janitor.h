#pragma once

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "common/execution.h"
#include "common/status.h"

namespace sluice {

// Retention of what jobs leave on disk: the workspaces of finished runs (worker.workspace) and
// the executions' artifacts (worker.artifacts). Both trees hold whatever a job wrote (symlinks
// to anywhere, directories it made unreadable, nesting thousands deep), so every removal here
// walks by descriptor from the root it was given (openat with O_NOFOLLOW, unlinkat): it never
// follows a symlink, never leaves that root, and holds a bounded number of descriptors.

// Removes `name` inside the directory `parent`: a file or a symlink (the link itself, never its
// target) or a whole directory tree. A name that is already gone is not an error. `name` must be
// one path component.
Status RemoveEntryBelow(const std::string& parent, const std::string& name);

// Whether the workspace of a run that ended as `status` is kept for inspection: only FAILURE and
// ERROR (the job or the worker's preparation went wrong, which is what someone wants to look
// at, as GitLab's and Prow's users do), and only when keep_failed_workspaces > 0. SUCCESS has
// nothing to show; ABORTED is a cancel, a shutdown or a lost lease (another worker runs the
// execution again), and keeping those would push real failures out of the newest N.
bool KeepsWorkspace(JobStatus status, int keep_failed_workspaces);

// Decides what becomes of a finished run's workspace, `<workspace root>/<execution id>-<attempt>`.
// The kept ones are recorded in `<workspace root>/.sluice-kept-failed/<workspace name>` (the time
// the run ended, in milliseconds since the epoch), so a restarted worker, or another worker on
// the same root, applies the same newest-N rule. It touches nothing but the workspaces it was told
// about through RunEnded and their records: the root's other entries (running jobs' workspaces)
// are never looked at. Not thread-safe; one per worker loop.
class WorkspaceJanitor {
 public:
  WorkspaceJanitor(std::string workspace_root, int keep_failed_workspaces);

  // The run whose workspace is `<root>/<workspace_name>` ended as `status` at `ended`, and none
  // of its processes is left. Removes the workspace, or records it as kept and removes kept
  // workspaces beyond the newest `keep_failed_workspaces`. On an error the workspace is removed
  // rather than kept unrecorded.
  Status RunEnded(const std::string& workspace_name, JobStatus status, TimePoint ended);

  // Removes kept workspaces beyond the newest `keep_failed_workspaces` (all of them when it is
  // 0). Call at start: the limit may have shrunk since the last run.
  Status Prune();

  // The kept workspaces' names, newest first. A kept workspace removed by hand no longer counts.
  std::vector<std::string> Kept() const;

  static constexpr const char* kRecordDir = ".sluice-kept-failed";

 private:
  struct Record {
    std::string name;
    long long ended_ms = 0;
    bool present = true;  // the workspace is still there (someone may have removed it by hand)
  };
  StatusOr<std::vector<Record>> ReadRecords() const;

  std::string root_;
  int keep_failed_;
};

struct ArtifactsSweepReport {
  int executions_seen = 0;
  int executions_removed = 0;
  int job_dirs_removed = 0;
  int failures = 0;           // entries that could not be examined or removed
  std::string first_failure;  // for the worker's log line
};

// Removes every execution's artifacts, `<root>/<job>/<execution id>`, last written more than
// `retention` before `now`, except those of `running_ids` (executions running on this worker),
// then every job directory left empty. Safe beside other workers sweeping or writing the same
// shared root: a running execution elsewhere has its log written within retention.
//
// "Last written" is the newest modification time of the execution's directory and of its
// build-log.txt: the worker writes the log last (its "finished:" line after the job's processes
// are gone), and a job cannot change the log's times (it is read-only to the job). That costs
// four system calls per execution whatever the job left inside, instead of a stat of every
// file. A time more than a day ahead of `now` does not keep an execution whose other time is
// old (a job can date its own directory 2099, not its log); an execution whose every time lies
// ahead is kept (this worker's clock may be the wrong one).
//
// Entries at the root that are not directories are left alone; non-directories at the job
// level (a job's symlink in place of its directory) go when their own time is old.
StatusOr<ArtifactsSweepReport> SweepArtifacts(const std::string& root, Duration retention,
                                              TimePoint now,
                                              const std::unordered_set<std::string>& running_ids);

// When the worker sweeps: once at start, then at most every `interval`. The caller asks Due(now)
// on its loop's ticks and says Ran(now) after a sweep; a failed sweep counts as ran, so a broken
// root is retried an interval later rather than on every tick.
class SweepSchedule {
 public:
  explicit SweepSchedule(Duration interval) : interval_(interval) {}
  bool Due(TimePoint now) const { return !last_ || now - *last_ >= interval_; }
  void Ran(TimePoint now) { last_ = now; }

 private:
  Duration interval_;
  std::optional<TimePoint> last_;
};

}  // namespace sluice
