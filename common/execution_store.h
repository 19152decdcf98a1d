#pragma once

#include <functional>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/execution.h"
#include "common/execution_slots.h"

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
  std::string job_name;             // exact; empty = any
  std::optional<JobStatus> status;  // empty = any
  std::string client;               // exact; empty = any
  std::string source;               // ExecutionSource: "api", "webhook", "pipeline"; empty = any
  std::function<bool(const std::string& job_name)> visible;  // authorisation filter; null = all
  size_t page_size = 50;
  std::string page_token;  // from a previous page; empty = first page
};

struct ListPage {
  std::vector<Execution> executions;
  std::string next_page_token;  // empty on the last page
};

// The in-memory view of the results topic: the latest state of every execution whose last
// activity is within the retention. Thread-safe: one writer (the topic follower; a gateway also
// applies its own TRIGGERED records) and many readers (network threads).
//
// Held compactly (common/execution_slots.h): an 88-byte slot per execution (the id as 16 bytes,
// times as milliseconds, job name, client and worker interned), its rarely read fields packed
// (common/execution_packing.h), an id index and the create-time order of slot numbers. Get and
// List give back the whole record exactly as applied (times to the millisecond, as the topic
// carries them).
class ExecutionStore {
 public:
  static constexpr Duration kDefaultRetention = std::chrono::hours(30 * 24);

  // `clock` stamps each stored state's seen_time and dates evictions.
  explicit ExecutionStore(const Clock& clock = SystemClock::Instance(),
                          Duration retention = kDefaultRetention)
      : clock_(clock), retention_(retention) {}

  // Merges a record; returns true when it changed the stored state.
  bool Apply(const Execution& record);
  std::optional<Execution> Get(const std::string& id) const;
  // Only the status part, without decoding refs, pod spec options and the other large fields.
  std::optional<ExecutionState> State(const std::string& id) const;
  // The pipeline job whose CI_JOB_TOKEN hashes to `sha256`, while it runs (its latest state is a
  // claim or heartbeat carrying that hash); nullopt otherwise, and once it has ended.
  std::optional<Execution> RunningWithJobToken(const std::string& sha256) const;
  // Newest first (create_time, then id), filtered, paged.
  ListPage List(const ListQuery& query) const;
  size_t size() const;
  // Distinct interned strings held (job names, clients, workers, shared refs and options).
  size_t InternedStrings() const;
  // About how many bytes the store holds (ExecutionSlots::MemoryBytes).
  size_t MemoryBytes() const;

  // Listeners run on the writer's thread after every change, outside the lock. One that needs
  // only the id takes OnChangedId: the record is then not unpacked for it (a gateway's live
  // feeds follow every change, the catch-up's included).
  void OnChange(std::function<void(const Execution&)> listener);
  void OnChangedId(std::function<void(const std::string& id)> listener);

  // Retention. An execution expires once its last activity (the latest of its create, start,
  // heartbeat and completion times; when it has none, when this view took it in) is older than
  // the retention: a terminal one by its completion, one never claimed (TRIGGERED) by its
  // creation, a PENDING one by its last heartbeat, so never while a worker renews its claim.
  //
  // Sweep drops expired executions a step at a time: a pass over every slot starts every
  // SweepInterval() and walks kSweepStep slots a call. The follower calls it after every poll,
  // from its thread (only one thread may call it). Returns how many it dropped.
  size_t Sweep();
  // One whole pass now (tests, benchmarks).
  size_t EvictExpired();
  Duration retention() const { return retention_; }
  // How often a sweep pass starts: a tenth of the retention, at least every minute.
  Duration SweepInterval() const;
  static constexpr uint32_t kSweepStep = 8192;

 private:
  size_t SweepSlots(uint32_t from, uint32_t to, int64_t cutoff_ms);
  void ForgetJobToken(uint32_t slot);

  const Clock& clock_;
  const Duration retention_;
  mutable std::shared_mutex mutex_;
  ExecutionSlots slots_;
  std::map<std::string, uint32_t> job_tokens_;  // job token hash -> slot, while it runs
  std::map<uint32_t, std::string> token_of_;    // the reverse
  std::vector<std::function<void(const Execution&)>> listeners_;
  std::vector<std::function<void(const std::string&)>> id_listeners_;
  // The sweep's pass (its caller's thread only).
  bool in_pass_ = false;
  uint32_t cursor_ = 0;
  std::optional<TimePoint> next_pass_;
};

// Page tokens are opaque to clients: "<create_time ms>.<id>" of the last item, hex-encoded.
std::string EncodePageToken(long long create_ms, const std::string& id);
std::optional<std::pair<long long, std::string>> DecodePageToken(const std::string& token);

}  // namespace sluice
