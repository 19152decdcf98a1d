#pragma once

// How a GitLab-style pipeline moves on: given its stages and jobs (config) and what became of
// each job so far, which jobs start now, which wait for a play, which are skipped, and the
// pipeline's status. Pure, so that the rules are tested without Kafka; whoever owns a pipeline
// (issue 4: the worker that owns its partition) applies them each time a job's state changes.
//
// The rules, as GitLab's:
//   - stages run in order; a stage's jobs run in parallel;
//   - `on_success` jobs start once every earlier stage is done and none of its jobs failed
//     (a failed job with allow_failure counts as passed); after a failure they are skipped;
//   - `always` jobs start once every earlier stage is done, whatever happened there;
//   - `manual` jobs wait in `manual` once their stage is reached (skipped after a failure, as
//     on_success jobs). An optional manual job (allow_failure, the default) does not hold later
//     stages back; a required one (allow_failure: false) does, and the pipeline shows `manual`;
//   - a canceled job ends its pipeline: nothing further starts.

#include <map>
#include <string>
#include <vector>

#include "common/config.h"

namespace sluice {

// GitLab's job statuses (the subset Sluice produces).
enum class PipelineJobStatus {
  kCreated,  // not started: its stage is not reached yet
  kPending,  // triggered, waiting for a worker
  kRunning,
  kSuccess,
  kFailed,
  kCanceled,
  kSkipped,
  kManual,  // waiting to be played
};
const char* PipelineJobStatusName(PipelineJobStatus s);

// GitLab's pipeline statuses (the subset Sluice produces).
enum class PipelineStatus { kCreated, kPending, kRunning, kSuccess, kFailed, kCanceled, kManual };
const char* PipelineStatusName(PipelineStatus s);

struct PipelineStep {
  std::vector<std::string> start;   // trigger these jobs now
  std::vector<std::string> manual;  // mark these `manual` (waiting for a play)
  std::vector<std::string> skip;    // mark these `skipped`
  PipelineStatus status = PipelineStatus::kCreated;
  bool finished = false;  // nothing will change unless someone plays or retries a job
};

// `jobs`: the status of each job of the pipeline by name; a job not in the map is `created`.
PipelineStep NextPipelineStep(const ProjectConfig& project,
                              const std::map<std::string, PipelineJobStatus>& jobs);

}  // namespace sluice
