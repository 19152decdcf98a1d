#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/execution.h"

namespace sluice {

// Whether `incoming` should replace `current` as the latest state of an execution. Records of one
// execution may arrive out of order (the gateway's TRIGGERED record and a worker's PENDING are
// written by different producers), so states only move forward:
//   TRIGGERED < PENDING < terminal; the first terminal state is final;
//   among PENDING records a higher attempt wins; within one attempt the first worker to claim it
//   keeps it (a competing claim for the same attempt loses) and its later heartbeats win;
//   a record that takes over a lost holder's execution (`takes_over`) applies only while the
//   state is still the holder's record it names: a heartbeat from the holder that got in first
//   means the holder was not lost, and the takeover is void.
bool Supersedes(const Execution& incoming, const Execution& current);

struct ListQuery {
  std::string job_name;                                      // exact; empty = any
  std::optional<JobStatus> status;                           // empty = any
  std::function<bool(const std::string& job_name)> visible;  // authorisation filter; null = all
  size_t page_size = 50;
  std::string page_token;  // from a previous page; empty = first page
};

struct ListPage {
  std::vector<Execution> executions;
  std::string next_page_token;  // empty on the last page
};

// The in-memory view of the results topic: the latest state of every execution. Thread-safe:
// one writer (the topic follower) and many readers (network threads).
class ExecutionStore {
 public:
  // `clock` stamps each stored state's seen_time.
  explicit ExecutionStore(const Clock& clock = SystemClock::Instance()) : clock_(clock) {}

  // Merges a record; returns true when it changed the stored state.
  bool Apply(const Execution& record);
  std::optional<Execution> Get(const std::string& id) const;
  // The pipeline job whose CI_JOB_TOKEN hashes to `sha256`, while it runs (its latest state is a
  // claim or heartbeat carrying that hash); nullopt otherwise, and once it has ended.
  std::optional<Execution> RunningWithJobToken(const std::string& sha256) const;
  // Newest first (create_time, then id), filtered, paged.
  ListPage List(const ListQuery& query) const;
  size_t size() const;

  // Listeners run on the writer's thread after every change, outside the lock.
  void OnChange(std::function<void(const Execution&)> listener);

 private:
  using OrderKey = std::pair<long long, std::string>;  // (create_time ms, id)
  static OrderKey KeyOf(const Execution& e);

  const Clock& clock_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, Execution> by_id_;
  std::set<OrderKey> order_;
  std::map<std::string, std::string> job_tokens_;  // job token hash -> execution id
  std::vector<std::function<void(const Execution&)>> listeners_;
};

// Page tokens are opaque to clients: "<create_time ms>.<id>" of the last item, hex-encoded.
std::string EncodePageToken(long long create_ms, const std::string& id);
std::optional<std::pair<long long, std::string>> DecodePageToken(const std::string& token);

}  // namespace sluice
