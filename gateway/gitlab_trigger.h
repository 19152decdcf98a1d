#pragma once

// The parameters of GitLab's pipeline trigger API, read the way GitLab reads them, and its trigger
// tokens. Pure functions: the routes that use them (issue 4) stay thin.
//
//   POST /api/v4/projects/:id/trigger/pipeline            token, ref, variables[KEY], inputs
//   POST /api/v4/projects/:id/ref/:ref/trigger/pipeline   the webhook form: the ref of the URL wins
//
// GitLab (Grape) merges the query string, a urlencoded or multipart form, and a JSON body into one
// set of parameters; a parameter of the body wins over the same one in the query string, and the
// ref of the URL wins over both. Variables are merged key by key.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "gateway/trigger_tokens.h"

namespace sluice {

struct PipelineTriggerParams {
  std::string token;
  std::string ref;
  std::map<std::string, std::string> variables;
  // Typed pipeline inputs; a value that is not a string is kept as its JSON text.
  std::map<std::string, std::string> inputs;
  // What a job reads from the file named by TRIGGER_PAYLOAD: every parameter but the token, as
  // JSON (the webhook body's own members, plus ref, id and variables).
  std::string payload_json;
};

// An answer in GitLab's shape: the status and the exact body GitLab sends.
struct GitLabReply {
  int status = 400;
  std::string body;
};

struct TriggerRequest {
  std::map<std::string, std::string> query;  // percent-decoded
  std::string content_type;                  // the whole header, parameters included
  std::string body;
  std::string project_id;               // :id as it appeared in the path, decoded
  std::optional<std::string> path_ref;  // :ref of the webhook form, decoded
};

struct TriggerParamsResult {
  PipelineTriggerParams params;
  std::optional<GitLabReply> error;  // set when the request is refused
};

TriggerParamsResult ReadTriggerParams(const TriggerRequest& request);

// "application/x-www-form-urlencoded" bodies and query strings: "a=1&b=%20x" -> {a: 1, b: " x"}.
// A key given twice keeps its last value, as Rack does.
std::map<std::string, std::string> ParseUrlEncoded(const std::string& text);
// The same, every pair in order (a key given twice appears twice).
std::vector<std::pair<std::string, std::string>> ParseUrlEncodedPairs(const std::string& text);

// The fields of a "multipart/form-data" body (files included, as their contents); nullopt when
// the body does not follow the boundary of `content_type`.
std::optional<std::map<std::string, std::string>> ParseMultipartForm(
    const std::string& content_type, const std::string& body);

// The project and token a pipeline trigger is for, or GitLab's refusal. Checked in GitLab's
// order, each failing as GitLab answers it:
//   X-Gitlab-Event: Pipeline Hook (a pipeline event pointed back at a trigger URL) -> 403;
//   unknown project, unknown/expired/revoked token, another project's token, or a client
//   token where a trigger token belongs -> 404 {"message":"404 Not Found"} (nothing revealed);
//   a ref that is neither a branch nor a tag of the project -> 400 Reference not found.
struct ResolvedTrigger {
  const ProjectConfig* project = nullptr;
  std::optional<TriggerToken> token;
  std::string ref;   // without a refs/heads/ or refs/tags/ prefix
  bool tag = false;  // the ref named a tag
  std::optional<GitLabReply> error;
};
// `job_token_caller`: set when params.token is the CI_JOB_TOKEN of a running job (a multi-project
// trigger); it stands in for a trigger token of the project.
ResolvedTrigger ResolveTrigger(const Config& config, const TriggerTokenTable& tokens,
                               const std::string& project_ref, const std::string& gitlab_event,
                               const PipelineTriggerParams& params, TimePoint now,
                               bool job_token_caller = false);

// --- Trigger tokens ---

// A new trigger token: "glptt-" and 40 lower-case hex characters from the system's CSPRNG.
std::string NewTriggerToken();

// What listings show of a token its reader did not create: its first four characters after the
// "glptt-" prefix, as GitLab does.
std::string ShortTriggerToken(const std::string& token);

}  // namespace sluice
