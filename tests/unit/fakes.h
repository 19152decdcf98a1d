#pragma once

// Hand-written fakes for Sluice's seams (clock, Kafka publisher, status view, abort registry,
// process runner). Header-only; every unit test that needs one includes this file. Each fake
// does only what a test tells it to, records what it was asked, and never touches a broker, the
// network or a real process.

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/execution_store.h"
#include "common/publisher.h"
#include "common/status.h"
#include "common/status_view.h"
#include "worker/process_runner.h"

namespace sluice {

// 2026-11-23T10:00:00Z: a fixed, readable starting point for manual clocks.
inline TimePoint TestEpoch() { return TimePoint(std::chrono::seconds(1795428000)); }

// A clock that moves only when the test says so.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TestEpoch()) : now_(start) {}
  TimePoint Now() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return now_;
  }
  void Advance(Duration d) {
    std::lock_guard<std::mutex> lock(mutex_);
    now_ += d;
  }
  void Set(TimePoint t) {
    std::lock_guard<std::mutex> lock(mutex_);
    now_ = t;
  }

 private:
  mutable std::mutex mutex_;
  TimePoint now_;
};

// An in-memory publisher. Every Publish is recorded; the test later completes each record with
// OK or an error (Complete), which runs the record's delivery callback exactly once, as the Kafka
// publisher does. FailImmediately() makes later Publish calls fail before they return, as when
// librdkafka's queue is full.
class FakePublisher final : public Publisher {
 public:
  struct Record {
    std::string topic;
    std::string key;
    std::string value;
    PositionedCallback done;
    bool completed = false;
  };

  void Publish(const std::string& topic, const std::string& key, const std::string& value,
               DeliveryCallback done) override {
    PublishPositioned(topic, key, value,
                      [done = std::move(done)](const Status& s, RecordPosition) { done(s); });
  }
  // Every record lands on partition 0, at its index in Publish order.
  void PublishPositioned(const std::string& topic, const std::string& key, const std::string& value,
                         PositionedCallback done) override {
    std::optional<Status> fail_now;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      records_.push_back({topic, key, value, done, false});
      if (immediate_error_) {
        records_.back().completed = true;
        fail_now = *immediate_error_;
      }
    }
    if (fail_now) done(*fail_now, RecordPosition{});
  }

  bool Reachable() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return reachable_;
  }
  void SetReachable(bool reachable) {
    std::lock_guard<std::mutex> lock(mutex_);
    reachable_ = reachable;
  }

  // From now on every Publish calls its callback with `error` before returning.
  void FailImmediately(Status error) {
    std::lock_guard<std::mutex> lock(mutex_);
    immediate_error_ = std::move(error);
  }

  // Runs the delivery callback of record `index` (in Publish order) with `result`. A record
  // completes once; completing it twice is a test bug and throws.
  void Complete(size_t index, const Status& result = Status::Ok()) {
    PositionedCallback done;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Record& r = records_.at(index);
      if (r.completed) throw std::logic_error("FakePublisher: record completed twice");
      r.completed = true;
      done = r.done;
    }
    done(result, result.ok() ? RecordPosition{0, static_cast<int64_t>(index)} : RecordPosition{});
  }
  // Completes every record not completed yet, in Publish order.
  void CompleteAll(const Status& result = Status::Ok()) {
    for (size_t i = 0; i < size(); ++i) {
      if (!records_copy(i).completed) Complete(i, result);
    }
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_.size();
  }
  // Copies, so a test may keep them while callbacks run.
  std::vector<Record> records() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_;
  }
  // Index of the only record published to `topic`, or nullopt when there are none or several.
  std::optional<size_t> OnlyIndexOn(const std::string& topic) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::optional<size_t> found;
    for (size_t i = 0; i < records_.size(); ++i) {
      if (records_[i].topic != topic) continue;
      if (found) return std::nullopt;
      found = i;
    }
    return found;
  }

 private:
  Record records_copy(size_t i) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_.at(i);
  }

  mutable std::mutex mutex_;
  std::vector<Record> records_;
  std::optional<Status> immediate_error_;
  bool reachable_ = true;
};

// A status view over a real ExecutionStore that the test fills with Apply(); caught up unless
// the test says otherwise.
class FakeStatusView final : public StatusView {
 public:
  ExecutionStore& store() override { return store_; }
  bool CaughtUp() const override { return caught_up_; }
  void SetCaughtUp(bool caught_up) { caught_up_ = caught_up; }

 private:
  ExecutionStore store_;
  bool caught_up_ = true;
};

class FakeAbortRegistry final : public AbortRegistry {
 public:
  bool AbortRequested(const std::string& id) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return requested_.count(id) > 0;
  }
  bool CaughtUp() const override { return caught_up_; }
  void RequestAbort(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    requested_.insert(id);
  }
  void SetCaughtUp(bool caught_up) { caught_up_ = caught_up; }

 private:
  mutable std::mutex mutex_;
  std::set<std::string> requested_;
  bool caught_up_ = true;
};

// What a FakeProcess shares with its runner, so the test can see and steer a process even after
// the code under test has destroyed its Process object.
struct FakeProcessState {
  ProcessSpec spec;
  int pid = 1 << 30;                // never a real pid: see FakeProcessRunner::kFirstPid
  std::optional<ProcessExit> exit;  // set by the test (Exit, Kill) or by a fatal signal
  std::vector<int> signals;         // every SignalGroup call, in order
  std::set<int> fatal_signals;      // signals that end the process, as killed by that signal
  bool destroyed = false;           // the Process object was destroyed
  // The process's copy of ProcessSpec::output_fd, as a real child's stdout; closed at its end.
  int output_fd = -1;

  ~FakeProcessState() { CloseOutput(); }
  // The process writes to its stdout (the output descriptor, else the log file).
  void Print(const std::string& text) {
    if (output_fd >= 0) {
      ssize_t written = ::write(output_fd, text.data(), text.size());
      (void)written;
    } else if (!spec.log_path.empty()) {
      std::ofstream(spec.log_path, std::ios::app) << text;
    }
  }
  void CloseOutput() {
    if (output_fd >= 0) ::close(output_fd);
    output_fd = -1;
  }
  void Exit(int code) {
    exit = ProcessExit{false, code, 0};
    CloseOutput();
  }
  void Kill(int sig) {
    exit = ProcessExit{true, 0, sig};
    CloseOutput();
  }
  bool running() const { return !exit.has_value(); }
};

// A process that runs until the test decides how it ends.
class FakeProcess final : public Process {
 public:
  explicit FakeProcess(std::shared_ptr<FakeProcessState> state) : state_(std::move(state)) {}
  ~FakeProcess() override { state_->destroyed = true; }
  int pid() const override { return state_->pid; }
  std::optional<ProcessExit> Poll() override { return state_->exit; }
  void SignalGroup(int sig) override {
    state_->signals.push_back(sig);
    if (state_->running() && state_->fatal_signals.count(sig)) state_->Kill(sig);
  }

 private:
  std::shared_ptr<FakeProcessState> state_;
};

// Starts FakeProcesses. The test queues start failures (FailNextStart) and sets which signals are
// fatal to new processes; it then finds each started process by index and ends it.
class FakeProcessRunner final : public ProcessRunner {
 public:
  // Fake pids lie above Linux's PID_MAX_LIMIT (4194304), so no real process or process group
  // has them: code under test that signals a pid itself (kill(-pid, ...)) instead of going
  // through Process::SignalGroup then reaches nothing, never the test's own process group (0),
  // every process (-1) or a stranger.
  static constexpr int kFirstPid = 1 << 30;

  StatusOr<std::unique_ptr<Process>> Start(const ProcessSpec& spec) override {
    start_attempts_.push_back(spec);
    if (!start_failures_.empty()) {
      Status error = start_failures_.front();
      start_failures_.pop_front();
      return error;
    }
    auto state = std::make_shared<FakeProcessState>();
    state->spec = spec;
    if (spec.output_fd >= 0) state->output_fd = ::fcntl(spec.output_fd, F_DUPFD_CLOEXEC, 3);
    state->pid = next_pid_++;
    state->fatal_signals = fatal_signals_;
    processes_.push_back(state);
    return std::unique_ptr<Process>(std::make_unique<FakeProcess>(state));
  }

  // The next Start fails with `error` (queued: one failure per call).
  void FailNextStart(Status error) { start_failures_.push_back(std::move(error)); }
  // Processes started from now on die when they receive one of these signals.
  void SetFatalSignals(std::set<int> signals) { fatal_signals_ = std::move(signals); }

  // Every spec passed to Start, including the ones that failed to start.
  const std::vector<ProcessSpec>& start_attempts() const { return start_attempts_; }
  // Processes that did start, in order.
  size_t started() const { return processes_.size(); }
  FakeProcessState& process(size_t index) { return *processes_.at(index); }
  FakeProcessState& last() { return *processes_.back(); }

 private:
  std::vector<ProcessSpec> start_attempts_;
  std::deque<Status> start_failures_;
  std::set<int> fatal_signals_;
  std::vector<std::shared_ptr<FakeProcessState>> processes_;
  int next_pid_ = kFirstPid;
};

}  // namespace sluice
