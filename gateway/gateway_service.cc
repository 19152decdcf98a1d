#include "gateway/gateway_service.h"

#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include "common/execution_id.h"
#include "common/json_codec.h"
#include "common/log.h"
#include "gateway/auth.h"
#include "gateway/create_request.h"
#include "gateway/dashboard.h"
#include "gateway/gateway_metrics.h"
#include "gateway/openapi.h"

namespace sluice {
namespace {

constexpr const char* kComponent = "gateway";
constexpr int kUnavailableRetryAfterSeconds = 5;
constexpr size_t kMaxIdempotencyKeyLength = 255;

Status ValidateIdempotencyKey(const std::string& key) {
  if (key.size() > kMaxIdempotencyKeyLength) {
    return InvalidArgument("Idempotency-Key: at most " + std::to_string(kMaxIdempotencyKeyLength) +
                           " characters");
  }
  for (unsigned char c : key) {
    if (c < 0x21 || c > 0x7e) {
      return InvalidArgument("Idempotency-Key: only printable ASCII without spaces is allowed");
    }
  }
  return Status::Ok();
}

// Both records of a create must be acknowledged before the client hears 200; the client hears
// once, from whichever comes first: both acknowledgements, or the deadline.
struct PendingCreate {
  std::mutex mutex;
  int remaining = 2;
  bool answered = false;
  Status error;
  ReplyFn reply;
  Execution execution;
  std::string request_id;
  uint64_t deadline = 0;  // DeadlineTimer's id, cancelled once both acknowledgements came
};

}  // namespace

ReplyFn AnswerOnce(ReplyFn reply) {
  struct Once {
    std::mutex mutex;
    ReplyFn reply;
  };
  auto once = std::make_shared<Once>();
  once->reply = std::move(reply);
  return [once](ApiReply r) {
    ReplyFn first;
    {
      std::lock_guard<std::mutex> lock(once->mutex);
      first = std::move(once->reply);
      once->reply = nullptr;
    }
    if (first) first(std::move(r));
  };
}

bool ParseBoolParam(const std::string& value, bool* out) {
  if (value == "true" || value == "1" || value.empty()) {
    *out = true;
  } else if (value == "false" || value == "0") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

ApiReply JsonReply(int status, std::string body) {
  ApiReply r;
  r.status = status;
  r.body = std::move(body);
  r.body.push_back('\n');
  return r;
}

ApiReply ErrorReply(const Status& status) {
  ApiReply r = JsonReply(status.http_status(), ErrorJson(status));
  if (status.code() == Code::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sluice\"");
  }
  if (status.retry_after_seconds()) {
    r.headers.emplace_back("Retry-After", std::to_string(*status.retry_after_seconds()));
  }
  return r;
}

GatewayService::GatewayService(const Config& config, Publisher& publisher, StatusView& view,
                               const Clock& clock, std::optional<GitLabViews> gitlab,
                               std::optional<WebhookViews> webhooks)
    : config_(config),
      publisher_(publisher),
      view_(view),
      clock_(clock),
      rate_limiter_(clock),
      gitlab_caught_up_(gitlab ? gitlab->caught_up : nullptr),
      webhooks_caught_up_(webhooks ? webhooks->caught_up : nullptr),
      workers_(view.store()),
      feeds_(std::make_unique<LiveFeeds>(
          view.store(), LiveFeeds::Settings::ForConnections(
                            static_cast<size_t>(std::max(1, config.gateway.max_connections))))) {
  if (gitlab) {
    gitlab_ = std::make_unique<GitLabApi>(config, publisher, view, gitlab->tokens,
                                          gitlab->pipelines, deadlines_, clock);
  }
  if (webhooks) {
    webhooks_ = std::make_unique<WebhookApi>(config, publisher, *webhooks, deadlines_, clock);
  }
  RegisterRoutes();
}

void GatewayService::RegisterRoutes() {
  auto reply_with = [](auto answer) {
    return [answer](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
      reply(answer(request, p));
    };
  };
  router_.Add("GET", "/healthz", ApiFamily::kOps,
              reply_with([](const ApiRequest&, const PathParams&) {
                return JsonReply(200, "{\"status\":\"ok\"}");
              }));
  router_.Add("GET", "/readyz", ApiFamily::kOps,
              reply_with([this](const ApiRequest&, const PathParams&) { return Ready(); }));
  router_.Add("GET", "/openapi.yaml", ApiFamily::kOps,
              reply_with([](const ApiRequest&, const PathParams&) { return OpenApiReply(); }));
  // The process's registry: in `sluice dev`, the worker's metrics too.
  router_.Add("GET", "/metrics", ApiFamily::kOps,
              reply_with([](const ApiRequest&, const PathParams&) {
                return MetricsReply(metrics::DefaultRegistry());
              }));
  router_.Add("GET", "/v1/executions", ApiFamily::kV1,
              reply_with([this](const ApiRequest& request, const PathParams&) {
                return ListExecutions(request);
              }));
  router_.Add("POST", "/v1/executions", ApiFamily::kV1,
              [this](const ApiRequest& request, const PathParams&, ReplyFn reply) {
                CreateExecution(request, std::nullopt, std::move(reply));
              });
  // GET names an execution; POST names a job (the gangway-cli form). One template, since
  // OpenAPI takes one parameter name per path.
  router_.Add("GET", "/v1/executions/{id}", ApiFamily::kV1,
              [this](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
                GetExecution(request, p.at("id"), std::move(reply));
              });
  router_.Add("POST", "/v1/executions/{id}", ApiFamily::kV1,
              [this](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
                CreateExecution(request, p.at("id"), std::move(reply));
              });
  router_.Add("POST", "/v1/executions/{id}/abort", ApiFamily::kV1,
              [this](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
                AbortExecution(request, p.at("id"), std::move(reply));
              });
  router_.Add("GET", "/v1/executions/{id}/log", ApiFamily::kV1,
              [this](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
                GetLog(request, p.at("id"), std::move(reply));
              });
  router_.Add("GET", "/v1/executions/{id}/events", ApiFamily::kV1,
              reply_with([this](const ApiRequest& request, const PathParams& p) {
                return ExecutionEvents(request, p.at("id"));
              }));
  router_.Add("GET", "/v1/jobs", ApiFamily::kV1,
              reply_with([this](const ApiRequest& request, const PathParams&) {
                return ListJobs(request);
              }));
  router_.Add(
      "GET", "/v1/health", ApiFamily::kV1,
      reply_with([this](const ApiRequest& request, const PathParams&) { return Health(request); }));
  if (gitlab_) gitlab_->Register(router_);
  if (webhooks_) webhooks_->Register(router_);
  RegisterDashboard(router_);
}

void GatewayService::Handle(const ApiRequest& request, ReplyFn reply) {
  router_.Dispatch(request, std::move(reply));
}

size_t GatewayService::MaxBodyBytes(std::string_view path) const {
  constexpr std::string_view kHooks = "/hooks/";
  if (webhooks_ && path.starts_with(kHooks)) {
    std::string_view host = path.substr(kHooks.size());
    if (!host.empty() && host.back() == '/') host.remove_suffix(1);
    if (auto limit = webhooks_->MaxBodyBytes(host)) return *limit;
  }
  return config_.gateway.max_body_bytes;
}

Status GatewayService::Admit(const ApiRequest& head) const {
  if (!head.path.starts_with("/v1/")) return Status::Ok();  // tokens in the body, signatures
  auto client = Authenticate(config_, head.authorization);
  return client.ok() ? Status::Ok() : client.status();
}

StatusOr<const ClientConfig*> GatewayService::Authenticated(const ApiRequest& request) {
  return Authenticate(config_, request.authorization);
}

ApiReply GatewayService::ExecutionReply(int status, const Execution& e) {
  return JsonReply(status, ExecutionApiJson(e, config_.gateway.public_url));
}

void GatewayService::CreateExecution(const ApiRequest& request,
                                     const std::optional<std::string>& path_job, ReplyFn reply) {
  auto client = Authenticated(request);
  if (!client.ok()) return reply(ErrorReply(client.status()));
  if (Status s = CheckContentType(request.content_type); !s.ok()) return reply(ErrorReply(s));
  if (request.body.size() > config_.gateway.max_body_bytes) {
    return reply(ErrorReply(
        Status(Code::kInvalidArgument, "request body is " + std::to_string(request.body.size()) +
                                           " bytes; the limit is " +
                                           std::to_string(config_.gateway.max_body_bytes))
            .WithHttpStatus(413)));
  }
  if (int wait = rate_limiter_.TryAcquire((*client)->name, (*client)->rate_limit); wait > 0) {
    return reply(ErrorReply(ResourceExhausted("rate limit of client \"" + (*client)->name +
                                              "\" exceeded; retry in " + std::to_string(wait) + "s")
                                .WithRetryAfter(wait)));
  }
  auto parsed = ParseCreateRequest(request.body, path_job);
  if (!parsed.ok()) return reply(ErrorReply(parsed.status()));
  if (Status s = CheckEnvSizes(parsed->pod_spec_options.envs, config_.gateway.max_env_value_bytes,
                               config_.gateway.max_env_total_bytes, "pod_spec_options.envs");
      !s.ok()) {
    return reply(ErrorReply(s));
  }
  auto job = AuthorizeJob(config_, **client, parsed->job_name);
  if (!job.ok()) return reply(ErrorReply(job.status()));
  if (Status s = ValidateAgainstJob(*parsed, **job); !s.ok()) return reply(ErrorReply(s));

  std::string fingerprint = RequestFingerprint(*parsed);
  TimePoint now = clock_.Now();
  std::string id;
  if (!request.idempotency_key.empty()) {
    if (Status s = ValidateIdempotencyKey(request.idempotency_key); !s.ok()) {
      return reply(ErrorReply(s));
    }
    id = ExecutionIdForIdempotencyKey((*client)->name, request.idempotency_key);
    if (auto existing = view_.store().Get(id)) {
      if (existing->fingerprint != fingerprint) {
        return reply(ErrorReply(FailedPrecondition(
            "Idempotency-Key was already used for a different request (execution " + id +
            "); use a new key for a new request")));
      }
      ApiReply replay = ExecutionReply(200, *existing);
      replay.headers.emplace_back("Location", "/v1/executions/" + id);
      return reply(std::move(replay));
    }
  } else {
    id = NewExecutionIdV7(now);
  }

  if (in_flight_.load() >= config_.gateway.max_in_flight) {
    return reply(ErrorReply(ResourceExhausted("too many triggers waiting for Kafka on this gateway")
                                .WithRetryAfter(1)));
  }

  Trigger trigger;
  trigger.id = id;
  trigger.job_name = parsed->job_name;
  trigger.job_type = parsed->job_type;
  trigger.refs = parsed->refs;
  trigger.pod_spec_options = parsed->pod_spec_options;
  trigger.pod_spec_options.annotations["sluice.io/user"] = (*client)->name;
  trigger.pod_spec_options.annotations["sluice.io/source"] = "api";
  trigger.create_time = now;
  trigger.client = (*client)->name;
  trigger.fingerprint = fingerprint;

  Execution execution = Execution::FromTrigger(
      trigger, ArtifactsPathFor(config_.worker.artifacts, trigger.job_name, trigger.id));
  // Both records, and the worker's later records of the execution (which carry the same fields),
  // must fit what Kafka takes: a record refused for its size after the 200 would never run.
  std::string trigger_record = EncodeTrigger(trigger);
  std::string result_record = EncodeExecutionRecord(execution);
  auto largest = [&trigger] { return LargestTriggerField(trigger); };
  if (Status s = CheckRecordFits("the trigger", id.size() + trigger_record.size(), 0, largest);
      !s.ok()) {
    return reply(ErrorReply(s));
  }
  if (Status s = CheckRecordFits("the execution's status record", id.size() + result_record.size(),
                                 kWorkerRecordReserveBytes, largest);
      !s.ok()) {
    return reply(ErrorReply(s));
  }

  auto pending = std::make_shared<PendingCreate>();
  pending->reply = std::move(reply);
  pending->execution = std::move(execution);
  pending->request_id = request.request_id;
  in_flight_.fetch_add(1);

  auto on_delivery = [this, pending](const Status& s) {
    ReplyFn reply_now;
    Status error;
    {
      std::lock_guard<std::mutex> lock(pending->mutex);
      if (!s.ok() && pending->error.ok()) pending->error = s;
      if (--pending->remaining > 0 || pending->answered) return;
      pending->answered = true;
      reply_now = std::move(pending->reply);
      error = pending->error;
    }
    deadlines_.Cancel(pending->deadline);
    in_flight_.fetch_sub(1);
    if (!error.ok()) {
      LogWarn(kComponent, "trigger " + pending->execution.id + " not accepted: " + error.ToString(),
              {{"execution_id", pending->execution.id},
               {"job", pending->execution.job_name},
               {"client", pending->execution.client},
               {"request_id", pending->request_id}});
      Status answer = Unavailable(
                          "Kafka did not accept the trigger in time; it may or may not "
                          "run. Retry with the same Idempotency-Key to be safe.")
                          .WithRetryAfter(kUnavailableRetryAfterSeconds);
      reply_now(ErrorReply(answer));
      return;
    }
    // Read-your-writes on this gateway: the record is in Kafka, so the view may take it now
    // rather than when the follower gets to it (states only move forward, so this is safe).
    view_.store().Apply(pending->execution);
    ApiReply ok = ExecutionReply(200, pending->execution);
    ok.headers.emplace_back("Location", "/v1/executions/" + pending->execution.id);
    reply_now(std::move(ok));
  };
  // librdkafka reports a message timeout late when no broker is up (seen: 9 s for a 3 s
  // message.timeout.ms), so the deadline of the contract is kept here.
  std::weak_ptr<PendingCreate> weak = pending;
  pending->deadline =
      deadlines_.At(DeadlineTimer::Clock::now() + config_.gateway.request_timeout, [this, weak] {
        auto pending = weak.lock();
        if (!pending) return;  // both acknowledgements came and went
        ReplyFn reply_now;
        {
          std::lock_guard<std::mutex> lock(pending->mutex);
          if (pending->answered) return;
          pending->answered = true;
          reply_now = std::move(pending->reply);
        }
        in_flight_.fetch_sub(1);
        LogWarn(kComponent,
                "trigger " + pending->execution.id + " not acknowledged by Kafka within " +
                    FormatDuration(config_.gateway.request_timeout),
                {{"execution_id", pending->execution.id},
                 {"job", pending->execution.job_name},
                 {"client", pending->execution.client},
                 {"request_id", pending->request_id}});
        reply_now(
            ErrorReply(Unavailable("Kafka did not accept the trigger in time; it may or may not "
                                   "run. Retry with the same Idempotency-Key to be safe.")
                           .WithRetryAfter(kUnavailableRetryAfterSeconds)));
      });
  const KafkaConfig& k = config_.kafka;
  publisher_.Publish(k.ResultsTopic(), id, result_record, on_delivery);
  publisher_.Publish(k.RequestsTopic(), id, trigger_record, on_delivery);
}

StatusOr<Execution> GatewayService::VisibleExecution(const ClientConfig& client,
                                                     const std::string& id) {
  auto e = view_.store().Get(id);
  if (!e || !ClientMayUseJob(client, e->job_name)) {
    return NotFound("no execution with id \"" + EchoValue(id) + "\"");
  }
  return std::move(*e);
}

void GatewayService::AbortExecution(const ApiRequest& request, const std::string& id,
                                    ReplyFn reply) {
  auto client = Authenticated(request);
  if (!client.ok()) return reply(ErrorReply(client.status()));
  auto e = VisibleExecution(**client, id);
  if (!e.ok()) return reply(ErrorReply(e.status()));
  if (IsTerminal(e->job_status)) {
    return reply(ErrorReply(FailedPrecondition("execution " + id + " already ended with status " +
                                               JobStatusName(e->job_status) +
                                               "; there is nothing to abort")));
  }
  AbortRequest abort{id, (*client)->name, clock_.Now()};
  Execution current = *e;
  publisher_.Publish(config_.kafka.ControlTopic(), id, EncodeAbortRequest(abort),
                     [this, current, reply = std::move(reply)](const Status& s) {
                       if (!s.ok()) {
                         reply(ErrorReply(Unavailable("Kafka did not accept the abort request; "
                                                      "retry")
                                              .WithRetryAfter(kUnavailableRetryAfterSeconds)));
                         return;
                       }
                       reply(ExecutionReply(202, current));
                     });
}

ApiReply GatewayService::Ready() {
  bool caught_up = view_.CaughtUp() && (!gitlab_caught_up_ || gitlab_caught_up_()) &&
                   (!webhooks_caught_up_ || webhooks_caught_up_());
  bool reachable = publisher_.Reachable();
  if (caught_up && reachable) return JsonReply(200, "{\"status\":\"ready\"}");
  std::string why;
  if (!reachable) why = "Kafka brokers are not reachable";
  if (!caught_up) {
    why += std::string(why.empty() ? "" : "; ") +
           "status view, trigger tokens, pipelines or deliveries still catching up";
  }
  return ErrorReply(Unavailable(why).WithRetryAfter(1));
}

}  // namespace sluice
