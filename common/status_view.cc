#include "common/status_view.h"

#include "common/json_codec.h"
#include "common/log.h"

namespace sluice {

KafkaStatusView::KafkaStatusView(const KafkaConfig& kafka, Duration retention)
    : store_(SystemClock::Instance(), retention),
      follower_(kafka, kafka.ResultsTopic(), [this](const TopicFollower::Record& r) {
        if (r.value.empty()) return;  // tombstone: retention removed it
        auto record = DecodeExecutionRecord(r.value);
        if (!record.ok()) {
          LogWarn("status-view", "skipping unreadable record at partition " +
                                     std::to_string(r.partition) + " offset " +
                                     std::to_string(r.offset) + ": " + record.status().message());
          return;
        }
        store_.Apply(*record);
      }) {
  follower_.AfterEveryPoll(
      [this] { evicted_.fetch_add(store_.Sweep(), std::memory_order_relaxed); });
}

std::string EncodeAbortRequest(const AbortRequest& request) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("id");
  w.String(request.id.c_str());
  w.Key("action");
  w.String("abort");
  w.Key("requested_by");
  w.String(request.requested_by.c_str());
  w.Key("time");
  w.String(FormatRfc3339(request.time).c_str());
  w.EndObject();
  return buf.GetString();
}

StatusOr<AbortRequest> DecodeAbortRequest(std::string_view json) {
  rapidjson::Document doc;
  if (Status s = ParseJson(json, doc); !s.ok()) return s;
  if (!doc.IsObject() || !doc.HasMember("id") || !doc["id"].IsString()) {
    return InvalidArgument("abort request lacks id");
  }
  AbortRequest r;
  r.id = doc["id"].GetString();
  if (doc.HasMember("requested_by") && doc["requested_by"].IsString()) {
    r.requested_by = doc["requested_by"].GetString();
  }
  if (doc.HasMember("time") && doc["time"].IsString()) {
    if (auto t = ParseRfc3339(doc["time"].GetString())) r.time = *t;
  }
  return r;
}

KafkaAbortRegistry::KafkaAbortRegistry(const KafkaConfig& kafka)
    : follower_(kafka, kafka.ControlTopic(), [this](const TopicFollower::Record& r) {
        if (r.value.empty()) return;
        auto request = DecodeAbortRequest(r.value);
        if (!request.ok()) return;
        std::lock_guard<std::mutex> lock(mutex_);
        requested_.insert(request->id);
      }) {}

bool KafkaAbortRegistry::AbortRequested(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requested_.count(id) > 0;
}

}  // namespace sluice
