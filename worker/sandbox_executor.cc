#include "worker/sandbox_executor.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace sluice {
namespace fs = std::filesystem;

namespace {

// Inside the sandbox the job is this user and group, whatever it is outside.
constexpr char kSandboxUid[] = "1000";
// util-linux's setpriv, in the host's /usr, which every sandbox sees.
constexpr char kSetpriv[] = "/usr/bin/setpriv";

// The host's system directories the sandbox sees read-only (those that exist). /bin, /sbin and
// /lib* are links into /usr on merged-/usr hosts: they are recreated as links.
constexpr const char* kSystemPaths[] = {"/usr",   "/bin",    "/sbin", "/lib", "/lib32",
                                        "/lib64", "/libx32", "/etc",  "/opt"};

bool IsUnder(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

// A descriptor closed on destruction, for the paths handed to bwrap.
class PathFds {
 public:
  PathFds() = default;
  PathFds(const PathFds&) = delete;
  PathFds& operator=(const PathFds&) = delete;
  ~PathFds() {
    for (int fd : fds_) ::close(fd);
  }
  // Opens `path` (O_PATH: no read access needed, nothing followed at its end); -1 on failure.
  int Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) fds_.push_back(fd);
    return fd;
  }
  const std::vector<int>& fds() const { return fds_; }

 private:
  std::vector<int> fds_;
};

// The paths bound into the sandbox through descriptors, in the order of ProcessSpec::pass_fds:
// a worker running as root hands the job's directories to a bwrap that runs as the job's user,
// which may not be able to reach them by path (a workspace root under a 0700 directory).
struct Bind {
  std::string path;
  bool writable;
};
std::vector<Bind> BindsFor(const JobStep& step) {
  std::vector<Bind> binds = {{step.workspace_dir, true}, {step.artifacts_dir, true}};
  // The log is the worker's: bound read-only over itself, inside the writable artifacts.
  if (!step.log_path.empty() && IsUnder(step.log_path, step.artifacts_dir) &&
      fs::exists(step.log_path)) {
    binds.push_back({step.log_path, false});
  }
  for (const std::string& path : step.read_only_paths) binds.push_back({path, false});
  return binds;
}

// Hidden paths as the sandbox's checks compare them: absolute, normalised.
std::vector<std::string> Absolute(std::vector<std::string> paths) {
  std::error_code ec;
  for (std::string& path : paths) {
    path = fs::absolute(path, ec).lexically_normal().string();
    while (path.size() > 1 && path.back() == '/') path.pop_back();
  }
  return paths;
}

// Why the limits are rlimits, as this host has it: whether the worker's own cgroup v2 offers
// the memory and pids controllers that per-job cgroups would need.
std::string CgroupNote() {
  std::string mount;
  std::ifstream mounts("/proc/self/mounts");
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream fields(line);
    std::string device, point, type;
    if (fields >> device >> point >> type && type == "cgroup2") mount = point;
  }
  std::string own;
  std::ifstream cgroups("/proc/self/cgroup");
  for (std::string line; std::getline(cgroups, line);) {
    if (line.rfind("0::", 0) == 0) own = line.substr(3);
  }
  if (mount.empty()) return "this host has no cgroup v2";
  std::ifstream controllers(mount + own + "/cgroup.controllers");
  std::string list((std::istreambuf_iterator<char>(controllers)), std::istreambuf_iterator<char>());
  std::istringstream names(list);
  bool memory = false, pids = false;
  for (std::string name; names >> name;) {
    memory = memory || name == "memory";
    pids = pids || name == "pids";
  }
  if (memory && pids) {
    return "the worker's cgroup v2 offers the memory and pids controllers, which Sluice does not "
           "use yet";
  }
  return "the worker's cgroup v2 (" + mount + own + ") lacks the memory and pids controllers";
}

}  // namespace

std::string FormatBytes(uint64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  int unit = -1;
  uint64_t value = bytes;
  while (value >= 1024 && value % 1024 == 0 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  if (unit >= 0) return std::to_string(value) + " " + kUnits[unit];
  return std::to_string(bytes) + " bytes";
}

std::vector<ProcessSpec::ResourceLimit> RlimitsFor(const JobLimits& limits, bool per_job_user) {
  std::vector<ProcessSpec::ResourceLimit> out;
  if (limits.memory_bytes) out.push_back({RLIMIT_DATA, *limits.memory_bytes});
  if (limits.processes && per_job_user) {
    out.push_back({RLIMIT_NPROC, static_cast<uint64_t>(*limits.processes)});
  }
  if (limits.cpu_time) {
    auto seconds = std::chrono::ceil<std::chrono::seconds>(*limits.cpu_time).count();
    out.push_back({RLIMIT_CPU, static_cast<uint64_t>(std::max<int64_t>(1, seconds))});
  }
  if (limits.open_files) out.push_back({RLIMIT_NOFILE, static_cast<uint64_t>(*limits.open_files)});
  if (limits.file_bytes) out.push_back({RLIMIT_FSIZE, *limits.file_bytes});
  return out;
}

std::string DescribeRlimits(const JobLimits& limits, bool per_job_user) {
  std::string out = "memory ";
  out += limits.memory_bytes ? FormatBytes(*limits.memory_bytes) + " per process" : "unlimited";
  out += ", ";
  if (!limits.processes) {
    out += "processes unlimited";
  } else if (per_job_user) {
    out += std::to_string(*limits.processes) + " processes";
  } else {
    out +=
        "processes not limited (RLIMIT_NPROC counts per user: it needs a worker running as "
        "root, which gives each job a user of its own)";
  }
  out += ", CPU time ";
  out += limits.cpu_time ? FormatDuration(*limits.cpu_time) + " per process" : "unlimited";
  out += ", open files ";
  out += limits.open_files ? std::to_string(*limits.open_files) : "unlimited";
  out += ", files up to ";
  out += limits.file_bytes ? FormatBytes(*limits.file_bytes) : "any size";
  return out;
}

SandboxExecutor::SandboxExecutor(const WorkerConfig& worker, ProcessRunner& runner,
                                 std::vector<std::string> hidden)
    : worker_(worker),
      runner_(runner),
      hidden_(Absolute(std::move(hidden))),
      per_job_user_(::geteuid() == 0),
      cgroup_note_(CgroupNote()) {}

std::vector<std::string> SandboxExecutor::BwrapArguments(const JobStep& step) const {
  std::vector<std::string> a = {
      "--unshare-pid",     "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
      "--die-with-parent", "--hostname",    "sluice-job"};
  if (!per_job_user_) {
    // An unprivileged worker: a user namespace maps its uid to kSandboxUid, without capabilities.
    a.insert(a.end(), {"--unshare-user", "--uid", kSandboxUid, "--gid", kSandboxUid});
  }
  if (!step.runtime.network) a.push_back("--unshare-net");
  std::error_code ec;
  for (const char* path : kSystemPaths) {
    fs::file_status status = fs::symlink_status(path, ec);
    if (ec || !fs::exists(status)) continue;
    if (fs::is_symlink(status)) {
      fs::path target = fs::read_symlink(path, ec);
      if (!ec) a.insert(a.end(), {"--symlink", target.string(), path});
    } else {
      a.insert(a.end(), {"--ro-bind", path, path});
    }
  }
  // What the worker must not show a job, where it lies under a system directory: a directory
  // is covered by an empty one, a file by /dev/null (which the job cannot even open: the
  // sandbox's bind mounts are nodev).
  for (const std::string& path : hidden_) {
    bool exposed = false;
    for (const char* dir : kSystemPaths) exposed = exposed || (IsUnder(path, dir) && path != dir);
    for (const std::string& other : hidden_) {
      // Already covered by a hidden directory above it.
      exposed = exposed && !(other != path && IsUnder(path, other) && fs::is_directory(other, ec));
    }
    if (!exposed || !fs::exists(path, ec)) continue;
    if (fs::is_directory(path, ec)) {
      a.insert(a.end(), {"--tmpfs", path});
    } else {
      a.insert(a.end(), {"--ro-bind", "/dev/null", path});
    }
  }
  // /tmp and /var/tmp are the job's own and writable by whichever user it is, as on a host.
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp",
                     "--perms", "1777", "--tmpfs", "/var/tmp", "--tmpfs", "/run"});
  std::vector<Bind> binds = BindsFor(step);
  // The directories above each bound path exist in the sandbox only to reach it: searchable by
  // the job's user (bwrap would copy the host's modes, 0700 for a private temporary directory).
  std::set<std::string> made;
  for (const Bind& bind : binds) {
    std::vector<std::string> parents;
    for (fs::path p = fs::path(bind.path).parent_path(); p.has_relative_path();
         p = p.parent_path()) {
      parents.push_back(p.string());
    }
    for (auto it = parents.rbegin(); it != parents.rend(); ++it) {
      bool system = false;
      for (const char* dir : kSystemPaths) system = system || IsUnder(*it, dir);
      if (system || *it == "/tmp" || *it == "/var/tmp" || *it == "/run" || *it == "/var" ||
          !made.insert(*it).second) {
        continue;
      }
      a.insert(a.end(), {"--perms", "0755", "--dir", *it});
    }
  }
  for (size_t i = 0; i < binds.size(); ++i) {
    a.insert(a.end(), {binds[i].writable ? "--bind-fd" : "--ro-bind-fd", std::to_string(3 + i),
                       binds[i].path});
  }
  // The runner's process-tree tag is for jobs it cannot contain; this one is contained by its
  // PID namespace, and its environment is exactly what it was given.
  a.insert(a.end(), {"--unsetenv", kProcessTreeVariable, "--chdir", step.working_dir, "--"});
  if (per_job_user_) {
    // A root worker's bwrap sets the sandbox up as root (it reaches the job's directories
    // wherever they are) and the job then becomes a user of its own: a real, unprivileged uid
    // the kernel counts and checks as such, with no capabilities and no way to gain any.
    std::string user = std::to_string(worker_.job_uid_base + static_cast<uint32_t>(step.slot));
    a.insert(a.end(), {kSetpriv, "--reuid=" + user, "--regid=" + user, "--clear-groups",
                       "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"});
  }
  a.insert(a.end(), step.argv.begin(), step.argv.end());
  return a;
}

ProcessSpec SandboxExecutor::SpecFor(const JobStep& step) const {
  ProcessSpec spec;
  spec.argv = {worker_.bwrap};
  std::vector<std::string> args = BwrapArguments(step);
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = step.env;
  // bwrap is looked up in the worker's PATH, not the job's.
  if (worker_.bwrap.find('/') == std::string::npos) {
    for (const char* dir : {"/usr/bin/", "/usr/local/bin/", "/bin/"}) {
      if (::access((std::string(dir) + worker_.bwrap).c_str(), X_OK) == 0) {
        spec.argv[0] = std::string(dir) + worker_.bwrap;
        break;
      }
    }
  }
  spec.working_dir = "/";
  spec.log_path = step.log_path;
  spec.output_fd = step.output_fd;
  spec.rlimits = RlimitsFor(step.runtime.limits, per_job_user_);
  spec.leader_supervises = true;
  return spec;
}

StatusOr<std::unique_ptr<Process>> SandboxExecutor::Start(const JobStep& step) {
  ProcessSpec spec = SpecFor(step);
  if (per_job_user_) {
    // The job's own user owns its directories (not their contents: a retry reuses the
    // artifacts directory, whose log stays the worker's).
    uint32_t user = worker_.job_uid_base + static_cast<uint32_t>(step.slot);
    for (const std::string& dir : {step.workspace_dir, step.artifacts_dir, step.working_dir}) {
      if (::chown(dir.c_str(), user, user) != 0) {
        return Internal("cannot give " + dir + " to the job's user " + std::to_string(user) + ": " +
                        std::strerror(errno));
      }
    }
  }
  PathFds fds;
  for (const Bind& bind : BindsFor(step)) {
    if (fds.Open(bind.path) < 0) {
      return NotFound("cannot open " + bind.path + " for the sandbox: " + std::strerror(errno));
    }
  }
  spec.pass_fds = fds.fds();
  return runner_.Start(spec);
}

std::vector<std::string> SandboxExecutor::Describe(const JobStep& step) const {
  std::string network = step.runtime.network ? "" : ", network";
  std::string user = per_job_user_ ? "PID, mount, IPC, UTS" + network + " namespaces, as user " +
                                         std::to_string(worker_.job_uid_base + step.slot) +
                                         " of its own without capabilities"
                                   : "user, PID, mount, IPC, UTS" + network +
                                         " namespaces, as the worker's user mapped to "
                                         "uid " +
                                         std::string(kSandboxUid) + " inside, without capabilities";
  return {
      "executor: sandbox (bubblewrap): new " + user +
          "; it sees the host's system directories read-only, its workspace and artifacts, a "
          "private /tmp and /proc" +
          (step.runtime.network ? "; network: the host's" : "; network: none"),
      "limits (rlimits; " + cgroup_note_ +
          "): " + DescribeRlimits(step.runtime.limits, per_job_user_),
      "the job's process tree ends with its sandbox's PID namespace",
  };
}

std::string SandboxExecutor::LimitHit(const JobStep& step, const ProcessExit& exit) const {
  const JobLimits& limits = step.runtime.limits;
  if (exit.signaled && exit.signal == SIGXCPU && limits.cpu_time) {
    return "CPU time limit " + FormatDuration(*limits.cpu_time) + " reached";
  }
  if (exit.signaled && exit.signal == SIGXFSZ && limits.file_bytes) {
    return "file size limit " + FormatBytes(*limits.file_bytes) + " reached";
  }
  // rlimits make an allocation or a fork fail without saying so to anyone but the job: name the
  // limits it ran under, for whoever reads why it failed.
  return "it ran under rlimits of " + DescribeRlimits(limits, per_job_user_);
}

Status SandboxExecutor::Probe(const std::string& bwrap, ProcessRunner& runner) {
  WorkerConfig worker;
  worker.bwrap = bwrap;
  SandboxExecutor probe(worker, runner, {});
  JobStep step;
  step.argv = {"true"};
  step.env = {{"PATH", "/usr/bin:/bin"}};
  std::error_code ec;
  fs::path dir = fs::temp_directory_path(ec) / ("sluice-probe-" + std::to_string(::getpid()));
  fs::create_directories(dir, ec);
  step.workspace_dir = step.artifacts_dir = step.working_dir = dir.string();
  step.runtime.network = false;
  auto process = probe.Start(step);
  Status result = Status::Ok();
  if (!process.ok()) {
    result = process.status();
  } else {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::optional<ProcessExit> exit;
    while (!(exit = (*process)->Poll()) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!exit) {
      result = Unavailable("bubblewrap did not finish a trial sandbox within 10s");
    } else if (!exit->success()) {
      result = Unavailable("bubblewrap cannot make a sandbox on this host (a trial ended with " +
                           exit->Describe() + ")");
    }
  }
  fs::remove_all(dir, ec);
  return result;
}

}  // namespace sluice
