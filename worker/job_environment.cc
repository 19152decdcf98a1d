#include "worker/job_environment.h"

#include <rapidjson/stringbuffer.h>

#include "common/json_codec.h"

namespace sluice {
namespace {

constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";

std::map<std::string, std::string> BaseEnvironment(const std::string& workspace_dir,
                                                   const std::string& inherited_path) {
  return {{"PATH", inherited_path.empty() ? kDefaultPath : inherited_path},
          {"HOME", workspace_dir},
          {"LANG", "C.UTF-8"}};
}

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
  std::map<std::string, std::string> env = BaseEnvironment(workspace_dir, inherited_path);

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

std::map<std::string, std::string> BuildPipelineJobEnvironment(
    const ProjectConfig& project, const PipelineJobConfig& job, const PipelineJobContext& context,
    const std::string& execution_id, const std::string& workspace_dir,
    const std::string& artifacts_dir, const std::string& inherited_path) {
  std::map<std::string, std::string> env = BaseEnvironment(workspace_dir, inherited_path);
  env["CI"] = "true";
  env["GITLAB_CI"] = "true";
  env["CI_PIPELINE_SOURCE"] = context.source;
  if (context.source == "trigger") env["CI_PIPELINE_TRIGGERED"] = "true";
  env["CI_PIPELINE_IID"] = std::to_string(context.pipeline_iid);
  env["CI_JOB_NAME"] = job.name;
  env["CI_JOB_STAGE"] = job.stage;
  env["CI_PROJECT_ID"] = std::to_string(project.id);
  env["CI_PROJECT_PATH"] = project.path;
  env["CI_COMMIT_REF_NAME"] = context.ref;
  if (!context.sha.empty()) env["CI_COMMIT_SHA"] = context.sha;
  if (!context.server_url.empty()) {
    // Where a job reaches Sluice's GitLab API, e.g. a multi-project trigger with CI_JOB_TOKEN.
    std::string server = context.server_url;
    while (!server.empty() && server.back() == '/') server.pop_back();
    env["CI_SERVER_URL"] = server;
    env["CI_API_V4_URL"] = server + "/api/v4";
    env["CI_PROJECT_URL"] = server + "/" + project.path;
  }
  env["ARTIFACTS"] = artifacts_dir;

  for (const auto& [name, value] : job.env) env[name] = value;
  for (const auto& [name, value] : project.variables) env[name] = value;
  for (const auto& [name, value] : context.variables) env[name] = value;

  env["CI_PIPELINE_ID"] = std::to_string(context.pipeline_id);
  env["CI_JOB_ID"] = std::to_string(context.job_id);
  env["CI_JOB_TOKEN"] = context.job_token;
  if (!context.payload_path.empty()) env["TRIGGER_PAYLOAD"] = context.payload_path;
  env["SLUICE_EXECUTION_ID"] = execution_id;
  return env;
}

}  // namespace sluice
