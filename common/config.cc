#include "common/config.h"

#include "common/config_parse.h"
#include "common/record_limits.h"
#include "common/url.h"

namespace sluice {
namespace config_parse {
namespace {

void ParseGateway(const YAML::Node& node, Errors& errors, GatewayConfig* out) {
  MapReader map(node, "gateway",
                {"listen", "public_url", "max_body_bytes", "request_timeout", "threads",
                 "max_in_flight", "header_timeout", "body_timeout", "idle_timeout",
                 "max_connections", "max_env_value_bytes", "max_env_total_bytes"},
                errors);
  if (!map.valid()) return;
  if (map.String("listen", &out->listen)) {
    std::string problem = ListenProblem(out->listen);
    if (!problem.empty()) {
      errors.Add(map.PathOf("listen"), problem + ", got " + Quote(out->listen));
    }
  }
  if (map.String("public_url", &out->public_url)) {
    std::string_view url = out->public_url;
    bool http = url.starts_with("http://") && url.size() > 7;
    bool https = url.starts_with("https://") && url.size() > 8;
    if (!http && !https) {
      errors.Add(map.PathOf("public_url"),
                 "must start with http:// or https://, got " + Quote(out->public_url));
    }
  }
  for (auto [key, field] : {std::pair{"max_body_bytes", &out->max_body_bytes},
                            std::pair{"max_env_value_bytes", &out->max_env_value_bytes},
                            std::pair{"max_env_total_bytes", &out->max_env_total_bytes}}) {
    if (!map.Has(key)) continue;
    int64_t value;
    if (ReadInt(map.Get(key), map.PathOf(key), 1, INT64_MAX, errors, &value)) {
      *field = static_cast<size_t>(value);
    }
  }
  // A create's records hold its body's content and Sluice's own fields; a body the gateway
  // accepts must make records Kafka takes, or a 200 would be followed by a refusal.
  if (out->max_body_bytes > kMaxRecordBytes - kRequestRecordReserveBytes) {
    errors.Add(map.PathOf("max_body_bytes"),
               std::to_string(out->max_body_bytes) +
                   " bytes could make a record larger than the topics' max.message.bytes of " +
                   std::to_string(kMaxRecordBytes) + " (with " +
                   std::to_string(kRequestRecordReserveBytes) +
                   " bytes kept for Sluice's own fields); use at most " +
                   std::to_string(kMaxRecordBytes - kRequestRecordReserveBytes));
  }
  map.Duration("request_timeout", &out->request_timeout);
  map.Int("threads", 1, &out->threads);
  map.Int("max_in_flight", 1, &out->max_in_flight);
  map.Duration("header_timeout", &out->header_timeout);
  map.Duration("body_timeout", &out->body_timeout);
  map.Duration("idle_timeout", &out->idle_timeout);
  map.Int("max_connections", 1, &out->max_connections);
}

void ParseLog(const YAML::Node& node, Errors& errors, LogConfig* out) {
  MapReader map(node, "log", {"format"}, errors);
  if (!map.valid()) return;
  std::string format;
  if (!map.String("format", &format)) return;
  if (format == "text") {
    out->format = LogFormat::kText;
  } else if (format == "json") {
    out->format = LogFormat::kJson;
  } else {
    errors.Add(map.PathOf("format"), "must be text or json, got " + Quote(format));
  }
}

void ParseKafka(const YAML::Node& node, Errors& errors, KafkaConfig* out) {
  MapReader map(node, "kafka",
                {"brokers", "topic_prefix", "partitions", "replication_factor", "properties"},
                errors);
  if (!map.valid()) return;
  map.NonEmptyString("brokers", &out->brokers);
  if (map.String("topic_prefix", &out->topic_prefix)) {
    const std::string& prefix = out->topic_prefix;
    if (!std::all_of(prefix.begin(), prefix.end(), IsNameChar)) {
      errors.Add(map.PathOf("topic_prefix"),
                 "may hold only letters, digits, '.', '_' and '-', got " + Quote(prefix));
    } else if (prefix.size() > kMaxTopicPrefixLength) {
      errors.Add(map.PathOf("topic_prefix"),
                 "must be at most " + std::to_string(kMaxTopicPrefixLength) + " characters");
    }
  }
  map.Int("partitions", 1, &out->partitions);
  // Pipeline and job ids are drawn from a command's partition and offset (common/pipeline.h).
  if (out->partitions > 4096) errors.Add(map.PathOf("partitions"), "must be at most 4096");
  map.Int("replication_factor", 1, &out->replication_factor);
  map.ScalarMap("properties", &out->properties);
}

void ParseWorker(const YAML::Node& node, Errors& errors, WorkerConfig* out) {
  MapReader map(
      node, "worker",
      {"max_concurrency", "workspace", "artifacts", "heartbeat", "lease", "shutdown_grace",
       "kill_grace", "executor", "limits", "max_log_bytes", "keep_failed_workspaces",
       "artifacts_retention", "job_uid_base", "bwrap", "podman", "podman_args", "metrics_listen"},
      errors);
  if (!map.valid()) return;
  map.Int("max_concurrency", 1, &out->max_concurrency);
  map.NonEmptyString("workspace", &out->workspace);
  map.NonEmptyString("artifacts", &out->artifacts);
  bool heartbeat_ok = map.Duration("heartbeat", &out->heartbeat);
  bool lease_ok = map.Duration("lease", &out->lease);
  map.Duration("shutdown_grace", &out->shutdown_grace);
  map.Duration("kill_grace", &out->kill_grace);
  if (auto kind = ReadExecutor(map, errors)) {
    if (*kind == ExecutorKind::kContainer) {
      errors.Add(map.PathOf("executor"),
                 "container needs an image per job: name it on the jobs that run in one");
    } else {
      out->executor = kind;
    }
  }
  if (map.Has("limits")) {
    JobLimits limits;
    ParseLimits(map.Get("limits"), map.PathOf("limits"), errors, &limits);
    out->limits = limits.Over(out->limits);
  }
  if (map.Has("max_log_bytes")) {
    ReadBytes(map.Get("max_log_bytes"), map.PathOf("max_log_bytes"), errors, &out->max_log_bytes);
  }
  map.Int("keep_failed_workspaces", 0, &out->keep_failed_workspaces);
  if (map.Duration("artifacts_retention", &out->artifacts_retention) &&
      out->artifacts_retention < std::chrono::hours(1)) {
    errors.Add(map.PathOf("artifacts_retention"), "must be at least 1h");
  }
  if (map.Has("job_uid_base")) {
    int64_t base = 0;
    // Room above it for every slot; uid 0xffffffff is "no user".
    if (ReadInt(map.Get("job_uid_base"), map.PathOf("job_uid_base"), 1000, 4000000000, errors,
                &base)) {
      out->job_uid_base = static_cast<uint32_t>(base);
    }
  }
  map.NonEmptyString("bwrap", &out->bwrap);
  map.NonEmptyString("podman", &out->podman);
  map.StringList("podman_args", &out->podman_args);
  if (map.String("metrics_listen", &out->metrics_listen) && !out->metrics_listen.empty()) {
    std::string problem = ListenProblem(out->metrics_listen);
    if (!problem.empty()) {
      errors.Add(map.PathOf("metrics_listen"),
                 problem + " (or \"\" for no listener), got " + Quote(out->metrics_listen));
    }
  }
  // A worker stops a job whose claim it could not renew for half the lease, so a heartbeat
  // must fit in there with room to spare for Kafka's acknowledgement.
  if (heartbeat_ok && lease_ok && out->heartbeat * 3 > out->lease) {
    errors.Add(map.PathOf("heartbeat"), "must be at most a third of worker.lease (" +
                                            FormatDuration(out->heartbeat) + " > " +
                                            FormatDuration(out->lease) + " / 3)");
  }
}

// results: {retention}
void ParseResults(const YAML::Node& node, const WorkerConfig& worker, Errors& errors,
                  ResultsConfig* out) {
  MapReader map(node, "results", {"retention"}, errors);
  if (!map.valid()) return;
  if (!map.Duration("retention", &out->retention)) return;
  if (out->retention < std::chrono::minutes(1)) {
    errors.Add(map.PathOf("retention"), "must be at least 1m");
  } else if (out->retention <= worker.lease) {
    errors.Add(map.PathOf("retention"),
               "must be longer than worker.lease (" + FormatDuration(worker.lease) +
                   "): a running execution stays in the status views by its heartbeats");
  }
}

}  // namespace
}  // namespace config_parse

std::optional<ProjectRole> ProjectRoleFromName(std::string_view name) {
  if (name == "reporter") return ProjectRole::kReporter;
  if (name == "developer") return ProjectRole::kDeveloper;
  if (name == "maintainer") return ProjectRole::kMaintainer;
  return std::nullopt;
}

const char* ProjectRoleName(ProjectRole role) {
  switch (role) {
    case ProjectRole::kReporter:
      return "reporter";
    case ProjectRole::kDeveloper:
      return "developer";
    case ProjectRole::kMaintainer:
      return "maintainer";
  }
  return "reporter";
}

const ProjectConfig* Config::FindProject(const std::string& id_or_path) const {
  std::string path = PercentDecode(id_or_path);
  bool numeric = !path.empty() &&
                 std::all_of(path.begin(), path.end(), [](char c) { return c >= '0' && c <= '9'; });
  for (const ProjectConfig& p : projects) {
    if (numeric ? std::to_string(p.id) == path : p.path == path) return &p;
  }
  return nullptr;
}

const JobConfig* Config::FindJob(const std::string& name) const {
  for (const JobConfig& job : jobs) {
    if (job.name == name) return &job;
  }
  return nullptr;
}

const char* GitHostName(GitHost host) {
  switch (host) {
    case GitHost::kGitHub:
      return "github";
    case GitHost::kGitLab:
      return "gitlab";
    case GitHost::kGitea:
      return "gitea";
  }
  return "github";
}

StatusOr<Config> LoadConfigText(const std::string& yaml_text) {
  using namespace config_parse;  // NOLINT: the parser's own pieces
  // yaml-cpp reports syntax errors by throwing; configuration is read at start-up only.
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return InvalidArgument("config: YAML syntax error at line " + std::to_string(e.mark.line + 1) +
                           ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }

  Config config;
  Errors errors;
  try {
    const YAML::Node document = root;
    MapReader top(document, "",
                  {"gateway", "log", "kafka", "worker", "clients", "jobs", "projects", "webhooks",
                   "gitlab", "results"},
                  errors);
    if (!top.valid()) return errors.ToStatus();
    if (top.Has("gateway")) ParseGateway(top.Get("gateway"), errors, &config.gateway);
    if (top.Has("log")) ParseLog(top.Get("log"), errors, &config.log);
    if (top.Has("kafka")) ParseKafka(top.Get("kafka"), errors, &config.kafka);
    if (top.Has("worker")) ParseWorker(top.Get("worker"), errors, &config.worker);
    if (top.Has("clients")) ParseClients(top.Get("clients"), errors, &config.clients);
    if (top.Has("projects")) {
      ParseProjects(top.Get("projects"), config.clients, errors, &config.projects);
    }
    if (top.Has("webhooks")) ParseWebhooks(top.Get("webhooks"), errors, &config.webhooks);
    if (top.Has("gitlab")) ParseGitLab(top.Get("gitlab"), errors, &config.gitlab);
    if (top.Has("results"))
      ParseResults(top.Get("results"), config.worker, errors, &config.results);
    // Jobs are optional when projects give the workers something to run.
    ParseJobs(top.Get("jobs"), !top.Has("projects"), errors, &config.jobs);
  } catch (const YAML::Exception& e) {
    errors.Add("config", std::string("unexpected YAML error: ") + e.what());
  }
  if (!errors.empty()) return errors.ToStatus();
  return config;
}

StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::string text;
  std::string error;
  if (!config_parse::ReadWholeFile(path, &text, &error)) {
    return InvalidArgument("cannot read config file " + path + ": " + error);
  }
  StatusOr<Config> config = LoadConfigText(text);
  if (!config.ok()) return InvalidArgument(path + ": " + config.status().message());
  return config;
}

}  // namespace sluice
