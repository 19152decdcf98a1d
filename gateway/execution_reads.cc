// GatewayService's reads of one execution: its state (with a long poll), its status changes as
// Server-Sent Events, and its log (whole, a range, or followed as it grows).

#include <charconv>

#include "common/json_codec.h"
#include "gateway/gateway_service.h"
#include "gateway/log_reply.h"

namespace sluice {

namespace {

constexpr size_t kMaxLogBytes = 64 * 1024 * 1024;
constexpr auto kMaxWait = std::chrono::seconds(60);
constexpr int kFeedsFullRetryAfterSeconds = 2;

std::string ETagOf(JobStatus status) { return std::string("\"") + JobStatusName(status) + "\""; }

// The status named by an If-None-Match header: "\"PENDING\"" or W/"PENDING" (the first of a list).
std::optional<JobStatus> StatusOfETag(std::string_view header) {
  if (header.starts_with("W/")) header.remove_prefix(2);
  if (header.size() < 2 || header.front() != '"') return std::nullopt;
  size_t close = header.find('"', 1);
  if (close == std::string_view::npos) return std::nullopt;
  return JobStatusFromName(header.substr(1, close - 1));
}

const std::string* QueryValue(const ApiRequest& request, const char* key) {
  auto it = request.query.find(key);
  return it == request.query.end() ? nullptr : &it->second;
}

const std::string* Header(const ApiRequest& request, const char* lower_case_name) {
  auto it = request.headers.find(lower_case_name);
  return it == request.headers.end() ? nullptr : &it->second;
}

StatusOr<bool> ReadBool(const ApiRequest& request, const char* key) {
  const std::string* v = QueryValue(request, key);
  if (!v || v->empty() || *v == "false" || *v == "0") return false;
  if (*v == "true" || *v == "1") return true;
  return InvalidArgument(std::string(key) + ": expected true or false");
}

StatusOr<std::optional<uint64_t>> ReadOffset(const ApiRequest& request) {
  const std::string* v = QueryValue(request, "offset");
  if (!v) return std::optional<uint64_t>();
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || v->size() > 19 || ec != std::errc() || end != v->data() + v->size()) {
    return InvalidArgument("offset: expected a byte offset, a whole number");
  }
  return std::optional<uint64_t>(n);
}

// ?wait=30s (or 30): how long a long poll may wait, at most kMaxWait.
StatusOr<std::optional<Duration>> ReadWait(const ApiRequest& request) {
  const std::string* v = QueryValue(request, "wait");
  if (!v) return std::optional<Duration>();
  std::optional<Duration> d = ParseDuration(*v);
  if (!d) {
    uint64_t seconds = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), seconds);
    if (!v->empty() && v->size() <= 6 && ec == std::errc() && end == v->data() + v->size()) {
      d = std::chrono::seconds(seconds);
    }
  }
  if (!d || *d < Duration::zero()) {
    return InvalidArgument("wait: expected a duration such as 30s or 500ms (at most 60s)");
  }
  return std::optional<Duration>(std::min<Duration>(*d, kMaxWait));
}

}  // namespace

ApiReply GatewayService::FeedsFull() {
  return ErrorReply(Unavailable("this gateway follows as many executions as it may; retry shortly")
                        .WithRetryAfter(kFeedsFullRetryAfterSeconds));
}

void GatewayService::GetExecution(const ApiRequest& request, const std::string& id, ReplyFn reply) {
  auto client = Authenticated(request);
  if (!client.ok()) return reply(ErrorReply(client.status()));
  auto e = VisibleExecution(**client, id);
  if (!e.ok()) return reply(ErrorReply(e.status()));
  auto wait = ReadWait(request);
  if (!wait.ok()) return reply(ErrorReply(wait.status()));
  std::optional<JobStatus> known;
  if (const std::string* v = QueryValue(request, "known_status")) {
    known = JobStatusFromName(*v);
    if (!known) {
      return reply(ErrorReply(InvalidArgument(
          "known_status: \"" + EchoValue(*v) +
          "\" is not one of TRIGGERED, PENDING, SUCCESS, FAILURE, ABORTED, ERROR")));
    }
  } else if (const std::string* h = Header(request, "if-none-match")) {
    known = StatusOfETag(*h);
  }
  std::string public_url = config_.gateway.public_url;
  auto answer = [public_url](const Execution& current) {
    ApiReply r = JsonReply(200, ExecutionApiJson(current, public_url));
    r.headers.emplace_back("ETag", ETagOf(current.job_status));
    return r;
  };
  bool unchanged = known && *known == e->job_status;
  if (!unchanged) return reply(answer(*e));
  if (!*wait) {
    // A conditional GET whose status is the one the client has.
    ApiReply not_modified;
    not_modified.status = 304;
    not_modified.headers.emplace_back("ETag", ETagOf(e->job_status));
    return reply(not_modified);
  }
  if (IsTerminal(e->job_status)) return reply(answer(*e));  // nothing more to wait for
  if (feeds_->Full()) return reply(FeedsFull());
  Execution last = *e;
  feeds_->Wait(
      id, *known, std::chrono::steady_clock::now() + **wait,
      [answer, last](const std::optional<Execution>& current) {
        return answer(current ? *current : last);
      },
      std::move(reply));
}

ApiReply GatewayService::ExecutionEvents(const ApiRequest& request, const std::string& id) {
  auto client = Authenticated(request);
  if (!client.ok()) return ErrorReply(client.status());
  auto e = VisibleExecution(**client, id);
  if (!e.ok()) return ErrorReply(e.status());
  if (feeds_->Full()) return FeedsFull();
  LiveFeeds* feeds = feeds_.get();
  return ExecutionEventStream(
      [feeds, id](LiveFeeds::Render render, std::shared_ptr<ReplyStream> stream) {
        feeds->Events(id, std::move(render), std::move(stream));
      });
}

ApiReply GatewayService::ExecutionEventStream(
    std::function<void(LiveFeeds::Render, std::shared_ptr<ReplyStream>)> follow) const {
  ApiReply r;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-cache");
  std::string public_url = config_.gateway.public_url;
  r.stream = [follow, public_url](std::shared_ptr<ReplyStream> stream) {
    follow([public_url](const Execution& x) { return ExecutionApiJson(x, public_url); },
           std::move(stream));
  };
  return r;
}

void GatewayService::GetLog(const ApiRequest& request, const std::string& id, ReplyFn reply) {
  auto client = Authenticated(request);
  if (!client.ok()) return reply(ErrorReply(client.status()));
  auto e = VisibleExecution(**client, id);
  if (!e.ok()) return reply(ErrorReply(e.status()));
  auto follow = ReadBool(request, "follow");
  if (!follow.ok()) return reply(ErrorReply(follow.status()));
  auto offset = ReadOffset(request);
  if (!offset.ok()) return reply(ErrorReply(offset.status()));
  std::string path = e->gcs_path + "/build-log.txt";

  if (*follow) {
    if (feeds_->Full()) return reply(FeedsFull());
    ApiReply r;
    r.content_type = "text/plain; charset=utf-8";
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    LiveFeeds* feeds = feeds_.get();
    uint64_t from = offset->value_or(0);
    r.stream = [feeds, id, path, from](std::shared_ptr<ReplyStream> stream) {
      feeds->FollowLog(id, path, from, std::move(stream));
    };
    return reply(std::move(r));
  }

  const std::string* range = Header(request, "range");
  std::optional<ApiReply> r = LogFileReply(
      path, range ? std::string_view(*range) : std::string_view(), *offset, kMaxLogBytes);
  if (r) {
    r->headers.emplace_back("X-Content-Type-Options", "nosniff");
    return reply(std::move(*r));
  }
  if (!IsTerminal(e->job_status)) {  // not started, or its log not yet opened: empty so far
    ApiReply empty;
    empty.content_type = "text/plain; charset=utf-8";
    return reply(std::move(empty));
  }
  reply(ErrorReply(NotFound("the log of execution " + EchoValue(id) +
                            " is not readable by this gateway; gateways read logs from "
                            "worker.artifacts, which must be storage shared with the workers")));
}

}  // namespace sluice
