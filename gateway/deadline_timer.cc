#include "gateway/deadline_timer.h"

namespace sluice {

DeadlineTimer::DeadlineTimer() : thread_([this] { Loop(); }) {}

DeadlineTimer::~DeadlineTimer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void DeadlineTimer::At(Clock::time_point when, std::function<void()> callback) {
  bool earliest;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    earliest = due_.empty() || when < due_.begin()->first;
    due_.emplace(when, std::move(callback));
  }
  if (earliest) wake_.notify_all();
}

void DeadlineTimer::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (due_.empty()) {
      wake_.wait(lock);
      continue;
    }
    auto next = due_.begin()->first;
    if (Clock::now() < next) {
      wake_.wait_until(lock, next);
      continue;
    }
    std::function<void()> callback = std::move(due_.begin()->second);
    due_.erase(due_.begin());
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace sluice
