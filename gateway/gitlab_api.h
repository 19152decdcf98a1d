#pragma once

// GitLab's REST API (/api/v4) as far as Sluice speaks it: a project's pipeline trigger tokens.
//
//   GET    /api/v4/projects/:id/triggers               list (tokens shortened to 4 characters)
//   POST   /api/v4/projects/:id/triggers               create: description, expires_at (optional)
//   GET    /api/v4/projects/:id/triggers/:trigger_id
//   PUT    /api/v4/projects/:id/triggers/:trigger_id   update (its owner only)
//   DELETE /api/v4/projects/:id/triggers/:trigger_id   revoke
//
// :id is the numeric id or the URL-encoded path of a configured project. Callers authenticate
// with a client token, in PRIVATE-TOKEN or as "Authorization: Bearer"; a project's members with
// the maintainer role manage its tokens. Answers and error bodies are GitLab's. A write is
// answered only once Kafka acknowledged it.

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/publisher.h"
#include "gateway/api.h"
#include "gateway/trigger_tokens.h"

namespace sluice {

class GitLabApi {
 public:
  GitLabApi(const Config& config, Publisher& publisher, TriggerTokenTable& tokens,
            const Clock& clock);

  // Whether `path` is GitLab's (under /api/v4/).
  static bool Handles(const std::string& path);
  // `parts`: the path split at '/', starting with "api", "v4".
  void Handle(const ApiRequest& request, const std::vector<std::string>& parts, ReplyFn reply);

 private:
  struct Caller {
    const ClientConfig* client = nullptr;
    const ProjectConfig* project = nullptr;
  };
  // The caller, and the project they may manage triggers of; a GitLab error reply otherwise.
  std::optional<ApiReply> Authorize(const ApiRequest& request, const std::string& project_ref,
                                    Caller* caller);

  ApiReply ListTriggers(const Caller& caller);
  ApiReply GetTrigger(const Caller& caller, const std::string& trigger_id);
  void CreateTrigger(const ApiRequest& request, const Caller& caller, ReplyFn reply);
  void UpdateTrigger(const ApiRequest& request, const Caller& caller, const std::string& trigger_id,
                     ReplyFn reply);
  void DeleteTrigger(const Caller& caller, const std::string& trigger_id, ReplyFn reply);
  // Publishes the token's record (or its tombstone), applies it here once acknowledged, then
  // answers `success`; 503 when Kafka does not take it.
  void Write(const TriggerToken& token, bool revoke, ApiReply success, ReplyFn reply);

  const Config& config_;
  Publisher& publisher_;
  TriggerTokenTable& tokens_;
  const Clock& clock_;
};

// The JSON GitLab answers for a trigger token. `token` is the whole token in the create answer
// and the short form everywhere else.
std::string TriggerTokenJson(const TriggerToken& t, const std::string& token);

}  // namespace sluice
