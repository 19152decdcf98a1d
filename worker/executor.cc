#include "worker/executor.h"

#include "common/log.h"
#include "worker/container_executor.h"
#include "worker/process_executor.h"
#include "worker/sandbox_executor.h"

namespace sluice {

Executor* Executors::Get(ExecutorKind kind) const {
  switch (kind) {
    case ExecutorKind::kSandbox:
      return sandbox.get();
    case ExecutorKind::kContainer:
      return container.get();
    case ExecutorKind::kProcess:
      return process.get();
  }
  return nullptr;
}

}  // namespace sluice

namespace sluice {
namespace {

struct JobsOf {
  std::map<ExecutorKind, std::vector<std::string>> names;  // executor -> jobs running on it
  bool sandboxed_checkout = false;                         // a non-process job checks out
};

JobsOf JobsByExecutor(const Config& config) {
  JobsOf out;
  ExecutorKind fallback = config.worker.executor.value_or(ExecutorKind::kSandbox);
  for (const JobConfig& job : config.jobs) {
    ExecutorKind kind = job.runtime.executor.value_or(fallback);
    out.names[kind].push_back(job.name);
    if (job.clone && kind != ExecutorKind::kProcess) out.sandboxed_checkout = true;
  }
  for (const ProjectConfig& project : config.projects) {
    for (const PipelineJobConfig& job : project.jobs) {
      ExecutorKind kind = job.runtime.executor.value_or(fallback);
      out.names[kind].push_back(project.path + ":" + job.name);
      if (!project.repository.empty() && kind != ExecutorKind::kProcess) {
        out.sandboxed_checkout = true;
      }
    }
  }
  return out;
}

std::string ListNames(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 10; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 10) out += " and " + std::to_string(names.size() - 10) + " more";
  return out;
}

void AddSecretFiles(const std::map<std::string, SecretSource>& sources,
                    std::vector<std::string>* hidden) {
  for (const auto& [name, source] : sources) {
    if (!source.token_file.empty()) hidden->push_back(source.token_file);
  }
}

}  // namespace

StatusOr<Executors> MakeExecutors(const Config& config, ProcessRunner& runner,
                                  std::vector<std::string> hidden) {
  // Every secret file the configuration names, the gateway's too: no sandbox shows one.
  for (const ClientConfig& client : config.clients) {
    if (!client.token_file.empty()) hidden.push_back(client.token_file);
  }
  for (const auto& [host, settings] : config.webhooks.hosts) {
    for (const auto& [scope, secrets] : settings.secrets) {
      for (const WebhookSecret& secret : secrets) {
        constexpr std::string_view kFile = "token_file ";
        if (secret.source.rfind(kFile, 0) == 0)
          hidden.push_back(secret.source.substr(kFile.size()));
      }
    }
  }
  for (const JobConfig& job : config.jobs) AddSecretFiles(job.runtime.secret_env, &hidden);
  for (const ProjectConfig& project : config.projects) {
    AddSecretFiles(project.secret_env, &hidden);
    for (const PipelineJobConfig& job : project.jobs)
      AddSecretFiles(job.runtime.secret_env, &hidden);
  }
  JobsOf jobs = JobsByExecutor(config);
  Executors executors;
  const auto& names = jobs.names;
  bool needs_sandbox = names.count(ExecutorKind::kSandbox) || jobs.sandboxed_checkout;
  if (needs_sandbox) {
    if (Status probe = SandboxExecutor::Probe(config.worker.bwrap, runner); !probe.ok()) {
      std::vector<std::string> users;
      if (names.count(ExecutorKind::kSandbox)) users = names.at(ExecutorKind::kSandbox);
      return FailedPrecondition(
          "the sandbox executor cannot run here (" + probe.message() + "); it runs " +
          (users.empty() ? std::string("the checkouts of container jobs") : ListNames(users)) +
          ". Install bubblewrap (Debian package bubblewrap) on a host that allows unprivileged "
          "user namespaces, or name `executor: process` for jobs that may read this worker's "
          "secrets");
    }
    executors.sandbox = std::make_unique<SandboxExecutor>(config.worker, runner, hidden);
  }
  if (names.count(ExecutorKind::kContainer)) {
    if (Status probe = ContainerExecutor::Probe(config.worker, runner); !probe.ok()) {
      return FailedPrecondition("the container executor cannot run here (" + probe.message() +
                                "); it runs " + ListNames(names.at(ExecutorKind::kContainer)) +
                                ". Install podman (Debian package podman)");
    }
    executors.container = std::make_unique<ContainerExecutor>(config.worker, runner);
  }
  if (names.count(ExecutorKind::kProcess)) {
    LogWarn("worker",
            "jobs that run as plain processes (executor: process) can read this "
            "worker's environment, configuration and secrets: " +
                ListNames(names.at(ExecutorKind::kProcess)));
    executors.process = std::make_unique<ProcessExecutor>(config.worker, runner);
  }
  return executors;
}

}  // namespace sluice
