// GatewayService's answers about the deployment rather than one execution: the jobs a client may
// trigger (GET /v1/jobs) and how this gateway and the workers it sees are (GET /v1/health).

#include <unistd.h>

#include <algorithm>

#include "common/json_codec.h"
#include "gateway/auth.h"
#include "gateway/create_request.h"
#include "gateway/gateway_service.h"

namespace sluice {

namespace {

// A worker counts as seen while its newest heartbeat, claim or result is this recent.
constexpr auto kWorkerSeenWithin = std::chrono::minutes(10);

void WriteStrings(JsonWriter& w, const char* key, const std::vector<std::string>& values) {
  w.Key(key);
  w.StartArray();
  for (const std::string& v : values) w.String(v.c_str(), static_cast<unsigned>(v.size()));
  w.EndArray();
}

void WriteJob(JsonWriter& w, const JobConfig& job) {
  w.StartObject();
  WriteStringField(w, "name", job.name);
  WriteStringField(w, "job_type", JobTypeName(job.type));
  WriteStringField(w, "repo", job.repo);
  WriteStrings(w, "branches", job.branches);
  WriteStrings(w, "skip_branches", job.skip_branches);
  WriteStrings(w, "tags", job.tags);
  WriteStrings(w, "allow_env_override", job.allow_env_override);
  // The defaults of what a trigger may override: the rest of the job's environment is the
  // operator's, not the caller's.
  std::map<std::string, std::string> overridable;
  for (const auto& [name, value] : job.env) {
    if (EnvNameAllowed(job.allow_env_override, name)) overridable[name] = value;
  }
  WriteStringMap(w, "env", overridable);
  WriteStringField(w, "timeout", FormatDuration(job.timeout));
  WriteInt64Field(w, "max_attempts", job.max_attempts);
  WriteStringField(w, "schedule", "");  // no schedules yet: triggers only
  w.Key("clone");
  w.Bool(job.clone);
  w.EndObject();
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

}  // namespace

StatusOr<const ClientConfig*> GatewayService::AuthenticatedWithoutQuery(const ApiRequest& request) {
  auto client = Authenticated(request);
  if (!client.ok() || request.query.empty()) return client;
  return InvalidArgument("unknown query parameter \"" + EchoValue(request.query.begin()->first) +
                         "\"; " + EchoValue(request.path) + " takes none");
}

ApiReply GatewayService::ListJobs(const ApiRequest& request) {
  auto client = AuthenticatedWithoutQuery(request);
  if (!client.ok()) return ErrorReply(client.status());
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteStringField(w, "client", (*client)->name);
  w.Key("admin");
  w.Bool((*client)->admin);
  w.Key("jobs");
  w.StartArray();
  for (const JobConfig& job : config_.jobs) {
    if (ClientMayUseJob(**client, job.name)) WriteJob(w, job);
  }
  w.EndArray();
  w.EndObject();
  return JsonReply(200, buf.GetString());
}

ApiReply GatewayService::Health(const ApiRequest& request) {
  auto client = AuthenticatedWithoutQuery(request);
  if (!client.ok()) return ErrorReply(client.status());
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteStringField(w, "gateway", HostName() + " " + config_.gateway.listen);
  w.Key("ready");
  w.Bool(Ready().status == 200);
  w.Key("kafka");
  w.StartObject();
  w.Key("reachable");
  w.Bool(publisher_.Reachable());
  w.EndObject();
  w.Key("status_view");
  w.StartObject();
  w.Key("caught_up");
  w.Bool(view_.CaughtUp());
  WriteInt64Field(w, "lag_records", view_.LagRecords());
  WriteInt64Field(w, "executions", static_cast<int64_t>(view_.store().size()));
  w.EndObject();
  w.Key("workers");
  w.StartArray();
  for (const WorkerRoster::Worker& worker : workers_.SeenSince(clock_.Now() - kWorkerSeenWithin)) {
    w.StartObject();
    WriteStringField(w, "worker", worker.name);
    WriteTime(w, "last_seen", worker.last_seen);
    w.Key("running");
    w.StartArray();
    // What a worker runs is shown only as far as the caller may see the job.
    for (const std::string& id : worker.running) {
      std::optional<Execution> e = view_.store().Get(id);
      if (!e || !ClientMayUseJob(**client, e->job_name)) continue;
      w.StartObject();
      WriteStringField(w, "id", e->id);
      WriteStringField(w, "job_name", e->job_name);
      WriteInt64Field(w, "attempt", e->attempt);
      WriteTime(w, "start_time", e->start_time);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return JsonReply(200, buf.GetString());
}

}  // namespace sluice
