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

// Prow's PULL_REFS: "base_ref:base_sha,number:sha,..." ("base_ref" alone without base_sha; a
// pull with a ref gets it appended as "number:sha:ref"), as Prow's Refs.String() writes it.
std::string PullRefsString(const Refs& refs);

// Prow's JOB_SPEC: {"type":..,"job":..,"buildid":..,"prowjobid":..,"refs":{..}}, "refs" only when
// the trigger has refs.
std::string JobSpecJson(const std::string& job_name, JobType type, const std::string& id,
                        const std::optional<Refs>& refs);

}  // namespace sluice
