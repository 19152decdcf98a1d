// What isolation costs per job start: the time from Executor::Start to the reaped exit of
// `true`, under the process executor, the sandbox and (when podman works here) a container,
// interleaved round by round in one run so that the machine's noise falls on all alike.
//   executor_start [rounds (default 50)] [image (default: no container rounds)]
// Prints the median and the 90th percentile of each, and the ratios to the process executor.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "worker/container_executor.h"
#include "worker/process_executor.h"
#include "worker/sandbox_executor.h"

namespace fs = std::filesystem;
using sluice::Executor;
using Clock = std::chrono::steady_clock;

namespace {

// Milliseconds from Start to the reaped exit; -1 when the start failed.
double TimeOneStart(Executor& executor, const sluice::JobStep& step) {
  auto started = Clock::now();
  auto process = executor.Start(step);
  if (!process.ok()) {
    std::fprintf(stderr, "%s: %s\n", sluice::ExecutorName(executor.kind()),
                 process.status().message().c_str());
    return -1;
  }
  while (!(*process)->Poll()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  return std::chrono::duration<double, std::milli>(Clock::now() - started).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 50;
  std::string image = argc > 2 ? argv[2] : "";
  fs::path dir = fs::temp_directory_path() / "sluice-executor-start";
  fs::create_directories(dir / "work");
  fs::create_directories(dir / "artifacts");

  sluice::WorkerConfig worker;
  worker.podman_args = {"--runtime", "runc"};
  sluice::PosixProcessRunner runner;
  std::map<std::string, std::unique_ptr<Executor>> executors;
  executors["process"] = std::make_unique<sluice::ProcessExecutor>(worker, runner);
  executors["sandbox"] =
      std::make_unique<sluice::SandboxExecutor>(worker, runner, std::vector<std::string>{});
  if (!image.empty()) {
    executors["container"] = std::make_unique<sluice::ContainerExecutor>(worker, runner);
  }

  sluice::JobStep step;
  step.argv = {"true"};
  step.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", (dir / "work").string()}};
  step.workspace_dir = step.working_dir = (dir / "work").string();
  step.artifacts_dir = (dir / "artifacts").string();
  step.runtime.limits = worker.limits;
  step.runtime.image = image;

  std::map<std::string, std::vector<double>> times;
  for (int round = 0; round < rounds; ++round) {
    for (auto& [name, executor] : executors) {
      step.name = "bench-" + std::to_string(round);
      double ms = TimeOneStart(*executor, step);
      if (ms < 0) return 1;
      times[name].push_back(ms);
    }
  }
  double process_median = Percentile(times["process"], 0.5);
  std::printf("executor    median ms   p90 ms   median / process   (%d starts each, interleaved)\n",
              rounds);
  for (auto& [name, v] : times) {
    std::printf("%-10s %9.2f %8.2f %12.1fx\n", name.c_str(), Percentile(v, 0.5), Percentile(v, 0.9),
                Percentile(v, 0.5) / process_median);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
