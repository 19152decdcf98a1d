#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice {

// An HTTP request as the gateway's logic sees it, independent of the HTTP library.
struct ApiRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::map<std::string, std::string> query;
  std::string authorization;
  std::string private_token;  // GitLab's PRIVATE-TOKEN header
  std::string content_type;
  std::string idempotency_key;
  std::string gitlab_event;                    // X-Gitlab-Event
  std::map<std::string, std::string> headers;  // every header, by lower-case name
  std::string body;
  // X-Request-Id as the client sent it (when printable and short), else one the gateway drew;
  // logged with the request and returned on its answer.
  std::string request_id;
  // The pattern of the route that serves it ("/v1/executions/{id}"), set by the router: a
  // bounded name for logs and metrics labels.
  std::string route;
};

struct ApiReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Called exactly once per request, from any thread.
using ReplyFn = std::function<void(ApiReply)>;

// A ReplyFn that passes on only the first answer it is given, from any thread: for requests
// answered by whichever comes first, Kafka's acknowledgement or a deadline.
ReplyFn AnswerOnce(ReplyFn reply);

// A JSON answer. JSON answers end with a newline, so that curl output in a terminal stays
// readable.
ApiReply JsonReply(int status, std::string body);

// The one HTTP error writer: the JSON body of the contract, the status of the code, and the
// headers some errors need (WWW-Authenticate on 401, Retry-After on 429 and 503).
ApiReply ErrorReply(const Status& status);

}  // namespace sluice
