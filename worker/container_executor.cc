#include "worker/container_executor.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "common/clock.h"
#include "worker/sandbox_executor.h"  // FormatBytes

namespace sluice {

// What the Processes of an executor share with it: which steps the worker killed, so that a
// SIGKILL inside the container (exit 137) is not blamed on the memory limit.
struct ContainerExecutor::Shared {
  std::mutex mutex;
  std::set<std::string> killed_steps;
  std::atomic<uint64_t> started{0};
};

namespace {

// podman run exits with 128+N when the container's process died of signal N.
constexpr int kSignalExitBase = 128;
// How long a signal waits for `podman kill` or `podman rm` before giving up on it.
constexpr auto kPodmanTimeout = std::chrono::seconds(30);
// podman's own environment: what it needs to find its programs and the host's configuration of
// podman (the operator's, not the job's), never a job's variable.
constexpr const char* kPodmanEnvironment[] = {"HOME",
                                              "XDG_RUNTIME_DIR",
                                              "XDG_CONFIG_HOME",
                                              "XDG_DATA_HOME",
                                              "TMPDIR",
                                              "CONTAINERS_CONF",
                                              "CONTAINERS_STORAGE_CONF",
                                              "CONTAINERS_REGISTRIES_CONF",
                                              "REGISTRY_AUTH_FILE",
                                              "http_proxy",
                                              "https_proxy",
                                              "no_proxy",
                                              "HTTP_PROXY",
                                              "HTTPS_PROXY",
                                              "NO_PROXY"};
constexpr char kPodmanPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// The env file reaches podman as this descriptor (the first of ProcessSpec::pass_fds).
constexpr char kEnvFileFd[] = "/dev/fd/3";

bool ValidEnvName(const std::string& name) {
  if (name.empty() || name[0] == '#') return false;
  for (char c : name) {
    // Printable ASCII without blanks; '=' ends a name, '*' is podman's prefix match.
    if (c <= ' ' || c > '~' || c == '=' || c == '*') return false;
  }
  return true;
}

// A path podman's --volume and --workdir take as is.
Status CheckPath(const std::string& what, const std::string& path) {
  if (path.empty() || path[0] != '/') return InvalidArgument(what + " must be an absolute path");
  if (path.find_first_of(":,\n\r") != std::string::npos) {
    return InvalidArgument(what +
                           " has a ':', ',' or line break, which podman's --volume cannot "
                           "carry");
  }
  return Status::Ok();
}

std::string Ulimit(const char* name, const std::string& value) {
  return std::string(name) + "=" + value + ":" + value;
}

// An rlimit of this process as podman's --ulimit takes it (-1: unlimited).
std::string OwnHardLimit(int resource, const char* fallback) {
  struct rlimit limit {};
  if (::getrlimit(resource, &limit) != 0) return fallback;
  if (limit.rlim_max == RLIM_INFINITY) return "-1";
  return std::to_string(limit.rlim_max);
}

std::string ContainerName(const std::string& step_name, uint64_t serial) {
  // podman: [a-zA-Z0-9][a-zA-Z0-9_.-]*. The worker's pid and a serial make it unique on the host
  // even when two steps of one attempt (checkout and command) or two workers share a name.
  std::string name = "sluice-";
  for (char c : step_name.substr(0, 100)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    name += ok ? c : '_';
  }
  return name + "-" + std::to_string(::getpid()) + "-" + std::to_string(serial);
}

// A memory-only file holding `text`, positioned at its start; -1 with errno on failure.
int MemoryFileWith(const std::string& text) {
  int fd = ::memfd_create("sluice-container-env", MFD_CLOEXEC);
  if (fd < 0) return -1;
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      errno = err;
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  if (::lseek(fd, 0, SEEK_SET) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// Starts `spec` through `runner` and waits for it to end, at most `limit` (then kills it).
StatusOr<ProcessExit> RunAndWait(ProcessRunner& runner, const ProcessSpec& spec, Duration limit) {
  StatusOr<std::unique_ptr<Process>> process = runner.Start(spec);
  if (!process.ok()) return process.status();
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::optional<ProcessExit> exit = (*process)->Poll()) return *exit;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (*process)->SignalGroup(SIGKILL);
  return DeadlineExceeded("did not end within " + FormatDuration(limit));
}

// podman's own environment (kPodmanEnvironment), from the worker's.
std::map<std::string, std::string> PodmanEnvironment() {
  std::map<std::string, std::string> env = {{"PATH", kPodmanPath}};
  for (const char* name : kPodmanEnvironment) {
    if (const char* value = std::getenv(name)) env[name] = value;
  }
  return env;
}

// `podman run` of one step. Signals reach the container through `podman kill`, not through the
// client: signalling the client's process group also hits the `runc kill` the client starts to
// forward the signal, which then fails (seen: "runc kill ... failed: signal: terminated", and
// the container ran on).
class ContainerProcess final : public Process {
 public:
  ContainerProcess(std::unique_ptr<Process> client, ProcessRunner& runner,
                   std::vector<std::string> podman, std::map<std::string, std::string> env,
                   std::string container, std::string step_name,
                   std::shared_ptr<ContainerExecutor::Shared> shared)
      : client_(std::move(client)),
        runner_(runner),
        podman_(std::move(podman)),
        env_(std::move(env)),
        container_(std::move(container)),
        step_name_(std::move(step_name)),
        shared_(std::move(shared)) {}

  ~ContainerProcess() override {
    if (!client_->Poll()) Kill();
  }

  int pid() const override { return client_->pid(); }

  std::optional<ProcessExit> Poll() override {
    std::optional<ProcessExit> exit = client_->Poll();
    // A signal may have reached the container before the client could see it go (or the
    // client died of it): make sure nothing of it is left.
    if (exit && signalled_ && !removed_) Remove();
    return exit;
  }

  void SignalGroup(int sig) override {
    if (client_->Poll()) return;
    signalled_ = true;
    if (sig == SIGKILL) {
      Kill();
      return;
    }
    // Until the container exists (right after Start) `podman kill` fails: retry while the
    // client runs, bounded.
    auto deadline = std::chrono::steady_clock::now() + kPodmanTimeout;
    while (!client_->Poll() && std::chrono::steady_clock::now() < deadline) {
      std::optional<ProcessExit> kill = RunPodman({"kill", "--signal", std::to_string(sig)});
      if (kill && kill->success()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

 private:
  // conmon, not the client, holds the container: killing the client leaves it running.
  void Kill() {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      shared_->killed_steps.insert(step_name_);
    }
    client_->SignalGroup(SIGKILL);
    Remove();
    client_->Poll();  // reap the client if it is gone by now
  }

  void Remove() {
    removed_ = true;
    RunPodman({"rm", "--force", "--ignore", "--time", "0"});
  }

  // Runs `podman <global flags> <args> <container>` and waits for it, bounded.
  std::optional<ProcessExit> RunPodman(std::initializer_list<std::string> args) {
    ProcessSpec spec;
    spec.argv = podman_;
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.argv.push_back(container_);
    spec.env = env_;
    spec.working_dir = "/";
    StatusOr<ProcessExit> exit = RunAndWait(runner_, spec, kPodmanTimeout);
    if (!exit.ok()) return std::nullopt;
    return *exit;
  }

  std::unique_ptr<Process> client_;
  ProcessRunner& runner_;
  const std::vector<std::string> podman_;  // the program and its global flags
  const std::map<std::string, std::string> env_;
  const std::string container_;
  const std::string step_name_;
  std::shared_ptr<ContainerExecutor::Shared> shared_;
  bool signalled_ = false;
  bool removed_ = false;
};

std::string DescribeLimits(const JobLimits& limits, const ContainerRunOptions& options) {
  std::string text =
      "limits (podman: memory and processes with the container's cgroup, the others as rlimits "
      "per process): memory ";
  text += limits.memory_bytes ? FormatBytes(*limits.memory_bytes) + ", no swap" : "unlimited";
  text += "; processes ";
  text += limits.processes ? std::to_string(*limits.processes) +
                                 (options.user.uid ? " (also RLIMIT_NPROC of the job's user)" : "")
                           : "unlimited";
  text += "; open files ";
  text += limits.open_files ? std::to_string(*limits.open_files)
                            : options.default_nofile + " (the worker's)";
  text += "; file size ";
  text += limits.file_bytes ? FormatBytes(*limits.file_bytes) : "unlimited";
  text += "; CPU time ";
  text += limits.cpu_time ? FormatDuration(*limits.cpu_time) : "unlimited";
  return text;
}

}  // namespace

StatusOr<std::string> ContainerEnvFile(const std::map<std::string, std::string>& env) {
  std::string text;
  for (const auto& [name, value] : env) {
    if (!ValidEnvName(name)) {
      return InvalidArgument(
          "an environment variable's name has a character a container's environment file cannot "
          "carry (only printable ASCII without blanks, '=' or '*')");
    }
    if (value.find('\n') != std::string::npos || (!value.empty() && value.back() == '\r')) {
      return InvalidArgument("environment variable " + name +
                             ": a value with a line break cannot be passed to a container");
    }
    if (name.size() + 1 + value.size() > kMaxContainerEnvLine) {
      return InvalidArgument("environment variable " + name + ": a value of " +
                             std::to_string(value.size()) +
                             " bytes is more than podman's --env-file can carry (" +
                             std::to_string(kMaxContainerEnvLine) + " bytes with its name)");
    }
    text += name;
    text += '=';
    text += value;
    text += '\n';
  }
  return text;
}

StatusOr<std::vector<std::string>> PodmanRunArgv(const WorkerConfig& config, const JobStep& step,
                                                 const ContainerRunOptions& options) {
  const std::string& image = step.runtime.image;
  if (image.empty()) return InvalidArgument("a container job needs an image");
  if (image[0] == '-' || image.find_first_of(" \t\n\r") != std::string::npos) {
    return InvalidArgument("the image name must not start with '-' or hold blanks");
  }
  if (step.argv.empty()) return InvalidArgument("empty command");
  for (const auto& [what, path] :
       {std::pair<const char*, const std::string&>{"the workspace", step.workspace_dir},
        {"the artifacts directory", step.artifacts_dir},
        {"the working directory", step.working_dir}}) {
    if (Status s = CheckPath(what, path); !s.ok()) return s;
  }
  if (options.mount_log) {
    if (Status s = CheckPath("the log", step.log_path); !s.ok()) return s;
  }
  for (const std::string& path : step.read_only_paths) {
    if (Status s = CheckPath("a read-only path", path); !s.ok()) return s;
  }

  std::vector<std::string> argv = {config.podman};
  argv.insert(argv.end(), config.podman_args.begin(), config.podman_args.end());
  auto add = [&argv](std::initializer_list<std::string> items) {
    argv.insert(argv.end(), items.begin(), items.end());
  };
  // Signals go through `podman kill` (ContainerProcess), so the client forwards none.
  add({"run", "--rm", "--init", "--sig-proxy=false", "--name", options.name});
  if (!step.runtime.network) add({"--network", "none"});
  if (options.user.uid) {
    add({"--user", std::to_string(*options.user.uid) + ":" + std::to_string(*options.user.gid)});
  } else {
    add({"--userns=keep-id"});
  }
  add({"--cap-drop", "all", "--security-opt", "no-new-privileges", "--read-only", "--tmpfs",
       "/tmp:rw,nosuid,nodev,mode=1777"});
  // The container's environment is the env file's, nothing of podman's defaults, the image's
  // or the host's proxies.
  add({"--http-proxy=false", "--unsetenv-all", "--env-file", options.env_file});
  add({"--volume", step.workspace_dir + ":" + step.workspace_dir + ":rw"});
  add({"--volume", step.artifacts_dir + ":" + step.artifacts_dir + ":rw"});
  // Over the artifacts directory, which the job may write: it cannot replace its own log.
  if (options.mount_log) add({"--volume", step.log_path + ":" + step.log_path + ":ro"});
  for (const std::string& path : step.read_only_paths) add({"--volume", path + ":" + path + ":ro"});
  add({"--workdir", step.working_dir});

  const JobLimits& limits = step.runtime.limits;
  if (limits.memory_bytes) {
    std::string bytes = std::to_string(*limits.memory_bytes);
    add({"--memory", bytes, "--memory-swap", bytes});
  }
  if (limits.processes) add({"--pids-limit", std::to_string(*limits.processes)});
  add({"--ulimit", Ulimit("nofile", limits.open_files ? std::to_string(*limits.open_files)
                                                      : options.default_nofile)});
  // RLIMIT_NPROC counts every process of a user: it is the job's own only with a user of its
  // own; a rootless job shares the worker's.
  add({"--ulimit",
       Ulimit("nproc", limits.processes && options.user.uid ? std::to_string(*limits.processes)
                                                            : options.default_nproc)});
  if (limits.cpu_time) {
    auto seconds = std::chrono::ceil<std::chrono::seconds>(*limits.cpu_time).count();
    add({"--ulimit", Ulimit("cpu", std::to_string(seconds))});
  }
  if (limits.file_bytes) add({"--ulimit", Ulimit("fsize", std::to_string(*limits.file_bytes))});
  argv.push_back(image);
  // podman stops reading its own flags at the image: the command's arguments are the job's.
  argv.insert(argv.end(), step.argv.begin(), step.argv.end());
  return argv;
}

ContainerExecutor::ContainerExecutor(const WorkerConfig& config, ProcessRunner& runner)
    : config_(config), runner_(runner), shared_(std::make_shared<Shared>()) {}

ContainerExecutor::~ContainerExecutor() = default;

StatusOr<std::unique_ptr<Process>> ContainerExecutor::Start(const JobStep& step) {
  StatusOr<std::string> env_text = ContainerEnvFile(step.env);
  if (!env_text.ok()) return env_text.status();

  ContainerRunOptions options;
  options.name = ContainerName(step.name, shared_->started.fetch_add(1));
  options.env_file = kEnvFileFd;
  options.default_nofile = OwnHardLimit(RLIMIT_NOFILE, "1024");
  options.default_nproc = OwnHardLimit(RLIMIT_NPROC, "-1");
  struct stat log_stat {};
  options.mount_log = !step.log_path.empty() && ::lstat(step.log_path.c_str(), &log_stat) == 0 &&
                      S_ISREG(log_stat.st_mode);
  if (::geteuid() == 0) {
    options.user.uid = config_.job_uid_base + static_cast<uid_t>(step.slot);
    options.user.gid = *options.user.uid;
  }
  StatusOr<std::vector<std::string>> argv = PodmanRunArgv(config_, step, options);
  if (!argv.ok()) return argv.status();

  if (options.user.uid) {
    // The job's own user owns its directories (not their contents), as in the sandbox.
    for (const std::string& dir : {step.workspace_dir, step.artifacts_dir, step.working_dir}) {
      if (::chown(dir.c_str(), *options.user.uid, *options.user.gid) != 0) {
        return Internal("cannot give " + dir + " to the job's user " +
                        std::to_string(*options.user.uid) + ": " + std::strerror(errno));
      }
    }
  }

  ProcessSpec spec;
  spec.argv = std::move(*argv);
  spec.env = PodmanEnvironment();
  spec.working_dir = "/";
  spec.log_path = step.log_path;
  spec.output_fd = step.output_fd;
  // The env file lives in memory only and is gone when the last descriptor closes: podman reads
  // it at start, and nothing of it is left on a disk.
  int env_fd = MemoryFileWith(*env_text);
  if (env_fd < 0) {
    return ResourceExhausted(std::string("cannot hold the container's environment: ") +
                             std::strerror(errno));
  }
  spec.pass_fds = {env_fd};
  StatusOr<std::unique_ptr<Process>> client = runner_.Start(spec);
  ::close(env_fd);
  if (!client.ok()) return client.status();

  std::vector<std::string> podman = {config_.podman};
  podman.insert(podman.end(), config_.podman_args.begin(), config_.podman_args.end());
  return std::unique_ptr<Process>(std::make_unique<ContainerProcess>(
      std::move(*client), runner_, std::move(podman), spec.env, options.name, step.name, shared_));
}

Status ContainerExecutor::Probe(const WorkerConfig& config, ProcessRunner& runner) {
  ProcessSpec spec;
  spec.argv = {config.podman};
  spec.argv.insert(spec.argv.end(), config.podman_args.begin(), config.podman_args.end());
  spec.argv.push_back("info");
  spec.env = PodmanEnvironment();
  spec.working_dir = "/";
  // The first `podman info` on a host sets up its storage: give it time.
  StatusOr<ProcessExit> exit = RunAndWait(runner, spec, std::chrono::seconds(60));
  if (!exit.ok()) {
    return Unavailable("podman (worker.podman) cannot run: " + exit.status().message());
  }
  if (!exit->success()) {
    return Unavailable("podman info (worker.podman, worker.podman_args) ended with " +
                       exit->Describe() + ": podman is not usable on this host");
  }
  return Status::Ok();
}

std::vector<std::string> ContainerExecutor::Describe(const JobStep& step) const {
  ContainerRunOptions options;
  options.default_nofile = OwnHardLimit(RLIMIT_NOFILE, "1024");
  if (::geteuid() == 0) options.user.uid = config_.job_uid_base + static_cast<uid_t>(step.slot);
  std::string user = ::geteuid() == 0
                         ? "as user " + std::to_string(config_.job_uid_base + step.slot) +
                               " of its own (no user of the host)"
                         : "as the worker's user (rootless podman, --userns=keep-id)";
  return {
      "executor: container (podman): image " + step.runtime.image + ", " + user +
          ", no capabilities, no new privileges; its own PID, mount, IPC, UTS and network "
          "namespaces; it sees a read-only image with a private /tmp, its workspace and "
          "artifacts, and nothing else of the host; network: " +
          (step.runtime.network ? "podman's default network (not the host's loopback)" : "none"),
      DescribeLimits(step.runtime.limits, options),
      "the job's process tree ends with its container (PID namespace, catatonit as PID 1): "
      "SIGTERM reaches it through podman kill, a kill removes it (podman rm --force); exit codes "
      "125-127 are podman's own failures",
  };
}

std::string ContainerExecutor::LimitHit(const JobStep& step, const ProcessExit& exit) const {
  bool killed_by_worker = false;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    killed_by_worker = shared_->killed_steps.erase(step.name) > 0;
  }
  if (exit.signaled || killed_by_worker) return "";
  const JobLimits& limits = step.runtime.limits;
  if (exit.exit_code == kSignalExitBase + SIGKILL && limits.memory_bytes) {
    // podman run --rm leaves no container to inspect for State.OOMKilled. A SIGKILL the worker
    // did not send is most likely the OOM killer of the container's cgroup (the job may also
    // have sent it to itself).
    return "killed by SIGKILL in the container: the memory limit " +
           FormatBytes(*limits.memory_bytes) + " was most likely reached";
  }
  if (exit.exit_code == kSignalExitBase + SIGXCPU && limits.cpu_time) {
    return "CPU time limit " + FormatDuration(*limits.cpu_time) + " reached";
  }
  if (exit.exit_code == kSignalExitBase + SIGXFSZ && limits.file_bytes) {
    return "file size limit " + FormatBytes(*limits.file_bytes) + " reached";
  }
  if (exit.exit_code >= 125 && exit.exit_code <= 127) return "";  // podman's own errors
  // A fork or an allocation refused by the container's cgroup is seen by the job alone: name the
  // limits it ran under, for whoever reads why it failed.
  std::string out = "it ran under the container's limits of memory ";
  out += limits.memory_bytes ? FormatBytes(*limits.memory_bytes) : "unlimited";
  out += ", ";
  out +=
      limits.processes ? std::to_string(*limits.processes) + " processes" : "processes unlimited";
  return out;
}

}  // namespace sluice
