#include "worker/workspace_janitor.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <utility>

namespace sluice {
namespace {

// Directories held open at once while removing a tree; deeper ones are moved up first.
constexpr int kMaxOpenDepth = 48;
// Passes over a tree whose deep parts were moved up; a finite tree needs depth / kMaxOpenDepth.
constexpr int kMaxPasses = 100000;
// How far ahead of `now` a modification time is still believed (workers' clocks differ a little).
constexpr Duration kFutureSlack = std::chrono::hours(24);
constexpr const char* kLogName = "build-log.txt";

// A descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

Status ErrnoStatus(const std::string& what, int err) {
  return Internal(what + ": " + std::strerror(err));
}

bool IsOneComponent(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

struct Entry {
  std::string name;
  unsigned char type = DT_UNKNOWN;
};

// The entries of the directory open as `dir_fd`, without "." and "..". The caller's descriptor
// stays open and its position is not used.
StatusOr<std::vector<Entry>> ListDirectory(int dir_fd) {
  int copy = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) return ErrnoStatus("cannot list a directory", errno);
  DIR* dir = ::fdopendir(copy);
  if (dir == nullptr) {
    int err = errno;
    ::close(copy);
    return ErrnoStatus("cannot list a directory", err);
  }
  std::vector<Entry> entries;
  errno = 0;
  while (struct dirent* d = ::readdir(dir)) {
    std::string name = d->d_name;
    if (name != "." && name != "..") entries.push_back({std::move(name), d->d_type});
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return ErrnoStatus("cannot list a directory", err);
  return entries;
}

// Opens the directory `name` inside `parent_fd` for reading, never through a symlink. A
// directory its job made unreadable (mode 000) is given back to its owner first; the mode is
// changed through an O_PATH descriptor of that very directory, so a symlink swapped in meanwhile
// cannot redirect the chmod.
Fd OpenDirectoryNoFollow(int parent_fd, const std::string& name) {
  constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  Fd fd(::openat(parent_fd, name.c_str(), kFlags));
  if (fd.valid() || errno != EACCES) return fd;
  Fd path(::openat(parent_fd, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!path.valid()) return Fd();
  std::string proc = "/proc/self/fd/" + std::to_string(path.get());
  if (::chmod(proc.c_str(), S_IRWXU) != 0) {
    errno = EACCES;
    return Fd();
  }
  return Fd(::openat(parent_fd, name.c_str(), kFlags));
}

// unlinkat that, inside a tree being removed (`in_tree`), gives the directory its owner's write
// permission back once when that is what stood in the way (a job's `chmod 500 dir`). The tree's
// parent keeps its mode.
int UnlinkAt(int dir_fd, const std::string& name, int flags, bool in_tree) {
  if (::unlinkat(dir_fd, name.c_str(), flags) == 0) return 0;
  if (!in_tree || (errno != EACCES && errno != EPERM)) return -1;
  int err = errno;
  if (::fchmod(dir_fd, S_IRWXU) != 0) {
    errno = err;
    return -1;
  }
  return ::unlinkat(dir_fd, name.c_str(), flags);
}

Status RemoveAt(int parent_fd, const std::string& name, int depth, int top_fd, bool* hoisted);

// Removes what the directory open as `dir_fd` holds. At kMaxOpenDepth below `top_fd` a
// subdirectory is moved up into `top_fd` (renameat does not follow the name it moves) and
// `*hoisted` is set: the caller passes over the top again.
Status EmptyDirectory(int dir_fd, int depth, int top_fd, bool* hoisted) {
  StatusOr<std::vector<Entry>> entries = ListDirectory(dir_fd);
  if (!entries.ok()) return entries.status();
  Status first_error;
  for (const Entry& entry : *entries) {
    Status s = RemoveAt(dir_fd, entry.name, depth, top_fd, hoisted);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

Status Hoist(int dir_fd, const std::string& name, int top_fd, bool* hoisted) {
  static std::atomic<unsigned long long> counter{0};
  for (int tries = 0; tries < 1000; ++tries) {
    std::string moved =
        ".sluice-deep-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    if (::renameat2(dir_fd, name.c_str(), top_fd, moved.c_str(), RENAME_NOREPLACE) == 0) {
      *hoisted = true;
      return Status::Ok();
    }
    if (errno == ENOENT) return Status::Ok();
    if (errno != EEXIST) return ErrnoStatus("cannot move a deep directory up", errno);
  }
  return Internal("cannot move a deep directory up: no free name");
}

Status RemoveAt(int parent_fd, const std::string& name, int depth, int top_fd, bool* hoisted) {
  // Files and symlinks go with one call; only a directory answers EISDIR.
  if (UnlinkAt(parent_fd, name, 0, true) == 0 || errno == ENOENT) return Status::Ok();
  if (errno != EISDIR) return ErrnoStatus("cannot remove " + EchoValue(name), errno);
  if (depth + 1 >= kMaxOpenDepth) return Hoist(parent_fd, name, top_fd, hoisted);
  Fd dir = OpenDirectoryNoFollow(parent_fd, name);
  if (!dir.valid()) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoStatus("cannot open " + EchoValue(name), errno);
  }
  Status emptied = EmptyDirectory(dir.get(), depth + 1, top_fd, hoisted);
  dir = Fd();
  if (UnlinkAt(parent_fd, name, AT_REMOVEDIR, true) == 0 || errno == ENOENT) return Status::Ok();
  if (!emptied.ok()) return emptied;
  return ErrnoStatus("cannot remove " + EchoValue(name), errno);
}

// Removes `name` inside `parent_fd` and everything below it.
Status RemoveTreeAt(int parent_fd, const std::string& name) {
  if (UnlinkAt(parent_fd, name, 0, false) == 0 || errno == ENOENT) return Status::Ok();
  if (errno != EISDIR) return ErrnoStatus("cannot remove " + EchoValue(name), errno);
  Fd top = OpenDirectoryNoFollow(parent_fd, name);
  if (!top.valid()) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoStatus("cannot open " + EchoValue(name), errno);
  }
  Status emptied;
  for (int pass = 0; pass < kMaxPasses; ++pass) {
    bool hoisted = false;
    emptied = EmptyDirectory(top.get(), 0, top.get(), &hoisted);
    if (!hoisted) break;
  }
  top = Fd();
  if (UnlinkAt(parent_fd, name, AT_REMOVEDIR, false) == 0 || errno == ENOENT) return Status::Ok();
  if (!emptied.ok()) return emptied;
  return ErrnoStatus("cannot remove " + EchoValue(name), errno);
}

TimePoint ModificationTime(const struct stat& st) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

// Whether an execution last written at `times` (its directory's and its log's, when present) has
// expired: at least one is older than retention, and every other is too, or lies more than a day
// ahead of `now`. A job can date its own directory 2099, but not its log, so a forged date does
// not keep the artifacts; and a worker whose clock is days behind sees everything recent in the
// future, so it removes nothing rather than everything.
bool Expired(std::initializer_list<std::optional<TimePoint>> times, Duration retention,
             TimePoint now) {
  bool any_old = false;
  for (const std::optional<TimePoint>& t : times) {
    if (!t) continue;
    if (now - *t > retention) {
      any_old = true;
    } else if (*t <= now + kFutureSlack) {
      return false;
    }
  }
  return any_old;
}

// Examines one entry of a job directory and removes it when expired. Returns whether it removed
// it.
StatusOr<bool> SweepExecution(int job_fd, const std::string& name, Duration retention,
                              TimePoint now) {
  Fd dir(::openat(job_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  std::optional<TimePoint> dir_time, log_time;
  struct stat st;
  if (dir.valid()) {
    if (::fstat(dir.get(), &st) == 0) dir_time = ModificationTime(st);
    if (::fstatat(dir.get(), kLogName, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      log_time = ModificationTime(st);
    }
  } else if (errno == ENOENT) {
    return false;  // another worker's sweep took it
  } else if (::fstatat(job_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    // Not a directory we may open (a symlink, a file, a directory made unreadable): its own time.
    dir_time = ModificationTime(st);
  } else if (errno == ENOENT) {
    return false;
  } else {
    return ErrnoStatus("cannot examine " + EchoValue(name), errno);
  }
  dir = Fd();
  if (!Expired({dir_time, log_time}, retention, now)) return false;
  Status removed = RemoveTreeAt(job_fd, name);
  if (!removed.ok()) return removed;
  return true;
}

void NoteFailure(ArtifactsSweepReport& report, const std::string& where, const Status& status) {
  ++report.failures;
  if (report.first_failure.empty()) report.first_failure = where + ": " + status.message();
}

std::string FormatRecord(long long ended_ms) { return std::to_string(ended_ms) + "\n"; }

std::optional<long long> ParseRecord(const std::string& text) {
  long long value = 0;
  size_t digits = 0;
  for (char c : text) {
    if (c == '\n') break;
    if (c < '0' || c > '9' || ++digits > 18) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (digits == 0) return std::nullopt;
  return value;
}

}  // namespace

Status RemoveEntryBelow(const std::string& parent, const std::string& name) {
  if (!IsOneComponent(name)) return InvalidArgument("not one path component: " + EchoValue(name));
  Fd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent_fd.valid()) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoStatus("cannot open " + parent, errno);
  }
  return RemoveTreeAt(parent_fd.get(), name);
}

bool KeepsWorkspace(JobStatus status, int keep_failed_workspaces) {
  return keep_failed_workspaces > 0 &&
         (status == JobStatus::kFailure || status == JobStatus::kError);
}

WorkspaceJanitor::WorkspaceJanitor(std::string workspace_root, int keep_failed_workspaces)
    : root_(std::move(workspace_root)), keep_failed_(keep_failed_workspaces) {}

Status WorkspaceJanitor::RunEnded(const std::string& workspace_name, JobStatus status,
                                  TimePoint ended) {
  if (!IsOneComponent(workspace_name) || workspace_name[0] == '.') {
    return InvalidArgument("not a workspace name: " + EchoValue(workspace_name));
  }
  if (!KeepsWorkspace(status, keep_failed_)) return RemoveEntryBelow(root_, workspace_name);

  std::string records = root_ + "/" + kRecordDir;
  if (::mkdir(records.c_str(), S_IRWXU) != 0 && errno != EEXIST) {
    Status recorded = ErrnoStatus("cannot create " + records, errno);
    RemoveEntryBelow(root_, workspace_name);
    return recorded;
  }
  Fd records_fd(::open(records.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  Fd record;
  if (records_fd.valid()) {
    record = Fd(::openat(records_fd.get(), workspace_name.c_str(),
                         O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, S_IRUSR | S_IWUSR));
  }
  std::string text = FormatRecord(
      std::chrono::duration_cast<std::chrono::milliseconds>(ended.time_since_epoch()).count());
  if (!record.valid() ||
      ::write(record.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    Status recorded = ErrnoStatus("cannot record the kept workspace " + workspace_name, errno);
    if (records_fd.valid()) ::unlinkat(records_fd.get(), workspace_name.c_str(), 0);
    RemoveEntryBelow(root_, workspace_name);
    return recorded;
  }
  return Prune();
}

StatusOr<std::vector<WorkspaceJanitor::Record>> WorkspaceJanitor::ReadRecords() const {
  std::vector<Record> out;
  std::string records = root_ + "/" + kRecordDir;
  Fd records_fd(::open(records.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!records_fd.valid()) {
    if (errno == ENOENT) return out;
    return ErrnoStatus("cannot open " + records, errno);
  }
  Fd root_fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return ErrnoStatus("cannot open " + root_, errno);
  StatusOr<std::vector<Entry>> entries = ListDirectory(records_fd.get());
  if (!entries.ok()) return entries.status();
  for (const Entry& entry : *entries) {
    Record r{entry.name, 0};
    struct stat st;
    r.present = entry.name[0] != '.' &&
                !(::fstatat(root_fd.get(), entry.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 &&
                  errno == ENOENT);
    Fd file(::openat(records_fd.get(), entry.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    char buffer[32];
    ssize_t n = file.valid() ? ::read(file.get(), buffer, sizeof buffer) : -1;
    // A record cut short by a crash reads as the oldest: it goes first.
    if (n > 0) r.ended_ms = ParseRecord(std::string(buffer, n)).value_or(0);
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) {
    return a.ended_ms != b.ended_ms ? a.ended_ms > b.ended_ms : a.name > b.name;
  });
  return out;
}

std::vector<std::string> WorkspaceJanitor::Kept() const {
  std::vector<std::string> names;
  StatusOr<std::vector<Record>> records = ReadRecords();
  if (!records.ok()) return names;
  for (const Record& r : *records) {
    if (r.present) names.push_back(r.name);
  }
  return names;
}

Status WorkspaceJanitor::Prune() {
  StatusOr<std::vector<Record>> records = ReadRecords();
  if (!records.ok()) return records.status();
  std::string records_dir = root_ + "/" + kRecordDir;
  Status first_error;
  size_t kept = 0;
  for (const Record& record : *records) {
    if (record.present && kept < static_cast<size_t>(std::max(keep_failed_, 0))) {
      ++kept;
      continue;
    }
    // A record of a workspace already gone (or of a name no workspace has) only goes itself.
    Status removed = record.present ? RemoveEntryBelow(root_, record.name) : Status::Ok();
    if (removed.ok()) removed = RemoveEntryBelow(records_dir, record.name);
    if (!removed.ok() && first_error.ok()) first_error = removed;
  }
  return first_error;
}

StatusOr<ArtifactsSweepReport> SweepArtifacts(const std::string& root, Duration retention,
                                              TimePoint now,
                                              const std::unordered_set<std::string>& running_ids) {
  ArtifactsSweepReport report;
  Fd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) {
    if (errno == ENOENT) return report;  // no job has run yet
    return ErrnoStatus("cannot open the artifacts directory " + root, errno);
  }
  StatusOr<std::vector<Entry>> jobs = ListDirectory(root_fd.get());
  if (!jobs.ok()) return jobs.status();
  for (const Entry& job : *jobs) {
    if (job.type != DT_DIR && job.type != DT_UNKNOWN) continue;
    Fd job_fd(
        ::openat(root_fd.get(), job.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!job_fd.valid()) {
      // Not a directory (an operator's file, a symlink): not ours to judge.
      if (errno != ENOTDIR && errno != ELOOP && errno != ENOENT) {
        NoteFailure(report, EchoValue(job.name), ErrnoStatus("cannot open", errno));
      }
      continue;
    }
    StatusOr<std::vector<Entry>> executions = ListDirectory(job_fd.get());
    if (!executions.ok()) {
      NoteFailure(report, EchoValue(job.name), executions.status());
      continue;
    }
    size_t left = 0;
    for (const Entry& execution : *executions) {
      ++report.executions_seen;
      if (running_ids.count(execution.name) > 0) {
        ++left;
        continue;
      }
      StatusOr<bool> removed = SweepExecution(job_fd.get(), execution.name, retention, now);
      if (!removed.ok()) {
        NoteFailure(report, EchoValue(job.name) + "/" + EchoValue(execution.name),
                    removed.status());
        ++left;
      } else if (*removed) {
        ++report.executions_removed;
      } else {
        ++left;
      }
    }
    job_fd = Fd();
    // rmdir refuses a directory another worker has just put an execution in, so this never
    // removes one in use; that worker's create may fail in the same instant, which only a
    // worker sharing the root can meet.
    if (left == 0 && ::unlinkat(root_fd.get(), job.name.c_str(), AT_REMOVEDIR) == 0) {
      ++report.job_dirs_removed;
    }
  }
  return report;
}

}  // namespace sluice
