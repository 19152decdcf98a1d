#include "worker/process_executor.h"

#include "worker/sandbox_executor.h"

namespace sluice {

StatusOr<std::unique_ptr<Process>> ProcessExecutor::Start(const JobStep& step) {
  ProcessSpec spec;
  spec.argv = step.argv;
  spec.env = step.env;
  spec.working_dir = step.working_dir;
  spec.log_path = step.log_path;
  spec.output_fd = step.output_fd;
  spec.rlimits = RlimitsFor(step.runtime.limits, /*per_job_user=*/false);
  return runner_.Start(spec);
}

std::vector<std::string> ProcessExecutor::Describe(const JobStep& step) const {
  return {
      "executor: process: a plain child process of the worker, as its user; it is not isolated "
      "from the worker (it can read the worker's environment, files and other jobs)",
      "limits (rlimits): " + DescribeRlimits(step.runtime.limits, /*per_job_user=*/false),
      "the job's process tree ends with it by " + runner_.TreeMechanism(),
  };
}

}  // namespace sluice
