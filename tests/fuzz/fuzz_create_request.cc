// The body of POST /v1/executions[/{job_name}]: parsed, then checked against a job that allows
// some env overrides and pins a repo and branches (so the refs rules and their regexes run).
// The first byte picks whether the job name also came from the path.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/create_request.h"

namespace {

const sluice::JobConfig& Job() {
  static const sluice::JobConfig* const job = [] {
    auto* j = new sluice::JobConfig;
    j->name = "fuzz-job";
    j->type = sluice::JobType::kPresubmit;
    j->allow_env_override = {"RELEASE_IMAGE_LATEST", "PARAM_*"};
    j->repo = "org/repo";
    j->branches = {"^main$", "^release-[0-9.]+$"};
    return j;
  }();
  return *job;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::optional<std::string> path_name;
  if (data[0] & 1) path_name = "fuzz-job";
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  sluice::StatusOr<sluice::CreateRequest> request = sluice::ParseCreateRequest(body, path_name);
  if (!request.ok()) {
    // Every refusal of a body is a 400 naming a field, never anything else.
    if (request.status().code() != sluice::Code::kInvalidArgument) std::abort();
    return 0;
  }
  if (request->job_name.empty()) std::abort();
  if (path_name && request->job_name != *path_name) std::abort();
  (void)sluice::ValidateAgainstJob(*request, Job());
  if (sluice::RequestFingerprint(*request).size() != 64) std::abort();
  return 0;
}
