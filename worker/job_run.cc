#include "worker/job_run.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/log.h"
#include "worker/checkout.h"
#include "worker/job_environment.h"
#include "worker/job_secrets.h"

namespace sluice {
namespace fs = std::filesystem;

namespace {

// A checkout of a local repository (file:// or a path) reads it: the sandbox shows it read-only.
std::vector<std::string> LocalRepository(const std::string& uri) {
  std::string path = uri.rfind("file://", 0) == 0 ? uri.substr(7) : uri;
  if (path.empty() || path.front() != '/') return {};
  std::error_code ec;
  if (!fs::exists(path, ec)) return {};
  return {path};
}

}  // namespace

JobRun::JobRun(Params params, Executor& executor, Executor& checkout)
    : params_(std::move(params)), executor_(executor), checkout_(checkout) {
  runtime_ = params_.job->runtime;
  runtime_.limits = runtime_.limits.Over(params_.worker.limits);
}

JobRun::~JobRun() {
  KillNow();
  SetProcess(nullptr);
  if (output_fd_ >= 0) ::close(output_fd_);
}

void JobRun::SetProcess(std::unique_ptr<Process> process) {
  if (process_fd_ >= 0) ::close(process_fd_);
  process_fd_ = -1;
  process_ = std::move(process);
  // Opened while the child is not reaped yet (only Poll() reaps it), so the pid is still its.
  if (process_ && process_->pid() > 0) {
    process_fd_ = static_cast<int>(::syscall(SYS_pidfd_open, process_->pid(), 0));  // CLOEXEC
  }
}

bool JobRun::AddWaitFds(std::vector<int>* fds) const {
  if (output_fd_ >= 0) fds->push_back(output_fd_);
  if (starting_.valid()) return static_cast<bool>(params_.on_started);  // it wakes the caller
  if (!process_) return true;
  if (process_fd_ < 0) return false;
  fds->push_back(process_fd_);
  return true;
}

void JobRun::AppendToLog(const std::string& line) {
  if (log_) log_->Note(line);
}

void JobRun::DrainOutput(bool until_end) {
  if (output_fd_ < 0) return;
  char buffer[64 * 1024];
  // A step's output arrives while the worker's loop turns; one turn takes at most this much, so
  // that a chatty job cannot hold the loop (the pipe holds the rest).
  size_t budget = until_end ? SIZE_MAX : 4u << 20;
  while (budget > 0) {
    ssize_t n = ::read(output_fd_, buffer, sizeof buffer);
    if (n > 0) {
      if (log_) log_->Output(std::string_view(buffer, static_cast<size_t>(n)));
      budget -= std::min(budget, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // EOF: every writer is gone. EAGAIN at the end: a writer the tree kill did not reach (it
    // cannot write to the log any more once the descriptor is closed).
    if (n == 0 || until_end) {
      ::close(output_fd_);
      output_fd_ = -1;
      if (log_) log_->Flush();
    }
    return;
  }
}

JobStep JobRun::StepFor(const Step& step) const {
  JobStep s;
  s.argv = step.argv;
  s.env = env_;
  // Its directory, as a shell would export it; bwrap sets it anyway, so every executor gives it.
  s.env["PWD"] = step.working_dir;
  s.working_dir = step.working_dir;
  s.workspace_dir = workspace_dir_;
  s.artifacts_dir = artifacts_dir_;
  s.log_path = log_path_;
  s.read_only_paths = step.read_only_paths;
  s.name =
      params_.trigger.id + "-" + std::to_string(params_.attempt) + "-" + std::to_string(next_step_);
  s.slot = params_.slot;
  s.runtime = runtime_;
  if (step.checkout) {
    s.runtime.network = true;  // a checkout fetches; the job's own step may not
    s.runtime.image.clear();
  }
  return s;
}

std::string JobRun::LogTailSince(long long offset) const {
  std::ifstream in(log_path_, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  long long size = in.tellg();
  long long from = std::max(offset, size - 2000);
  in.seekg(from);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The last few non-empty lines, joined.
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.rfind("[sluice]", 0) != 0) lines.push_back(line);
    start = end + 1;
  }
  std::string out;
  size_t first = lines.size() > 3 ? lines.size() - 3 : 0;
  for (size_t i = first; i < lines.size(); ++i) out += (out.empty() ? "" : " | ") + lines[i];
  return out;
}

void JobRun::Start(TimePoint now) {
  const JobConfig& job = *params_.job;
  const Trigger& t = params_.trigger;
  start_time_ = now;
  deadline_ = now + job.timeout;
  workspace_dir_ =
      (fs::path(params_.worker.workspace) / (t.id + "-" + std::to_string(params_.attempt)))
          .string();
  artifacts_dir_ = ArtifactsPathFor(params_.worker.artifacts, t.job_name, t.id);
  log_path_ = artifacts_dir_ + "/build-log.txt";

  std::error_code ec;
  fs::remove_all(workspace_dir_, ec);
  fs::create_directories(workspace_dir_, ec);
  if (ec)
    return Finish(now, JobStatus::kError,
                  "cannot create workspace " + workspace_dir_ + ": " + ec.message());
  fs::create_directories(artifacts_dir_, ec);
  if (ec)
    return Finish(now, JobStatus::kError,
                  "cannot create artifacts directory " + artifacts_dir_ + ": " + ec.message());
  // The job's secrets, read now on this worker; their values, and the project's masked
  // variables, never reach the log.
  auto secrets =
      ResolveJobSecrets(runtime_, params_.pipeline ? params_.pipeline->project : nullptr);
  std::map<std::string, std::string> secret_values;
  if (secrets.ok()) {
    secret_values = std::move(secrets->env);
    masked_ = std::move(secrets->masked_values);
  }
  // GitLab masks the job token too: it is a credential of the job's own API calls.
  if (params_.pipeline && !params_.pipeline->context.job_token.empty()) {
    masked_.push_back(params_.pipeline->context.job_token);
  }
  auto log = JobLog::Open(log_path_, params_.worker.max_log_bytes, masked_);
  if (!log.ok()) {
    return Finish(now, JobStatus::kError, "cannot open the job's log: " + log.status().message());
  }
  log_ = std::move(*log);
  AppendToLog("attempt " + std::to_string(params_.attempt) + " of " + t.job_name + " (" + t.id +
              ") on worker " + params_.worker_id);
  if (!secrets.ok()) {
    return Finish(now, JobStatus::kError,
                  "cannot give the job its secrets: " + secrets.status().message());
  }
  for (const std::string& name : secrets->unmasked_names) {
    AppendToLog("secret " + name + " is shorter than " + std::to_string(kMinMaskedBytes) +
                " bytes: it is not masked in this log");
  }

  if (params_.pipeline) {
    auto& pipeline = *params_.pipeline;
    if (!pipeline.payload.empty()) {
      pipeline.context.payload_path = workspace_dir_ + "/trigger_payload.json";
      std::ofstream(pipeline.context.payload_path) << pipeline.payload;
    }
    env_ = BuildPipelineJobEnvironment(*pipeline.project, *pipeline.job, pipeline.context, t.id,
                                       workspace_dir_, artifacts_dir_, params_.inherited_path);
  } else {
    env_ = BuildJobEnvironment(job, t, workspace_dir_, artifacts_dir_, params_.inherited_path);
  }
  for (auto& [name, value] : secret_values) env_[name] = std::move(value);
  std::string command_dir = workspace_dir_;
  if (job.clone) {
    if (!t.refs)
      return Finish(now, JobStatus::kError,
                    "job " + job.name + " clones its repository but the trigger has no refs");
    std::string src = workspace_dir_ + "/src";
    fs::create_directories(src, ec);
    std::ofstream(workspace_dir_ + "/.sluice-checkout.gitconfig") << "[safe]\n\tdirectory = *\n";
    auto commands = CheckoutCommands(*t.refs, src);
    if (!commands.ok())
      return Finish(now, JobStatus::kError, "cannot check out: " + commands.status().message());
    for (auto& argv : *commands) {
      steps_.push_back({std::move(argv), src, true, LocalRepository(CloneUri(*t.refs))});
    }
    command_dir = src;
  }
  steps_.push_back({job.command, command_dir, false, {}});
  // The log's head says what isolates the job and which limits apply, as each executor has it.
  if (steps_.front().checkout && &checkout_ != &executor_) {
    for (const std::string& line : checkout_.Describe(StepFor(steps_.front()))) {
      AppendToLog("checkout " + line);
    }
  }
  for (const std::string& line : executor_.Describe(StepFor(steps_.back()))) AppendToLog(line);
  StartStep(now);
}

void JobRun::StartStep(TimePoint now) {
  const Step& step = steps_[next_step_];
  std::error_code ec;
  step_log_offset_ = static_cast<long long>(fs::file_size(log_path_, ec));
  if (ec) step_log_offset_ = 0;
  if (!step.checkout && params_.pipeline && env_["CI_COMMIT_SHA"].empty()) {
    // A pipeline of a branch or tag name: the checkout just made tells which commit it is.
    std::ifstream head(step.working_dir + "/.git/HEAD");
    std::string sha;
    if (head >> sha && sha.size() == 40 &&
        sha.find_first_not_of("0123456789abcdef") == std::string::npos) {
      env_["CI_COMMIT_SHA"] = sha;
    } else {
      env_.erase("CI_COMMIT_SHA");
    }
  }
  JobStep spec = StepFor(step);
  if (step.checkout) {
    spec.env["GIT_TERMINAL_PROMPT"] = "0";  // fail instead of asking for a password
    // A local repository belongs to another user than the job's (its own, in a sandbox): git
    // would refuse to fetch from it ("dubious ownership"). The checkout runs sandboxed, on
    // directories of its own, so the check protects nothing here. Global config, since git
    // clears command-line and environment config for a local fetch's upload-pack.
    spec.env["GIT_CONFIG_GLOBAL"] = workspace_dir_ + "/.sluice-checkout.gitconfig";
  }
  if (step.checkout)
    AppendToLog("checkout: " + step.argv[0] + " " + (step.argv.size() > 1 ? step.argv[1] : ""));
  // The step's output reaches the log through a pipe the worker reads (masking, the cap).
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Finish(now, JobStatus::kError,
                  std::string("cannot create the job's output pipe: ") + std::strerror(errno));
  }
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  ::fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);  // a larger buffer where allowed; not needed
  spec.output_fd = fds[1];
  output_fd_ = fds[0];
  Executor& executor = step.checkout ? checkout_ : executor_;
  auto start = [&executor, spec = std::move(spec)]() {
    auto process = executor.Start(spec);
    ::close(spec.output_fd);  // the child has its own copy now
    return process;
  };
  if (!params_.starter || !params_.on_started) {  // started here, the caller waits for it
    std::promise<StatusOr<std::unique_ptr<Process>>> started;
    started.set_value(start());
    starting_ = started.get_future();
    TakeStarted(now);
    return;
  }
  // The result is set before the caller is told, so that the Tick it makes then finds it.
  // Nothing of this run is touched on the starter's thread: a run destroyed meanwhile waits for
  // the result first (KillNow).
  auto result = std::make_shared<std::promise<StatusOr<std::unique_ptr<Process>>>>();
  starting_ = result->get_future();
  params_.starter->Post([start = std::move(start), result, notify = params_.on_started]() {
    result->set_value(start());
    notify();
  });
}

bool JobRun::TakeStarted(TimePoint now) {
  if (!starting_.valid()) return process_ != nullptr;
  if (starting_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    return false;
  }
  auto process = starting_.get();
  if (!process.ok()) {
    DrainOutput(true);
    Finish(
        now, JobStatus::kError,
        (steps_[next_step_].checkout ? "checkout failed: " : "cannot start the job's command: ") +
            process.status().message());
    return false;
  }
  SetProcess(std::move(*process));
  // Stopped while it was starting: the stop reaches it now.
  if (stop_status_) process_->SignalGroup(SIGTERM);
  return true;
}

bool JobRun::Tick(TimePoint now) {
  if (finished_) return true;
  if (starting_.valid() && !TakeStarted(now)) return finished_;
  if (!process_) return finished_;
  DrainOutput(false);
  if (auto exit = process_->Poll()) {
    SetProcess(nullptr);
    DrainOutput(true);
    const Step& step = steps_[next_step_];
    if (stop_status_) {
      Finish(now, *stop_status_, stop_reason_);
    } else if (!exit->success()) {
      if (step.checkout) {
        Finish(now, JobStatus::kError,
               "checkout failed (" + exit->Describe() + "): " + LogTailSince(step_log_offset_));
      } else {
        std::string hit = executor_.LimitHit(StepFor(step), *exit);
        Finish(
            now, JobStatus::kFailure,
            "the job's command ended with " + exit->Describe() + (hit.empty() ? "" : ": " + hit));
      }
    } else if (++next_step_ < steps_.size()) {
      StartStep(now);
    } else {
      Finish(now, JobStatus::kSuccess, "");
    }
    return finished_;
  }
  if (!stop_status_ && deadline_ && now >= *deadline_) {
    Stop(now, JobStatus::kFailure, "timed out after " + FormatDuration(params_.job->timeout));
  }
  if (kill_at_ && now >= *kill_at_) {
    process_->SignalGroup(SIGKILL);
    kill_at_.reset();
  }
  return finished_;
}

void JobRun::Stop(TimePoint now, JobStatus final_status, std::string reason,
                  std::optional<Duration> kill_after) {
  if (finished_ || stop_status_) return;
  stop_status_ = final_status;
  stop_reason_ = std::move(reason);
  AppendToLog("stopping: " + stop_reason_);
  if (process_ || starting_.valid()) {
    if (process_) process_->SignalGroup(SIGTERM);  // else once it has started (TakeStarted)
    kill_at_ = now + kill_after.value_or(params_.worker.kill_grace);
  } else {
    Finish(now, final_status, stop_reason_);
  }
}

void JobRun::KillNow() {
  if (starting_.valid()) {  // wait for it, to kill it
    auto process = starting_.get();
    if (process.ok()) SetProcess(std::move(*process));
  }
  if (process_) {
    process_->SignalGroup(SIGKILL);
    SetProcess(nullptr);  // the destructor reaps it
  }
}

void JobRun::Finish(TimePoint now, JobStatus status, std::string message) {
  finished_ = true;
  status_ = status;
  message_ = std::move(message);
  completion_time_ = now;
  DrainOutput(true);
  AppendToLog(std::string("finished: ") + JobStatusName(status) +
              (message_.empty() ? "" : " (" + message_ + ")"));
  log_.reset();
  // The workspace is scratch space, kept only for a failure when the worker keeps some; the log
  // stays in artifacts.
  if (workspace_dir_.empty()) return;
  if (params_.janitor != nullptr) {
    Status kept =
        params_.janitor->RunEnded(fs::path(workspace_dir_).filename().string(), status, now);
    if (!kept.ok()) LogWarn("worker", "workspace " + workspace_dir_ + ": " + kept.message());
  } else {
    std::error_code ec;
    fs::remove_all(workspace_dir_, ec);
  }
}

}  // namespace sluice
