#include "gateway/webhooks.h"

#include <algorithm>

#include "common/log.h"
#include "common/utf8.h"
#include "gateway/auth.h"
#include "gateway/gateway_metrics.h"
#include "gateway/git_event.h"

namespace sluice {

namespace {

constexpr const char* kComponent = "webhooks";
constexpr size_t kRefusedKept = 200;
constexpr size_t kMaxListLimit = 500;
constexpr int kUnavailableRetryAfterSeconds = 5;
// Bodies above this are verified on the pool, off the network thread; a few threads and a short
// queue (by count and by bytes), so that a flood of large bodies is refused with 503 at once.
constexpr size_t kInlineBodyBytes = 64 * 1024;
constexpr size_t kPoolThreads = 2;
constexpr size_t kPoolQueued = 16;
constexpr size_t kPoolQueuedBytes = 64 * 1024 * 1024;
constexpr int kBusyRetryAfterSeconds = 2;

// Headers worth keeping with a delivery: they say what it is and where it came from.
constexpr const char* kDescriptiveHeaders[] = {
    "user-agent",
    "x-github-event",
    "x-github-delivery",
    "x-github-hook-id",
    "x-github-hook-installation-target-id",
    "x-github-hook-installation-target-type",
    "x-gitlab-event",
    "x-gitlab-event-uuid",
    "x-gitlab-instance",
    "x-gitlab-webhook-uuid",
    "idempotency-key",
    "webhook-id",
    "webhook-timestamp",
    "x-gitea-event",
    "x-gitea-event-type",
    "x-gitea-delivery",
    "x-forgejo-event",
    "x-forgejo-delivery",
};

std::optional<GitHost> HostOfPath(const std::string& name) { return GitHostFromName(name); }

// sluice_webhook_deliveries_total and sluice_webhook_signature_failures_total: hosts and
// outcomes are Sluice's own names, never a delivery's values.
void CountDelivery(GitHost host, std::string_view outcome) {
  GatewayMetrics::Get().webhook_deliveries.With({GitHostName(host), outcome}).Inc();
}
void CountSignatureFailure(GitHost host, std::string_view reason) {
  GatewayMetrics::Get().webhook_signature_failures.With({GitHostName(host), reason}).Inc();
}

const char* Outcome(const DeliveryRecord& r, bool dry_run) {
  switch (r.event.kind) {
    case GitEvent::Kind::kPing:
      return "ping";
    case GitEvent::Kind::kIgnored:
      return "ignored";
    case GitEvent::Kind::kBranchDeleted:
    case GitEvent::Kind::kTagDeleted:
      return "deletion";
    default:
      if (r.Matched().empty()) return "matched no job";
      return dry_run ? "would trigger" : "triggered";
  }
}

std::string Message(const DeliveryRecord& r, bool dry_run = false) {
  const GitEvent& e = r.event;
  switch (e.kind) {
    case GitEvent::Kind::kPing:
      return "pong: the hook reaches Sluice and its signature is valid";
    case GitEvent::Kind::kIgnored:
      return "ignored: Sluice does not act on " + std::string(GitHostName(e.host)) + " event \"" +
             e.event_type + "\"; it acts on pushes of branches and tags";
    case GitEvent::Kind::kBranchDeleted:
    case GitEvent::Kind::kTagDeleted:
      return WhyNothingTriggers(e);
    default:
      break;
  }
  size_t n = r.Matched().size();
  if (n == 0) return "matched no job; not_matched says why for each postsubmit";
  return std::to_string(n) + (dry_run ? " job(s) would be triggered" : " job(s) triggered");
}

void WriteEventSummary(JsonWriter& w, const DeliveryRecord& r, bool dry_run = false) {
  const GitEvent& e = r.event;
  WriteStringField(w, "delivery", DeliveryKey(e.host, e.delivery_id));
  WriteStringField(w, "host", GitHostName(e.host));
  WriteStringField(w, "delivery_id", e.delivery_id);
  if (r.replay > 0) {
    w.Key("replay");
    w.Int(r.replay);
    WriteStringField(w, "requested_by", r.requested_by);
  }
  WriteTime(w, "received_at", r.received_at);
  WriteStringField(w, "event", e.event_type);
  WriteStringField(w, "kind", GitEventKindName(e.kind));
  WriteOptionalString(w, "repo", e.FullName());
  WriteOptionalString(w, "ref", e.ref);
  WriteOptionalString(w, "sha", e.sha);
  WriteOptionalString(w, "pusher", e.pusher);
  WriteStringField(w, "outcome", Outcome(r, dry_run));
  WriteStringField(w, "message", Message(r, dry_run));
}

// Delivery ids are UUIDs or similar: at most 255 printable ASCII characters.
Status CheckDeliveryId(const std::string& id) {
  if (id.size() > 255) return InvalidArgument("the delivery id is over 255 characters");
  for (unsigned char c : id) {
    if (c < 0x21 || c > 0x7e) {
      return InvalidArgument("the delivery id holds a character other than printable ASCII");
    }
  }
  return Status::Ok();
}

Status MissingDeliveryId(GitHost host) {
  const char* header = host == GitHost::kGitHub ? "X-GitHub-Delivery"
                       : host == GitHost::kGitLab
                           ? "Idempotency-Key, webhook-id or X-Gitlab-Event-UUID"
                           : "X-Gitea-Delivery";
  return InvalidArgument(std::string("the ") + GitHostName(host) +
                         " delivery id header is missing (" + header +
                         "); Sluice needs it to recognise a redelivery");
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A path segment as the client encoded it, decoded once: %XX is the byte XX, '+' stays '+' (it
// means a space only in forms and query strings), and a '%' without two hex digits is an error.
StatusOr<std::string> DecodePathSegment(const std::string& segment) {
  std::string out;
  out.reserve(segment.size());
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out.push_back(segment[i]);
      continue;
    }
    int hi = i + 2 < segment.size() ? HexDigit(segment[i + 1]) : -1;
    int lo = i + 2 < segment.size() ? HexDigit(segment[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return InvalidArgument(
          "the delivery id in the path has a '%' that is not followed by two "
          "hex digits; encode '%' as %25");
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

StatusOr<const ClientConfig*> AdminClient(const Config& config, const ApiRequest& request,
                                          const char* what) {
  auto client = Authenticate(config, request.authorization);
  if (!client.ok()) return client.status();
  if (!(*client)->admin) {
    return PermissionDenied(std::string(what) + " needs an admin client (admin: true); client \"" +
                            (*client)->name + "\" is not one");
  }
  return client;
}

}  // namespace

std::map<std::string, std::string> DescriptiveHeaders(const std::map<std::string, std::string>& h) {
  std::map<std::string, std::string> out;
  for (const char* name : kDescriptiveHeaders) {
    // They only describe the delivery: one that is not UTF-8 is left out of its record.
    if (auto it = h.find(name); it != h.end() && IsValidUtf8(it->second)) out[name] = it->second;
  }
  return out;
}

ApiReply DeliveryReply(const DeliveryRecord& r, const std::string& public_url) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteEventSummary(w, r);
  w.Key("executions");
  w.StartArray();
  for (const JobMatch* m : r.Matched()) {
    w.StartObject();
    WriteStringField(w, "job", m->job);
    WriteStringField(w, "id", m->execution_id);
    WriteStringField(w, "url", public_url + "/v1/executions/" + m->execution_id);
    WriteStringField(w, "reason", m->reason);
    w.EndObject();
  }
  w.EndArray();
  w.Key("not_matched");
  w.StartArray();
  for (const JobMatch& m : r.matches) {
    if (m.matched) continue;
    w.StartObject();
    WriteStringField(w, "job", m.job);
    WriteStringField(w, "reason", m.reason);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return JsonReply(r.event.kind == GitEvent::Kind::kPing ? 200 : 202, buf.GetString());
}

ApiReply DryRunReply(const DeliveryRecord& record, bool known, bool signed_delivery) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("dry_run");
  w.Bool(true);
  WriteStringField(w, "signature", signed_delivery ? "valid" : "not sent");
  if (known) {
    WriteStringField(w, "note",
                     "this delivery id is known: a real delivery would be answered as the first "
                     "one was, and trigger nothing");
  }
  w.Key("delivery");
  WriteDeliveryTrace(
      w, record, [](const std::string&) { return true; }, true);
  w.EndObject();
  return JsonReply(200, buf.GetString());
}

void WriteDeliveryTrace(JsonWriter& w, const DeliveryRecord& r,
                        const std::function<bool(const std::string&)>& visible, bool dry_run) {
  w.StartObject();
  WriteEventSummary(w, r, dry_run);
  w.Key("matches");
  w.StartArray();
  for (const JobMatch& m : r.matches) {
    if (visible(m.job)) WriteJobMatch(w, m);
  }
  w.EndArray();
  w.EndObject();
}

WebhookApi::WebhookApi(const Config& config, Publisher& publisher, WebhookViews views,
                       DeadlineTimer& deadlines, const Clock& clock)
    : config_(config),
      publisher_(publisher),
      deliveries_(views.deliveries),
      settings_(views.settings),
      deadlines_(deadlines),
      clock_(clock),
      pool_(kPoolThreads, kPoolQueued, kPoolQueuedBytes) {}

std::optional<size_t> WebhookApi::MaxBodyBytes(std::string_view host) const {
  std::shared_ptr<const WebhooksConfig> settings = settings_.Current();
  for (const auto& [h, hc] : settings->hosts) {
    if (host == GitHostName(h)) return hc.max_body_bytes;
  }
  return std::nullopt;
}

void WebhookApi::Register(Router& router) {
  router.SetFamily("/hooks", ApiFamily::kHooks);
  router.SetFamily("/v1/events", ApiFamily::kHooks);
  router.Add(
      "POST", "/hooks/{host}", ApiFamily::kHooks,
      [this](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
        std::optional<GitHost> host = HostOfPath(p.at("host"));
        if (!host) {
          return reply(ErrorReply(NotFound("no such webhook endpoint: " + EchoValue(request.path) +
                                           "; use /hooks/github, /hooks/gitlab or /hooks/gitea")));
        }
        Receive(*host, request, std::move(reply));
      });
  router.Add("GET", "/v1/events", ApiFamily::kHooks,
             [this](const ApiRequest& request, const PathParams&, ReplyFn reply) {
               reply(List(request));
             });
  // The delivery's host and id, decoded: an id with '/' or '%' arrives as %2F or %25.
  auto delivery = [](const ApiRequest& request, const PathParams& p, GitHost* host,
                     std::string* id) -> std::optional<ApiReply> {
    std::optional<GitHost> h = HostOfPath(p.at("host"));
    if (!h) {
      return ErrorReply(NotFound("no such endpoint: " + EchoValue(request.path) +
                                 "; deliveries are at /v1/events/{github|gitlab|gitea}/"
                                 "{delivery id}"));
    }
    StatusOr<std::string> decoded = DecodePathSegment(p.at("delivery_id"));
    if (!decoded.ok()) return ErrorReply(decoded.status());
    *host = *h;
    *id = *decoded;
    return std::nullopt;
  };
  const std::string show = "/v1/events/{host}/{delivery_id}";
  router.Add("GET", show, ApiFamily::kHooks,
             [this, delivery](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
               GitHost host;
               std::string id;
               if (auto refused = delivery(request, p, &host, &id)) return reply(*refused);
               reply(Show(request, host, id));
             });
  router.Add("POST", show + "/replay", ApiFamily::kHooks,
             [this, delivery](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
               GitHost host;
               std::string id;
               if (auto refused = delivery(request, p, &host, &id)) return reply(*refused);
               Replay(request, host, id, std::move(reply));
             });
}

void WebhookApi::Receive(GitHost host, const ApiRequest& request, ReplyFn reply) {
  bool dry_run = false;
  for (const auto& [key, value] : request.query) {
    if (key != "dry_run") {
      return reply(ErrorReply(InvalidArgument("unknown query parameter \"" + EchoValue(key) +
                                              "\"; webhook URLs take only dry_run")));
    }
    if (!ParseBoolParam(value, &dry_run)) {
      return reply(ErrorReply(InvalidArgument("dry_run: expected true or false")));
    }
  }
  std::shared_ptr<const WebhooksConfig> settings = settings_.Current();
  auto host_config = settings->hosts.find(host);
  const char* host_name = GitHostName(host);
  if (host_config == settings->hosts.end()) {
    return reply(ErrorReply(NotFound(std::string("webhooks of ") + host_name +
                                     " are not configured; add webhooks." + host_name +
                                     ".secrets to the configuration")));
  }
  const WebhookHostConfig& hc = host_config->second;
  if (request.body.size() > hc.max_body_bytes) {
    return reply(ErrorReply(
        Status(Code::kInvalidArgument, "the event body is " + std::to_string(request.body.size()) +
                                           " bytes; the limit for " + host_name + " is " +
                                           std::to_string(hc.max_body_bytes))
            .WithHttpStatus(413)));
  }
  const ClientConfig* admin = nullptr;
  if (dry_run) {
    auto client = AdminClient(config_, request, "a dry run");
    if (!client.ok()) return reply(ErrorReply(client.status()));
    admin = *client;
  }
  if (request.body.size() <= kInlineBodyBytes) {
    return VerifyAndStore(host, request, std::move(settings), admin, std::move(reply));
  }
  // The HMAC of a large body (up to max_body_bytes, per secret) must not hold a network thread.
  auto owned = std::make_shared<const ApiRequest>(request);
  auto shared_reply = std::make_shared<ReplyFn>(std::move(reply));
  bool queued = pool_.TrySubmit(
      [this, host, owned, settings, admin, shared_reply] {
        VerifyAndStore(host, *owned, settings, admin, std::move(*shared_reply));
      },
      owned->body.size());
  if (!queued) {
    LogWarn(kComponent, std::string("busy: refused a large ") + host_name + " delivery with 503",
            {{"request_id", request.request_id}, {"bytes", std::to_string(request.body.size())}});
    (*shared_reply)(ErrorReply(Unavailable("the gateway is verifying as many large deliveries as "
                                           "it takes at once; redeliver it shortly")
                                   .WithRetryAfter(kBusyRetryAfterSeconds)));
  }
}

void WebhookApi::VerifyAndStore(GitHost host, const ApiRequest& request,
                                std::shared_ptr<const WebhooksConfig> settings,
                                const ClientConfig* admin, ReplyFn reply) {
  const WebhookHostConfig& hc = settings->hosts.at(host);
  TimePoint now = clock_.Now();
  // An admin's dry run of a payload pasted without a signature (the dashboard's form) only
  // matches it: the admin is authenticated by its token, and nothing is stored or started.
  if (admin != nullptr && !CarriesSignature(host, request.headers)) {
    auto event = ParseGitEvent(host, request.headers, request.content_type, request.body);
    if (!event.ok()) return reply(ErrorReply(event.status()));
    if (Status s = CheckDeliveryId(event->delivery_id); !s.ok()) return reply(ErrorReply(s));
    return reply(DryRun(host, std::move(*event), request, *admin, false));
  }
  // The signature first, over the raw bytes: nothing of an unsigned body is parsed.
  auto signers = SigningSecrets(host, AllSecrets(hc, now), request.headers, request.body, now,
                                settings->timestamp_tolerance);
  if (!signers.ok()) {
    std::string claimed;  // for the refusal list; read only from a body small enough to be cheap
    if (request.body.size() <= kInlineBodyBytes) {
      auto unverified = ParseGitEvent(host, request.headers, request.content_type, request.body);
      if (unverified.ok()) claimed = unverified->FullName();
    }
    CountSignatureFailure(host, "no_valid_signature");
    Refuse(host, request, claimed, signers.status(), now);
    return reply(ErrorReply(signers.status()));
  }
  auto event = ParseGitEvent(host, request.headers, request.content_type, request.body);
  if (!event.ok()) return reply(ErrorReply(event.status()));
  // The body names the repository only now: a secret that signed must be one of its scope's.
  std::vector<const WebhookSecret*> scoped = SecretsFor(hc, event->org, event->repo, now);
  bool in_scope = std::any_of(signers->begin(), signers->end(), [&](const WebhookSecret* s) {
    return std::find(scoped.begin(), scoped.end(), s) != scoped.end();
  });
  if (!in_scope) {
    Status why = Unauthenticated(
        "the delivery is signed with a secret that is not configured for its repository (the "
        "secrets of the repository's most specific scope apply)");
    CountSignatureFailure(host, "secret_out_of_scope");
    Refuse(host, request, event->FullName(), why, now);
    return reply(ErrorReply(why));
  }
  if (Status s = CheckDeliveryId(event->delivery_id); !s.ok()) return reply(ErrorReply(s));
  if (admin != nullptr) return reply(DryRun(host, std::move(*event), request, *admin, true));
  if (event->delivery_id.empty()) return reply(ErrorReply(MissingDeliveryId(host)));

  DeliveryRecord record = Matched(host, std::move(*event), request, now);
  if (auto first = deliveries_.Get(host, record.event.delivery_id)) {
    ApiReply again = DeliveryReply(*first, config_.gateway.public_url);
    again.headers.emplace_back("X-Sluice-Redelivery", "true");
    CountDelivery(host, "redelivery");
    return reply(std::move(again));
  }
  record.body = request.body;
  Store(std::move(record), request.request_id, std::move(reply));
}

DeliveryRecord WebhookApi::Matched(GitHost host, GitEvent event, const ApiRequest& request,
                                   TimePoint now) const {
  DeliveryRecord record;
  record.event = std::move(event);
  record.received_at = now;
  record.content_type = request.content_type;
  record.headers = DescriptiveHeaders(request.headers);
  record.matches = MatchPostsubmits(config_.jobs, record.event);
  AssignExecutionIds(host, record.event.delivery_id, 0, record.matches);
  return record;
}

ApiReply WebhookApi::DryRun(GitHost host, GitEvent event, const ApiRequest& request,
                            const ClientConfig& admin, bool signed_delivery) {
  DeliveryRecord record = Matched(host, std::move(event), request, clock_.Now());
  LogInfo(kComponent, "dry run by " + admin.name + " of " + record.Key(),
          {{"request_id", request.request_id}, {"client", admin.name}});
  bool known = !record.event.delivery_id.empty() &&
               deliveries_.Get(host, record.event.delivery_id).has_value();
  return DryRunReply(record, known, signed_delivery);
}

void WebhookApi::Refuse(GitHost host, const ApiRequest& request, std::string repo,
                        const Status& why, TimePoint now) {
  std::string delivery_id = GitDeliveryId(host, request.headers);
  std::string event_type = GitEventType(host, request.headers);
  LogWarn(kComponent, std::string("refused a ") + GitHostName(host) + " delivery: " + why.message(),
          {{"request_id", request.request_id},
           {"delivery_id", delivery_id},
           {"event", event_type},
           {"repo", repo}});
  std::lock_guard<std::mutex> lock(refused_mutex_);
  refused_.push_back(
      {host, std::move(delivery_id), std::move(event_type), std::move(repo), why.message(), now});
  if (refused_.size() > kRefusedKept) refused_.pop_front();
}

void WebhookApi::Store(DeliveryRecord record, const std::string& request_id, ReplyFn reply) {
  ReplyFn answer = AnswerOnce(std::move(reply));
  std::string key = record.Key();
  std::string value = EncodeDeliveryRecord(record);
  auto stored = std::make_shared<DeliveryRecord>(std::move(record));
  stored->body.clear();
  publisher_.Publish(
      config_.kafka.EventsTopic(), key, value, [this, stored, answer, request_id](const Status& s) {
        if (!s.ok()) {
          LogWarn(kComponent, "delivery " + stored->Key() + " not stored: " + s.ToString(),
                  {{"request_id", request_id}});
          CountDelivery(stored->event.host, "unavailable");
          return answer(ErrorReply(Unavailable("Kafka did not store the delivery in time; "
                                               "nothing was triggered. Redeliver it.")
                                       .WithRetryAfter(kUnavailableRetryAfterSeconds)));
        }
        // Read-your-writes: a redelivery to this gateway is recognised at once.
        deliveries_.Put(*stored);
        CountDelivery(stored->event.host, Outcome(*stored, false));
        LogInfo(kComponent, "stored " + stored->Key() + ": " + Message(*stored),
                {{"request_id", request_id}});
        answer(DeliveryReply(*stored, config_.gateway.public_url));
      });
  deadlines_.At(DeadlineTimer::Clock::now() + config_.gateway.request_timeout, [answer] {
    answer(ErrorReply(Unavailable("Kafka did not store the delivery in time; it may or may not "
                                  "be triggered. Redelivering it is safe.")
                          .WithRetryAfter(kUnavailableRetryAfterSeconds)));
  });
}

void WebhookApi::Replay(const ApiRequest& request, GitHost host, const std::string& delivery_id,
                        ReplyFn reply) {
  auto client = AdminClient(config_, request, "a replay");
  if (!client.ok()) return reply(ErrorReply(client.status()));
  auto first = deliveries_.Get(host, delivery_id);
  if (!first) {
    return reply(
        ErrorReply(NotFound("no " + std::string(GitHostName(host)) + " delivery \"" +
                            EchoValue(delivery_id) + "\" is stored; deliveries are kept for " +
                            FormatDuration(settings_.Current()->retention))));
  }
  DeliveryRecord record;
  record.event = first->event;
  record.replay = deliveries_.Replays(host, delivery_id) + 1;
  record.requested_by = (*client)->name;
  record.received_at = clock_.Now();
  record.matches = MatchPostsubmits(config_.jobs, record.event);
  AssignExecutionIds(host, delivery_id, record.replay, record.matches);
  LogInfo(kComponent, "replay " + std::to_string(record.replay) + " of " + record.Key(),
          {{"request_id", request.request_id}, {"client", record.requested_by}});
  Store(std::move(record), request.request_id, std::move(reply));
}

ApiReply WebhookApi::Show(const ApiRequest& request, GitHost host, const std::string& delivery_id) {
  auto client = Authenticate(config_, request.authorization);
  if (!client.ok()) return ErrorReply(client.status());
  auto first = deliveries_.Get(host, delivery_id);
  if (!first) {
    return ErrorReply(NotFound("no " + std::string(GitHostName(host)) + " delivery \"" +
                               EchoValue(delivery_id) + "\" is stored"));
  }
  const ClientConfig* c = *client;
  auto visible = [c](const std::string& job) { return c->admin || ClientMayUseJob(*c, job); };
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("delivery");
  WriteDeliveryTrace(w, *first, visible);
  w.Key("replays");  // newest first
  w.StartArray();
  DeliveryStore::Query all;
  all.host = host;
  all.limit = SIZE_MAX;
  for (const DeliveryRecord& r : deliveries_.List(all)) {
    if (r.event.delivery_id == delivery_id && r.replay > 0) WriteDeliveryTrace(w, r, visible);
  }
  w.EndArray();
  w.EndObject();
  return JsonReply(200, buf.GetString());
}

ApiReply WebhookApi::List(const ApiRequest& request) {
  auto client = Authenticate(config_, request.authorization);
  if (!client.ok()) return ErrorReply(client.status());
  DeliveryStore::Query q;
  for (const auto& [key, value] : request.query) {
    if (key == "repo") {
      q.repo = value;
    } else if (key == "host") {
      q.host = GitHostFromName(value);
      if (!q.host) return ErrorReply(InvalidArgument("host: expected github, gitlab or gitea"));
    } else if (key == "since") {
      // An instant (RFC 3339), or a duration back from now ("1h").
      if (auto t = ParseRfc3339(value)) {
        q.since = *t;
      } else if (auto d = ParseDuration(value)) {
        q.since = clock_.Now() - *d;
      } else {
        return ErrorReply(InvalidArgument(
            "since: expected an RFC 3339 time (2026-11-23T08:00:00Z) or a duration (1h)"));
      }
    } else if (key == "limit") {
      bool digits = !value.empty() && value.size() < 5 &&
                    value.find_first_not_of("0123456789") == std::string::npos;
      size_t n = digits ? std::stoul(value) : 0;
      if (n < 1 || n > kMaxListLimit) {
        return ErrorReply(InvalidArgument("limit: must be an integer from 1 to " +
                                          std::to_string(kMaxListLimit)));
      }
      q.limit = n;
    } else {
      return ErrorReply(
          InvalidArgument("unknown query parameter \"" + key + "\"; use repo, host, since, limit"));
    }
  }
  const ClientConfig* c = *client;
  auto visible = [c](const std::string& job) { return c->admin || ClientMayUseJob(*c, job); };
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("events");
  w.StartArray();
  for (const DeliveryRecord& r : deliveries_.List(q)) WriteDeliveryTrace(w, r, visible);
  w.EndArray();
  // Refused deliveries never reach Kafka: these are the ones this gateway refused.
  w.Key("refused_by_this_gateway");
  w.StartArray();
  for (const RefusedDelivery& r : RefusedSince(q)) {
    w.StartObject();
    WriteStringField(w, "host", GitHostName(r.host));
    WriteOptionalString(w, "delivery_id", r.delivery_id);
    WriteOptionalString(w, "event", r.event_type);
    WriteOptionalString(w, "repo", r.repo);
    WriteTime(w, "received_at", r.received_at);
    WriteStringField(w, "outcome", "signature failed");
    WriteStringField(w, "reason", r.reason);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return JsonReply(200, buf.GetString());
}

std::vector<RefusedDelivery> WebhookApi::RefusedSince(const DeliveryStore::Query& q) const {
  std::vector<RefusedDelivery> out;
  std::lock_guard<std::mutex> lock(refused_mutex_);
  for (auto it = refused_.rbegin(); it != refused_.rend() && out.size() < q.limit; ++it) {
    if (!q.repo.empty() && it->repo != q.repo) continue;
    if (q.host && it->host != *q.host) continue;
    if (q.since && it->received_at < *q.since) continue;
    out.push_back(*it);
  }
  return out;
}

}  // namespace sluice
