// GitLab's pipeline trigger API and its pipelines and jobs (gitlab_api.h lists the routes).

#include <rapidjson/document.h>

#include <fstream>
#include <sstream>

#include "common/crypto.h"
#include "common/json_codec.h"
#include "common/log.h"
#include "common/record_limits.h"
#include "common/url.h"
#include "common/utf8.h"
#include "gateway/create_request.h"
#include "gateway/gitlab_api.h"
#include "gateway/gitlab_lists.h"
#include "gateway/gitlab_pagination.h"
#include "gateway/gitlab_projects.h"
#include "gateway/gitlab_replies.h"
#include "gateway/gitlab_trigger.h"
#include "gateway/log_reply.h"

namespace sluice {

namespace {

std::string WebBase(const Config& config, const ProjectConfig& project) {
  return PublicBaseUrl(config.gateway) + "/" + project.path;
}

void WriteOptionalTime(JsonWriter& w, const char* key, const std::optional<TimePoint>& t) {
  w.Key(key);
  if (t) {
    w.String(FormatRfc3339(*t).c_str());
  } else {
    w.Null();
  }
}

std::optional<double> Seconds(const std::optional<TimePoint>& from,
                              const std::optional<TimePoint>& to) {
  if (!from || !to) return std::nullopt;
  return std::chrono::duration<double>(*to - *from).count();
}

void WriteOptionalSeconds(JsonWriter& w, const char* key, std::optional<double> seconds) {
  w.Key(key);
  if (seconds) {
    w.Double(*seconds);
  } else {
    w.Null();
  }
}

// When the pipeline started and finished: its jobs' earliest start and, once it is finished
// and not waiting, their latest end.
std::pair<std::optional<TimePoint>, std::optional<TimePoint>> PipelineTimes(
    const PipelineState& state) {
  std::optional<TimePoint> started, finished;
  for (const PipelineJobState& job : state.jobs) {
    if (!job.execution) continue;
    if (job.execution->start_time && (!started || *job.execution->start_time < *started)) {
      started = job.execution->start_time;
    }
    if (job.execution->completion_time &&
        (!finished || *job.execution->completion_time > *finished)) {
      finished = job.execution->completion_time;
    }
  }
  if (!state.finished) finished.reset();
  return {started, finished};
}

void WritePipelineFields(JsonWriter& w, const Config& config, const ProjectConfig& project,
                         const Pipeline& p, const PipelineState& state, bool whole) {
  WriteInt64Field(w, "id", p.id);
  WriteInt64Field(w, "iid", p.iid);
  WriteInt64Field(w, "project_id", p.project_id);
  WriteStringField(w, "sha", p.sha);
  WriteStringField(w, "ref", p.ref);
  WriteStringField(w, "status", PipelineStatusName(state.status));
  WriteStringField(w, "source", p.source);
  WriteStringField(w, "created_at", FormatRfc3339(p.created_at));
  WriteStringField(w, "updated_at", FormatRfc3339(p.updated_at));
  WriteStringField(w, "web_url", WebBase(config, project) + "/-/pipelines/" + std::to_string(p.id));
  if (!whole) return;
  WriteStringField(w, "before_sha", std::string(40, '0'));
  w.Key("tag");
  w.Bool(p.tag);
  w.Key("yaml_errors");
  w.Null();
  w.Key("user");
  WriteGitLabUser(w, p.user);
  auto [started, finished] = PipelineTimes(state);
  WriteOptionalTime(w, "started_at", started);
  WriteOptionalTime(w, "finished_at", finished);
  w.Key("committed_at");
  w.Null();
  WriteOptionalSeconds(w, "duration", Seconds(started, finished));
  w.Key("queued_duration");
  w.Null();
  w.Key("coverage");
  w.Null();
}

std::string PipelineJson(const Config& config, const ProjectConfig& project, const Pipeline& p,
                         const PipelineState& state) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WritePipelineFields(w, config, project, p, state, true);
  w.EndObject();
  return buf.GetString();
}

void WriteJob(JsonWriter& w, const Config& config, const ProjectConfig& project, const Pipeline& p,
              const PipelineState& state, const PipelineJobState& job) {
  const std::optional<Execution>& e = job.execution;
  w.StartObject();
  WriteInt64Field(w, "id", job.run.id);
  WriteStringField(w, "status", PipelineJobStatusName(job.status));
  WriteStringField(w, "stage", job.stage);
  WriteStringField(w, "name", job.run.name);
  WriteStringField(w, "ref", p.ref);
  w.Key("tag");
  w.Bool(p.tag);
  w.Key("coverage");
  w.Null();
  bool allow_failure = false;
  bool manual = false;
  for (const PipelineJobConfig& c : project.jobs) {
    if (c.name == job.run.name) {
      allow_failure = c.allow_failure;
      manual = c.when == JobWhen::kManual;
    }
  }
  w.Key("allow_failure");
  w.Bool(allow_failure);
  WriteStringField(
      w, "created_at",
      FormatRfc3339(job.run.created_at == TimePoint{} ? p.created_at : job.run.created_at));
  std::optional<TimePoint> started = e ? e->start_time : std::nullopt;
  std::optional<TimePoint> finished =
      e && IsTerminal(e->job_status) ? e->completion_time : std::nullopt;
  WriteOptionalTime(w, "started_at", started);
  WriteOptionalTime(w, "finished_at", finished);
  WriteOptionalSeconds(w, "duration", Seconds(started, finished));
  w.Key("queued_duration");
  w.Null();
  w.Key("user");
  WriteGitLabUser(w, job.run.user.empty() ? p.user : job.run.user);
  w.Key("pipeline");
  w.StartObject();
  WritePipelineFields(w, config, project, p, state, false);
  w.EndObject();
  WriteStringField(w, "web_url",
                   WebBase(config, project) + "/-/jobs/" + std::to_string(job.run.id));
  w.Key("artifacts");
  w.StartArray();
  w.EndArray();
  w.Key("runner");
  w.Null();
  w.Key("when");
  w.String(manual ? "manual" : "on_success");
  if (job.status == PipelineJobStatus::kFailed) {
    WriteStringField(
        w, "failure_reason",
        e && e->job_status == JobStatus::kError ? "runner_system_failure" : "script_failure");
  }
  if (e && !e->message.empty()) WriteStringField(w, "sluice_message", e->message);
  w.EndObject();
}

std::string JobJson(const Config& config, const ProjectConfig& project, const Pipeline& p,
                    const PipelineState& state, const PipelineJobState& job) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteJob(w, config, project, p, state, job);
  return buf.GetString();
}

// The variables of a play or retry call: {"job_variables_attributes": [{"key", "value"}]} as JSON,
// or job_variables_attributes[][key] / [][value] form fields. Refusals name the field, as
// GitLab's do.
struct JobVariables {
  std::optional<std::map<std::string, std::string>> variables;
  std::optional<ApiReply> error;
};

JobVariables ReadJobVariables(const ApiRequest& request) {
  JobVariables out;
  constexpr const char* kField = "job_variables_attributes";
  std::string type = request.content_type.substr(0, request.content_type.find(';'));
  if (type == "application/json" || (type.empty() && !request.body.empty())) {
    rapidjson::Document doc;
    if (Status s = ParseJson(request.body, doc); !s.ok() || !doc.IsObject()) {
      bool not_text = !s.ok() && s.message().find("not valid UTF-8") != std::string::npos;
      out.error = GitLabParamError(not_text ? s.message() : "body is not a JSON object");
      return out;
    }
    auto it = doc.FindMember(kField);
    if (it == doc.MemberEnd()) return out;
    if (!it->value.IsArray()) {
      out.error = GitLabParamError(std::string(kField) + " is invalid");
      return out;
    }
    std::map<std::string, std::string> vars;
    for (const auto& entry : it->value.GetArray()) {
      if (!entry.IsObject()) {
        out.error = GitLabParamError(std::string(kField) + " is invalid");
        return out;
      }
      auto key = entry.FindMember("key");
      if (key == entry.MemberEnd()) {
        out.error = GitLabParamError(std::string(kField) + "[key] is missing");
        return out;
      }
      auto value = entry.FindMember("value");
      if (!key->value.IsString() || key->value.GetStringLength() == 0) {
        out.error = GitLabParamError(std::string(kField) + "[key] is empty");
        return out;
      }
      if (value != entry.MemberEnd() && !value->value.IsString()) {
        out.error = GitLabParamError(std::string(kField) + "[value] is invalid");
        return out;
      }
      vars[key->value.GetString()] = value == entry.MemberEnd() ? "" : value->value.GetString();
    }
    out.variables = std::move(vars);
    return out;
  }
  // Forms: Rack reads job_variables_attributes[][key]=K&job_variables_attributes[][value]=V as
  // a list, a [key] starting a new entry. Order is kept by reading the raw body.
  std::vector<std::pair<std::string, std::string>> fields;
  if (type == "application/x-www-form-urlencoded") {
    fields = ParseUrlEncodedPairs(request.body);
  } else if (type == "multipart/form-data") {
    for (auto& [k, v] : ParseMultipartForm(request.content_type, request.body)
                            .value_or(std::map<std::string, std::string>{})) {
      fields.emplace_back(k, v);
    }
  }
  std::string prefix = std::string(kField) + "[]";
  std::vector<std::pair<std::optional<std::string>, std::string>> entries;
  for (const auto& [k, v] : fields) {
    if (k.rfind(prefix, 0) != 0) continue;
    std::string member = k.substr(prefix.size());
    if (member == "[key]") {
      entries.push_back({v, ""});
    } else if (member == "[value]") {
      if (entries.empty() || !entries.back().second.empty()) entries.push_back({std::nullopt, ""});
      entries.back().second = v;
    }
  }
  if (entries.empty()) return out;
  std::map<std::string, std::string> vars;
  for (const auto& [key, value] : entries) {
    // Form fields are percent-decoded bytes; the variables are stored and served as text.
    if ((key && !IsValidUtf8(*key)) || !IsValidUtf8(value)) {
      out.error =
          GitLabParamError(std::string(kField) + (key && !IsValidUtf8(*key) ? "[key]" : "[value]") +
                           " is not valid UTF-8");
      return out;
    }
    if (!key) {
      out.error = GitLabParamError(std::string(kField) + "[key] is missing");
      return out;
    }
    if (key->empty()) {
      out.error = GitLabParamError(std::string(kField) + "[key] is empty");
      return out;
    }
    vars[*key] = value;
  }
  out.variables = std::move(vars);
  return out;
}

// A position as late as Kafka can give one: ids drawn from it are as long as ids get, so a record
// sized with them is as large as the real one can be.
constexpr RecordPosition kLatestPosition{4095, int64_t{1} << 34};

// The largest field a caller sent that a pipeline record holds, for CheckRecordFits' message.
FieldSize LargestPipelineField(const Pipeline& p) {
  FieldSize largest = LargestEntry(p.variables, "variables");
  if (p.payload.size() > largest.bytes) largest = {"the trigger's parameters", p.payload.size()};
  for (const PipelineJobRun& run : p.jobs) {
    FieldSize v = LargestEntry(run.variables, "job_variables_attributes");
    if (v.bytes > largest.bytes) largest = v;
  }
  return largest;
}

// Whether `pipeline`'s record, as its owner will write it, fits Kafka: the owner applies
// commands long after the gateway answered, so a record too large then would strand the
// pipeline. A 413 in GitLab's shape otherwise.
std::optional<ApiReply> PipelineRecordTooLarge(const Pipeline& pipeline) {
  std::string record = EncodePipeline(pipeline);
  Status s =
      CheckRecordFits("the pipeline's record", std::to_string(pipeline.id).size() + record.size(),
                      0, [&pipeline] { return LargestPipelineField(pipeline); });
  if (s.ok()) return std::nullopt;
  return GitLabMessage(413, s.message());
}

// Read-your-writes for a retry this gateway sent, as for a new pipeline's record: its store shows
// the pipeline as the owner will make it, so that a call following within milliseconds (a cancel
// of the run the retry just created) finds the new run instead of a 404. The owner's record of
// the same command replaces this one (same applied_offset, later updated_at); other gateways
// learn of the run from the topic only.
void ShowRetry(PipelineStore& store, const ProjectConfig& project, PipelineCommand command,
               RecordPosition at, const std::function<PipelineState(const Pipeline&)>& evaluate) {
  auto pipeline = store.Get(command.pipeline_id);
  if (!pipeline || pipeline->applied_offset >= at.offset) return;
  command.position = at;
  if (!ApplyPipelineCommand(project, command, evaluate(*pipeline), *pipeline, command.time)) return;
  pipeline->applied_offset = at.offset;
  store.Put(*pipeline);
}

}  // namespace

PipelineState GitLabApi::Evaluate(const ProjectConfig& project, const Pipeline& pipeline) {
  return EvaluatePipeline(project, pipeline,
                          [this](const std::string& id) { return view_.store().Get(id); });
}

void GitLabApi::RegisterPipelineRoutes(Router& router) {
  // The trigger routes authenticate by the trigger token in the request, not by a client.
  router.Add("POST", "/api/v4/projects/{id}/trigger/pipeline", ApiFamily::kGitLab,
             [this](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
               TriggerPipeline(request, p.at("id"), std::nullopt, std::move(reply));
             });
  // The webhook form: the ref in the path, an encoded '/' in it or not.
  router.Add("POST", "/api/v4/projects/{id}/ref/{ref+}/trigger/pipeline", ApiFamily::kGitLab,
             [this](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
               TriggerPipeline(request, p.at("id"), PercentDecode(p.at("ref")), std::move(reply));
             });

  // The rest need a member of the project: a reporter to read, a developer to act.
  using Serve = std::function<void(const ApiRequest&, const PathParams&, const Caller&, ReplyFn)>;
  auto add = [this, &router](const char* method, const std::string& pattern, Serve serve) {
    ProjectRole needed =
        std::string_view(method) == "GET" ? ProjectRole::kReporter : ProjectRole::kDeveloper;
    router.Add(
        method, pattern, ApiFamily::kGitLab,
        [this, needed, serve](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
          Caller caller;
          if (auto refused = Authorize(request, p.at("id"), needed, &caller)) {
            return reply(*refused);
          }
          serve(request, p, caller, std::move(reply));
        });
  };
  add("GET", "/api/v4/projects/{id}/pipelines",
      [this](const ApiRequest& request, const PathParams&, const Caller& c, ReplyFn reply) {
        reply(ListPipelines(request, c));
      });
  const std::string pipeline = "/api/v4/projects/{id}/pipelines/{pipeline_id}";
  add("GET", pipeline,
      [this](const ApiRequest&, const PathParams& p, const Caller& c, ReplyFn reply) {
        reply(GetPipeline(c, p.at("pipeline_id")));
      });
  add("GET", pipeline + "/jobs",
      [this](const ApiRequest& request, const PathParams& p, const Caller& c, ReplyFn reply) {
        reply(ListPipelineJobs(request, c, p.at("pipeline_id")));
      });
  for (const char* action : {"cancel", "retry"}) {
    add("POST", pipeline + "/" + action,
        [this, action](const ApiRequest&, const PathParams& p, const Caller& c, ReplyFn reply) {
          PipelineAction(c, p.at("pipeline_id"), action, std::move(reply));
        });
  }
  const std::string jobs = "/api/v4/projects/{id}/jobs";
  const std::string job = jobs + "/{job_id}";
  add("GET", jobs,
      [this](const ApiRequest& request, const PathParams&, const Caller& c, ReplyFn reply) {
        reply(ListJobs(request, c));
      });
  add("GET", job, [this](const ApiRequest&, const PathParams& p, const Caller& c, ReplyFn reply) {
    reply(GetJob(c, p.at("job_id"), std::nullopt));
  });
  add("GET", job + "/trace",
      [this](const ApiRequest& request, const PathParams& p, const Caller& c, ReplyFn reply) {
        auto range = request.headers.find("range");
        reply(GetJob(c, p.at("job_id"),
                     range == request.headers.end() ? "" : std::string_view(range->second)));
      });
  for (const char* action : {"play", "retry", "cancel"}) {
    add("POST", job + "/" + action,
        [this, action](const ApiRequest& request, const PathParams& p, const Caller& c,
                       ReplyFn reply) {
          JobAction(request, c, p.at("job_id"), action, std::move(reply));
        });
  }
}

void GitLabApi::TriggerPipeline(const ApiRequest& request, const std::string& project_ref,
                                const std::optional<std::string>& path_ref, ReplyFn reply) {
  TriggerRequest tr;
  tr.query = request.query;
  tr.content_type = request.content_type;
  tr.body = request.body;
  tr.project_id = PercentDecode(project_ref);
  tr.path_ref = path_ref;
  TriggerParamsResult read = ReadTriggerParams(tr);
  if (read.error) return reply(JsonReply(read.error->status, read.error->body));
  const PipelineTriggerParams& params = read.params;
  if (Status s = CheckEnvSizes(params.variables, config_.gateway.max_env_value_bytes,
                               config_.gateway.max_env_total_bytes, "variables");
      !s.ok()) {
    return reply(GitLabParamError(s.message()));
  }
  TimePoint now = clock_.Now();

  // A CI_JOB_TOKEN stands in for a trigger token while its job runs (a multi-project
  // pipeline); once the job has ended it is refused with 401, as GitLab refuses it.
  std::string token_sha = Sha256Hex(params.token);
  std::optional<Execution> job;
  if (!tokens_.FindByHash(token_sha)) {
    job = view_.store().RunningWithJobToken(token_sha);
    if (!job && params.token.rfind("glcbt-", 0) == 0) {
      return reply(GitLabMessage(401, "401 Unauthorized"));
    }
  }
  ResolvedTrigger resolved = ResolveTrigger(config_, tokens_, tr.project_id, request.gitlab_event,
                                            params, now, job.has_value());
  if (resolved.error) return reply(JsonReply(resolved.error->status, resolved.error->body));
  const ProjectConfig& project = *resolved.project;

  Pipeline p;
  p.project_id = project.id;
  p.ref = resolved.ref;
  p.tag = resolved.tag;
  p.source = job ? "pipeline" : "trigger";
  p.user = job ? job->client : resolved.token->owner;
  p.trigger_id = job ? 0 : resolved.token->id;
  p.created_at = now;
  p.updated_at = now;
  p.variables = params.variables;
  p.payload = params.payload_json;
  p.fingerprint = Sha256Hex(std::to_string(project.id) + "\n" + params.payload_json);
  if (!request.idempotency_key.empty()) {
    if (request.idempotency_key.size() > 255) {
      return reply(GitLabParamError("Idempotency-Key is longer than 255 characters"));
    }
    p.idempotency = Sha256Hex(token_sha + "\n" + request.idempotency_key);
    if (auto existing = pipelines_.FindByIdempotency(p.idempotency)) {
      if (existing->fingerprint != p.fingerprint) {
        return reply(GitLabMessage(
            422, "Idempotency-Key was already used for a different request (pipeline " +
                     std::to_string(existing->id) + "); use a new key for a new request"));
      }
      return reply(
          JsonReply(201, PipelineJson(config_, project, *existing, Evaluate(project, *existing))));
    }
  }
  p.command_key = HexEncode(RandomBytes(8));
  {
    // The record as the start command's acknowledgement will complete it: ids and job runs.
    Pipeline sized = p;
    sized.id = sized.iid = PipelineIdAt(kLatestPosition, 0);
    sized.applied_offset = kLatestPosition.offset;
    for (const PipelineJobConfig& job : project.jobs) {
      PipelineJobRun run;
      run.id = NewJobIdAt(project, kLatestPosition, job.name);
      run.name = job.name;
      run.created_at = p.created_at;
      sized.jobs.push_back(std::move(run));
    }
    if (auto refused = PipelineRecordTooLarge(sized)) return reply(*refused);
  }

  // First the start command: where it lands gives the pipeline and its jobs their ids. Then
  // the pipeline's record; the 201 follows once both are in Kafka.
  PipelineCommand start;
  start.kind = PipelineCommandKind::kStart;
  start.user = p.user;
  start.time = now;
  SendCommand(p.command_key, start, std::move(reply),
              [this, p, &project](RecordPosition at, ReplyFn reply) mutable {
                p.id = PipelineIdAt(at, 0);
                p.iid = p.id;
                p.applied_offset = at.offset;
                for (const PipelineJobConfig& job : project.jobs) {
                  PipelineJobRun run;
                  run.id = NewJobIdAt(project, at, job.name);
                  run.name = job.name;
                  run.created_at = p.created_at;
                  p.jobs.push_back(std::move(run));
                }
                PipelineStore& store = pipelines_;
                PublishAll(
                    {{config_.kafka.PipelinesTopic(), std::to_string(p.id), EncodePipeline(p)}},
                    [this, p, &project] {
                      return JsonReply(201,
                                       PipelineJson(config_, project, p, Evaluate(project, p)));
                    },
                    std::move(reply), [&store, p] { store.Put(p); });
              });
}

void GitLabApi::SendCommand(const std::string& key, const PipelineCommand& command, ReplyFn reply,
                            std::function<void(RecordPosition, ReplyFn)> then) {
  ReplyFn answer = AnswerOnce(std::move(reply));
  AnswerAtDeadline(answer);
  std::string what = std::string(PipelineCommandKindName(command.kind)) + " of pipeline " +
                     std::to_string(command.pipeline_id);
  publisher_.PublishPositioned(
      config_.kafka.RequestsTopic(), key, EncodePipelineCommand(command),
      [answer, then = std::move(then), what](const Status& s, RecordPosition at) {
        if (!s.ok()) {
          LogWarn("gitlab", what + " not accepted: " + s.ToString());
          return answer(GitLabUnavailable());
        }
        then(at, answer);
      });
}

std::optional<Pipeline> GitLabApi::ProjectPipeline(const Caller& caller, const std::string& id) {
  auto pipeline_id = ParseDecimalId(id);
  if (!pipeline_id) return std::nullopt;
  auto p = pipelines_.Get(*pipeline_id);
  if (!p || p->project_id != caller.project->id) return std::nullopt;
  return p;
}

std::optional<Pipeline> GitLabApi::ProjectPipelineOfJob(const Caller& caller,
                                                        const std::string& job_id) {
  auto id = ParseDecimalId(job_id);
  if (!id) return std::nullopt;
  auto p = pipelines_.FindByJob(*id);
  if (!p || p->project_id != caller.project->id) return std::nullopt;
  return p;
}

ApiReply GitLabApi::GetPipeline(const Caller& caller, const std::string& pipeline_id) {
  auto p = ProjectPipeline(caller, pipeline_id);
  if (!p) return GitLabMessage(404, "404 Not found");
  return JsonReply(200, PipelineJson(config_, *caller.project, *p, Evaluate(*caller.project, *p)));
}

ApiReply GitLabApi::ListPipelines(const ApiRequest& request, const Caller& caller) {
  PipelineListFilterResult filter = ReadPipelineListFilter(request.query);
  if (filter.error) return *filter.error;
  std::vector<ListedPipeline> all;
  for (Pipeline& p : pipelines_.ForProject(caller.project->id)) {
    PipelineState state = Evaluate(*caller.project, p);
    all.push_back({std::move(p), state.status, state.finished});
  }
  std::vector<ListedPipeline> listed = SelectPipelines(std::move(all), filter.filter);
  return PagedJsonList(
      request, config_.gateway.public_url, listed.size(), [&](JsonWriter& w, size_t i) {
        const Pipeline& p = listed[i].pipeline;
        w.StartObject();
        WritePipelineFields(w, config_, *caller.project, p, Evaluate(*caller.project, p), false);
        w.EndObject();
      });
}

ApiReply GitLabApi::ListPipelineJobs(const ApiRequest& request, const Caller& caller,
                                     const std::string& pipeline_id) {
  auto p = ProjectPipeline(caller, pipeline_id);
  if (!p) return GitLabMessage(404, "404 Not found");
  JobScopesResult scopes = ReadJobScopes(request.query);
  if (scopes.error) return *scopes.error;
  PipelineState state = Evaluate(*caller.project, *p);
  std::vector<size_t> listed;
  // GitLab lists a pipeline's current jobs (with include_retried, the replaced runs too), newest
  // first.
  for (size_t i = state.jobs.size(); i-- > 0;) {
    const PipelineJobState& job = state.jobs[i];
    if (!job.current && !scopes.include_retried) continue;
    if (!scopes.scopes.empty() && !scopes.scopes.count(PipelineJobStatusName(job.status))) continue;
    listed.push_back(i);
  }
  return PagedJsonList(request, config_.gateway.public_url, listed.size(),
                       [&](JsonWriter& w, size_t i) {
                         WriteJob(w, config_, *caller.project, *p, state, state.jobs[listed[i]]);
                       });
}

ApiReply GitLabApi::ListJobs(const ApiRequest& request, const Caller& caller) {
  JobScopesResult scopes = ReadJobScopes(request.query);
  if (scopes.error) return *scopes.error;
  std::vector<Pipeline> pipelines = pipelines_.ForProject(caller.project->id);
  std::vector<PipelineState> states;
  // Each job listed: its pipeline's index and its own among that pipeline's evaluated jobs.
  std::vector<std::pair<size_t, size_t>> listed;
  for (size_t pi = 0; pi < pipelines.size(); ++pi) {
    states.push_back(Evaluate(*caller.project, pipelines[pi]));
    const PipelineState& state = states.back();
    for (size_t ji = state.jobs.size(); ji-- > 0;) {
      const PipelineJobState& job = state.jobs[ji];
      if (!scopes.scopes.empty() && !scopes.scopes.count(PipelineJobStatusName(job.status))) {
        continue;
      }
      listed.push_back({pi, ji});
    }
  }
  return PagedJsonList(
      request, config_.gateway.public_url, listed.size(), [&](JsonWriter& w, size_t i) {
        auto [pi, ji] = listed[i];
        WriteJob(w, config_, *caller.project, pipelines[pi], states[pi], states[pi].jobs[ji]);
      });
}

ApiReply GitLabApi::GetJob(const Caller& caller, const std::string& job_id,
                           std::optional<std::string_view> trace_range) {
  auto p = ProjectPipelineOfJob(caller, job_id);
  if (!p) return GitLabMessage(404, "404 Not found");
  PipelineState state = Evaluate(*caller.project, *p);
  const PipelineJobState* job = state.Job(*ParseDecimalId(job_id));
  if (!trace_range) return JsonReply(200, JobJson(config_, *caller.project, *p, state, *job));
  ApiReply empty;
  empty.content_type = "text/plain; charset=utf-8";
  if (!job->execution) return empty;  // not started: no log yet
  // The trace as it is now: whole, or the bytes a Range asks for, so that a client polling a
  // running job fetches only what is new (206 with Content-Range).
  constexpr size_t kMaxTraceBytes = 64 * 1024 * 1024;
  std::optional<ApiReply> r = LogFileReply(job->execution->gcs_path + "/build-log.txt",
                                           *trace_range, std::nullopt, kMaxTraceBytes);
  if (r) return *r;
  // Not started, or started and its log not yet opened by the worker: empty so far.
  if (!IsTerminal(job->execution->job_status)) return empty;
  return GitLabMessage(404, "404 Trace Not Found");
}

void GitLabApi::JobAction(const ApiRequest& request, const Caller& caller,
                          const std::string& job_id, const std::string& action, ReplyFn reply) {
  auto p = ProjectPipelineOfJob(caller, job_id);
  if (!p) return reply(GitLabMessage(404, "404 Not found"));
  PipelineState state = Evaluate(*caller.project, *p);
  const PipelineJobState* job = state.Job(*ParseDecimalId(job_id));
  PipelineCommand command;
  command.pipeline_id = p->id;
  command.job_id = job->run.id;
  command.user = caller.client->name;
  command.time = clock_.Now();
  bool ended = job->status == PipelineJobStatus::kSuccess ||
               job->status == PipelineJobStatus::kFailed ||
               job->status == PipelineJobStatus::kCanceled;
  if (action == "play" || action == "retry") {
    JobVariables vars = ReadJobVariables(request);
    if (vars.error) return reply(*vars.error);
    if (vars.variables) {
      if (Status s = CheckEnvSizes(*vars.variables, config_.gateway.max_env_value_bytes,
                                   config_.gateway.max_env_total_bytes, "job_variables_attributes");
          !s.ok()) {
        return reply(GitLabParamError(s.message()));
      }
    }
    command.variables = vars.variables;
  }
  if (action == "play") {
    if (!job->current || job->status != PipelineJobStatus::kManual) {
      return reply(GitLabMessage(400, "Unplayable Job"));
    }
    command.kind = PipelineCommandKind::kPlay;
  } else if (action == "retry") {
    if (!job->current || !ended)
      return reply(GitLabMessage(403, "403 Forbidden - Job is not retryable"));
    command.kind = PipelineCommandKind::kRetryJob;
  } else {
    if (ended || job->status == PipelineJobStatus::kSkipped) {
      // GitLab answers a job that cannot be canceled with the job as it is.
      return reply(JsonReply(201, JobJson(config_, *caller.project, *p, state, *job)));
    }
    command.kind = PipelineCommandKind::kCancelJob;
  }
  const ProjectConfig& project = *caller.project;
  if (command.kind != PipelineCommandKind::kCancelJob) {
    // A play or retry adds a job run with its variables to the pipeline's record.
    Pipeline after = *p;
    PipelineCommand sized = command;
    sized.position = kLatestPosition;
    ApplyPipelineCommand(project, sized, state, after, command.time);
    if (auto refused = PipelineRecordTooLarge(after)) return reply(*refused);
  }
  Pipeline pipeline = *p;
  PipelineJobState shown = *job;
  SendCommand(
      p->command_key, command, std::move(reply),
      [this, &project, pipeline, state, shown, command](RecordPosition at, ReplyFn reply) mutable {
        // The job as it will be once its pipeline's owner has applied the command.
        if (command.kind == PipelineCommandKind::kRetryJob) {
          ShowRetry(pipelines_, project, command, at,
                    [&](const Pipeline& p) { return Evaluate(project, p); });
          shown.run.id = NewJobIdAt(project, at, shown.run.name);
          shown.run.created_at = command.time;
          shown.run.user = command.user;
          shown.execution.reset();
          shown.status = PipelineJobStatus::kPending;
          return reply(JsonReply(201, JobJson(config_, project, pipeline, state, shown)));
        }
        if (command.kind == PipelineCommandKind::kPlay) {
          shown.status = PipelineJobStatus::kPending;
          shown.run.user = command.user;
          return reply(JsonReply(200, JobJson(config_, project, pipeline, state, shown)));
        }
        if (!shown.execution) shown.status = PipelineJobStatus::kCanceled;
        reply(JsonReply(201, JobJson(config_, project, pipeline, state, shown)));
      });
}

void GitLabApi::PipelineAction(const Caller& caller, const std::string& pipeline_id,
                               const std::string& action, ReplyFn reply) {
  auto p = ProjectPipeline(caller, pipeline_id);
  if (!p) return reply(GitLabMessage(404, "404 Not found"));
  PipelineCommand command;
  command.kind = action == "cancel" ? PipelineCommandKind::kCancel : PipelineCommandKind::kRetry;
  command.pipeline_id = p->id;
  command.user = caller.client->name;
  command.time = clock_.Now();
  const ProjectConfig& project = *caller.project;
  if (command.kind == PipelineCommandKind::kRetry) {
    // A retry adds a run, with its variables, for every failed or canceled job.
    Pipeline after = *p;
    PipelineCommand sized = command;
    sized.position = kLatestPosition;
    ApplyPipelineCommand(project, sized, Evaluate(project, after), after, command.time);
    if (auto refused = PipelineRecordTooLarge(after)) return reply(*refused);
  }
  Pipeline pipeline = *p;
  SendCommand(p->command_key, command, std::move(reply),
              [this, &project, pipeline, command](RecordPosition at, ReplyFn reply) mutable {
                // The pipeline as it will be once its owner has applied the command.
                PipelineState state = Evaluate(project, pipeline);
                command.position = at;
                ApplyPipelineCommand(project, command, state, pipeline, command.time);
                if (command.kind == PipelineCommandKind::kRetry) {
                  ShowRetry(pipelines_, project, command, at,
                            [&](const Pipeline& p) { return Evaluate(project, p); });
                }
                reply(JsonReply(
                    201, PipelineJson(config_, project, pipeline, Evaluate(project, pipeline))));
              });
}

}  // namespace sluice
