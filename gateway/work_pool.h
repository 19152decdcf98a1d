#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice {

// A few threads that run work a network thread must not (e.g. an HMAC over a large webhook
// body). The queue is bounded by count and by bytes, so that a flood is refused at once rather
// than buffered. Thread-safe.
class WorkPool {
 public:
  WorkPool(size_t threads, size_t max_queued, size_t max_queued_bytes);
  // Stop() and waits for the running tasks.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `task`, which holds about `bytes` of memory until it runs. False (and `task` is not
  // run) when max_queued tasks or max_queued_bytes are already waiting. A task larger than
  // max_queued_bytes is taken when nothing else waits.
  bool TrySubmit(std::function<void()> task, size_t bytes = 0);
  // Refuses every later task, drops the queued ones without running them and waits for the
  // running ones. Idempotent.
  void Stop();

 private:
  struct Task {
    std::function<void()> run;
    size_t bytes = 0;
  };
  void Run();

  const size_t max_queued_;
  const size_t max_queued_bytes_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> queue_;
  size_t queued_bytes_ = 0;
  bool stopping_ = false;
  std::mutex join_mutex_;             // Stop() may be called from two threads at once
  std::vector<std::thread> threads_;  // last: they start once the rest is set up
};

}  // namespace sluice
