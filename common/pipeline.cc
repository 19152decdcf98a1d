#include "common/pipeline.h"

#include <algorithm>
#include <mutex>

#include "common/json_codec.h"
#include "common/log.h"

namespace sluice {

namespace {

void WriteRun(JsonWriter& w, const PipelineJobRun& run) {
  w.StartObject();
  WriteInt64Field(w, "id", run.id);
  WriteStringField(w, "name", run.name);
  WriteStringMap(w, "variables", run.variables);
  w.Key("start");
  w.Bool(run.start);
  w.Key("canceled");
  w.Bool(run.canceled);
  WriteOptionalString(w, "user", run.user);
  WriteTime(w, "created_at", run.created_at);
  w.EndObject();
}

PipelineJobRun ReadRun(const rapidjson::Value& v) {
  PipelineJobRun run;
  run.id = GetInt64(v, "id");
  run.name = GetString(v, "name");
  run.variables = ReadStringMap(v, "variables");
  run.start = GetBool(v, "start");
  run.canceled = GetBool(v, "canceled");
  run.user = GetString(v, "user");
  run.created_at = ReadTime(v, "created_at").value_or(TimePoint{});
  return run;
}

constexpr const char* kCommandMember = "pipeline_command";

struct KindName {
  PipelineCommandKind kind;
  const char* name;
};
constexpr KindName kKindNames[] = {
    {PipelineCommandKind::kStart, "start"},        {PipelineCommandKind::kPlay, "play"},
    {PipelineCommandKind::kRetryJob, "retry_job"}, {PipelineCommandKind::kCancelJob, "cancel_job"},
    {PipelineCommandKind::kCancel, "cancel"},      {PipelineCommandKind::kRetry, "retry"},
};

PipelineJobStatus StatusOfExecution(const Execution& e) {
  switch (e.job_status) {
    case JobStatus::kTriggered:
    case JobStatus::kUnspecified:
      return PipelineJobStatus::kPending;
    case JobStatus::kPending:
      return PipelineJobStatus::kRunning;
    case JobStatus::kSuccess:
      return PipelineJobStatus::kSuccess;
    case JobStatus::kFailure:
    case JobStatus::kError:
      return PipelineJobStatus::kFailed;
    case JobStatus::kAborted:
      return PipelineJobStatus::kCanceled;
  }
  return PipelineJobStatus::kPending;
}

bool Ended(PipelineJobStatus s) {
  return s == PipelineJobStatus::kSuccess || s == PipelineJobStatus::kFailed ||
         s == PipelineJobStatus::kCanceled;
}

}  // namespace

std::string EncodePipeline(const Pipeline& p) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteInt64Field(w, "id", p.id);
  WriteInt64Field(w, "iid", p.iid);
  WriteInt64Field(w, "project_id", p.project_id);
  WriteStringField(w, "ref", p.ref);
  w.Key("tag");
  w.Bool(p.tag);
  WriteOptionalString(w, "sha", p.sha);
  WriteStringField(w, "source", p.source);
  WriteStringField(w, "user", p.user);
  if (p.trigger_id != 0) WriteInt64Field(w, "trigger_id", p.trigger_id);
  WriteTime(w, "created_at", p.created_at);
  WriteTime(w, "updated_at", p.updated_at);
  WriteStringMap(w, "variables", p.variables);
  WriteOptionalString(w, "payload", p.payload);
  WriteOptionalString(w, "fingerprint", p.fingerprint);
  WriteOptionalString(w, "idempotency", p.idempotency);
  WriteStringField(w, "command_key", p.command_key);
  w.Key("jobs");
  w.StartArray();
  for (const PipelineJobRun& run : p.jobs) WriteRun(w, run);
  w.EndArray();
  w.Key("canceled");
  w.Bool(p.canceled);
  WriteInt64Field(w, "applied_offset", p.applied_offset);
  w.EndObject();
  return buf.GetString();
}

StatusOr<Pipeline> DecodePipeline(std::string_view json) {
  rapidjson::Document doc;
  if (Status s = ParseJson(json, doc); !s.ok()) return s;
  if (!doc.IsObject()) return InvalidArgument("pipeline record is not a JSON object");
  Pipeline p;
  p.id = GetInt64(doc, "id");
  p.project_id = GetInt64(doc, "project_id");
  auto created = ReadTime(doc, "created_at");
  if (p.id == 0 || p.project_id == 0 || !created) {
    return InvalidArgument("pipeline record lacks id, project_id or created_at");
  }
  p.iid = GetInt64(doc, "iid");
  p.ref = GetString(doc, "ref");
  p.tag = GetBool(doc, "tag");
  p.sha = GetString(doc, "sha");
  p.source = GetString(doc, "source");
  p.user = GetString(doc, "user");
  p.trigger_id = GetInt64(doc, "trigger_id");
  p.created_at = *created;
  p.updated_at = ReadTime(doc, "updated_at").value_or(*created);
  p.variables = ReadStringMap(doc, "variables");
  p.payload = GetString(doc, "payload");
  p.fingerprint = GetString(doc, "fingerprint");
  p.idempotency = GetString(doc, "idempotency");
  p.command_key = GetString(doc, "command_key");
  if (auto it = doc.FindMember("jobs"); it != doc.MemberEnd() && it->value.IsArray()) {
    for (const auto& v : it->value.GetArray()) {
      if (v.IsObject()) p.jobs.push_back(ReadRun(v));
    }
  }
  p.canceled = GetBool(doc, "canceled");
  auto applied = doc.FindMember("applied_offset");
  p.applied_offset =
      applied != doc.MemberEnd() && applied->value.IsInt64() ? applied->value.GetInt64() : -1;
  return p;
}

const char* PipelineCommandKindName(PipelineCommandKind kind) {
  for (const KindName& k : kKindNames) {
    if (k.kind == kind) return k.name;
  }
  return "start";
}

std::string EncodePipelineCommand(const PipelineCommand& c) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key(kCommandMember);
  w.StartObject();
  WriteStringField(w, "kind", PipelineCommandKindName(c.kind));
  WriteInt64Field(w, "pipeline_id", c.pipeline_id);
  if (c.job_id != 0) WriteInt64Field(w, "job_id", c.job_id);
  if (c.variables) WriteStringMap(w, "variables", *c.variables);
  WriteOptionalString(w, "user", c.user);
  WriteTime(w, "time", c.time);
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

bool IsPipelineCommandRecord(std::string_view json) {
  // Most records are triggers: only a record that mentions the member is parsed.
  if (json.find(std::string("\"") + kCommandMember + "\"") == std::string_view::npos) return false;
  rapidjson::Document doc;
  return ParseJson(json, doc).ok() && doc.IsObject() && doc.HasMember(kCommandMember);
}

StatusOr<PipelineCommand> DecodePipelineCommand(std::string_view json) {
  rapidjson::Document doc;
  if (Status s = ParseJson(json, doc); !s.ok()) return s;
  if (!doc.IsObject()) return InvalidArgument("not a pipeline command");
  auto body = doc.FindMember(kCommandMember);
  if (body == doc.MemberEnd() || !body->value.IsObject()) {
    return InvalidArgument("not a pipeline command");
  }
  const rapidjson::Value& v = body->value;
  PipelineCommand c;
  std::string kind = GetString(v, "kind");
  bool known = false;
  for (const KindName& k : kKindNames) {
    if (kind == k.name) {
      c.kind = k.kind;
      known = true;
    }
  }
  c.pipeline_id = GetInt64(v, "pipeline_id");
  if (!known || (c.pipeline_id == 0 && c.kind != PipelineCommandKind::kStart)) {
    return InvalidArgument("pipeline command lacks a known kind or pipeline_id");
  }
  c.job_id = GetInt64(v, "job_id");
  if (v.HasMember("variables")) c.variables = ReadStringMap(v, "variables");
  c.user = GetString(v, "user");
  c.time = ReadTime(v, "time").value_or(TimePoint{});
  return c;
}

const PipelineJobState* PipelineState::Job(int64_t id) const {
  for (const PipelineJobState& j : jobs) {
    if (j.run.id == id) return &j;
  }
  return nullptr;
}

PipelineState EvaluatePipeline(const ProjectConfig& project, const Pipeline& pipeline,
                               const ExecutionLookup& lookup) {
  PipelineState state;
  std::map<std::string, size_t> current;  // name -> index of its last run
  for (const PipelineJobRun& run : pipeline.jobs) {
    PipelineJobState job;
    job.run = run;
    for (const PipelineJobConfig& config : project.jobs) {
      if (config.name == run.name) job.stage = config.stage;
    }
    job.execution = lookup(std::to_string(run.id));
    current[run.name] = state.jobs.size();
    state.jobs.push_back(std::move(job));
  }
  // The statuses the stage rules take as given: anything triggered, canceled or asked to start.
  std::map<std::string, PipelineJobStatus> known;
  for (size_t i = 0; i < state.jobs.size(); ++i) {
    PipelineJobState& job = state.jobs[i];
    job.current = current[job.run.name] == i;
    if (job.execution) {
      job.status = StatusOfExecution(*job.execution);
      if (!Ended(job.status) && (job.run.canceled || (pipeline.canceled && job.current))) {
        state.to_abort.push_back(job.run.id);
      }
    } else if (job.run.canceled || pipeline.canceled) {
      job.status = PipelineJobStatus::kCanceled;
    } else if (job.run.start) {
      job.status = PipelineJobStatus::kPending;
      if (job.current) state.to_start.push_back(job.run.id);
    } else {
      continue;  // left to the stage rules below
    }
    if (job.current) known[job.run.name] = job.status;
  }
  PipelineStep step = NextPipelineStep(project, known);
  for (PipelineJobState& job : state.jobs) {
    if (!job.current || known.count(job.run.name)) continue;
    auto named = [&](const std::vector<std::string>& names) {
      return std::find(names.begin(), names.end(), job.run.name) != names.end();
    };
    if (named(step.start)) {
      job.status = PipelineJobStatus::kPending;
      state.to_start.push_back(job.run.id);
    } else if (named(step.manual)) {
      job.status = PipelineJobStatus::kManual;
    } else if (named(step.skip)) {
      job.status = PipelineJobStatus::kSkipped;
    }
  }
  if (pipeline.canceled) state.to_start.clear();
  state.status = step.status;
  bool active = !state.to_abort.empty() || !state.to_start.empty();
  for (const PipelineJobState& job : state.jobs) {
    active |=
        job.status == PipelineJobStatus::kPending || job.status == PipelineJobStatus::kRunning;
  }
  if (pipeline.canceled && !active) state.status = PipelineStatus::kCanceled;
  state.finished = !active;
  return state;
}

int64_t PipelineIdAt(RecordPosition position, int k) {
  return ((position.offset * 4096 + position.partition) * 64 + k) + 1;
}

int64_t NewJobIdAt(const ProjectConfig& project, RecordPosition position,
                   const std::string& job_name) {
  for (size_t i = 0; i < project.jobs.size(); ++i) {
    if (project.jobs[i].name == job_name) return PipelineIdAt(position, static_cast<int>(i) + 1);
  }
  return 0;
}

bool PipelineCommandAwaitsView(const PipelineCommand& command, const PipelineState& state) {
  const PipelineJobState* job = state.Job(command.job_id);
  if (job == nullptr || !job->current) return false;
  switch (command.kind) {
    case PipelineCommandKind::kPlay:
      return job->status == PipelineJobStatus::kCreated;
    case PipelineCommandKind::kRetryJob:
      return job->status == PipelineJobStatus::kPending ||
             job->status == PipelineJobStatus::kRunning;
    default:
      return false;
  }
}

bool ApplyPipelineCommand(const ProjectConfig& project, const PipelineCommand& command,
                          const PipelineState& state, Pipeline& pipeline, TimePoint now) {
  auto run_of = [&](int64_t id) -> PipelineJobRun* {
    for (PipelineJobRun& run : pipeline.jobs) {
      if (run.id == id) return &run;
    }
    return nullptr;
  };
  auto used = [&](int64_t id) { return run_of(id) != nullptr; };
  bool changed = false;
  switch (command.kind) {
    case PipelineCommandKind::kStart:
      break;
    case PipelineCommandKind::kPlay: {
      const PipelineJobState* job = state.Job(command.job_id);
      PipelineJobRun* run = run_of(command.job_id);
      if (job && run && job->current && job->status == PipelineJobStatus::kManual) {
        run->start = true;
        run->variables = command.variables.value_or(std::map<std::string, std::string>{});
        run->user = command.user;
        changed = true;
      }
      break;
    }
    case PipelineCommandKind::kRetryJob: {
      const PipelineJobState* job = state.Job(command.job_id);
      int64_t new_id = job ? NewJobIdAt(project, command.position, job->run.name) : 0;
      if (job && job->current && Ended(job->status) && new_id != 0 && !used(new_id)) {
        PipelineJobRun run;
        run.id = new_id;
        run.name = job->run.name;
        run.variables = command.variables.value_or(job->run.variables);
        run.start = true;
        run.user = command.user;
        run.created_at = command.time;
        if (pipeline.canceled) {
          // As GitLab: the retried job runs; the others the cancel stopped stay canceled.
          pipeline.canceled = false;
          for (PipelineJobRun& other : pipeline.jobs) {
            const PipelineJobState* s = state.Job(other.id);
            if (s && s->current && !s->execution) other.canceled = true;
          }
        }
        pipeline.jobs.push_back(std::move(run));
        changed = true;
      }
      break;
    }
    case PipelineCommandKind::kCancelJob: {
      const PipelineJobState* job = state.Job(command.job_id);
      PipelineJobRun* run = run_of(command.job_id);
      if (job && run && !run->canceled && !Ended(job->status) &&
          job->status != PipelineJobStatus::kSkipped) {
        run->canceled = true;
        run->user = command.user;
        changed = true;
      }
      break;
    }
    case PipelineCommandKind::kCancel:
      if (!pipeline.canceled && !state.finished) {
        pipeline.canceled = true;
        changed = true;
      } else if (!pipeline.canceled) {
        // A finished pipeline's waiting manual jobs are canceled; the rest stays as it ended.
        for (const PipelineJobState& job : state.jobs) {
          if (job.current && job.status == PipelineJobStatus::kManual) {
            run_of(job.run.id)->canceled = true;
            changed = true;
          }
        }
      }
      break;
    case PipelineCommandKind::kRetry: {
      if (pipeline.canceled) {
        pipeline.canceled = false;
        changed = true;
      }
      for (const PipelineJobState& job : state.jobs) {
        bool retryable =
            job.status == PipelineJobStatus::kFailed ||
            (job.status == PipelineJobStatus::kCanceled && (job.execution || job.run.canceled));
        if (!job.current || !retryable) continue;
        int64_t new_id = NewJobIdAt(project, command.position, job.run.name);
        if (new_id == 0 || used(new_id)) continue;
        PipelineJobRun run;
        run.id = new_id;
        run.name = job.run.name;
        run.variables = job.run.variables;
        run.user = command.user;
        run.created_at = command.time;
        pipeline.jobs.push_back(std::move(run));
        changed = true;
      }
      break;
    }
  }
  if (changed) pipeline.updated_at = now;
  return changed;
}

Trigger PipelineJobTrigger(const ProjectConfig& project, const Pipeline& pipeline,
                           const PipelineJobRun& run, TimePoint now) {
  Trigger t;
  t.id = std::to_string(run.id);
  t.job_name = run.name;
  t.job_type = JobType::kPostsubmit;
  t.create_time = now;
  t.client = run.user.empty() ? pipeline.user : run.user;
  // As the gateway marks an API trigger and a webhook's: where it came from, and for whom.
  t.pod_spec_options.annotations["sluice.io/source"] = "pipeline";
  t.pod_spec_options.annotations["sluice.io/user"] = t.client;
  t.pipeline_id = pipeline.id;
  t.project_id = pipeline.project_id;
  if (!project.repository.empty()) {
    Refs refs;
    size_t slash = project.path.rfind('/');
    refs.org = project.path.substr(0, slash == std::string::npos ? 0 : slash);
    refs.repo = project.path.substr(slash == std::string::npos ? 0 : slash + 1);
    refs.base_ref = pipeline.ref;
    refs.base_sha = pipeline.sha;
    refs.clone_uri = project.repository;
    t.refs = std::move(refs);
  }
  return t;
}

void PipelineStore::Apply(const std::string& key, const std::string& value) {
  if (value.empty()) return;  // pipelines are not deleted
  auto p = DecodePipeline(value);
  if (!p.ok()) {
    LogWarn("pipelines", "skipping unreadable record " + key + ": " + p.status().message());
    return;
  }
  Put(*p);
}

void PipelineStore::Put(const Pipeline& pipeline) {
  std::unique_lock lock(mutex_);
  auto it = by_id_.find(pipeline.id);
  if (it != by_id_.end()) {
    const Pipeline& old = it->second;
    bool newer =
        pipeline.applied_offset > old.applied_offset ||
        (pipeline.applied_offset == old.applied_offset && pipeline.updated_at >= old.updated_at);
    if (!newer) return;
  }
  for (const PipelineJobRun& run : pipeline.jobs) pipeline_of_job_[run.id] = pipeline.id;
  if (!pipeline.idempotency.empty()) by_idempotency_[pipeline.idempotency] = pipeline.id;
  if (pipeline.trigger_id != 0) {
    TimePoint& last = trigger_last_used_[pipeline.trigger_id];
    last = std::max(last, pipeline.created_at);
  }
  by_id_[pipeline.id] = pipeline;
}

std::optional<Pipeline> PipelineStore::Get(int64_t id) const {
  std::shared_lock lock(mutex_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<Pipeline> PipelineStore::FindByJob(int64_t job_id) const {
  std::shared_lock lock(mutex_);
  auto it = pipeline_of_job_.find(job_id);
  if (it == pipeline_of_job_.end()) return std::nullopt;
  return by_id_.at(it->second);
}

std::optional<TimePoint> PipelineStore::TriggerLastUsed(int64_t trigger_id) const {
  std::shared_lock lock(mutex_);
  auto it = trigger_last_used_.find(trigger_id);
  if (it == trigger_last_used_.end()) return std::nullopt;
  return it->second;
}

std::optional<Pipeline> PipelineStore::FindByIdempotency(const std::string& idempotency) const {
  std::shared_lock lock(mutex_);
  auto it = by_idempotency_.find(idempotency);
  if (it == by_idempotency_.end()) return std::nullopt;
  return by_id_.at(it->second);
}

std::vector<Pipeline> PipelineStore::ForProject(int64_t project_id) const {
  std::shared_lock lock(mutex_);
  std::vector<Pipeline> out;
  for (auto it = by_id_.rbegin(); it != by_id_.rend(); ++it) {
    if (it->second.project_id == project_id) out.push_back(it->second);
  }
  return out;
}

KafkaPipelines::KafkaPipelines(const KafkaConfig& kafka)
    : follower_(kafka, kafka.PipelinesTopic(),
                [this](const TopicFollower::Record& r) { store_.Apply(r.key, r.value); }) {}

std::optional<int64_t> ParseDecimalId(std::string_view text) {
  if (text.empty() || text.size() > 16 ||
      text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  return std::stoll(std::string(text));
}

}  // namespace sluice
