#include "gateway/gitlab_api.h"

#include <rapidjson/document.h>

#include <memory>
#include <mutex>

#include "common/crypto.h"
#include "common/execution_id.h"
#include "common/json_codec.h"
#include "common/log.h"
#include "common/utf8.h"
#include "gateway/auth.h"
#include "gateway/gitlab_pagination.h"
#include "gateway/gitlab_projects.h"
#include "gateway/gitlab_replies.h"
#include "gateway/gitlab_trigger.h"

namespace sluice {

namespace {

constexpr size_t kMaxDescription = 255;

// expires_at as GitLab takes it: a date ("2026-12-31", the end of that day in UTC is not meant:
// GitLab reads it as midnight) or an RFC 3339 time.
std::optional<TimePoint> ParseExpiry(const std::string& text) {
  if (auto t = ParseRfc3339(text)) return t;
  if (text.size() == 10) return ParseRfc3339(text + "T00:00:00Z");
  return std::nullopt;
}

}  // namespace

ApiReply GitLabMessage(int status, const std::string& message) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteStringField(w, "message", message);
  w.EndObject();
  return JsonReply(status, buf.GetString());
}

ApiReply GitLabParamError(const std::string& error) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteStringField(w, "error", error);
  w.EndObject();
  return JsonReply(400, buf.GetString());
}

ApiReply GitLabUnavailable() {
  constexpr int kRetryAfterSeconds = 5;
  ApiReply r = GitLabMessage(503, "503 Service Unavailable");
  r.headers.emplace_back("Retry-After", std::to_string(kRetryAfterSeconds));
  return r;
}

std::map<std::string, std::string> GitLabWriteParams(const ApiRequest& request) {
  std::map<std::string, std::string> params = request.query;
  std::string type = request.content_type.substr(0, request.content_type.find(';'));
  std::map<std::string, std::string> body;
  if (type == "application/x-www-form-urlencoded") {
    body = ParseUrlEncoded(request.body);
  } else if (type == "multipart/form-data") {
    body = ParseMultipartForm(request.content_type, request.body).value_or(body);
  } else if (!request.body.empty()) {
    rapidjson::Document doc;
    if (ParseJson(request.body, doc).ok() && doc.IsObject()) {
      for (const auto& m : doc.GetObject()) {
        if (m.value.IsString()) body[m.name.GetString()] = m.value.GetString();
      }
    }
  }
  for (auto& [k, v] : body) params[k] = v;
  return params;
}

int64_t GitLabUserId(const std::string& name) {
  std::string h = Sha256Raw(name);
  int64_t id = 0;
  for (int i = 0; i < 6; ++i) id = (id << 8) | static_cast<unsigned char>(h[i]);
  return id;
}

void WriteGitLabUser(JsonWriter& w, const std::string& name) {
  w.StartObject();
  WriteInt64Field(w, "id", GitLabUserId(name));
  WriteStringField(w, "username", name);
  WriteStringField(w, "name", name);
  WriteStringField(w, "state", "active");
  w.EndObject();
}

std::string TriggerTokenJson(const TriggerToken& t, const std::string& token,
                             std::optional<TimePoint> last_used) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteInt64Field(w, "id", t.id);
  w.Key("token");
  w.String(token.c_str());
  w.Key("description");
  w.String(t.description.c_str(), static_cast<rapidjson::SizeType>(t.description.size()));
  w.Key("created_at");
  w.String(FormatRfc3339(t.created_at).c_str());
  w.Key("updated_at");
  w.String(FormatRfc3339(t.updated_at).c_str());
  w.Key("last_used");
  if (last_used) {
    w.String(FormatRfc3339(*last_used).c_str());
  } else {
    w.Null();
  }
  w.Key("expires_at");
  if (t.expires_at) {
    w.String(FormatRfc3339(*t.expires_at).c_str());
  } else {
    w.Null();
  }
  w.Key("owner");
  WriteGitLabUser(w, t.owner);
  w.EndObject();
  return buf.GetString();
}

GitLabApi::GitLabApi(const Config& config, Publisher& publisher, StatusView& view,
                     TriggerTokenTable& tokens, PipelineStore& pipelines, DeadlineTimer& deadlines,
                     const Clock& clock)
    : config_(config),
      publisher_(publisher),
      view_(view),
      tokens_(tokens),
      pipelines_(pipelines),
      deadlines_(deadlines),
      clock_(clock) {}

const ClientConfig* GitLabApi::Client(const ApiRequest& request) const {
  std::string header = request.authorization;
  if (!request.private_token.empty()) header = "Bearer " + request.private_token;
  auto client = Authenticate(config_, header);
  return client.ok() ? *client : nullptr;
}

std::optional<ApiReply> GitLabApi::Authorize(const ApiRequest& request,
                                             const std::string& project_ref, ProjectRole role,
                                             Caller* caller) {
  const ClientConfig* client = Client(request);
  if (client == nullptr) return GitLabMessage(401, "401 Unauthorized");
  caller->client = client;
  // A project the caller is not a member of does not exist, as far as they can tell.
  const ProjectConfig* project = config_.FindProject(project_ref);
  if (project == nullptr || !project->members.count(client->name)) {
    return GitLabMessage(404, "404 Project Not Found");
  }
  caller->project = project;
  caller->role = project->members.at(client->name);
  if (caller->role < role) {
    return GitLabMessage(403, "403 Forbidden");
  }
  return std::nullopt;
}

void GitLabApi::Register(Router& router) {
  router.SetFamily("/api/v4/", ApiFamily::kGitLab);
  // Who the caller is, and what it may see: any client.
  auto client_route =
      [this](std::function<ApiReply(const ApiRequest&, const ClientConfig&)> serve) {
        return [this, serve](const ApiRequest& request, const PathParams&, ReplyFn reply) {
          const ClientConfig* client = Client(request);
          if (client == nullptr) return reply(GitLabMessage(401, "401 Unauthorized"));
          reply(serve(request, *client));
        };
      };
  router.Add("GET", "/api/v4/user", ApiFamily::kGitLab,
             client_route([this](const ApiRequest&, const ClientConfig& client) {
               return CurrentUserReply(config_, client);
             }));
  router.Add("GET", "/api/v4/version", ApiFamily::kGitLab,
             client_route([](const ApiRequest&, const ClientConfig&) { return VersionReply(); }));
  router.Add("GET", "/api/v4/projects", ApiFamily::kGitLab,
             client_route([this](const ApiRequest& request, const ClientConfig& client) {
               return ProjectsReply(config_, request, client);
             }));
  router.Add("GET", "/api/v4/projects/{id}", ApiFamily::kGitLab,
             [this](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
               Caller caller;
               if (auto refused = Authorize(request, p.at("id"), ProjectRole::kReporter, &caller)) {
                 return reply(*refused);
               }
               reply(ProjectReply(config_, *caller.project, caller.role));
             });
  // Every trigger-token route needs a maintainer of the project.
  auto maintainer = [this](auto serve) {
    return [this, serve](const ApiRequest& request, const PathParams& params, ReplyFn reply) {
      Caller caller;
      if (auto refused = Authorize(request, params.at("id"), ProjectRole::kMaintainer, &caller)) {
        return reply(*refused);
      }
      serve(request, params, caller, std::move(reply));
    };
  };
  const std::string triggers = "/api/v4/projects/{id}/triggers";
  const std::string trigger = triggers + "/{trigger_id}";
  router.Add("GET", triggers, ApiFamily::kGitLab,
             maintainer([this](const ApiRequest& request, const PathParams&, const Caller& caller,
                               ReplyFn reply) { reply(ListTriggers(request, caller)); }));
  router.Add(
      "POST", triggers, ApiFamily::kGitLab,
      maintainer([this](const ApiRequest& request, const PathParams&, const Caller& caller,
                        ReplyFn reply) { CreateTrigger(request, caller, std::move(reply)); }));
  router.Add("GET", trigger, ApiFamily::kGitLab,
             maintainer([this](const ApiRequest&, const PathParams& p, const Caller& caller,
                               ReplyFn reply) { reply(GetTrigger(caller, p.at("trigger_id"))); }));
  router.Add("PUT", trigger, ApiFamily::kGitLab,
             maintainer([this](const ApiRequest& request, const PathParams& p, const Caller& caller,
                               ReplyFn reply) {
               UpdateTrigger(request, caller, p.at("trigger_id"), std::move(reply));
             }));
  router.Add("DELETE", trigger, ApiFamily::kGitLab,
             maintainer([this](const ApiRequest&, const PathParams& p, const Caller& caller,
                               ReplyFn reply) {
               DeleteTrigger(caller, p.at("trigger_id"), std::move(reply));
             }));
  RegisterPipelineRoutes(router);
}

std::string GitLabApi::ShownToken(const TriggerToken& t, const Caller& caller) const {
  return ShownTriggerToken(t, caller.client->name, config_.gitlab.trigger_token_key);
}

ApiReply GitLabApi::ListTriggers(const ApiRequest& request, const Caller& caller) {
  std::vector<TriggerToken> tokens = tokens_.ForProject(caller.project->id);
  return PagedJsonList(
      request, config_.gateway.public_url, tokens.size(), [&](JsonWriter& w, size_t i) {
        const TriggerToken& t = tokens[i];
        std::string json =
            TriggerTokenJson(t, ShownToken(t, caller), pipelines_.TriggerLastUsed(t.id));
        w.RawValue(json.c_str(), json.size(), rapidjson::kObjectType);
      });
}

ApiReply GitLabApi::GetTrigger(const Caller& caller, const std::string& trigger_id) {
  auto id = ParseDecimalId(trigger_id);
  std::optional<TriggerToken> t;
  if (id) t = tokens_.Get(caller.project->id, *id);
  if (!t) return GitLabMessage(404, "404 Trigger Not Found");
  return JsonReply(200,
                   TriggerTokenJson(*t, ShownToken(*t, caller), pipelines_.TriggerLastUsed(t->id)));
}

void GitLabApi::CreateTrigger(const ApiRequest& request, const Caller& caller, ReplyFn reply) {
  std::map<std::string, std::string> params = GitLabWriteParams(request);
  auto description = params.find("description");
  if (description == params.end()) return reply(GitLabParamError("description is missing"));
  if (description->second.size() > kMaxDescription) {
    return reply(GitLabParamError("description is too long (at most 255 characters)"));
  }
  // Form values are percent-decoded bytes; the description is stored and served as text.
  if (!IsValidUtf8(description->second)) {
    return reply(GitLabParamError("description is not valid UTF-8"));
  }
  TimePoint now = clock_.Now();
  TriggerToken t;
  if (auto e = params.find("expires_at"); e != params.end() && !e->second.empty()) {
    t.expires_at = ParseExpiry(e->second);
    if (!t.expires_at) return reply(GitLabParamError("expires_at is invalid"));
    if (*t.expires_at <= now) {
      return reply(GitLabMessage(400, "400 Bad request - expires_at must be in the future"));
    }
  }
  std::string token = NewTriggerToken();
  t.id = NewNumericId(now);
  t.project_id = caller.project->id;
  t.token_sha256 = Sha256Hex(token);
  t.short_token = ShortTriggerToken(token);
  if (!config_.gitlab.trigger_token_key.empty()) {
    // Kept for its owner, as GitLab keeps tokens (encrypted); bound to this record's key.
    t.sealed_token =
        Seal(config_.gitlab.trigger_token_key, token, TriggerTokenKey(t.project_id, t.id));
  }
  t.description = description->second;
  t.owner = caller.client->name;
  t.created_at = now;
  t.updated_at = now;
  // Without a key, the whole token is shown once, here: only its hash is kept.
  Write(t, false, JsonReply(201, TriggerTokenJson(t, token)), std::move(reply));
}

void GitLabApi::UpdateTrigger(const ApiRequest& request, const Caller& caller,
                              const std::string& trigger_id, ReplyFn reply) {
  auto id = ParseDecimalId(trigger_id);
  std::optional<TriggerToken> t;
  if (id) t = tokens_.Get(caller.project->id, *id);
  if (!t) return reply(GitLabMessage(404, "404 Trigger Not Found"));
  if (t->owner != caller.client->name) return reply(GitLabMessage(403, "403 Forbidden"));
  std::map<std::string, std::string> params = GitLabWriteParams(request);
  if (auto d = params.find("description"); d != params.end()) {
    if (d->second.size() > kMaxDescription) {
      return reply(GitLabParamError("description is too long (at most 255 characters)"));
    }
    if (!IsValidUtf8(d->second)) return reply(GitLabParamError("description is not valid UTF-8"));
    t->description = d->second;
  }
  t->updated_at = clock_.Now();
  Write(*t, false,
        JsonReply(200,
                  TriggerTokenJson(*t, ShownToken(*t, caller), pipelines_.TriggerLastUsed(t->id))),
        std::move(reply));
}

void GitLabApi::DeleteTrigger(const Caller& caller, const std::string& trigger_id, ReplyFn reply) {
  auto id = ParseDecimalId(trigger_id);
  std::optional<TriggerToken> t;
  if (id) t = tokens_.Get(caller.project->id, *id);
  if (!t) return reply(GitLabMessage(404, "404 Trigger Not Found"));
  ApiReply no_content;
  no_content.status = 204;
  no_content.body.clear();
  Write(*t, true, no_content, std::move(reply));
}

void GitLabApi::Write(const TriggerToken& token, bool revoke, ApiReply success, ReplyFn reply) {
  TriggerTokenTable& table = tokens_;
  // Read-your-writes on this gateway; the others learn it from the topic.
  auto on_ack = [&table, token, revoke] {
    if (revoke) {
      table.Remove(token.project_id, token.id);
    } else {
      table.Put(token);
    }
  };
  PublishAll(
      {{config_.kafka.TriggersTopic(), TriggerTokenKey(token.project_id, token.id),
        revoke ? "" : EncodeTriggerToken(token)}},
      [success] { return success; }, std::move(reply), on_ack);
}

void GitLabApi::PublishAll(std::vector<Record> records, std::function<ApiReply()> success,
                           ReplyFn reply, std::function<void()> on_ack) {
  struct Pending {
    std::mutex mutex;
    size_t remaining = 0;
    Status error;
  };
  auto pending = std::make_shared<Pending>();
  pending->remaining = records.size();
  ReplyFn answer = AnswerOnce(std::move(reply));
  for (const Record& r : records) {
    publisher_.Publish(r.topic, r.key, r.value,
                       [pending, answer, success, on_ack](const Status& s) {
                         Status error;
                         {
                           std::lock_guard<std::mutex> lock(pending->mutex);
                           if (!s.ok() && pending->error.ok()) pending->error = s;
                           if (--pending->remaining > 0) return;
                           error = pending->error;
                         }
                         if (!error.ok()) {
                           LogWarn("gitlab", "write not accepted: " + error.ToString());
                           return answer(GitLabUnavailable());
                         }
                         if (on_ack) on_ack();
                         answer(success());
                       });
  }
  AnswerAtDeadline(answer);
}

void GitLabApi::AnswerAtDeadline(const ReplyFn& answer) {
  // librdkafka may report a failure late when no broker is up; the contract's deadline holds.
  deadlines_.At(DeadlineTimer::Clock::now() + config_.gateway.request_timeout,
                [answer] { answer(GitLabUnavailable()); });
}

}  // namespace sluice
