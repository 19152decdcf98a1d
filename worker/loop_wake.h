#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/status.h"

namespace sluice {

// What the worker's loop sleeps on between turns, so that it neither waits out a fixed poll
// interval nor spins. It wakes
//   - when Kafka has records or events for the consumer (librdkafka writes to write_fd(), see
//     rd_kafka_queue_io_event_enable),
//   - on Wake(): a delivery report was posted,
//   - when the status view changed an execution the worker holds (WakeIfWatched),
//   - when one of the descriptors handed to Wait() is readable: a job's process ended (pidfd)
//     or wrote output.
// Thread-safe; shared (std::shared_ptr) with the callbacks that wake it, which may outlive the
// worker.
class LoopWake {
 public:
  static StatusOr<std::shared_ptr<LoopWake>> Create();
  ~LoopWake();
  LoopWake(const LoopWake&) = delete;
  LoopWake& operator=(const LoopWake&) = delete;

  // The pipe's write end, non-blocking, for librdkafka's queue events.
  int write_fd() const { return write_fd_; }

  // Makes the current or next Wait() return. Costs one write(2) per turn at most.
  void Wake();
  // Blocks until woken, one of `fds` is readable (or hung up), or `timeout` passed.
  void Wait(const std::vector<int>& fds, std::chrono::milliseconds timeout);

  // Ids whose changes in the status view wake the loop: the executions the worker holds.
  void Watch(const std::string& id);
  void Unwatch(const std::string& id);
  void WakeIfWatched(const std::string& id);

 private:
  LoopWake(int read_fd, int write_fd) : read_fd_(read_fd), write_fd_(write_fd) {}

  const int read_fd_;
  const int write_fd_;
  std::atomic<bool> pending_{false};
  std::mutex mutex_;
  std::unordered_set<std::string> watched_;
};

}  // namespace sluice
