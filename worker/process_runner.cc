#include "worker/process_runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include <utility>

namespace sluice {
namespace {

// Search path when the child's environment has no PATH (glibc's confstr(_CS_PATH)).
constexpr char kDefaultSearchPath[] = "/bin:/usr/bin";

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

Status StatusFromErrno(int err, std::string what) {
  std::string message = std::move(what) + ": " + ErrnoText(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return NotFound(std::move(message));
    case EACCES:
    case EPERM:
      return PermissionDenied(std::move(message));
    case EAGAIN:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return ResourceExhausted(std::move(message));
    default:
      return FailedPrecondition(std::move(message));
  }
}

// Processes started by any PosixProcessRunner of this process and not yet reaped: leader pid
// to its tree tag. Start() holds the mutex from fork until the child is registered, and the
// stray reaper holds it while it reaps, so a runner's own child is never reaped by the latter.
struct Leaders {
  std::mutex mutex;
  std::map<pid_t, std::string> tags;
};
Leaders& LiveLeaders() {
  static Leaders* leaders = new Leaders;  // never destroyed: used until exit
  return *leaders;
}

void Unregister(pid_t pid) {
  std::lock_guard<std::mutex> lock(LiveLeaders().mutex);
  LiveLeaders().tags.erase(pid);
}

// Set once this process is a child subreaper: every descendant of a job is then a descendant
// of this process, so a tree's members are looked for among those only.
std::atomic<bool> subreaper{false};

// One line of /proc/<pid>/stat, the fields that matter here.
struct ProcInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgrp = 0;
  char state = '?';
  unsigned long long start_ticks = 0;  // since boot: no descendant started before its ancestor
};

// The whole of a small /proc file, read with plain system calls (this runs at every job's end,
// once per process of the host).
bool ReadProcFile(const char* path, std::string* out) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) out->append(buffer, static_cast<size_t>(n));
  ::close(fd);
  return n == 0;
}

// Every process of the host that can be read now. Processes come and go while it reads: one
// that vanished is simply missing.
std::vector<ProcInfo> ReadProcessTable() {
  std::vector<ProcInfo> table;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return table;
  std::string line;
  char path[64];
  while (struct dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (!ReadProcFile(path, &line)) continue;
    // "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
    // utime stime cutime cstime priority nice num_threads itrealvalue starttime ...": comm may
    // hold spaces and parentheses.
    size_t close = line.rfind(')');
    if (close == std::string::npos || close + 2 >= line.size()) continue;
    ProcInfo info;
    info.pid = static_cast<pid_t>(pid);
    long ppid = 0, pgrp = 0;
    char state = '?';
    unsigned long long start = 0;
    if (std::sscanf(line.c_str() + close + 2,
                    "%c %ld %ld %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
                    "%*d %llu",
                    &state, &ppid, &pgrp, &start) < 3) {
      continue;
    }
    info.state = state;
    info.ppid = static_cast<pid_t>(ppid);
    info.pgrp = static_cast<pid_t>(pgrp);
    info.start_ticks = start;
    table.push_back(info);
  }
  ::closedir(dir);
  return table;
}

// Whether the environment `pid` was started with holds exactly `entry` ("NAME=value").
bool EnvironmentHolds(pid_t pid, const std::string& entry) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%ld/environ", static_cast<long>(pid));
  std::string environ;
  if (!ReadProcFile(path, &environ)) return false;
  size_t pos = 0;
  while ((pos = environ.find(entry, pos)) != std::string::npos) {
    bool starts = pos == 0 || environ[pos - 1] == '\0';
    size_t after = pos + entry.size();
    if (starts && (after == environ.size() || environ[after] == '\0')) return true;
    pos = after;
  }
  return false;
}

// The living members of a tree: its group, its tagged processes, and their descendants. The
// leader itself is left out (its owner signals and reaps it).
std::vector<pid_t> TreeMembers(const std::vector<ProcInfo>& table, pid_t leader,
                               const std::string& tag) {
  const pid_t self = ::getpid();
  const std::string entry = std::string(kProcessTreeVariable) + "=" + tag;
  // Narrowing who can be a member saves reading every process's environment: members start no
  // earlier than the leader, and under a subreaper they descend from this process.
  unsigned long long leader_start = 0;
  for (const ProcInfo& p : table) {
    if (p.pid == leader) leader_start = p.start_ticks;
  }
  std::set<pid_t> ours;  // descendants of this process, when that is where members are
  if (subreaper.load()) {
    ours.insert(self);
    for (bool grew = true; grew;) {
      grew = false;
      for (const ProcInfo& p : table) {
        if (!ours.count(p.pid) && ours.count(p.ppid)) grew = ours.insert(p.pid).second;
      }
    }
  }
  std::set<pid_t> members;
  for (const ProcInfo& p : table) {
    if (p.pid == self || p.pid == leader || p.state == 'Z') continue;
    if (p.pgrp == leader) {
      members.insert(p.pid);
      continue;
    }
    if (p.start_ticks < leader_start || (subreaper.load() && !ours.count(p.pid))) continue;
    if (EnvironmentHolds(p.pid, entry)) members.insert(p.pid);
  }
  for (bool grew = true; grew;) {
    grew = false;
    for (const ProcInfo& p : table) {
      if (p.pid == self || p.state == 'Z' || members.count(p.pid) || !members.count(p.ppid)) {
        continue;
      }
      members.insert(p.pid);
      grew = true;
    }
  }
  return std::vector<pid_t>(members.begin(), members.end());
}

// Reaps this process's zombie children that no runner started: descendants of jobs that were
// re-parented here (child subreaper) and then ended.
void ReapStrays(const std::vector<ProcInfo>& table) {
  const pid_t self = ::getpid();
  std::lock_guard<std::mutex> lock(LiveLeaders().mutex);
  for (const ProcInfo& p : table) {
    if (p.ppid != self || p.state != 'Z' || LiveLeaders().tags.count(p.pid)) continue;
    int status = 0;
    ::waitpid(p.pid, &status, WNOHANG);
  }
}

void SignalTree(pid_t leader, const std::string& tag, int sig, bool spare_leader = false) {
  if (!spare_leader) ::kill(-leader, sig);
  for (pid_t pid : TreeMembers(ReadProcessTable(), leader, tag)) ::kill(pid, sig);
}

using SteadyTime = std::chrono::steady_clock::time_point;

// The last process table read, shared by the trees ended one after another: reading /proc costs
// a file per process of the host, and jobs that end together need it once.
struct SharedTable {
  std::mutex mutex;
  SteadyTime read_from;  // the read began then: it shows every process alive from then on
  std::vector<ProcInfo> table;
};
SharedTable& LastTable() {
  static SharedTable* shared = new SharedTable;  // never destroyed: used until exit
  return *shared;
}

// A table that shows every process alive since `since`: the shared one if it was read after
// that, else a new one (which becomes the shared one).
std::vector<ProcInfo> ProcessTableSince(SteadyTime since) {
  SharedTable& shared = LastTable();
  std::lock_guard<std::mutex> lock(shared.mutex);
  if (shared.read_from > since) return shared.table;
  shared.read_from = std::chrono::steady_clock::now();
  shared.table = ReadProcessTable();
  return shared.table;
}

// SIGKILLs everything of the tree except its leader, in rounds (a member may fork while it is
// being killed) until a round finds nothing alive, and reaps what was re-parented here. Bounded:
// a member stuck in the kernel (state D) cannot hold the worker for long. `leader_ended_by`: the
// leader had exited by then, if known. A table read after that shows the whole tree as it
// stays (only members can add members), so the first round may use one read for another tree;
// every later round reads anew.
void EndTree(pid_t leader, const std::string& tag, SteadyTime leader_ended_by = SteadyTime::max()) {
  constexpr int kMaxRounds = 500;
  for (int round = 0; round < kMaxRounds; ++round) {
    ::kill(-leader, SIGKILL);
    std::vector<ProcInfo> table = round == 0 && leader_ended_by != SteadyTime::max()
                                      ? ProcessTableSince(leader_ended_by)
                                      : ProcessTableSince(std::chrono::steady_clock::now());
    ReapStrays(table);
    std::vector<pid_t> members = TreeMembers(table, leader, tag);
    if (members.empty()) return;
    for (pid_t pid : members) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::string NextTreeTag() {
  static std::atomic<unsigned long> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

// A file descriptor closed on destruction.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Moves fd above the standard descriptors, so that the child's dup2 onto 0, 1 and 2 cannot
// overwrite it (a worker started with a closed stdin would otherwise get 0 from open()). The
// result is close-on-exec. Returns -1 with errno set on failure.
int MoveAboveStdio(int fd, int first_free = STDERR_FILENO + 1) {
  if (fd < 0 || fd >= first_free) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, first_free);
  int saved_errno = errno;
  ::close(fd);
  errno = saved_errno;
  return moved;
}

// Where the child failed; sent over the error pipe together with errno.
enum class ChildStage : int { kChdir = 1, kRedirect = 2, kExec = 3, kLimits = 4 };
struct ChildError {
  ChildStage stage;
  int err;
};

// Everything the child needs, prepared before fork so that the child allocates nothing. The
// pointer arrays point into the strings, so a plan is filled in place and never copied or moved.
struct ExecPlan {
  ExecPlan() = default;
  ExecPlan(const ExecPlan&) = delete;
  ExecPlan& operator=(const ExecPlan&) = delete;

  std::vector<std::string> candidates;  // paths to try, in order
  bool search = false;                  // argv[0] had no '/': keep going on ENOENT & co.
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::vector<std::vector<char*>> sh_argvs;  // "/bin/sh" + candidate + args, for ENOEXEC
  std::vector<ProcessSpec::ResourceLimit> rlimits;
  std::vector<int> pass_fds;  // the caller's, moved above the targets 3 .. 3+n-1
};

void FillExecPlan(const ProcessSpec& spec, const std::string& tree_tag, ExecPlan& plan) {
  const std::string& file = spec.argv[0];
  if (file.find('/') != std::string::npos) {
    plan.candidates.push_back(file);
  } else {
    plan.search = true;
    auto path_it = spec.env.find("PATH");
    std::string path = path_it != spec.env.end() ? path_it->second : kDefaultSearchPath;
    size_t start = 0;
    while (true) {
      size_t end = path.find(':', start);
      std::string dir = path.substr(start, end == std::string::npos ? end : end - start);
      // An empty element means the current directory, as for execvp.
      plan.candidates.push_back(dir.empty() ? file : dir + "/" + file);
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  for (const auto& [key, value] : spec.env) {
    if (key != kProcessTreeVariable) plan.env_storage.push_back(key + "=" + value);
  }
  plan.env_storage.push_back(std::string(kProcessTreeVariable) + "=" + tree_tag);
  plan.rlimits = spec.rlimits;

  for (const std::string& arg : spec.argv) plan.argv.push_back(const_cast<char*>(arg.c_str()));
  plan.argv.push_back(nullptr);
  for (std::string& entry : plan.env_storage) plan.envp.push_back(entry.data());
  plan.envp.push_back(nullptr);

  static char kShell[] = "/bin/sh";
  for (std::string& candidate : plan.candidates) {
    std::vector<char*> sh_argv = {kShell, candidate.data()};
    for (size_t i = 1; i < spec.argv.size(); ++i) {
      sh_argv.push_back(const_cast<char*>(spec.argv[i].c_str()));
    }
    sh_argv.push_back(nullptr);
    plan.sh_argvs.push_back(std::move(sh_argv));
  }
}

// Closes descriptors [first, last] with close_range(2) where the kernel has it (Linux >= 5.9),
// else one by one up to min(last, fallback_last).
void CloseRange(int first, unsigned last, int fallback_last) {
  if (first < 0 || static_cast<unsigned>(first) > last) return;
  if (::close_range(first, last, 0) == 0) return;
  for (int fd = first; fd <= fallback_last && static_cast<unsigned>(fd) <= last; ++fd) ::close(fd);
}

// Child side of the error pipe: tells the parent why it could not exec, then exits.
[[noreturn]] void ReportAndExit(int error_fd, ChildStage stage, int err) {
  ChildError report{stage, err};
  ssize_t ignored = ::write(error_fd, &report, sizeof(report));
  (void)ignored;
  ::_exit(127);
}

// Runs in the child between fork and exec: async-signal-safe calls only, no allocation.
[[noreturn]] void RunChild(const ExecPlan& plan, const char* working_dir, int stdin_fd, int log_fd,
                           int error_fd, int max_fd, pid_t parent_pid) {
  // Signals were blocked by the parent around fork. Restore default dispositions before
  // unblocking, so that no handler of the worker runs in the child and ignored signals (SIGPIPE)
  // are not inherited by the job.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &default_action, nullptr);  // fails harmlessly for libc-reserved signals
  }
  // A session of its own: the job has no controlling terminal (no TIOCSTI into the worker's),
  // and leads its own process group.
  if (::setsid() < 0) ::setpgid(0, 0);
  // A worker that dies (SIGKILL, crash) takes its jobs' leaders with it, so that a job is not
  // still running when another worker takes over its execution after the lease. The parent's
  // pid is checked after the call: the worker may already be gone. Descendants of the job are
  // not covered by this: a worker that dies without stopping leaves them to init.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent_pid) ::_exit(127);
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);

  for (const ProcessSpec::ResourceLimit& limit : plan.rlimits) {
    struct rlimit value {
      static_cast<rlim_t>(limit.value), static_cast<rlim_t>(limit.value)
    };
    if (::setrlimit(static_cast<__rlimit_resource_t>(limit.resource), &value) != 0) {
      ReportAndExit(error_fd, ChildStage::kLimits, errno);
    }
  }
  if (working_dir[0] != '\0' && ::chdir(working_dir) != 0) {
    ReportAndExit(error_fd, ChildStage::kChdir, errno);
  }
  if (::dup2(stdin_fd, STDIN_FILENO) < 0 || ::dup2(log_fd, STDOUT_FILENO) < 0 ||
      ::dup2(log_fd, STDERR_FILENO) < 0) {
    ReportAndExit(error_fd, ChildStage::kRedirect, errno);
  }
  // Every source is above the targets (Start moved them), so no dup2 overwrites a later source.
  const int first_free = STDERR_FILENO + 1 + static_cast<int>(plan.pass_fds.size());
  for (size_t i = 0; i < plan.pass_fds.size(); ++i) {
    if (::dup2(plan.pass_fds[i], STDERR_FILENO + 1 + static_cast<int>(i)) < 0) {
      ReportAndExit(error_fd, ChildStage::kRedirect, errno);
    }
  }
  // Close everything else, in case another thread of the worker opened a descriptor without
  // O_CLOEXEC. error_fd >= first_free (MoveAboveStdio) and is close-on-exec.
  CloseRange(first_free, error_fd - 1, max_fd);
  CloseRange(error_fd + 1, ~0U, max_fd);

  // As execvp: a candidate that is missing or not executable does not end the search, but if
  // one was not executable (EACCES) that is the error reported when none could be run.
  int last_errno = ENOENT;
  bool saw_eacces = false;
  for (size_t i = 0; i < plan.candidates.size(); ++i) {
    ::execve(plan.candidates[i].c_str(), plan.argv.data(), plan.envp.data());
    int err = errno;
    if (err == ENOEXEC) {
      // Not a binary and no "#!": run it as a shell script, as execvp does.
      ::execve("/bin/sh", plan.sh_argvs[i].data(), plan.envp.data());
      err = errno;
    }
    bool try_next = plan.search && (err == EACCES || err == ENOENT || err == ENOTDIR ||
                                    err == ESTALE || err == ENODEV || err == ETIMEDOUT);
    if (!try_next) ReportAndExit(error_fd, ChildStage::kExec, err);
    saw_eacces = saw_eacces || err == EACCES;
    last_errno = err;
  }
  ReportAndExit(error_fd, ChildStage::kExec, saw_eacces ? EACCES : last_errno);
}

ProcessExit ExitFromWaitStatus(int status) {
  ProcessExit exit;
  if (WIFSIGNALED(status)) {
    exit.signaled = true;
    exit.signal = WTERMSIG(status);
  } else {
    exit.exit_code = WEXITSTATUS(status);
  }
  return exit;
}

class PosixProcess final : public Process {
 public:
  PosixProcess(pid_t pid, std::string tree_tag, bool leader_supervises)
      : pid_(pid), tree_tag_(std::move(tree_tag)), leader_supervises_(leader_supervises) {}
  PosixProcess(const PosixProcess&) = delete;
  PosixProcess& operator=(const PosixProcess&) = delete;

  ~PosixProcess() override {
    if (exit_.has_value()) return;
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);  // in case the group could not be formed
    // Ended but not yet reaped: its pid, the group id, cannot be reused while the tree is killed.
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) < 0 &&
           errno == EINTR) {
    }
    EndTree(pid_, tree_tag_);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    Unregister(pid_);
  }

  int pid() const override { return pid_; }

  std::optional<ProcessExit> Poll() override {
    if (exit_.has_value()) return exit_;
    // Once the leader has exited, but before reaping it (so its pid, the group id, cannot be
    // reused yet), kill whatever it left running, in its group or not: a job's leftovers die
    // with it.
    //
    // The end is seen in one call and the tree ended in the next: the trees of jobs that ended
    // together are then looked for in one read of the process table (EndTree).
    if (!ended_by_) {
      siginfo_t info{};
      int seen = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
      // ECHILD: someone else reaped it; the next call says so.
      if ((seen == 0 && info.si_pid == pid_) || (seen < 0 && errno == ECHILD)) {
        ended_by_ = std::chrono::steady_clock::now();
      }
      return std::nullopt;
    }
    EndTree(pid_, tree_tag_, *ended_by_);
    int status = 0;
    pid_t result;
    do {
      result = ::waitpid(pid_, &status, WNOHANG);
    } while (result < 0 && errno == EINTR);
    if (result == pid_) {
      exit_ = ExitFromWaitStatus(status);
    } else if (result < 0) {
      // ECHILD: someone else reaped it (e.g. SIGCHLD set to SIG_IGN). It has ended, but how is
      // lost; report a failure rather than waiting forever.
      exit_ = ProcessExit{.signaled = false, .exit_code = -1, .signal = 0};
    }
    if (exit_.has_value()) Unregister(pid_);
    return exit_;
  }

  void SignalGroup(int sig) override {
    // Until Poll() has reaped the leader, its pid (and so the group id) cannot be reused.
    if (exit_.has_value()) return;
    SignalTree(pid_, tree_tag_, sig, leader_supervises_ && sig != SIGKILL);
  }

 private:
  const pid_t pid_;
  const std::string tree_tag_;
  const bool leader_supervises_;
  std::optional<SteadyTime> ended_by_;  // the leader had exited by then (not reaped yet)
  std::optional<ProcessExit> exit_;
};

}  // namespace

PosixProcessRunner::PosixProcessRunner() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0) {
    subreaper.store(true);
    mechanism_ =
        "the worker as child subreaper: at its end everything left of its process group, or "
        "tagged SLUICE_PROCESS_TREE, and their descendants, is killed";
  } else {
    mechanism_ =
        "its process group and tagged descendants (no child subreaper: " + ErrnoText(errno) + ")";
  }
}

void KillAllProcessTrees() {
  std::map<pid_t, std::string> leaders;
  {
    std::lock_guard<std::mutex> lock(LiveLeaders().mutex);
    leaders = LiveLeaders().tags;
  }
  for (const auto& [pid, tag] : leaders) {
    ::kill(pid, SIGKILL);
    EndTree(pid, tag);
  }
}

std::string ProcessExit::Describe() const {
  if (!signaled) return "exit code " + std::to_string(exit_code);
  std::string text = "killed by signal " + std::to_string(signal);
  if (const char* abbrev = ::sigabbrev_np(signal)) text += std::string(" (SIG") + abbrev + ")";
  return text;
}

StatusOr<std::unique_ptr<Process>> PosixProcessRunner::Start(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) return InvalidArgument("empty command");
  for (const auto& [key, value] : spec.env) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return InvalidArgument("invalid environment variable name \"" + key + "\"");
    }
  }
  const std::string& command = spec.argv[0];

  // Every descriptor the child uses lies above the passed descriptors' targets 3 .. 3+n-1.
  const int first_free = STDERR_FILENO + 1 + static_cast<int>(spec.pass_fds.size());
  std::vector<UniqueFd> passed;
  for (int fd : spec.pass_fds) {
    passed.emplace_back(::fcntl(fd, F_DUPFD_CLOEXEC, first_free));
    if (passed.back().get() < 0) return StatusFromErrno(errno, "cannot pass a descriptor");
  }
  // Opened here rather than in the child so that the error is precise and the child does less.
  std::string log_path = spec.log_path.empty() ? "/dev/null" : spec.log_path;
  UniqueFd log_fd(MoveAboveStdio(
      spec.output_fd >= 0
          ? ::fcntl(spec.output_fd, F_DUPFD_CLOEXEC, first_free)
          : ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644),
      first_free));
  if (log_fd.get() < 0) {
    return StatusFromErrno(errno, spec.output_fd >= 0
                                      ? std::string("cannot use the output descriptor")
                                      : "cannot open log file \"" + log_path + "\"");
  }
  UniqueFd stdin_fd(MoveAboveStdio(::open("/dev/null", O_RDONLY | O_CLOEXEC), first_free));
  if (stdin_fd.get() < 0) return StatusFromErrno(errno, "cannot open /dev/null");

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return StatusFromErrno(errno, "cannot create pipe");
  UniqueFd error_read(MoveAboveStdio(pipe_fds[0], first_free));
  UniqueFd error_write(MoveAboveStdio(pipe_fds[1], first_free));
  if (error_read.get() < 0 || error_write.get() < 0) {
    return StatusFromErrno(errno, "cannot create pipe");
  }

  ExecPlan plan;
  std::string tree_tag = NextTreeTag();
  FillExecPlan(spec, tree_tag, plan);
  for (const UniqueFd& fd : passed) plan.pass_fds.push_back(fd.get());
  // Upper bound for closing descriptors one by one when close_range(2) is missing.
  struct rlimit nofile {};
  int max_fd = ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
                       nofile.rlim_cur < (1u << 20)
                   ? static_cast<int>(nofile.rlim_cur)
                   : (1 << 20);

  // Block every signal across fork so that no handler runs in the child before it has reset
  // the dispositions.
  sigset_t all_signals, previous_mask;
  sigfillset(&all_signals);
  ::pthread_sigmask(SIG_SETMASK, &all_signals, &previous_mask);
  pid_t parent_pid = ::getpid();
  pid_t pid;
  int fork_errno;
  {
    // Registered before anyone may reap strays, so this child is never taken for one.
    std::lock_guard<std::mutex> lock(LiveLeaders().mutex);
    pid = ::fork();
    if (pid == 0) {
      RunChild(plan, spec.working_dir.c_str(), stdin_fd.get(), log_fd.get(), error_write.get(),
               max_fd, parent_pid);
    }
    fork_errno = errno;
    if (pid > 0) LiveLeaders().tags[pid] = tree_tag;
  }
  ::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  if (pid < 0) return StatusFromErrno(fork_errno, "cannot fork to run \"" + command + "\"");

  // The group exists when Start() returns: the child formed it (setsid) before its exec closed
  // the error pipe, which the read below waits for.
  error_write.Reset();

  ChildError report{};
  size_t received = 0;
  while (received < sizeof(report)) {
    ssize_t n = ::read(error_read.get(), reinterpret_cast<char*>(&report) + received,
                       sizeof(report) - received);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    received += static_cast<size_t>(n);
  }
  if (received == 0) {
    return std::unique_ptr<Process>(new PosixProcess(pid, tree_tag, spec.leader_supervises));
  }

  // The child failed before or at exec and has exited (127); reap it.
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  Unregister(pid);
  if (received < sizeof(report)) return Internal("cannot run \"" + command + "\": lost error");
  switch (report.stage) {
    case ChildStage::kChdir:
      return StatusFromErrno(report.err,
                             "cannot change to working directory \"" + spec.working_dir + "\"");
    case ChildStage::kRedirect:
      return StatusFromErrno(report.err, "cannot redirect output of \"" + command + "\"");
    case ChildStage::kLimits:
      return StatusFromErrno(report.err, "cannot set the resource limits of \"" + command + "\"");
    case ChildStage::kExec:
      break;
  }
  return StatusFromErrno(report.err, "cannot run \"" + command + "\"");
}

}  // namespace sluice
