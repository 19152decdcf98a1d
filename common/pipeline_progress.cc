#include "common/pipeline_progress.h"

namespace sluice {

const char* PipelineJobStatusName(PipelineJobStatus s) {
  switch (s) {
    case PipelineJobStatus::kCreated:
      return "created";
    case PipelineJobStatus::kPending:
      return "pending";
    case PipelineJobStatus::kRunning:
      return "running";
    case PipelineJobStatus::kSuccess:
      return "success";
    case PipelineJobStatus::kFailed:
      return "failed";
    case PipelineJobStatus::kCanceled:
      return "canceled";
    case PipelineJobStatus::kSkipped:
      return "skipped";
    case PipelineJobStatus::kManual:
      return "manual";
  }
  return "created";
}

const char* PipelineStatusName(PipelineStatus s) {
  switch (s) {
    case PipelineStatus::kCreated:
      return "created";
    case PipelineStatus::kPending:
      return "pending";
    case PipelineStatus::kRunning:
      return "running";
    case PipelineStatus::kSuccess:
      return "success";
    case PipelineStatus::kFailed:
      return "failed";
    case PipelineStatus::kCanceled:
      return "canceled";
    case PipelineStatus::kManual:
      return "manual";
  }
  return "created";
}

namespace {

bool Active(PipelineJobStatus s) {
  return s == PipelineJobStatus::kPending || s == PipelineJobStatus::kRunning;
}

}  // namespace

PipelineStep NextPipelineStep(const ProjectConfig& project,
                              const std::map<std::string, PipelineJobStatus>& jobs) {
  PipelineStep step;
  // Each job's status once this step's decisions are applied.
  std::map<std::string, PipelineJobStatus> after;
  bool canceled = false;
  for (const PipelineJobConfig& job : project.jobs) {
    auto it = jobs.find(job.name);
    after[job.name] = it == jobs.end() ? PipelineJobStatus::kCreated : it->second;
    canceled |= after[job.name] == PipelineJobStatus::kCanceled;
  }

  bool earlier_failed = false;    // a job of an earlier stage failed without allow_failure
  bool held_back = canceled;      // an earlier stage is not done: nothing later may start
  bool waiting_for_play = false;  // a required manual job holds the pipeline
  for (const std::string& stage : project.stages) {
    if (!held_back) {
      for (const PipelineJobConfig& job : project.jobs) {
        if (job.stage != stage || after[job.name] != PipelineJobStatus::kCreated) continue;
        if (job.when == JobWhen::kAlways) {
          step.start.push_back(job.name);
          after[job.name] = PipelineJobStatus::kPending;
        } else if (earlier_failed) {
          step.skip.push_back(job.name);
          after[job.name] = PipelineJobStatus::kSkipped;
        } else if (job.when == JobWhen::kManual) {
          step.manual.push_back(job.name);
          after[job.name] = PipelineJobStatus::kManual;
        } else {
          step.start.push_back(job.name);
          after[job.name] = PipelineJobStatus::kPending;
        }
      }
    }
    bool stage_done = true;
    for (const PipelineJobConfig& job : project.jobs) {
      if (job.stage != stage) continue;
      PipelineJobStatus s = after[job.name];
      if (s == PipelineJobStatus::kCreated || Active(s)) stage_done = false;
      if (s == PipelineJobStatus::kManual && !job.allow_failure) {
        stage_done = false;
        waiting_for_play = true;
      }
      if (s == PipelineJobStatus::kFailed && !job.allow_failure) earlier_failed = true;
    }
    if (!stage_done) held_back = true;
  }

  bool running = false, pending = false, failed = false, started = false;
  for (const PipelineJobConfig& job : project.jobs) {
    PipelineJobStatus s = after[job.name];
    running |= s == PipelineJobStatus::kRunning;
    pending |= s == PipelineJobStatus::kPending;
    failed |= s == PipelineJobStatus::kFailed && !job.allow_failure;
    started |= s != PipelineJobStatus::kCreated;
  }
  if (running) {
    step.status = PipelineStatus::kRunning;
  } else if (pending) {
    step.status = PipelineStatus::kPending;
  } else if (canceled) {
    step.status = PipelineStatus::kCanceled;
  } else if (waiting_for_play) {
    step.status = PipelineStatus::kManual;
  } else if (failed) {
    step.status = PipelineStatus::kFailed;
  } else if (!started) {
    step.status = PipelineStatus::kCreated;
  } else {
    step.status = PipelineStatus::kSuccess;
  }
  step.finished = !running && !pending;
  return step;
}

}  // namespace sluice
