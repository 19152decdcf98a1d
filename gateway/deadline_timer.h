#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace sluice {

// Runs callbacks at deadlines, on a thread of its own (never a network thread). Thread-safe.
// Callbacks still pending at destruction are dropped.
class DeadlineTimer {
 public:
  using Clock = std::chrono::steady_clock;
  DeadlineTimer();
  ~DeadlineTimer();
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // Runs `callback` at `when`; returns what Cancel takes.
  uint64_t At(Clock::time_point when, std::function<void()> callback);
  // Drops a callback that has not started, so that an answered request's deadline costs neither
  // memory nor a wake-up of the timer's thread. Does nothing for one that ran or is running.
  void Cancel(uint64_t id);

 private:
  void Loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::pair<Clock::time_point, uint64_t>, std::function<void()>> due_;
  std::map<uint64_t, Clock::time_point> when_;  // of each id in due_
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice
