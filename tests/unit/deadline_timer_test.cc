#include "gateway/deadline_timer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

namespace sluice {
namespace {

using std::chrono::milliseconds;

TEST(DeadlineTimerTest, RunsCallbacksInTheOrderOfTheirDeadlines) {
  DeadlineTimer timer;
  std::promise<std::string> done;
  std::string order;  // touched by the timer's thread only, read after `done`
  auto now = DeadlineTimer::Clock::now();
  timer.At(now + milliseconds(40), [&] { order += "b"; });
  timer.At(now + milliseconds(20), [&] { order += "a"; });
  timer.At(now + milliseconds(60), [&] { done.set_value(order + "c"); });
  EXPECT_EQ(done.get_future().get(), "abc");
}

TEST(DeadlineTimerTest, ACancelledCallbackNeverRuns) {
  DeadlineTimer timer;
  std::atomic<bool> cancelled_ran{false};
  std::promise<void> later_ran;
  auto now = DeadlineTimer::Clock::now();
  uint64_t id = timer.At(now + milliseconds(20), [&] { cancelled_ran.store(true); });
  timer.Cancel(id);
  // Callbacks run in the order of their deadlines: once the later one ran, the cancelled one
  // would have.
  timer.At(now + milliseconds(40), [&] { later_ran.set_value(); });
  later_ran.get_future().get();
  EXPECT_FALSE(cancelled_ran.load());
}

TEST(DeadlineTimerTest, CancellingTwiceOrAfterTheCallbackRanDoesNothing) {
  DeadlineTimer timer;
  std::promise<void> ran;
  uint64_t id = timer.At(DeadlineTimer::Clock::now(), [&] { ran.set_value(); });
  ran.get_future().get();
  timer.Cancel(id);
  timer.Cancel(id);
  timer.Cancel(id + 100);  // never given out
  std::promise<void> next;
  timer.At(DeadlineTimer::Clock::now(), [&] { next.set_value(); });
  next.get_future().get();
}

}  // namespace
}  // namespace sluice
