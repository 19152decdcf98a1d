#include "worker/job_environment.h"

#include <rapidjson/stringbuffer.h>

#include "common/json_codec.h"

namespace sluice {
namespace {

constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";

}  // namespace

std::string PullRefsString(const Refs& refs) {
  std::string text = refs.base_ref;
  if (!refs.base_sha.empty()) text += ":" + refs.base_sha;
  for (const Pull& pull : refs.pulls) {
    text += "," + std::to_string(pull.number) + ":" + pull.sha;
    if (!pull.ref.empty()) text += ":" + pull.ref;
  }
  return text;
}

std::string JobSpecJson(const std::string& job_name, JobType type, const std::string& id,
                        const std::optional<Refs>& refs) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("type");
  w.String(JobTypeConfigName(type));
  w.Key("job");
  w.String(job_name.c_str(), static_cast<rapidjson::SizeType>(job_name.size()));
  w.Key("buildid");
  w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
  w.Key("prowjobid");
  w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
  if (refs.has_value()) {
    w.Key("refs");
    WriteRefs(w, *refs);
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::map<std::string, std::string> BuildJobEnvironment(const JobConfig& job, const Trigger& trigger,
                                                       const std::string& workspace_dir,
                                                       const std::string& artifacts_dir,
                                                       const std::string& inherited_path) {
  std::map<std::string, std::string> env;
  env["PATH"] = inherited_path.empty() ? kDefaultPath : inherited_path;
  env["HOME"] = workspace_dir;
  env["LANG"] = "C.UTF-8";

  for (const auto& [name, value] : job.env) env[name] = value;

  JobType type = trigger.job_type != JobType::kUnspecified ? trigger.job_type : job.type;
  const std::string& job_name = trigger.job_name.empty() ? job.name : trigger.job_name;
  env["JOB_NAME"] = job_name;
  env["JOB_TYPE"] = JobTypeConfigName(type);
  env["BUILD_ID"] = trigger.id;
  env["PROW_JOB_ID"] = trigger.id;
  env["JOB_SPEC"] = JobSpecJson(job_name, type, trigger.id, trigger.refs);
  if (trigger.refs.has_value()) {
    const Refs& refs = *trigger.refs;
    env["REPO_OWNER"] = refs.org;
    env["REPO_NAME"] = refs.repo;
    env["PULL_BASE_REF"] = refs.base_ref;
    env["PULL_BASE_SHA"] = refs.base_sha;
    env["PULL_REFS"] = PullRefsString(refs);
    if (!refs.pulls.empty()) {
      env["PULL_NUMBER"] = std::to_string(refs.pulls.front().number);
      env["PULL_PULL_SHA"] = refs.pulls.front().sha;
    }
  }
  env["SLUICE_EXECUTION_ID"] = trigger.id;
  env["ARTIFACTS"] = artifacts_dir;

  for (const auto& [name, value] : trigger.pod_spec_options.envs) env[name] = value;
  return env;
}

}  // namespace sluice
