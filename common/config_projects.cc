#include "common/config_parse.h"
#include "common/crypto.h"
#include "common/url.h"

// projects: GitLab-style projects and their pipelines.
namespace sluice::config_parse {

void ParsePipelineJob(const MapReader& map, const std::set<std::string>& stages, Errors& errors,
                      PipelineJobConfig* job) {
  ParseJobName(map, errors, &job->name);
  if (!map.Has("stage")) {
    errors.Add(map.PathOf("stage"), "is required");
  } else if (map.String("stage", &job->stage) && !stages.count(job->stage)) {
    errors.Add(map.PathOf("stage"),
               "is not one of the pipeline's stages, got " + Quote(job->stage));
  }
  std::string when = "on_success";
  if (map.String("when", &when)) {
    if (when == "on_success") {
      job->when = JobWhen::kOnSuccess;
    } else if (when == "manual") {
      job->when = JobWhen::kManual;
    } else if (when == "always") {
      job->when = JobWhen::kAlways;
    } else {
      errors.Add(map.PathOf("when"), "expected on_success, manual or always, got " + Quote(when));
    }
  }
  job->allow_failure = job->when == JobWhen::kManual;
  map.Bool("allow_failure", &job->allow_failure);
  ParseCommand(map, errors, &job->command);
  ParseEnv(map, "env", errors, &job->env);
  map.Duration("timeout", &job->timeout);
  ParseRuntime(map, errors, &job->runtime);
}

void ParsePipeline(const YAML::Node& node, const std::string& path, Errors& errors,
                   ProjectConfig* project) {
  MapReader map(node, path, {"stages", "jobs"}, errors);
  if (!map.valid()) return;
  std::set<std::string> stages;
  if (!map.Has("stages")) {
    errors.Add(map.PathOf("stages"), "is required");
  } else if (map.StringList("stages", &project->stages)) {
    if (project->stages.empty()) errors.Add(map.PathOf("stages"), "must not be empty");
    for (size_t i = 0; i < project->stages.size(); ++i) {
      if (!IsJobName(project->stages[i])) {
        errors.Add(Index(map.PathOf("stages"), i),
                   "expected a name of letters, digits, '.', '_' or '-', got " +
                       Quote(project->stages[i]));
      } else if (!stages.insert(project->stages[i]).second) {
        errors.Add(Index(map.PathOf("stages"), i), "duplicate stage " + Quote(project->stages[i]));
      }
    }
  }
  const YAML::Node jobs = map.Get("jobs");
  if (!jobs.IsDefined() || jobs.IsNull() || !jobs.IsSequence() || jobs.size() == 0) {
    errors.Add(map.PathOf("jobs"), "expected a list of at least one job");
    return;
  }
  if (jobs.size() > 63) {  // kMaxPipelineJobs: each job's id is drawn from its pipeline's
    errors.Add(map.PathOf("jobs"),
               "a pipeline has at most 63 jobs, got " + std::to_string(jobs.size()));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < jobs.size(); ++i) {
    MapReader job_map(
        jobs[i], Index(map.PathOf("jobs"), i),
        WithRuntimeKeys({"name", "stage", "when", "allow_failure", "command", "env", "timeout"}),
        errors);
    if (!job_map.valid()) continue;
    PipelineJobConfig job;
    ParsePipelineJob(job_map, stages, errors, &job);
    if (!job.name.empty() && !names.insert(job.name).second) {
      errors.Add(job_map.PathOf("name"), "duplicate job name " + Quote(job.name));
    }
    project->jobs.push_back(std::move(job));
  }
}

// `variables`: NAME: value, or NAME: {value: v, masked: true} as GitLab's masked variables,
// whose values are replaced by [MASKED] in job logs.
void ParseVariables(const MapReader& map, Errors& errors, ProjectConfig* project) {
  if (!map.Has("variables")) return;
  const YAML::Node node = map.Get("variables");
  const std::string path = map.PathOf("variables");
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    errors.Add(path, "expected a map, got " + Describe(node));
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar() || it->first.Scalar().empty()) {
      errors.Add(path, "keys must be non-empty strings");
      continue;
    }
    const std::string name = it->first.Scalar();
    const std::string value_path = Child(path, name);
    if (!IsEnvName(name)) {
      errors.Add(value_path, "not a valid environment variable name");
      continue;
    }
    if (project->variables.count(name)) {
      errors.Add(value_path, "duplicate key");
      continue;
    }
    // The value itself is never quoted: it may be a password.
    if (it->second.IsScalar()) {
      project->variables[name] = it->second.Scalar();
      continue;
    }
    MapReader variable(it->second, value_path, {"value", "masked"}, errors);
    if (!variable.valid() || it->second.IsNull()) {
      if (it->second.IsNull()) errors.Add(value_path, "expected a value or {value, masked}");
      continue;
    }
    if (!variable.Has("value") || !variable.Get("value").IsScalar()) {
      errors.Add(variable.PathOf("value"), "is required: a string, number or boolean");
      continue;
    }
    bool masked = false;
    variable.Bool("masked", &masked);
    std::string value = variable.Get("value").Scalar();
    // GitLab masks only values of 8 characters or more: a shorter one would mask every
    // occurrence of a common word.
    if (masked && value.size() < 8) {
      errors.Add(variable.PathOf("masked"), "a masked value needs at least 8 characters");
      continue;
    }
    project->variables[name] = std::move(value);
    if (masked) project->masked_variables.insert(name);
  }
}

bool IsProjectPath(std::string_view path) {
  if (path.empty() || path.size() > 255 || path.front() == '/' || path.back() == '/') return false;
  size_t segment = 0;
  for (char c : path) {
    if (c == '/') {
      if (segment == 0) return false;
      segment = 0;
    } else if (!IsNameChar(c)) {
      return false;
    } else {
      ++segment;
    }
  }
  return path.find('/') != std::string_view::npos;
}

void ParseProject(const MapReader& map, const std::set<std::string>& clients, Errors& errors,
                  ProjectConfig* project) {
  if (!map.Has("id")) {
    errors.Add(map.PathOf("id"), "is required");
  } else {
    int64_t id = 0;
    // Ids must stay exact in JavaScript (below 2^53).
    if (ReadInt(map.Get("id"), map.PathOf("id"), 1, (int64_t{1} << 53) - 1, errors, &id)) {
      project->id = id;
    }
  }
  if (!map.Has("path")) {
    errors.Add(map.PathOf("path"), "is required");
  } else if (map.String("path", &project->path) && !IsProjectPath(project->path)) {
    errors.Add(map.PathOf("path"), "expected group/project (letters, digits, '.', '_', '-'), got " +
                                       Quote(project->path));
  }
  if (map.Has("refs")) {
    MapReader refs(map.Get("refs"), map.PathOf("refs"), {"branches", "tags"}, errors);
    if (refs.valid()) {
      refs.StringList("branches", &project->branches);
      refs.StringList("tags", &project->tags);
    }
  }
  map.String("repository", &project->repository);
  ParseVariables(map, errors, project);
  ParseSecretEnv(map, "secret_env", errors, &project->secret_env);
  std::map<std::string, std::string> members;
  if (map.ScalarMap("members", &members)) {
    for (const auto& [client, role_name] : members) {
      std::string path = Child(map.PathOf("members"), client);
      std::optional<ProjectRole> role = ProjectRoleFromName(role_name);
      if (!clients.count(client)) {
        errors.Add(path, "no client is named " + Quote(client));
      } else if (!role) {
        errors.Add(path, "expected reporter, developer or maintainer, got " + Quote(role_name));
      } else {
        project->members[client] = *role;
      }
    }
  }
  if (!map.Has("pipeline")) {
    errors.Add(map.PathOf("pipeline"), "is required");
  } else {
    ParsePipeline(map.Get("pipeline"), map.PathOf("pipeline"), errors, project);
  }
}

void ParseProjects(const YAML::Node& node, const std::vector<ClientConfig>& clients, Errors& errors,
                   std::vector<ProjectConfig>* out) {
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    errors.Add("projects", "expected a list, got " + Describe(node));
    return;
  }
  std::set<std::string> client_names;
  for (const ClientConfig& c : clients) client_names.insert(c.name);
  std::set<int64_t> ids;
  std::set<std::string> paths;
  for (size_t i = 0; i < node.size(); ++i) {
    MapReader map(
        node[i], Index("projects", i),
        {"id", "path", "refs", "repository", "variables", "secret_env", "members", "pipeline"},
        errors);
    if (!map.valid()) continue;
    ProjectConfig project;
    ParseProject(map, client_names, errors, &project);
    if (project.id != 0 && !ids.insert(project.id).second) {
      errors.Add(map.PathOf("id"), "duplicate project id " + std::to_string(project.id));
    }
    if (!project.path.empty() && !paths.insert(project.path).second) {
      errors.Add(map.PathOf("path"), "duplicate project path " + Quote(project.path));
    }
    out->push_back(std::move(project));
  }
}

// gitlab: {trigger_token_key: {token_env: X} | {token_file: F}}; the key is 64 hex digits
// (`openssl rand -hex 32`).
void ParseGitLab(const YAML::Node& node, Errors& errors, GitLabConfig* out) {
  MapReader map(node, "gitlab", {"trigger_token_key"}, errors);
  if (!map.valid() || !map.Has("trigger_token_key")) return;
  MapReader key(map.Get("trigger_token_key"), map.PathOf("trigger_token_key"),
                {"token_env", "token_file"}, errors);
  if (!key.valid()) return;
  bool file = key.Has("token_file");
  if (file == key.Has("token_env")) {
    errors.Add(key.path(), "give exactly one of token_env or token_file");
    return;
  }
  const char* source = file ? "token_file" : "token_env";
  auto text = ReadSecret(key, source, errors);
  if (!text) return;
  if (text->size() != 2 * 32 || !IsHex(*text)) {
    errors.Add(key.path(),
               "the key must be 64 hex digits (32 bytes, `openssl rand -hex 32`), from " +
                   std::string(source));
    return;
  }
  std::string where;
  key.String(source, &where);
  out->trigger_token_key = *HexDecode(*text);
  out->trigger_token_key_source = std::string(source) + " " + where;
}

}  // namespace sluice::config_parse
