#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
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

// The sending side of an answer whose body goes out as it is made (Server-Sent Events, a log
// followed as it grows). Thread-safe. The producer writes; the connection tells it how much the
// socket took, and closes it when the client is gone.
class ReplyStream {
 public:
  // Carries bytes (and, with `end`, the end of the body) to the connection's thread.
  using Sink = std::function<void(std::string bytes, bool end)>;
  explicit ReplyStream(Sink sink) : sink_(std::move(sink)) {}

  // Queues `bytes` for the client; false once the client is gone or the body ended: stop.
  bool Write(std::string bytes) {
    if (!open_.load()) return false;
    written_ += bytes.size();
    sink_(std::move(bytes), false);
    return true;
  }
  // Ends the body; the connection closes after sending it.
  void End() {
    if (open_.exchange(false)) sink_("", true);
  }
  bool open() const { return open_.load(); }
  // Bytes written and not yet taken by the socket: a producer writes more only while this is
  // small, so a client that reads slowly holds back its producer instead of the gateway's memory.
  size_t Backlog() const {
    size_t sent = sent_.load();
    size_t written = written_.load();
    return written > sent ? written - sent : 0;
  }

  // The connection's side: the socket took the first `total` bytes written; the client is gone.
  void Sent(size_t total) { sent_ = total; }
  void Close() { open_ = false; }

 private:
  Sink sink_;
  std::atomic<bool> open_{true};
  std::atomic<size_t> written_{0};
  std::atomic<size_t> sent_{0};
};

struct ApiReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set: the body is not `body` but what this function's stream is given, sent chunked; the
  // connection calls it (on its own thread: it must only hand the stream on) once the head is
  // queued, and closes after the stream ends.
  std::function<void(std::shared_ptr<ReplyStream>)> stream;
};

// Called exactly once per request, from any thread.
using ReplyFn = std::function<void(ApiReply)>;

// A ReplyFn that passes on only the first answer it is given, from any thread: for requests
// answered by whichever comes first, Kafka's acknowledgement or a deadline.
ReplyFn AnswerOnce(ReplyFn reply);

// A JSON answer. JSON answers end with a newline, so that curl output in a terminal stays
// readable.
ApiReply JsonReply(int status, std::string body);

// A boolean query parameter: true, 1 or present without a value (?dry_run) is true; false or 0
// is false. Returns false for anything else.
bool ParseBoolParam(const std::string& value, bool* out);

// The one HTTP error writer: the JSON body of the contract, the status of the code, and the
// headers some errors need (WWW-Authenticate on 401, Retry-After on 429 and 503).
ApiReply ErrorReply(const Status& status);

}  // namespace sluice
