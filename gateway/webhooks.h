#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/git_delivery.h"
#include "common/json_codec.h"
#include "common/publisher.h"
#include "gateway/api.h"
#include "gateway/deadline_timer.h"
#include "gateway/router.h"
#include "gateway/work_pool.h"

namespace sluice {

// The webhooks section in force. A reload (SIGHUP) replaces it whole; a request works with the
// one it started with.
class WebhookSettings {
 public:
  explicit WebhookSettings(WebhooksConfig initial)
      : current_(std::make_shared<const WebhooksConfig>(std::move(initial))) {}
  std::shared_ptr<const WebhooksConfig> Current() const { return current_.load(); }
  void Replace(WebhooksConfig next) {
    current_.store(std::make_shared<const WebhooksConfig>(std::move(next)));
  }

 private:
  std::atomic<std::shared_ptr<const WebhooksConfig>> current_;
};

// What the webhook routes read: the gateways' view of the events topic and the settings.
struct WebhookViews {
  DeliveryStore& deliveries;
  WebhookSettings& settings;
  std::function<bool()> caught_up;  // whether the deliveries view has read the topic's past
};

// A delivery refused for its signature or token. Nothing of it reaches Kafka, so each gateway
// remembers the last ones it refused, to list them in GET /v1/events.
struct RefusedDelivery {
  GitHost host = GitHost::kGitHub;
  std::string delivery_id;
  std::string event_type;
  std::string repo;  // as the unverified body claims
  std::string reason;
  TimePoint received_at;
};

// The replies of the webhook routes, as plain functions of what a delivery became.
// 200 for a ping, 202 for any other stored delivery; the body lists the executions started and
// why every other postsubmit was not.
ApiReply DeliveryReply(const DeliveryRecord& record, const std::string& public_url);
// A dry run's answer: 200, the signature valid, what the delivery would trigger, and whether the
// delivery id is already known (a real delivery would then trigger nothing).
ApiReply DryRunReply(const DeliveryRecord& record, bool known);
// One delivery as GET /v1/events lists it and a dry run answers it; `visible` filters the jobs;
// a dry run's outcome is "would trigger".
void WriteDeliveryTrace(JsonWriter& w, const DeliveryRecord& record,
                        const std::function<bool(const std::string&)>& visible,
                        bool dry_run = false);
// The headers kept with a stored delivery: those that describe it, none that carries a secret
// (X-Gitlab-Token) or a signature.
std::map<std::string, std::string> DescriptiveHeaders(const std::map<std::string, std::string>& h);

// POST /hooks/{github,gitlab,gitea}, GET /v1/events, GET /v1/events/{host}/{delivery id} and
// POST /v1/events/{host}/{delivery id}/replay. A verified delivery is written whole to the
// events topic and answered once Kafka has it; a redelivery is answered from that record.
class WebhookApi {
 public:
  WebhookApi(const Config& config, Publisher& publisher, WebhookViews views,
             DeadlineTimer& deadlines, const Clock& clock);

  // Stops the threads that verify large deliveries: one being verified is finished (it may still
  // publish), queued ones are dropped unanswered. Call once the HTTP server has stopped and while
  // the publisher is still there.
  void StopBackgroundWork() { pool_.Stop(); }

  // Adds the routes above to the gateway's route table.
  void Register(Router& router);
  // The body limit of POST /hooks/{host}: the host's max_body_bytes as configured now, nullopt
  // for a host that is not configured.
  std::optional<size_t> MaxBodyBytes(std::string_view host) const;

 private:
  // Checks what is cheap (query, host, size, dry-run client) on the calling thread, then verifies
  // and stores: inline for a small body, on pool_ for a large one (503 when pool_ is full).
  void Receive(GitHost host, const ApiRequest& request, ReplyFn reply);
  // The signature over the raw body against every secret of the host, then the body, then the
  // repository's scope; stores the delivery (or answers a redelivery or a dry run).
  void VerifyAndStore(GitHost host, const ApiRequest& request,
                      std::shared_ptr<const WebhooksConfig> settings, const ClientConfig* admin,
                      ReplyFn reply);
  // Remembers and logs a refused delivery; `repo` as the body claims it, when known.
  // The delivery as it would be recorded: the event, its jobs matched, their execution ids.
  DeliveryRecord Matched(GitHost host, GitEvent event, const ApiRequest& request,
                         TimePoint now) const;
  // An admin's dry run: the matches, nothing stored or started. `signed_delivery`: the
  // signature was sent and verified (otherwise none was sent, and none was checked).
  ApiReply DryRun(GitHost host, GitEvent event, const ApiRequest& request,
                  const ClientConfig& admin, bool signed_delivery);
  void Refuse(GitHost host, const ApiRequest& request, std::string repo, const Status& why,
              TimePoint now);
  void Replay(const ApiRequest& request, GitHost host, const std::string& delivery_id,
              ReplyFn reply);
  ApiReply List(const ApiRequest& request);
  ApiReply Show(const ApiRequest& request, GitHost host, const std::string& delivery_id);
  // Publishes the record and answers `reply(record)` once Kafka has it, 503 otherwise.
  void Store(DeliveryRecord record, const std::string& request_id, ReplyFn reply);
  std::vector<RefusedDelivery> RefusedSince(const DeliveryStore::Query& query) const;

  const Config& config_;
  Publisher& publisher_;
  DeliveryStore& deliveries_;
  WebhookSettings& settings_;
  DeadlineTimer& deadlines_;
  const Clock& clock_;
  mutable std::mutex refused_mutex_;
  std::deque<RefusedDelivery> refused_;  // newest last, at most kRefusedKept
  WorkPool pool_;                        // last: its threads stop before the rest goes
};

}  // namespace sluice
