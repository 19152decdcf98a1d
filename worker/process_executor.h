#pragma once

#include "worker/executor.h"

namespace sluice {

// The `process` executor: each step a plain child process of the worker, as the worker's user,
// with the worker's view of the machine. It isolates nothing: such a job can read the worker's
// environment, configuration and files, and other jobs'. Limits are rlimits (processes not: the
// count would be the worker user's); the tree ends by the runner's process-tree mechanism.
class ProcessExecutor final : public Executor {
 public:
  explicit ProcessExecutor(const WorkerConfig& worker, ProcessRunner& runner)
      : worker_(worker), runner_(runner) {}
  ExecutorKind kind() const override { return ExecutorKind::kProcess; }
  StatusOr<std::unique_ptr<Process>> Start(const JobStep& step) override;
  std::vector<std::string> Describe(const JobStep& step) const override;

 private:
  const WorkerConfig worker_;
  ProcessRunner& runner_;
};

}  // namespace sluice
