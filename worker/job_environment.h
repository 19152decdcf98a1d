#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/config.h"
#include "common/execution.h"

namespace sluice {

// The complete environment of a job's process (nothing else is inherited), built in layers where
// a later layer wins over an earlier one:
//   1. base: PATH (inherited_path, or "/usr/local/bin:/usr/bin:/bin" when empty),
//      HOME=workspace_dir, LANG=C.UTF-8;
//   2. job.env from the configuration;
//   3. the job variables Prow's pods get (JOB_NAME, JOB_TYPE, BUILD_ID, PROW_JOB_ID, JOB_SPEC, and
//      with refs REPO_OWNER, REPO_NAME, PULL_BASE_REF, PULL_BASE_SHA, PULL_REFS, and with at least
//      one pull PULL_NUMBER and PULL_PULL_SHA of the first pull), plus Sluice's own
//      SLUICE_EXECUTION_ID and ARTIFACTS=artifacts_dir;
//   4. the request's overrides, trigger.pod_spec_options.envs. They are not filtered here: the
//      gateway admits only names the job's allow_env_override permits.
// JOB_TYPE is the trigger's type, or the job's when the trigger does not say.
std::map<std::string, std::string> BuildJobEnvironment(const JobConfig& job, const Trigger& trigger,
                                                       const std::string& workspace_dir,
                                                       const std::string& artifacts_dir,
                                                       const std::string& inherited_path);

// What a job of a GitLab-style pipeline knows of its pipeline.
struct PipelineJobContext {
  int64_t pipeline_id = 0;
  int64_t pipeline_iid = 0;
  int64_t job_id = 0;
  std::string source = "trigger";  // "trigger", or "pipeline" when triggered with a job token
  std::string ref;
  std::string sha;                               // empty when unknown
  std::map<std::string, std::string> variables;  // of the trigger, or of the play call
  std::string payload_path;  // TRIGGER_PAYLOAD: a file holding the request without its token
  std::string job_token;     // CI_JOB_TOKEN, valid while the job runs
  std::string server_url;    // gateway.public_url: CI_SERVER_URL, CI_API_V4_URL, CI_PROJECT_URL
};

// The environment of a pipeline job, in layers where a later one wins (GitLab's precedence):
//   1. base: PATH, HOME=workspace_dir, LANG=C.UTF-8;
//   2. GitLab's predefined variables: CI_PIPELINE_SOURCE, CI_PIPELINE_TRIGGERED (for "trigger"),
//      CI_PIPELINE_IID, CI_JOB_NAME, CI_JOB_STAGE, CI_PROJECT_ID, CI_PROJECT_PATH,
//      CI_COMMIT_REF_NAME, CI_COMMIT_SHA (when known), CI_SERVER_URL, CI_API_V4_URL and
//      CI_PROJECT_URL (from the gateway's public URL, when known), and ARTIFACTS;
//   3. the job's own env; 4. the project's variables; 5. the trigger's or play call's variables;
//   6. what identifies this run and may not be overridden: CI_PIPELINE_ID, CI_JOB_ID,
//      CI_JOB_TOKEN, TRIGGER_PAYLOAD (when there is a payload) and SLUICE_EXECUTION_ID.
std::map<std::string, std::string> BuildPipelineJobEnvironment(
    const ProjectConfig& project, const PipelineJobConfig& job, const PipelineJobContext& context,
    const std::string& execution_id, const std::string& workspace_dir,
    const std::string& artifacts_dir, const std::string& inherited_path);

// Prow's PULL_REFS: "base_ref:base_sha,number:sha,..." ("base_ref" alone without base_sha; a
// pull with a ref gets it appended as "number:sha:ref"), as Prow's Refs.String() writes it.
std::string PullRefsString(const Refs& refs);

// Prow's JOB_SPEC: {"type":..,"job":..,"buildid":..,"prowjobid":..,"refs":{..}}, "refs" only when
// the trigger has refs.
std::string JobSpecJson(const std::string& job_name, JobType type, const std::string& id,
                        const std::optional<Refs>& refs);

}  // namespace sluice
