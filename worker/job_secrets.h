#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace sluice {

// The largest secret value a job may be given, from a file or from the worker's environment.
inline constexpr size_t kMaxSecretBytes = 64 * 1024;

// How the worker's environment is read: ::getenv, or a fake in tests.
using GetEnvFunction = std::function<const char*(const char*)>;

// The values of a job's secret_env, read when the job starts: token_env from the worker's
// environment, token_file from the file on the worker's host (trailing whitespace and newlines
// removed). A value must be 1 to kMaxSecretBytes bytes without a NUL byte (a larger file is never
// read whole; a file that is not a regular file is refused unread, so a FIFO cannot block the
// worker). An error names the variable and its source (SecretSource::Describe()), never the
// value or any part of it.
StatusOr<std::map<std::string, std::string>> ResolveSecretEnv(
    const std::map<std::string, SecretSource>& sources, const GetEnvFunction& getenv = ::getenv);

// The secret_env of a pipeline job: its project's, with the job's own winning on a name both give.
std::map<std::string, SecretSource> MergeSecretEnv(
    const std::map<std::string, SecretSource>& project,
    const std::map<std::string, SecretSource>& job);

// The secrets of one job run and what its log must mask.
struct JobSecrets {
  std::map<std::string, std::string> env;  // NAME -> value, for the job's environment
  // Every secret value and the value of every masked variable of the project (JobLog masks those
  // of at least kMinMaskedBytes). Trigger and play variables are never among them: whoever
  // triggers a job knows what they sent.
  std::vector<std::string> masked_values;
  // Secrets whose values are too short to be masked (kMinMaskedBytes), for a note in the log.
  std::vector<std::string> unmasked_names;
};

// Resolves the secrets of a job: `runtime.secret_env`, over `project`'s secret_env when the job
// belongs to a GitLab-style project (nullptr otherwise), and lists the values its log masks.
StatusOr<JobSecrets> ResolveJobSecrets(const JobRuntime& runtime, const ProjectConfig* project,
                                       const GetEnvFunction& getenv = ::getenv);

}  // namespace sluice
