#pragma once

#include <chrono>
#include <condition_variable>
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

  void At(Clock::time_point when, std::function<void()> callback);

 private:
  void Loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::multimap<Clock::time_point, std::function<void()>> due_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice
