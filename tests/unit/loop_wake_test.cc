#include "worker/loop_wake.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

namespace sluice {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A Wait() on another thread with a long timeout: the test's wake-ups must end it long before.
std::future<void> WaitInThread(LoopWake& wake, std::vector<int> fds = {}) {
  return std::async(std::launch::async, [&wake, fds] { wake.Wait(fds, milliseconds(60000)); });
}

TEST(LoopWakeTest, WakeEndsAWaitOnAnotherThread) {
  auto wake = LoopWake::Create();
  ASSERT_TRUE(wake.ok()) << wake.status().ToString();
  auto waiting = WaitInThread(**wake);
  std::this_thread::sleep_for(milliseconds(50));
  (*wake)->Wake();
  EXPECT_EQ(waiting.wait_for(seconds(10)), std::future_status::ready);
}

TEST(LoopWakeTest, AWakeBeforeTheWaitIsNotLost) {
  auto wake = LoopWake::Create();
  ASSERT_TRUE(wake.ok());
  (*wake)->Wake();
  (*wake)->Wake();  // at most one byte: the second is folded into the first
  auto waiting = WaitInThread(**wake);
  EXPECT_EQ(waiting.wait_for(seconds(10)), std::future_status::ready);
  // Consumed: the next wait needs a new wake-up.
  auto again = WaitInThread(**wake);
  EXPECT_EQ(again.wait_for(milliseconds(200)), std::future_status::timeout);
  (*wake)->Wake();
  EXPECT_EQ(again.wait_for(seconds(10)), std::future_status::ready);
}

TEST(LoopWakeTest, AReadableDescriptorEndsTheWait) {
  auto wake = LoopWake::Create();
  ASSERT_TRUE(wake.ok());
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto waiting = WaitInThread(**wake, {fds[0]});
  EXPECT_EQ(waiting.wait_for(milliseconds(200)), std::future_status::timeout);
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  EXPECT_EQ(waiting.wait_for(seconds(10)), std::future_status::ready);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(LoopWakeTest, OnlyWatchedExecutionsWakeIt) {
  auto wake = LoopWake::Create();
  ASSERT_TRUE(wake.ok());
  LoopWake& w = **wake;
  w.Watch("held");
  auto waiting = WaitInThread(w);
  w.WakeIfWatched("someone-elses");
  EXPECT_EQ(waiting.wait_for(milliseconds(200)), std::future_status::timeout);
  w.WakeIfWatched("held");
  EXPECT_EQ(waiting.wait_for(seconds(10)), std::future_status::ready);

  w.Unwatch("held");
  auto after = WaitInThread(w);
  w.WakeIfWatched("held");
  EXPECT_EQ(after.wait_for(milliseconds(200)), std::future_status::timeout);
  w.Wake();
  EXPECT_EQ(after.wait_for(seconds(10)), std::future_status::ready);
}

TEST(LoopWakeTest, LibrdkafkaWritesToTheWriteEnd) {
  // rd_kafka_queue_io_event_enable writes its payload to write_fd(): any byte wakes the loop.
  auto wake = LoopWake::Create();
  ASSERT_TRUE(wake.ok());
  auto waiting = WaitInThread(**wake);
  ASSERT_EQ(::write((*wake)->write_fd(), "1", 1), 1);
  EXPECT_EQ(waiting.wait_for(seconds(10)), std::future_status::ready);
}

}  // namespace
}  // namespace sluice
