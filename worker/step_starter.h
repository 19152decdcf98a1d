#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice {

// The threads that start jobs' processes (fork, exec, the executor's set-up) for the worker's
// loop, so that one job's start never holds up the others' claims, starts and reports.
// Long-lived on purpose: a parent-death signal (bwrap --die-with-parent, PR_SET_PDEATHSIG) fires
// when the *thread* that forked the child ends, so a thread per start would kill what it started.
class StepStarter {
 public:
  explicit StepStarter(int threads);
  // Runs what is queued, then joins the threads.
  ~StepStarter();
  StepStarter(const StepStarter&) = delete;
  StepStarter& operator=(const StepStarter&) = delete;

  void Post(std::function<void()> task);

 private:
  void Serve();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sluice
