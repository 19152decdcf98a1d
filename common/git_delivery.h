#pragma once

// Webhook deliveries of Git hosts as they live in the events topic: a gateway writes each
// verified delivery there whole, with the jobs it matched and the execution ids those get, before
// it answers the host; workers' dispatchers (worker/delivery_dispatcher.h) start the matched jobs
// from that record; every gateway follows the topic to answer a redelivery as the first delivery
// was answered, and to say why a push triggered nothing.

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/execution.h"
#include "common/json_codec.h"
#include "common/kafka.h"
#include "common/status.h"

namespace sluice {

// A Git host's event, in the terms postsubmit matching needs.
struct GitEvent {
  enum class Kind {
    kBranchPush,     // commits pushed to a branch
    kTagPush,        // a tag pushed
    kBranchDeleted,  // a branch deleted (all-zero `after`): triggers nothing
    kTagDeleted,     // triggers nothing
    kPing,           // GitHub's hook check: answered 200, triggers nothing
    kIgnored,        // an event type Sluice does not act on
  };
  GitHost host = GitHost::kGitHub;
  Kind kind = Kind::kIgnored;
  std::string event_type;   // as the host named it: "push", "Tag Push Hook", ...
  std::string delivery_id;  // what a redelivery repeats
  std::string org;          // GitHub owner / GitLab namespace / Gitea owner
  std::string repo;
  std::string ref;     // "refs/heads/main", "refs/tags/v1.2"
  std::string branch;  // kBranchPush, kBranchDeleted
  std::string tag;     // kTagPush, kTagDeleted
  std::string sha;     // the pushed commit (`after`)
  std::string before;
  std::string pusher;
  std::string repo_link;
  std::string clone_uri;
  std::string compare_link;

  std::string FullName() const { return org.empty() ? "" : org + "/" + repo; }
  bool operator==(const GitEvent&) const = default;
};
const char* GitEventKindName(GitEvent::Kind kind);
std::optional<GitEvent::Kind> GitEventKindFromName(std::string_view name);
std::optional<GitHost> GitHostFromName(std::string_view name);

// Why a job did or did not match an event, and the execution a match starts.
struct JobMatch {
  std::string job;
  bool matched = false;
  std::string reason;        // "branch main matches \"^main$\"", "repo differs: ...", ...
  std::string execution_id;  // matches only
  bool operator==(const JobMatch&) const = default;
};

// One record of the events topic: a verified delivery (replay 0), or the N-th replay of one,
// which an admin asked for after fixing the job configuration.
struct DeliveryRecord {
  GitEvent event;
  int replay = 0;
  std::string requested_by;  // a replay's admin client
  TimePoint received_at;
  std::string content_type;
  // The request headers that describe the delivery (event type, delivery ids, user agent, hook
  // ids), never those that carry a secret or a signature.
  std::map<std::string, std::string> headers;
  std::string body;  // the raw body as received (a delivery's only; gateways do not keep it)
  std::vector<JobMatch> matches;

  // "github/<delivery id>", and for a replay "github/<delivery id>/replay/<N>".
  std::string Key() const;
  std::vector<const JobMatch*> Matched() const;
};

// The events topic's key of a delivery, and of its N-th replay; '/' and '%' in the delivery id
// are percent-encoded, so that no delivery id reads as another's replay.
std::string DeliveryKey(GitHost host, std::string_view delivery_id, int replay = 0);

// Gives each matched job its execution id for `replay` (ExecutionIdForDelivery).
void AssignExecutionIds(GitHost host, std::string_view delivery_id, int replay,
                        std::vector<JobMatch>& matches);

// {"job", "matched", "reason", "execution_id"}: in records and in the API's answers alike.
void WriteJobMatch(JsonWriter& w, const JobMatch& m);

// The body is kept base64-encoded, so that a record's size is a known function of the body's.
std::string EncodeDeliveryRecord(const DeliveryRecord& record);
StatusOr<DeliveryRecord> DecodeDeliveryRecord(std::string_view json);

// The largest events record a delivery of `webhooks`' largest allowed body makes: what the
// events topic's max.message.bytes and the producers' message.max.bytes must allow.
size_t MaxDeliveryRecordBytes(const WebhooksConfig& webhooks);

// The triggers a delivery starts: one per matched job, with refs built from the event (org,
// repo, base_ref = the branch or tag, base_sha = the pushed commit, repo_link, clone_uri,
// base_link = the compare view) and annotations sluice.io/source = webhook, sluice.io/user = the
// pusher, sluice.io/delivery = the record's key.
std::vector<Trigger> DeliveryTriggers(const DeliveryRecord& record, TimePoint now);

// What a gateway knows of the events topic: every delivery and replay newer than the retention,
// without bodies. Thread-safe.
class DeliveryStore {
 public:
  explicit DeliveryStore(Duration retention) : retention_(retention) {}
  // A record read from the topic; an unreadable one is logged and skipped.
  void Apply(const std::string& key, const std::string& value);
  // A record this gateway wrote, once Kafka acknowledged it.
  void Put(DeliveryRecord record);
  std::optional<DeliveryRecord> Get(GitHost host, const std::string& delivery_id) const;
  // How many replays of the delivery are known.
  int Replays(GitHost host, const std::string& delivery_id) const;

  struct Query {
    std::string repo;  // "org/repo"; empty = any
    std::optional<GitHost> host;
    std::optional<TimePoint> since;
    size_t limit = 100;
  };
  // Deliveries and replays, newest first.
  std::vector<DeliveryRecord> List(const Query& query) const;

 private:
  void Evict(TimePoint newest);

  const Duration retention_;
  mutable std::mutex mutex_;
  std::map<std::string, DeliveryRecord> by_key_;
  size_t puts_since_evict_ = 0;
};

// Follows the events topic into a DeliveryStore.
class KafkaDeliveries {
 public:
  KafkaDeliveries(const KafkaConfig& kafka, Duration retention);
  Status Start(Duration timeout) { return follower_.Start(timeout); }
  void Stop() { follower_.Stop(); }
  bool CaughtUp() const { return follower_.CaughtUp(); }
  DeliveryStore& store() { return store_; }

 private:
  DeliveryStore store_;
  TopicFollower follower_;
};

}  // namespace sluice
