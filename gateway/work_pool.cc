#include "gateway/work_pool.h"

namespace sluice {

WorkPool::WorkPool(size_t threads, size_t max_queued, size_t max_queued_bytes)
    : max_queued_(max_queued), max_queued_bytes_(max_queued_bytes) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkPool::~WorkPool() { Stop(); }

void WorkPool::Stop() {
  std::deque<Task> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
    queued_bytes_ = 0;
  }
  wake_.notify_all();
  std::lock_guard<std::mutex> lock(join_mutex_);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool WorkPool::TrySubmit(std::function<void()> task, size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    if (!queue_.empty() && queued_bytes_ + bytes > max_queued_bytes_) return false;
    queue_.push_back({std::move(task), bytes});
    queued_bytes_ += bytes;
  }
  wake_.notify_one();
  return true;
}

void WorkPool::Run() {
  while (true) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= task.bytes;
    }
    task.run();
  }
}

}  // namespace sluice
