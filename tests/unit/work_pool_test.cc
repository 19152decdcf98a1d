// WorkPool: tasks run on its threads; a full queue (by count or by bytes) refuses at once.

#include "gateway/work_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace sluice {
namespace {

// Holds the pool's threads inside a task until Open().
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
  }
  // Until `n` tasks are held (false after 10 s).
  bool WaitForHeld(int n) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return waiting_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int waiting_ = 0;
  bool open_ = false;
};

TEST(WorkPoolTest, RunsTasksOffTheCallingThread) {
  std::mutex mutex;
  std::condition_variable done;
  std::thread::id ran_on;
  int ran = 0;
  {
    WorkPool pool(2, 8, 1024);
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(pool.TrySubmit([&] {
        std::lock_guard<std::mutex> lock(mutex);
        ran_on = std::this_thread::get_id();
        ++ran;
        done.notify_all();
      }));
    }
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(done.wait_for(lock, std::chrono::seconds(10), [&] { return ran == 5; }));
  }
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(WorkPoolTest, AFullQueueRefusesAtOnce) {
  Gate gate;
  std::atomic<int> ran{0};
  WorkPool pool(2, 3, 1 << 20);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(pool.TrySubmit([&] {
      gate.Wait();
      ++ran;
    }));
  }
  ASSERT_TRUE(gate.WaitForHeld(2));  // both threads busy: what follows waits in the queue
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(pool.TrySubmit([&] { ++ran; }));
  EXPECT_FALSE(pool.TrySubmit([&] { ++ran; })) << "a fourth task is over max_queued";
  gate.Open();
}

TEST(WorkPoolTest, QueuedBytesAreBoundedButOneLargeTaskIsTakenAlone) {
  Gate gate;
  WorkPool pool(1, 10, 100);
  ASSERT_TRUE(pool.TrySubmit([&] { gate.Wait(); }, 1000));  // runs at once: the queue is empty
  ASSERT_TRUE(gate.WaitForHeld(1));
  EXPECT_TRUE(pool.TrySubmit([] {}, 500)) << "nothing waits: a task over the limit is taken";
  EXPECT_FALSE(pool.TrySubmit([] {}, 1)) << "500 bytes wait already";
  gate.Open();
}

TEST(WorkPoolTest, DestructionWaitsForTheRunningTask) {
  Gate gate;
  std::atomic<bool> finished{false};
  std::thread opener;
  {
    WorkPool pool(1, 4, 1024);
    ASSERT_TRUE(pool.TrySubmit([&] {
      gate.Wait();
      finished = true;
    }));
    ASSERT_TRUE(gate.WaitForHeld(1));
    opener = std::thread([&] { gate.Open(); });
  }
  EXPECT_TRUE(finished);
  opener.join();
}

TEST(WorkPoolTest, AfterStopEveryTaskIsRefused) {
  WorkPool pool(1, 4, 1024);
  pool.Stop();
  EXPECT_FALSE(pool.TrySubmit([] {}));
  pool.Stop();  // again: nothing happens
}

}  // namespace
}  // namespace sluice
