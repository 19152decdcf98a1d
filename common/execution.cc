#include "common/execution.h"

namespace sluice {

const char* JobTypeName(JobType type) {
  switch (type) {
    case JobType::kPeriodic:
      return "PERIODIC";
    case JobType::kPostsubmit:
      return "POSTSUBMIT";
    case JobType::kPresubmit:
      return "PRESUBMIT";
    case JobType::kUnspecified:
      break;
  }
  return "JOB_EXECUTION_TYPE_UNSPECIFIED";
}

const char* JobTypeConfigName(JobType type) {
  switch (type) {
    case JobType::kPeriodic:
      return "periodic";
    case JobType::kPostsubmit:
      return "postsubmit";
    case JobType::kPresubmit:
      return "presubmit";
    case JobType::kUnspecified:
      break;
  }
  return "unspecified";
}

std::optional<JobType> JobTypeFromName(std::string_view name) {
  for (JobType t : {JobType::kPeriodic, JobType::kPostsubmit, JobType::kPresubmit}) {
    if (name == JobTypeName(t) || name == JobTypeConfigName(t)) return t;
  }
  if (name == "JOB_EXECUTION_TYPE_UNSPECIFIED") return JobType::kUnspecified;
  return std::nullopt;
}

const char* JobStatusName(JobStatus status) {
  switch (status) {
    case JobStatus::kTriggered:
      return "TRIGGERED";
    case JobStatus::kPending:
      return "PENDING";
    case JobStatus::kSuccess:
      return "SUCCESS";
    case JobStatus::kFailure:
      return "FAILURE";
    case JobStatus::kAborted:
      return "ABORTED";
    case JobStatus::kError:
      return "ERROR";
    case JobStatus::kUnspecified:
      break;
  }
  return "JOB_EXECUTION_STATUS_UNSPECIFIED";
}

std::optional<JobStatus> JobStatusFromName(std::string_view name) {
  for (JobStatus s : {JobStatus::kTriggered, JobStatus::kPending, JobStatus::kSuccess,
                      JobStatus::kFailure, JobStatus::kAborted, JobStatus::kError}) {
    if (name == JobStatusName(s)) return s;
  }
  return std::nullopt;
}

bool IsTerminal(JobStatus status) {
  return status == JobStatus::kSuccess || status == JobStatus::kFailure ||
         status == JobStatus::kAborted || status == JobStatus::kError;
}

std::string_view ExecutionSource(std::string_view id, std::string_view client) {
  if (client.starts_with("webhook:")) return "webhook";
  bool digits = !id.empty();
  for (char c : id) digits = digits && c >= '0' && c <= '9';
  return digits ? "pipeline" : "api";
}

Execution Execution::FromTrigger(const Trigger& trigger, std::string gcs_path) {
  Execution e;
  e.id = trigger.id;
  e.job_name = trigger.job_name;
  e.job_type = trigger.job_type;
  e.job_status = JobStatus::kTriggered;
  e.refs = trigger.refs;
  e.pod_spec_options = trigger.pod_spec_options;
  e.gcs_path = std::move(gcs_path);
  e.create_time = trigger.create_time;
  e.client = trigger.client;
  e.fingerprint = trigger.fingerprint;
  e.pipeline_id = trigger.pipeline_id;
  e.project_id = trigger.project_id;
  return e;
}

std::string CloneUri(const Refs& refs) {
  if (!refs.clone_uri.empty()) return refs.clone_uri;
  if (!refs.repo_link.empty()) return refs.repo_link;
  if (refs.org.empty() || refs.repo.empty()) return "";
  return "https://github.com/" + refs.org + "/" + refs.repo;
}

std::string ArtifactsPathFor(const std::string& artifacts_root, const std::string& job_name,
                             const std::string& id) {
  std::string root = artifacts_root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root + "/" + job_name + "/" + id;
}

ExecutionState ExecutionState::Of(const Execution& e) {
  ExecutionState s;
  s.job_status = e.job_status;
  s.attempt = e.attempt;
  s.worker = e.worker;
  s.create_time = e.create_time;
  s.start_time = e.start_time;
  s.completion_time = e.completion_time;
  s.heartbeat_time = e.heartbeat_time;
  s.seen_time = e.seen_time;
  return s;
}

}  // namespace sluice
