#include "worker/job_secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "worker/job_log.h"

namespace sluice {
namespace {

bool IsTrailingSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

Status TooLarge() {
  return FailedPrecondition("is larger than the " + std::to_string(kMaxSecretBytes) +
                            " bytes a secret may have");
}

// The content of a secret file, or what is wrong with it (never any of its content).
StatusOr<std::string> ReadSecretFile(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return FailedPrecondition(std::string("cannot be opened: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return FailedPrecondition("is not a regular file");
  }
  // Reading one byte more than a secret may have tells a file that is too large, never read whole.
  std::string content(kMaxSecretBytes + 1, '\0');
  size_t size = 0;
  while (size < content.size()) {
    const ssize_t n = ::read(fd, content.data() + size, content.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return FailedPrecondition(std::string("cannot be read: ") + std::strerror(error));
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  if (size > kMaxSecretBytes) return TooLarge();
  content.resize(size);
  while (!content.empty() && IsTrailingSpace(content.back())) content.pop_back();
  return content;
}

StatusOr<std::string> ReadSecret(const SecretSource& source, const GetEnvFunction& getenv) {
  std::string value;
  if (!source.token_env.empty()) {
    const char* found = getenv(source.token_env.c_str());
    if (found == nullptr) return FailedPrecondition("is not set in the worker's environment");
    value = found;
    if (value.size() > kMaxSecretBytes) return TooLarge();
  } else {
    auto content = ReadSecretFile(source.token_file);
    if (!content.ok()) return content.status();
    value = std::move(*content);
  }
  if (value.empty()) return FailedPrecondition("is empty");
  // An environment variable ends at its first NUL: the job would get a part of the secret.
  if (value.find('\0') != std::string::npos) return FailedPrecondition("holds a NUL byte");
  return value;
}

}  // namespace

StatusOr<std::map<std::string, std::string>> ResolveSecretEnv(
    const std::map<std::string, SecretSource>& sources, const GetEnvFunction& getenv) {
  std::map<std::string, std::string> values;
  for (const auto& [name, source] : sources) {
    auto value = ReadSecret(source, getenv);
    if (!value.ok()) {
      return Status(value.status().code(), "secret_env." + name + ": " + source.Describe() + " " +
                                               value.status().message());
    }
    values[name] = std::move(*value);
  }
  return values;
}

std::map<std::string, SecretSource> MergeSecretEnv(
    const std::map<std::string, SecretSource>& project,
    const std::map<std::string, SecretSource>& job) {
  std::map<std::string, SecretSource> merged = job;
  merged.insert(project.begin(), project.end());  // keeps the job's on a name both give
  return merged;
}

StatusOr<JobSecrets> ResolveJobSecrets(const JobRuntime& runtime, const ProjectConfig* project,
                                       const GetEnvFunction& getenv) {
  auto env = ResolveSecretEnv(
      project ? MergeSecretEnv(project->secret_env, runtime.secret_env) : runtime.secret_env,
      getenv);
  if (!env.ok()) return env.status();
  JobSecrets secrets;
  for (const auto& [name, value] : *env) {
    secrets.masked_values.push_back(value);
    if (value.size() < kMinMaskedBytes) secrets.unmasked_names.push_back(name);
  }
  if (project) {
    for (const std::string& name : project->masked_variables) {
      auto it = project->variables.find(name);
      if (it != project->variables.end()) secrets.masked_values.push_back(it->second);
    }
  }
  secrets.env = std::move(*env);
  return secrets;
}

}  // namespace sluice
