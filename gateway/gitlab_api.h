#pragma once

// GitLab's REST API (/api/v4) as far as Sluice speaks it: a project's pipeline trigger tokens,
// the pipeline trigger API, and its pipelines and jobs.
//
//   GET    /api/v4/user, /api/v4/version                the client; the API's version
//   GET    /api/v4/projects, /api/v4/projects/:id       the client's projects; one of them
//   GET    /api/v4/projects/:id/triggers               list (whole for their owner, with a key)
//   POST   /api/v4/projects/:id/triggers               create: description, expires_at (optional)
//   GET    /api/v4/projects/:id/triggers/:trigger_id
//   PUT    /api/v4/projects/:id/triggers/:trigger_id   update (its owner only)
//   DELETE /api/v4/projects/:id/triggers/:trigger_id   revoke
//   POST   /api/v4/projects/:id/trigger/pipeline       token, ref, variables[KEY]
//   (gitlab_trigger.h) POST   /api/v4/projects/:id/ref/:ref/trigger/pipeline?token=...   the
//   webhook form GET    /api/v4/projects/:id/pipelines/:pipeline_id           and .../jobs POST
//   /api/v4/projects/:id/pipelines/:pipeline_id/cancel    and .../retry GET
//   /api/v4/projects/:id/jobs?scope[]=...                 and .../jobs/:job_id[/trace] POST
//   /api/v4/projects/:id/jobs/:job_id/play                job_variables_attributes POST
//   /api/v4/projects/:id/jobs/:job_id/retry               job_variables_attributes too POST
//   /api/v4/projects/:id/jobs/:job_id/cancel
//
// :id is the numeric id or the URL-encoded path of a configured project. Callers authenticate
// with a client token, in PRIVATE-TOKEN or as "Authorization: Bearer" (the trigger routes with
// a trigger token or a running job's CI_JOB_TOKEN instead). Members read; developers play, retry
// and cancel; maintainers manage trigger tokens. Answers and error bodies are GitLab's. A write
// is answered only once Kafka acknowledged it, and 503 with Retry-After when it does not within
// gateway.request_timeout.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/pipeline.h"
#include "common/publisher.h"
#include "common/status_view.h"
#include "gateway/api.h"
#include "gateway/deadline_timer.h"
#include "gateway/router.h"
#include "gateway/trigger_tokens.h"

namespace sluice {

// What GitLab's API reads besides the status view: the tokens and pipelines topics, followed.
struct GitLabViews {
  TriggerTokenTable& tokens;
  PipelineStore& pipelines;
  std::function<bool()> caught_up;  // both read to their end (for /readyz)
};

class GitLabApi {
 public:
  GitLabApi(const Config& config, Publisher& publisher, StatusView& view, TriggerTokenTable& tokens,
            PipelineStore& pipelines, DeadlineTimer& deadlines, const Clock& clock);

  // Adds GitLab's routes (under /api/v4/) to the gateway's route table.
  void Register(Router& router);

 private:
  struct Caller {
    const ClientConfig* client = nullptr;
    const ProjectConfig* project = nullptr;
    ProjectRole role = ProjectRole::kReporter;
  };
  // The client of PRIVATE-TOKEN or "Authorization: Bearer", or null.
  const ClientConfig* Client(const ApiRequest& request) const;
  // The caller, if a member of the project with at least `role`; a GitLab error reply otherwise
  // (401 no client, 404 not a member, 403 a lower role).
  std::optional<ApiReply> Authorize(const ApiRequest& request, const std::string& project_ref,
                                    ProjectRole role, Caller* caller);

  ApiReply ListTriggers(const ApiRequest& request, const Caller& caller);
  // The token `caller` is shown of `t`: whole for its owner when it can be unsealed.
  std::string ShownToken(const TriggerToken& t, const Caller& caller) const;
  ApiReply GetTrigger(const Caller& caller, const std::string& trigger_id);
  void CreateTrigger(const ApiRequest& request, const Caller& caller, ReplyFn reply);
  void UpdateTrigger(const ApiRequest& request, const Caller& caller, const std::string& trigger_id,
                     ReplyFn reply);
  void DeleteTrigger(const Caller& caller, const std::string& trigger_id, ReplyFn reply);
  // Publishes the token's record (or its tombstone), applies it here once acknowledged, then
  // answers `success`; 503 when Kafka does not take it.
  void Write(const TriggerToken& token, bool revoke, ApiReply success, ReplyFn reply);

  // --- Pipelines (gitlab_pipelines.cc) ---
  void RegisterPipelineRoutes(Router& router);
  void TriggerPipeline(const ApiRequest& request, const std::string& project_ref,
                       const std::optional<std::string>& path_ref, ReplyFn reply);
  ApiReply GetPipeline(const Caller& caller, const std::string& pipeline_id);
  ApiReply ListPipelines(const ApiRequest& request, const Caller& caller);
  ApiReply ListPipelineJobs(const ApiRequest& request, const Caller& caller,
                            const std::string& pipeline_id);
  ApiReply ListJobs(const ApiRequest& request, const Caller& caller);
  // The job, or with `trace_range` its trace (the Range header's value, "" for the whole).
  ApiReply GetJob(const Caller& caller, const std::string& job_id,
                  std::optional<std::string_view> trace_range);
  void JobAction(const ApiRequest& request, const Caller& caller, const std::string& job_id,
                 const std::string& action, ReplyFn reply);
  void PipelineAction(const Caller& caller, const std::string& pipeline_id,
                      const std::string& action, ReplyFn reply);
  // The pipeline of this project with this id, or of this job id; nullopt when unknown.
  std::optional<Pipeline> ProjectPipeline(const Caller& caller, const std::string& id);
  std::optional<Pipeline> ProjectPipelineOfJob(const Caller& caller, const std::string& job_id);
  PipelineState Evaluate(const ProjectConfig& project, const Pipeline& pipeline);
  // Publishes every record; answers `success` once Kafka acknowledged them all, 503 with
  // Retry-After when one fails or the deadline passes first. `on_ack` runs before the answer.
  struct Record {
    std::string topic;
    std::string key;
    std::string value;
  };
  // Puts `command` on the requests topic under `key`; once Kafka acknowledged it, `then` gets
  // where it landed and the reply to answer (or pass on). 503 with Retry-After when Kafka
  // refuses it or does not acknowledge it within gateway.request_timeout.
  void SendCommand(const std::string& key, const PipelineCommand& command, ReplyFn reply,
                   std::function<void(RecordPosition, ReplyFn)> then);
  // Answers 503 with Retry-After through `answer` at gateway.request_timeout (ignored when an
  // answer came first).
  void AnswerAtDeadline(const ReplyFn& answer);
  void PublishAll(std::vector<Record> records, std::function<ApiReply()> success, ReplyFn reply,
                  std::function<void()> on_ack = nullptr);

  const Config& config_;
  Publisher& publisher_;
  StatusView& view_;
  TriggerTokenTable& tokens_;
  PipelineStore& pipelines_;
  DeadlineTimer& deadlines_;
  const Clock& clock_;
};

// The JSON GitLab answers for a trigger token. `token` is the whole token in the create answer
// and the short form everywhere else. `last_used`: when it last triggered a pipeline.
std::string TriggerTokenJson(const TriggerToken& t, const std::string& token,
                             std::optional<TimePoint> last_used = std::nullopt);

}  // namespace sluice
