#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/config.h"
#include "common/execution_store.h"
#include "common/kafka.h"

namespace sluice {

// What readers need of the status view; the gateway and worker depend on this, tests fake it.
class StatusView {
 public:
  virtual ~StatusView() = default;
  virtual ExecutionStore& store() = 0;
  virtual bool CaughtUp() const = 0;
  // Records of the results topic not read yet; 0 for a view that follows no topic.
  virtual int64_t LagRecords() const { return 0; }
};

// The results topic, read whole into an ExecutionStore and followed; executions past
// `retention` (results.retention) are swept out on the follower's thread.
class KafkaStatusView final : public StatusView {
 public:
  KafkaStatusView(const KafkaConfig& kafka, Duration retention);
  Status Start(Duration timeout) { return follower_.Start(timeout); }
  void Stop() { follower_.Stop(); }
  ExecutionStore& store() override { return store_; }
  bool CaughtUp() const override { return follower_.CaughtUp(); }
  // Records of the results topic not read yet (TopicFollower::LagRecords).
  int64_t LagRecords() const override { return follower_.LagRecords(); }
  // About how many bytes the view holds (ExecutionStore::MemoryBytes).
  double EstimatedBytes() const { return static_cast<double>(store_.MemoryBytes()); }
  // Executions dropped by the retention since start.
  uint64_t Evicted() const { return evicted_.load(std::memory_order_relaxed); }

 private:
  ExecutionStore store_;
  std::atomic<uint64_t> evicted_{0};
  TopicFollower follower_;
};

// An abort request on the control topic (compacted, keyed by execution id).
struct AbortRequest {
  std::string id;
  std::string requested_by;
  TimePoint time;
};
std::string EncodeAbortRequest(const AbortRequest& request);
StatusOr<AbortRequest> DecodeAbortRequest(std::string_view json);

// Ids with an abort request, from the control topic. Workers consult it before starting an
// execution and while it runs.
class AbortRegistry {
 public:
  virtual ~AbortRegistry() = default;
  virtual bool AbortRequested(const std::string& id) const = 0;
  // Whether every abort requested before start-up is known.
  virtual bool CaughtUp() const = 0;
};

class KafkaAbortRegistry final : public AbortRegistry {
 public:
  explicit KafkaAbortRegistry(const KafkaConfig& kafka);
  Status Start(Duration timeout) { return follower_.Start(timeout); }
  void Stop() { follower_.Stop(); }
  bool AbortRequested(const std::string& id) const override;
  bool CaughtUp() const override { return follower_.CaughtUp(); }

 private:
  mutable std::mutex mutex_;
  std::set<std::string> requested_;
  TopicFollower follower_;
};

}  // namespace sluice
