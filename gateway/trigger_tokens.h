#pragma once

// Pipeline trigger tokens (GitLab's "triggers" of a project). They live in a compacted Kafka
// topic, <prefix>triggers, keyed "<project id>/<trigger id>"; a revoked token is a tombstone
// (an empty value). Every gateway follows the topic into a TriggerTokenTable, so a token created
// or revoked on one gateway works, or stops working, on every other as soon as its view has read
// the record. A token is authenticated by its SHA-256; the record also holds its first four
// characters and, when gitlab.trigger_token_key is set, the whole token sealed under that key
// (AES-256-GCM), which only its owner is shown.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/status.h"

namespace sluice {

struct TriggerToken {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string token_sha256;  // lower-case hex
  std::string short_token;   // the first four characters after "glptt-", for listings
  std::string sealed_token;  // Seal(key, token, TriggerTokenKey(...)); empty without a key
  std::string description;
  std::string owner;  // the client that created it
  TimePoint created_at;
  TimePoint updated_at;
  std::optional<TimePoint> expires_at;

  bool ExpiredAt(TimePoint now) const { return expires_at && now >= *expires_at; }
};

std::string TriggerTokenKey(int64_t project_id, int64_t id);
// The token `caller` is shown: the whole token for its owner when it can be unsealed with `key`
// (gitlab.trigger_token_key), else the short form.
std::string ShownTriggerToken(const TriggerToken& token, const std::string& caller,
                              const std::string& key);
std::string EncodeTriggerToken(const TriggerToken& token);
StatusOr<TriggerToken> DecodeTriggerToken(std::string_view json);

// The tokens known to this process. Thread-safe: one writer (the topic follower, or the gateway
// applying its own acknowledged write) and many readers.
class TriggerTokenTable {
 public:
  // A record of the topic: a token, or a tombstone (empty value) that revokes it.
  void Apply(const std::string& key, const std::string& value);
  void Put(const TriggerToken& token);
  void Remove(int64_t project_id, int64_t id);

  std::vector<TriggerToken> ForProject(int64_t project_id) const;  // oldest first
  std::optional<TriggerToken> Get(int64_t project_id, int64_t id) const;
  // The token whose clear text hashes to `token_sha256`, expired or not.
  std::optional<TriggerToken> FindByHash(const std::string& token_sha256) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<int64_t, int64_t>, TriggerToken> by_key_;
  std::map<std::string, std::pair<int64_t, int64_t>> by_hash_;
};

// The triggers topic, read whole into a TriggerTokenTable and followed.
class KafkaTriggerTokens {
 public:
  explicit KafkaTriggerTokens(const KafkaConfig& kafka);
  Status Start(Duration timeout) { return follower_.Start(timeout); }
  void Stop() { follower_.Stop(); }
  bool CaughtUp() const { return follower_.CaughtUp(); }
  TriggerTokenTable& table() { return table_; }

 private:
  TriggerTokenTable table_;
  TopicFollower follower_;
};

}  // namespace sluice
