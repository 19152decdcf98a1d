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

uint64_t DeadlineTimer::At(Clock::time_point when, std::function<void()> callback) {
  bool earliest;
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = next_id_++;
    earliest = due_.empty() || when < due_.begin()->first.first;
    due_.emplace(std::make_pair(when, id), std::move(callback));
    when_.emplace(id, when);
  }
  if (earliest) wake_.notify_all();
  return id;
}

void DeadlineTimer::Cancel(uint64_t id) {
  std::function<void()> dropped;  // destroyed after the lock is released
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = when_.find(id);
  if (it == when_.end()) return;
  auto due = due_.find(std::make_pair(it->second, id));
  when_.erase(it);
  if (due == due_.end()) return;
  dropped = std::move(due->second);
  due_.erase(due);
}

void DeadlineTimer::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (due_.empty()) {
      wake_.wait(lock);
      continue;
    }
    auto next = due_.begin()->first.first;
    if (Clock::now() < next) {
      wake_.wait_until(lock, next);
      continue;
    }
    std::function<void()> callback = std::move(due_.begin()->second);
    when_.erase(due_.begin()->first.second);
    due_.erase(due_.begin());
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace sluice
