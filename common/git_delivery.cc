#include "common/git_delivery.h"

#include <algorithm>

#include "common/crypto.h"
#include "common/execution_id.h"
#include "common/json_codec.h"
#include "common/log.h"

namespace sluice {

namespace {

constexpr const char* kRecordMember = "git_delivery";

struct KindName {
  GitEvent::Kind kind;
  const char* name;
};
constexpr KindName kKindNames[] = {
    {GitEvent::Kind::kBranchPush, "branch push"},
    {GitEvent::Kind::kTagPush, "tag push"},
    {GitEvent::Kind::kBranchDeleted, "branch deleted"},
    {GitEvent::Kind::kTagDeleted, "tag deleted"},
    {GitEvent::Kind::kPing, "ping"},
    {GitEvent::Kind::kIgnored, "ignored"},
};

void WriteEvent(JsonWriter& w, const GitEvent& e) {
  WriteStringField(w, "host", GitHostName(e.host));
  WriteStringField(w, "kind", GitEventKindName(e.kind));
  WriteStringField(w, "event_type", e.event_type);
  WriteStringField(w, "delivery_id", e.delivery_id);
  WriteOptionalString(w, "org", e.org);
  WriteOptionalString(w, "repo", e.repo);
  WriteOptionalString(w, "ref", e.ref);
  WriteOptionalString(w, "branch", e.branch);
  WriteOptionalString(w, "tag", e.tag);
  WriteOptionalString(w, "sha", e.sha);
  WriteOptionalString(w, "before", e.before);
  WriteOptionalString(w, "pusher", e.pusher);
  WriteOptionalString(w, "repo_link", e.repo_link);
  WriteOptionalString(w, "clone_uri", e.clone_uri);
  WriteOptionalString(w, "compare_link", e.compare_link);
}

Status ReadEvent(const rapidjson::Value& v, GitEvent& e) {
  auto host = GitHostFromName(GetString(v, "host"));
  if (!host) return InvalidArgument("git_delivery: unknown host \"" + GetString(v, "host") + "\"");
  auto kind = GitEventKindFromName(GetString(v, "kind"));
  if (!kind) return InvalidArgument("git_delivery: unknown kind \"" + GetString(v, "kind") + "\"");
  e.host = *host;
  e.kind = *kind;
  e.event_type = GetString(v, "event_type");
  e.delivery_id = GetString(v, "delivery_id");
  if (e.delivery_id.empty()) return InvalidArgument("git_delivery: delivery_id is missing");
  e.org = GetString(v, "org");
  e.repo = GetString(v, "repo");
  e.ref = GetString(v, "ref");
  e.branch = GetString(v, "branch");
  e.tag = GetString(v, "tag");
  e.sha = GetString(v, "sha");
  e.before = GetString(v, "before");
  e.pusher = GetString(v, "pusher");
  e.repo_link = GetString(v, "repo_link");
  e.clone_uri = GetString(v, "clone_uri");
  e.compare_link = GetString(v, "compare_link");
  return Status::Ok();
}

}  // namespace

const char* GitEventKindName(GitEvent::Kind kind) {
  for (const KindName& k : kKindNames) {
    if (k.kind == kind) return k.name;
  }
  return "ignored";
}

std::optional<GitEvent::Kind> GitEventKindFromName(std::string_view name) {
  for (const KindName& k : kKindNames) {
    if (name == k.name) return k.kind;
  }
  return std::nullopt;
}

std::optional<GitHost> GitHostFromName(std::string_view name) {
  for (GitHost host : {GitHost::kGitHub, GitHost::kGitLab, GitHost::kGitea}) {
    if (name == GitHostName(host)) return host;
  }
  return std::nullopt;
}

std::string DeliveryKey(GitHost host, std::string_view delivery_id, int replay) {
  // '/' and '%' of the id are escaped, so that no id reads as another delivery's replay.
  std::string key = std::string(GitHostName(host)) + "/";
  for (char c : delivery_id) {
    if (c == '/') {
      key += "%2F";
    } else if (c == '%') {
      key += "%25";
    } else {
      key.push_back(c);
    }
  }
  if (replay > 0) key += "/replay/" + std::to_string(replay);
  return key;
}

std::string DeliveryRecord::Key() const {
  return DeliveryKey(event.host, event.delivery_id, replay);
}

std::vector<const JobMatch*> DeliveryRecord::Matched() const {
  std::vector<const JobMatch*> out;
  for (const JobMatch& m : matches) {
    if (m.matched) out.push_back(&m);
  }
  return out;
}

void AssignExecutionIds(GitHost host, std::string_view delivery_id, int replay,
                        std::vector<JobMatch>& matches) {
  for (JobMatch& m : matches) {
    m.execution_id =
        m.matched ? ExecutionIdForDelivery(GitHostName(host), delivery_id, replay, m.job) : "";
  }
}

void WriteJobMatch(JsonWriter& w, const JobMatch& m) {
  w.StartObject();
  WriteStringField(w, "job", m.job);
  w.Key("matched");
  w.Bool(m.matched);
  WriteStringField(w, "reason", m.reason);
  WriteOptionalString(w, "execution_id", m.execution_id);
  w.EndObject();
}

std::string EncodeDeliveryRecord(const DeliveryRecord& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key(kRecordMember);
  w.StartObject();
  WriteEvent(w, r.event);
  w.Key("replay");
  w.Int(r.replay);
  WriteOptionalString(w, "requested_by", r.requested_by);
  WriteTime(w, "received_at", r.received_at);
  WriteOptionalString(w, "content_type", r.content_type);
  WriteStringMap(w, "headers", r.headers);
  WriteOptionalString(w, "body_base64", Base64Encode(r.body));
  w.Key("matches");
  w.StartArray();
  for (const JobMatch& m : r.matches) WriteJobMatch(w, m);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

StatusOr<DeliveryRecord> DecodeDeliveryRecord(std::string_view json) {
  rapidjson::Document doc;
  if (Status s = ParseJson(json, doc); !s.ok()) return s;
  if (!doc.IsObject() || !doc.HasMember(kRecordMember) || !doc[kRecordMember].IsObject()) {
    return InvalidArgument("not a git_delivery record");
  }
  const rapidjson::Value& v = doc[kRecordMember];
  DeliveryRecord r;
  if (Status s = ReadEvent(v, r.event); !s.ok()) return s;
  r.replay = GetInt(v, "replay");
  if (r.replay < 0) return InvalidArgument("git_delivery: replay is negative");
  r.requested_by = GetString(v, "requested_by");
  r.received_at = ReadTime(v, "received_at").value_or(TimePoint{});
  r.content_type = GetString(v, "content_type");
  r.headers = ReadStringMap(v, "headers");
  auto body = Base64Decode(GetString(v, "body_base64"));
  if (!body) return InvalidArgument("git_delivery: body_base64 is not base64");
  r.body = std::move(*body);
  if (v.HasMember("matches") && v["matches"].IsArray()) {
    for (const auto& m : v["matches"].GetArray()) {
      if (!m.IsObject()) return InvalidArgument("git_delivery: a match is not an object");
      JobMatch match;
      match.job = GetString(m, "job");
      match.matched = GetBool(m, "matched");
      match.reason = GetString(m, "reason");
      match.execution_id = GetString(m, "execution_id");
      if (match.matched && !IsExecutionId(match.execution_id)) {
        return InvalidArgument("git_delivery: the match of job \"" + match.job +
                               "\" has no execution id");
      }
      r.matches.push_back(std::move(match));
    }
  }
  return r;
}

size_t MaxDeliveryRecordBytes(const WebhooksConfig& webhooks) {
  size_t body = 0;
  for (const auto& [host, config] : webhooks.hosts) body = std::max(body, config.max_body_bytes);
  // base64 of the body, and room for the headers, the event's fields and the matches.
  return (body + 2) / 3 * 4 + 1024 * 1024;
}

std::vector<Trigger> DeliveryTriggers(const DeliveryRecord& record, TimePoint now) {
  const GitEvent& e = record.event;
  std::vector<Trigger> out;
  for (const JobMatch* m : record.Matched()) {
    Trigger t;
    t.id = m->execution_id;
    t.job_name = m->job;
    t.job_type = JobType::kPostsubmit;
    Refs refs;
    refs.org = e.org;
    refs.repo = e.repo;
    refs.repo_link = e.repo_link;
    refs.base_ref = e.kind == GitEvent::Kind::kTagPush ? e.tag : e.branch;
    refs.base_sha = e.sha;
    refs.base_link = e.compare_link;
    refs.clone_uri = e.clone_uri;
    t.refs = std::move(refs);
    auto& annotations = t.pod_spec_options.annotations;
    annotations["sluice.io/source"] = "webhook";
    annotations["sluice.io/user"] = e.pusher;
    annotations["sluice.io/delivery"] = record.Key();
    t.create_time = now;
    t.client = std::string("webhook:") + GitHostName(e.host);
    out.push_back(std::move(t));
  }
  return out;
}

// --- DeliveryStore ---

void DeliveryStore::Apply(const std::string& key, const std::string& value) {
  if (value.empty()) {
    std::lock_guard<std::mutex> lock(mutex_);
    by_key_.erase(key);
    return;
  }
  auto record = DecodeDeliveryRecord(value);
  if (!record.ok()) {
    LogWarn("deliveries",
            "skipping unreadable events record " + key + ": " + record.status().message());
    return;
  }
  Put(std::move(*record));
}

void DeliveryStore::Put(DeliveryRecord record) {
  record.body.clear();
  record.body.shrink_to_fit();
  std::lock_guard<std::mutex> lock(mutex_);
  TimePoint at = record.received_at;
  by_key_[record.Key()] = std::move(record);
  // Amortised: a follower catching up on a week of deliveries must not scan them all each time.
  if (++puts_since_evict_ >= std::max<size_t>(1024, by_key_.size() / 2)) {
    puts_since_evict_ = 0;
    Evict(at);
  }
}

void DeliveryStore::Evict(TimePoint newest) {
  for (auto it = by_key_.begin(); it != by_key_.end();) {
    it = it->second.received_at < newest - retention_ ? by_key_.erase(it) : std::next(it);
  }
}

std::optional<DeliveryRecord> DeliveryStore::Get(GitHost host,
                                                 const std::string& delivery_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_key_.find(DeliveryKey(host, delivery_id));
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

int DeliveryStore::Replays(GitHost host, const std::string& delivery_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  int n = 0;
  while (by_key_.count(DeliveryKey(host, delivery_id, n + 1))) ++n;
  return n;
}

std::vector<DeliveryRecord> DeliveryStore::List(const Query& q) const {
  std::vector<DeliveryRecord> out;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [key, r] : by_key_) {
      if (!q.repo.empty() && r.event.FullName() != q.repo) continue;
      if (q.host && r.event.host != *q.host) continue;
      if (q.since && r.received_at < *q.since) continue;
      out.push_back(r);
    }
  }
  std::sort(out.begin(), out.end(), [](const DeliveryRecord& a, const DeliveryRecord& b) {
    if (a.received_at != b.received_at) return a.received_at > b.received_at;
    return a.Key() > b.Key();
  });
  if (out.size() > q.limit) out.resize(q.limit);
  return out;
}

KafkaDeliveries::KafkaDeliveries(const KafkaConfig& kafka, Duration retention)
    : store_(retention),
      follower_(kafka, kafka.EventsTopic(),
                [this](const TopicFollower::Record& r) { store_.Apply(r.key, r.value); }) {}

}  // namespace sluice
