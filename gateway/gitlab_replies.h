#pragma once

// The pieces every GitLab route answers with: GitLab's error bodies, its user object, and the
// parameters of a write. Shared by gitlab_api.cc and gitlab_pipelines.cc.

#include <cstdint>
#include <map>
#include <string>

#include "common/json_codec.h"
#include "gateway/api.h"

namespace sluice {

// {"message": "..."} with `status`, as GitLab answers most refusals.
ApiReply GitLabMessage(int status, const std::string& message);
// {"error": "..."} with 400, as GitLab answers a missing or invalid parameter.
ApiReply GitLabParamError(const std::string& error);
// 503 {"message":"503 Service Unavailable"} with Retry-After: Kafka did not take a write.
ApiReply GitLabUnavailable();

// The parameters of a write: the query string, then a urlencoded or multipart form or a JSON
// object's string members over it.
std::map<std::string, std::string> GitLabWriteParams(const ApiRequest& request);

// A stable numeric id for a client, for GitLab's user objects.
int64_t GitLabUserId(const std::string& name);
// GitLab's user object {id, username, name, state} for a client.
void WriteGitLabUser(JsonWriter& w, const std::string& name);

}  // namespace sluice
