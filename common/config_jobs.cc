#include <regex>

#include "common/config_parse.h"

// jobs: what the workers run, and the rules of who may start them how.
namespace sluice::config_parse {

bool IsEnvOverridePattern(std::string_view pattern) {
  if (!pattern.empty() && pattern.back() == '*') pattern.remove_suffix(1);
  return IsEnvName(pattern);
}

// The required `name` of a job; left empty when it is not a valid name.
void ParseJobName(const MapReader& map, Errors& errors, std::string* name) {
  if (!map.Has("name")) {
    errors.Add(map.PathOf("name"), "is required");
  } else if (map.String("name", name) && !IsJobName(*name)) {
    errors.Add(map.PathOf("name"),
               "must start with a letter or digit and hold at most 200 letters, digits, '.', '_' "
               "or '-', got " +
                   Quote(*name));
    name->clear();
  }
}

// The required `command` of a job: a non-empty list whose first item names the program.
void ParseCommand(const MapReader& map, Errors& errors, std::vector<std::string>* command) {
  if (!map.Has("command")) {
    errors.Add(map.PathOf("command"), "is required");
  } else if (map.StringList("command", command)) {
    if (command->empty()) {
      errors.Add(map.PathOf("command"), "must not be empty");
    } else if ((*command)[0].empty()) {
      errors.Add(Index(map.PathOf("command"), 0), "the program must not be empty");
    }
  }
}

// An optional map of environment variables under `key`.
void ParseEnv(const MapReader& map, std::string_view key, Errors& errors,
              std::map<std::string, std::string>* env) {
  if (!map.ScalarMap(key, env)) return;
  for (const auto& [name, value] : *env) {
    if (!IsEnvName(name)) {
      errors.Add(Child(map.PathOf(key), name), "not a valid environment variable name");
    }
  }
}

void ParseJob(const MapReader& map, Errors& errors, JobConfig* job) {
  ParseJobName(map, errors, &job->name);

  bool type_ok = false;
  if (!map.Has("type")) {
    errors.Add(map.PathOf("type"), "is required (periodic, postsubmit or presubmit)");
  } else {
    const YAML::Node node = map.Get("type");
    std::optional<JobType> type;
    if (node.IsScalar()) type = JobTypeFromName(node.Scalar());
    if (!type || *type == JobType::kUnspecified) {
      errors.Add(map.PathOf("type"),
                 "expected periodic, postsubmit or presubmit, got " + Describe(node));
    } else {
      job->type = *type;
      type_ok = true;
    }
  }

  ParseCommand(map, errors, &job->command);
  ParseEnv(map, "env", errors, &job->env);

  if (map.StringList("allow_env_override", &job->allow_env_override)) {
    for (size_t i = 0; i < job->allow_env_override.size(); ++i) {
      const std::string& pattern = job->allow_env_override[i];
      if (!IsEnvOverridePattern(pattern)) {
        errors.Add(Index(map.PathOf("allow_env_override"), i),
                   "expected an environment variable name or a NAME_PREFIX* pattern, got " +
                       Quote(pattern));
      }
    }
  }

  map.Duration("timeout", &job->timeout);
  map.Int("max_attempts", 1, &job->max_attempts);

  if (map.String("repo", &job->repo) && map.Has("repo") && !IsRepoName(job->repo)) {
    errors.Add(map.PathOf("repo"), "expected org/repo, got " + Quote(job->repo));
  }

  for (auto [key, list] :
       {std::pair{"branches", &job->branches}, std::pair{"skip_branches", &job->skip_branches},
        std::pair{"tags", &job->tags}}) {
    if (!map.StringList(key, list)) continue;
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string& pattern = (*list)[i];
      // std::regex reports a bad pattern only by throwing; this runs at start-up only.
      try {
        std::regex compiled(pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        errors.Add(Index(map.PathOf(key), i),
                   "invalid regular expression " + Quote(pattern) + ": " + e.what());
      }
    }
  }

  if (map.StringList("allow_clone_uri", &job->allow_clone_uri)) {
    for (size_t i = 0; i < job->allow_clone_uri.size(); ++i) {
      if (job->allow_clone_uri[i].empty()) {
        errors.Add(Index(map.PathOf("allow_clone_uri"), i), "must not be empty");
      }
    }
  }

  ParseRuntime(map, errors, &job->runtime);
  if (map.Bool("clone", &job->clone) && type_ok && job->clone && job->type == JobType::kPeriodic) {
    errors.Add(map.PathOf("clone"), "only postsubmit and presubmit jobs can clone a repository");
  }
}

// `required`: a config without a projects section needs at least one job.
void ParseJobs(const YAML::Node& node, bool required, Errors& errors, std::vector<JobConfig>* out) {
  if (node.IsDefined() && !node.IsNull() && !node.IsSequence()) {
    errors.Add("jobs", "expected a list, got " + Describe(node));
    return;
  }
  if (!node.IsDefined() || node.IsNull() || node.size() == 0) {
    if (required) errors.Add("jobs", "at least one job is required (or a project)");
    return;
  }
  std::map<std::string, size_t> first_index;
  for (size_t i = 0; i < node.size(); ++i) {
    MapReader map(node[i], Index("jobs", i),
                  WithRuntimeKeys({"name", "type", "command", "env", "allow_env_override",
                                   "timeout", "max_attempts", "repo", "branches", "skip_branches",
                                   "tags", "clone", "allow_clone_uri"}),
                  errors);
    if (!map.valid()) continue;
    JobConfig job;
    ParseJob(map, errors, &job);
    if (!job.name.empty()) {
      auto [it, inserted] = first_index.emplace(job.name, i);
      if (!inserted) {
        errors.Add(map.PathOf("name"), "duplicate job name " + Quote(job.name) + " (also " +
                                           Index("jobs", it->second) + ")");
      }
    }
    out->push_back(std::move(job));
  }
}

}  // namespace sluice::config_parse
