#include "worker/job_run.h"

#include <csignal>
#include <filesystem>
#include <fstream>

#include "common/log.h"
#include "worker/checkout.h"
#include "worker/job_environment.h"

namespace sluice {
namespace fs = std::filesystem;

JobRun::JobRun(Params params, ProcessRunner& runner)
    : params_(std::move(params)), runner_(runner) {}

JobRun::~JobRun() { KillNow(); }

void JobRun::AppendToLog(const std::string& line) {
  std::ofstream out(log_path_, std::ios::app);
  out << "[sluice] " << line << "\n";
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
  AppendToLog("attempt " + std::to_string(params_.attempt) + " of " + t.job_name + " (" + t.id +
              ") on worker " + params_.worker_id);
  AppendToLog("the job's process tree ends with it by " + runner_.TreeMechanism());

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
  std::string command_dir = workspace_dir_;
  if (job.clone) {
    if (!t.refs)
      return Finish(now, JobStatus::kError,
                    "job " + job.name + " clones its repository but the trigger has no refs");
    std::string src = workspace_dir_ + "/src";
    fs::create_directories(src, ec);
    auto commands = CheckoutCommands(*t.refs, src);
    if (!commands.ok())
      return Finish(now, JobStatus::kError, "cannot check out: " + commands.status().message());
    for (auto& argv : *commands) steps_.push_back({std::move(argv), src, true});
    command_dir = src;
  }
  steps_.push_back({job.command, command_dir, false});
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
  ProcessSpec spec{step.argv, env_, step.working_dir, log_path_};
  if (step.checkout)
    spec.env["GIT_TERMINAL_PROMPT"] = "0";  // fail instead of asking for a password
  if (step.checkout)
    AppendToLog("checkout: " + step.argv[0] + " " + (step.argv.size() > 1 ? step.argv[1] : ""));
  auto process = runner_.Start(spec);
  if (!process.ok()) {
    return Finish(now, JobStatus::kError,
                  (step.checkout ? "checkout failed: " : "cannot start the job's command: ") +
                      process.status().message());
  }
  process_ = std::move(*process);
}

bool JobRun::Tick(TimePoint now) {
  if (finished_) return true;
  if (!process_) return finished_;
  if (auto exit = process_->Poll()) {
    process_.reset();
    const Step& step = steps_[next_step_];
    if (stop_status_) {
      Finish(now, *stop_status_, stop_reason_);
    } else if (!exit->success()) {
      if (step.checkout) {
        Finish(now, JobStatus::kError,
               "checkout failed (" + exit->Describe() + "): " + LogTailSince(step_log_offset_));
      } else {
        Finish(now, JobStatus::kFailure, "the job's command ended with " + exit->Describe());
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
  if (process_) {
    process_->SignalGroup(SIGTERM);
    kill_at_ = now + kill_after.value_or(params_.worker.kill_grace);
  } else {
    Finish(now, final_status, stop_reason_);
  }
}

void JobRun::KillNow() {
  if (process_) {
    process_->SignalGroup(SIGKILL);
    process_.reset();  // the destructor reaps it
  }
}

void JobRun::Finish(TimePoint now, JobStatus status, std::string message) {
  finished_ = true;
  status_ = status;
  message_ = std::move(message);
  completion_time_ = now;
  if (!log_path_.empty() && fs::exists(fs::path(log_path_).parent_path())) {
    AppendToLog(std::string("finished: ") + JobStatusName(status) +
                (message_.empty() ? "" : " (" + message_ + ")"));
  }
  // The workspace is scratch space; the log stays in artifacts.
  std::error_code ec;
  if (!workspace_dir_.empty()) fs::remove_all(workspace_dir_, ec);
}

}  // namespace sluice
