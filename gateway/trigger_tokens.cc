#include "gateway/trigger_tokens.h"

#include <algorithm>

#include "common/crypto.h"
#include "common/json_codec.h"

namespace sluice {

namespace {

std::optional<std::pair<int64_t, int64_t>> ParseKey(const std::string& key) {
  size_t slash = key.find('/');
  if (slash == std::string::npos) return std::nullopt;
  try {
    return std::make_pair(std::stoll(key.substr(0, slash)), std::stoll(key.substr(slash + 1)));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string TriggerTokenKey(int64_t project_id, int64_t id) {
  return std::to_string(project_id) + "/" + std::to_string(id);
}

std::string ShownTriggerToken(const TriggerToken& token, const std::string& caller,
                              const std::string& key) {
  if (caller != token.owner || key.empty() || token.sealed_token.empty()) {
    return token.short_token;
  }
  // Another key (rotated) or a record changed at rest opens to nothing: the short form then.
  return Open(key, token.sealed_token, TriggerTokenKey(token.project_id, token.id))
      .value_or(token.short_token);
}

std::string EncodeTriggerToken(const TriggerToken& t) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("id");
  w.Int64(t.id);
  w.Key("project_id");
  w.Int64(t.project_id);
  w.Key("token_sha256");
  w.String(t.token_sha256.c_str());
  w.Key("short_token");
  w.String(t.short_token.c_str());
  if (!t.sealed_token.empty()) {
    w.Key("sealed_token");
    w.String(t.sealed_token.c_str());
  }
  w.Key("description");
  w.String(t.description.c_str(), static_cast<rapidjson::SizeType>(t.description.size()));
  w.Key("owner");
  w.String(t.owner.c_str());
  w.Key("created_at");
  w.String(FormatRfc3339(t.created_at).c_str());
  w.Key("updated_at");
  w.String(FormatRfc3339(t.updated_at).c_str());
  if (t.expires_at) {
    w.Key("expires_at");
    w.String(FormatRfc3339(*t.expires_at).c_str());
  }
  w.EndObject();
  return buf.GetString();
}

StatusOr<TriggerToken> DecodeTriggerToken(std::string_view json) {
  rapidjson::Document doc;
  if (Status s = ParseJson(json, doc); !s.ok()) return s;
  if (!doc.IsObject()) return InvalidArgument("trigger token record is not a JSON object");
  TriggerToken t;
  t.id = GetInt64(doc, "id");
  t.project_id = GetInt64(doc, "project_id");
  t.token_sha256 = GetString(doc, "token_sha256");
  t.short_token = GetString(doc, "short_token");
  t.sealed_token = GetString(doc, "sealed_token");
  t.description = GetString(doc, "description");
  t.owner = GetString(doc, "owner");
  auto created = ReadTime(doc, "created_at");
  auto updated = ReadTime(doc, "updated_at");
  if (t.id <= 0 || t.project_id <= 0 || t.token_sha256.size() != 64 || !created || !updated) {
    return InvalidArgument("trigger token record lacks id, project_id, token_sha256 or times");
  }
  t.created_at = *created;
  t.updated_at = *updated;
  t.expires_at = ReadTime(doc, "expires_at");
  return t;
}

void TriggerTokenTable::Apply(const std::string& key, const std::string& value) {
  if (value.empty()) {
    if (auto k = ParseKey(key)) Remove(k->first, k->second);
    return;
  }
  auto token = DecodeTriggerToken(value);
  if (token.ok()) Put(*token);
}

void TriggerTokenTable::Put(const TriggerToken& token) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto key = std::make_pair(token.project_id, token.id);
  auto old = by_key_.find(key);
  if (old != by_key_.end()) by_hash_.erase(old->second.token_sha256);
  by_key_[key] = token;
  by_hash_[token.token_sha256] = key;
}

void TriggerTokenTable::Remove(int64_t project_id, int64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_key_.find({project_id, id});
  if (it == by_key_.end()) return;
  by_hash_.erase(it->second.token_sha256);
  by_key_.erase(it);
}

std::vector<TriggerToken> TriggerTokenTable::ForProject(int64_t project_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TriggerToken> out;
  for (auto it = by_key_.lower_bound({project_id, 0});
       it != by_key_.end() && it->first.first == project_id; ++it) {
    out.push_back(it->second);
  }
  std::sort(out.begin(), out.end(), [](const TriggerToken& a, const TriggerToken& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  return out;
}

std::optional<TriggerToken> TriggerTokenTable::Get(int64_t project_id, int64_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_key_.find({project_id, id});
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

std::optional<TriggerToken> TriggerTokenTable::FindByHash(const std::string& token_sha256) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_hash_.find(token_sha256);
  if (it == by_hash_.end()) return std::nullopt;
  return by_key_.at(it->second);
}

KafkaTriggerTokens::KafkaTriggerTokens(const KafkaConfig& kafka)
    : follower_(kafka, kafka.TriggersTopic(),
                [this](const TopicFollower::Record& r) { table_.Apply(r.key, r.value); }) {}

}  // namespace sluice
