#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/execution_store.h"

namespace sluice {

// The workers a gateway has seen through the results topic: each worker's claims, heartbeats
// and results name it, so the status view tells which workers are alive (a recent heartbeat)
// and what each runs, with no registry of its own. Fed by the view's change listener; holds
// only the executions running now and one entry per worker. Thread-safe.
class WorkerRoster {
 public:
  struct Worker {
    std::string name;
    TimePoint last_seen;               // its newest heartbeat, claim or result
    std::vector<std::string> running;  // execution ids it holds a claim on, sorted
  };

  explicit WorkerRoster(ExecutionStore& store);

  // The workers seen at or after `since`, or running something; by name.
  std::vector<Worker> SeenSince(TimePoint since) const;

  // Workers kept without anything running, at most: past this, the least recently seen go.
  static constexpr size_t kMaxIdleWorkers = 1024;

 private:
  struct State {
    mutable std::mutex mutex;
    std::map<std::string, Worker> workers;
    std::map<std::string, std::string> holder;  // running execution id -> worker
    void Apply(const std::string& id, const std::optional<ExecutionState>& state);
    void Release(const std::string& id);
    void ForgetIdle();
  };
  std::shared_ptr<State> state_;
};

}  // namespace sluice
