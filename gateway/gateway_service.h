#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/config.h"
#include "common/publisher.h"
#include "common/status_view.h"
#include "gateway/api.h"
#include "gateway/deadline_timer.h"
#include "gateway/gitlab_api.h"
#include "gateway/live_feeds.h"
#include "gateway/rate_limiter.h"
#include "gateway/router.h"
#include "gateway/webhooks.h"
#include "gateway/worker_roster.h"

namespace sluice {

// The gateway's logic: routes an ApiRequest and answers through ReplyFn. Knows nothing of HTTP
// libraries or Kafka clients; the HTTP adapter and main wire those in. Thread-safe; never blocks:
// calls that publish answer from the publisher's delivery callback.
class GatewayService {
 public:
  // `gitlab`: what GitLab's API (/api/v4) reads; `webhooks`: what the Git hosts' webhooks
  // (/hooks/*, /v1/events) read. Without them those routes are 404.
  GatewayService(const Config& config, Publisher& publisher, StatusView& view, const Clock& clock,
                 std::optional<GitLabViews> gitlab = std::nullopt,
                 std::optional<WebhookViews> webhooks = std::nullopt);

  void Handle(const ApiRequest& request, ReplyFn reply);
  // Stops the work the service runs on threads of its own (large webhook deliveries being
  // verified). Call after the HTTP server stopped and before the publisher goes.
  void StopBackgroundWork() {
    if (webhooks_) webhooks_->StopBackgroundWork();
  }
  // Whether a request whose head is `head` (no body yet) may send its body: the answer to
  // `Expect: 100-continue`. Checks what the head alone decides: the client token of /v1 calls.
  Status Admit(const ApiRequest& head) const;
  // The largest body the route of `path` accepts: a configured webhook host's own limit on
  // POST /hooks/{host}, gateway.max_body_bytes everywhere else.
  size_t MaxBodyBytes(std::string_view path) const;

  // The route table every API of this gateway registered in.
  const Router& router() const { return router_; }

  // Triggers published but not yet acknowledged by Kafka.
  int in_flight() const { return in_flight_.load(); }

 private:
  void RegisterRoutes();
  void CreateExecution(const ApiRequest& request, const std::optional<std::string>& path_job,
                       ReplyFn reply);
  // --- Reading one execution, live or not (execution_reads.cc) ---
  // With ?wait= (a long poll): answers once the status is not the one the client names.
  void GetExecution(const ApiRequest& request, const std::string& id, ReplyFn reply);
  // Server-Sent Events: one per status change, ending after the terminal one.
  ApiReply ExecutionEvents(const ApiRequest& request, const std::string& id);
  // The log: whole, from an offset or a Range; with ?follow=true, streamed as it grows.
  void GetLog(const ApiRequest& request, const std::string& id, ReplyFn reply);
  // --- The execution list (execution_list.cc) ---
  // A page newest first; with ?watch=true, the changes of what the filters match, as SSE.
  ApiReply ListExecutions(const ApiRequest& request);
  ApiReply WatchExecutions(const ClientConfig& client, ListQuery query);
  // A text/event-stream answer whose events are executions as the API shows them: `follow` is
  // given the renderer and the stream once the head is on its way.
  ApiReply ExecutionEventStream(
      std::function<void(LiveFeeds::Render, std::shared_ptr<ReplyStream>)> follow) const;
  // 503 with Retry-After: this gateway already serves LiveFeeds::Settings::max_feeds.
  static ApiReply FeedsFull();
  // --- What a client may do, and how this deployment is (service_info.cc) ---
  // The caller of a call that takes no query parameters.
  StatusOr<const ClientConfig*> AuthenticatedWithoutQuery(const ApiRequest& request);
  // GET /v1/jobs: the jobs the caller may trigger and what each allows.
  ApiReply ListJobs(const ApiRequest& request);
  // GET /v1/health: Kafka, the status view, and the workers seen through their heartbeats.
  ApiReply Health(const ApiRequest& request);
  void AbortExecution(const ApiRequest& request, const std::string& id, ReplyFn reply);
  ApiReply Ready();

  // The execution `id` if it exists and `client` may see it; NOT_FOUND otherwise (an execution
  // of a job the client may not trigger is not revealed).
  StatusOr<Execution> VisibleExecution(const ClientConfig& client, const std::string& id);
  StatusOr<const ClientConfig*> Authenticated(const ApiRequest& request);
  ApiReply ExecutionReply(int status, const Execution& e);

  const Config& config_;
  Publisher& publisher_;
  StatusView& view_;
  const Clock& clock_;
  RateLimiter rate_limiter_;
  std::unique_ptr<GitLabApi> gitlab_;
  std::function<bool()> gitlab_caught_up_;
  std::unique_ptr<WebhookApi> webhooks_;
  std::function<bool()> webhooks_caught_up_;
  std::atomic<int> in_flight_{0};
  Router router_;
  WorkerRoster workers_;
  std::unique_ptr<LiveFeeds> feeds_;  // its thread stops before the view and router go
  DeadlineTimer deadlines_;           // last member: its thread stops before the rest goes
};

}  // namespace sluice
