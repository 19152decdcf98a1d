// How a job runs (issue 12): executor, image, network, limits and secret_env on jobs, pipeline
// jobs and projects, the worker's defaults, and projects' masked variables. Same shape as
// config_test.cc: good files land in the structs, each refusal names its key path.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/config.h"

namespace sluice {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

const std::string kHash(64, 'a');

std::string Job(const std::string& fields) {
  return "jobs: [{name: j, type: postsubmit, command: [make], " + fields + "}]\n";
}
std::string Worker(const std::string& fields) { return "worker: {" + fields + "}\n" + Job(""); }
// A project with one pipeline job; `fields` are extra keys of the project, `job` of its job.
std::string Project(const std::string& fields, const std::string& job = "") {
  return "clients: [{name: ops, token_sha256: " + kHash +
         "}]\nprojects:\n  - {id: 9, path: group/project, " + fields +
         (fields.empty() ? "" : ", ") +
         "pipeline: {stages: [test], jobs: [{name: t, stage: test, command: [make]" +
         (job.empty() ? "" : ", ") + job + "}]}}\n";
}

Config LoadOk(const std::string& yaml) {
  StatusOr<Config> config = LoadConfigText(yaml);
  EXPECT_TRUE(config.ok()) << config.status().message() << "\n" << yaml;
  return config.ok() ? *std::move(config) : Config{};
}

TEST(ConfigRuntimeTest, AJobNamesNothingByDefault) {
  Config config = LoadOk(Job(""));
  ASSERT_EQ(config.jobs.size(), 1u);
  const JobRuntime& runtime = config.jobs[0].runtime;
  EXPECT_FALSE(runtime.executor.has_value());
  EXPECT_EQ(runtime.image, "");
  EXPECT_TRUE(runtime.network);
  EXPECT_EQ(runtime.limits, JobLimits{});
  EXPECT_TRUE(runtime.secret_env.empty());
}

TEST(ConfigRuntimeTest, AJobsRuntimeLandsInItsStruct) {
  Config config = LoadOk(
      Job("executor: container, image: \"localhost/build:1\", network: false, "
          "limits: {memory: 512MiB, processes: 64, cpu_time: 90s, open_files: 256, file_size: 1G}, "
          "secret_env: {DEPLOY_KEY: {token_env: SLUICE_DEPLOY_KEY}, "
          "REGISTRY_PASSWORD: {token_file: /etc/sluice/registry}}"));
  ASSERT_EQ(config.jobs.size(), 1u);
  const JobRuntime& runtime = config.jobs[0].runtime;
  EXPECT_EQ(runtime.executor, ExecutorKind::kContainer);
  EXPECT_EQ(runtime.image, "localhost/build:1");
  EXPECT_FALSE(runtime.network);
  EXPECT_EQ(runtime.limits, (JobLimits{.memory_bytes = 512ull << 20,
                                       .processes = 64,
                                       .cpu_time = seconds(90),
                                       .open_files = 256,
                                       .file_bytes = 1ull << 30}));
  EXPECT_EQ(runtime.secret_env,
            (std::map<std::string, SecretSource>{
                {"DEPLOY_KEY", {.token_env = "SLUICE_DEPLOY_KEY", .token_file = ""}},
                {"REGISTRY_PASSWORD", {.token_env = "", .token_file = "/etc/sluice/registry"}}}));
}

TEST(ConfigRuntimeTest, EveryExecutorIsNamedByItsName) {
  EXPECT_EQ(LoadOk(Job("executor: sandbox")).jobs.at(0).runtime.executor, ExecutorKind::kSandbox);
  EXPECT_EQ(LoadOk(Job("executor: process")).jobs.at(0).runtime.executor, ExecutorKind::kProcess);
  for (ExecutorKind kind :
       {ExecutorKind::kSandbox, ExecutorKind::kContainer, ExecutorKind::kProcess}) {
    EXPECT_EQ(ExecutorFromName(ExecutorName(kind)), kind);
  }
  EXPECT_FALSE(ExecutorFromName("Sandbox").has_value());
}

TEST(ConfigRuntimeTest, SizesTakeBinaryUnits) {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  for (const Case& c : std::vector<Case>{{"4096", 4096},
                                         {"17B", 17},
                                         {"3K", 3ull << 10},
                                         {"3KiB", 3ull << 10},
                                         {"32M", 32ull << 20},
                                         {"32MiB", 32ull << 20},
                                         {"2G", 2ull << 30},
                                         {"2 GiB", 2ull << 30},
                                         {"1T", 1ull << 40},
                                         {"1TiB", 1ull << 40}}) {
    Config config = LoadOk(Job(std::string("limits: {memory: \"") + c.text + "\"}"));
    EXPECT_EQ(config.jobs.at(0).runtime.limits.memory_bytes, c.bytes) << c.text;
  }
}

TEST(ConfigRuntimeTest, TheSmallestLimitsAreAccepted) {
  Config config = LoadOk(Job("limits: {processes: 4, open_files: 16, cpu_time: 1s}"));
  const JobLimits& limits = config.jobs.at(0).runtime.limits;
  EXPECT_EQ(limits.processes, 4);
  EXPECT_EQ(limits.open_files, 16);
  EXPECT_EQ(limits.cpu_time, seconds(1));
}

TEST(ConfigRuntimeTest, AWorkerWithoutTheNewKeysKeepsTheDefaults) {
  Config config = LoadOk(Job(""));
  const WorkerConfig& worker = config.worker;
  EXPECT_FALSE(worker.executor.has_value());
  EXPECT_EQ(worker.limits, WorkerConfig().limits);
  EXPECT_EQ(worker.limits.memory_bytes, 4ull << 30);
  EXPECT_EQ(worker.max_log_bytes, 4ull << 20);
  EXPECT_EQ(worker.keep_failed_workspaces, 0);
  EXPECT_EQ(worker.artifacts_retention, hours(7 * 24));
  EXPECT_EQ(worker.job_uid_base, 2100000000u);
  EXPECT_EQ(worker.bwrap, "bwrap");
  EXPECT_EQ(worker.podman, "podman");
  EXPECT_TRUE(worker.podman_args.empty());
}

TEST(ConfigRuntimeTest, TheWorkersKeysLandInItsStruct) {
  Config config =
      LoadOk(Worker("executor: process, max_log_bytes: 1MiB, keep_failed_workspaces: 3, "
                    "artifacts_retention: 1h, job_uid_base: 3000000000, bwrap: /opt/bin/bwrap, "
                    "podman: /opt/bin/podman, podman_args: [--runtime, runc]"));
  const WorkerConfig& worker = config.worker;
  EXPECT_EQ(worker.executor, ExecutorKind::kProcess);
  EXPECT_EQ(worker.max_log_bytes, 1ull << 20);
  EXPECT_EQ(worker.keep_failed_workspaces, 3);
  EXPECT_EQ(worker.artifacts_retention, hours(1));
  EXPECT_EQ(worker.job_uid_base, 3000000000u);
  EXPECT_EQ(worker.bwrap, "/opt/bin/bwrap");
  EXPECT_EQ(worker.podman, "/opt/bin/podman");
  EXPECT_EQ(worker.podman_args, (std::vector<std::string>{"--runtime", "runc"}));
}

TEST(ConfigRuntimeTest, TheWorkersLimitsKeepTheDefaultsOfTheKeysTheyDoNotName) {
  Config config = LoadOk(Worker("limits: {memory: 1GiB, cpu_time: 10m}"));
  JobLimits expected = WorkerConfig().limits;
  expected.memory_bytes = 1ull << 30;
  expected.cpu_time = minutes(10);
  EXPECT_EQ(config.worker.limits, expected);
}

TEST(JobLimitsTest, OverTakesEachUnsetKeyFromTheDefaults) {
  JobLimits defaults = {.memory_bytes = 4ull << 30,
                        .processes = 1024,
                        .cpu_time = hours(1),
                        .open_files = 4096,
                        .file_bytes = 8ull << 30};
  JobLimits job;
  job.memory_bytes = 512ull << 20;
  job.open_files = 64;
  EXPECT_EQ(job.Over(defaults), (JobLimits{.memory_bytes = 512ull << 20,
                                           .processes = 1024,
                                           .cpu_time = hours(1),
                                           .open_files = 64,
                                           .file_bytes = 8ull << 30}));
  EXPECT_EQ(JobLimits{}.Over(defaults), defaults);
  EXPECT_EQ(defaults.Over(JobLimits{}), defaults);
  JobLimits only_cpu;
  only_cpu.cpu_time = seconds(5);
  EXPECT_EQ(only_cpu.Over(JobLimits{}), only_cpu);
}

TEST(SecretSourceTest, DescribeNamesTheSourceNeverAValue) {
  EXPECT_EQ((SecretSource{.token_env = "X", .token_file = ""}).Describe(), "token_env X");
  EXPECT_EQ((SecretSource{.token_env = "", .token_file = "/f"}).Describe(), "token_file /f");
}

TEST(ConfigRuntimeTest, APipelineJobsRuntimeAndTheProjectsSecretsLandInTheirStructs) {
  Config config = LoadOk(Project("secret_env: {CI_DEPLOY: {token_file: /run/secrets/deploy}}",
                                 "executor: sandbox, network: false, limits: {processes: 32}, "
                                 "secret_env: {NPM_TOKEN: {token_env: SLUICE_NPM}}"));
  ASSERT_EQ(config.projects.size(), 1u);
  const ProjectConfig& project = config.projects[0];
  EXPECT_EQ(project.secret_env,
            (std::map<std::string, SecretSource>{
                {"CI_DEPLOY", {.token_env = "", .token_file = "/run/secrets/deploy"}}}));
  ASSERT_EQ(project.jobs.size(), 1u);
  const JobRuntime& runtime = project.jobs[0].runtime;
  EXPECT_EQ(runtime.executor, ExecutorKind::kSandbox);
  EXPECT_FALSE(runtime.network);
  EXPECT_EQ(runtime.limits.processes, 32);
  EXPECT_EQ(runtime.secret_env.size(), 1u);
  EXPECT_EQ(runtime.secret_env.at("NPM_TOKEN").token_env, "SLUICE_NPM");
}

TEST(ConfigRuntimeTest, MaskedVariablesAreMarkedAndPlainOnesAreNot) {
  Config config = LoadOk(
      Project("variables: {PLAIN: hello, LONG_SECRET: {value: \"0123456789abcdef\", masked: true}, "
              "SHOWN: {value: visible, masked: false}, NUMBER: {value: 12345678}}"));
  const ProjectConfig& project = config.projects.at(0);
  EXPECT_EQ(project.variables,
            (std::map<std::string, std::string>{{"PLAIN", "hello"},
                                                {"LONG_SECRET", "0123456789abcdef"},
                                                {"SHOWN", "visible"},
                                                {"NUMBER", "12345678"}}));
  EXPECT_EQ(project.masked_variables, std::set<std::string>{"LONG_SECRET"});
}

TEST(ConfigRuntimeTest, AMaskedValueOfExactlyEightCharactersIsAccepted) {
  Config config = LoadOk(Project("variables: {KEY: {value: \"12345678\", masked: true}}"));
  EXPECT_EQ(config.projects.at(0).masked_variables, std::set<std::string>{"KEY"});
}

TEST(ConfigRuntimeTest, ARefusedMaskedValueIsNeverQuoted) {
  StatusOr<Config> config =
      LoadConfigText(Project("variables: {KEY: {value: \"pw-1234\", masked: true}}"));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message().find("pw-1234"), std::string::npos)
      << config.status().message();
}

struct BadRuntime {
  const char* name;
  std::string yaml;
  std::string expected;  // a substring of the error message
};

const BadRuntime kBadRuntimes[] = {
    // executor and image
    {"UnknownExecutor", Job("executor: docker"),
     "jobs[0].executor: expected sandbox, container or process"},
    {"ExecutorNotAScalar", Job("executor: [sandbox]"),
     "jobs[0].executor: expected sandbox, container or process"},
    {"ContainerWithoutImage", Job("executor: container"),
     "jobs[0].image: is required with executor: container"},
    {"ImageWithoutContainer", Job("image: debian"),
     "jobs[0].image: is only used with executor: container"},
    {"ImageWithSandbox", Job("executor: sandbox, image: debian"),
     "jobs[0].image: is only used with executor: container"},
    {"EmptyImage", Job("executor: container, image: \"\""), "jobs[0].image"},
    {"NetworkNotABoolean", Job("network: maybe"), "jobs[0].network"},
    // limits
    {"UnknownLimit", Job("limits: {memroy: 1G}"), "jobs[0].limits.memroy: unknown key"},
    {"LimitsNotAMap", Job("limits: 1G"), "jobs[0].limits"},
    {"MemoryWithoutNumber", Job("limits: {memory: MiB}"),
     "jobs[0].limits.memory: expected a size such as 512MiB"},
    {"MemoryWithUnknownUnit", Job("limits: {memory: 5MB}"),
     "jobs[0].limits.memory: expected a size such as 512MiB"},
    {"MemoryNegative", Job("limits: {memory: -1}"),
     "jobs[0].limits.memory: expected a size such as 512MiB"},
    {"MemoryZero", Job("limits: {memory: 0}"), "jobs[0].limits.memory: must be at least 1 byte"},
    {"MemoryOverflowsWithItsUnit", Job("limits: {memory: 20000000T}"),
     "jobs[0].limits.memory: must be at least 1 byte and fit in 64 bits"},
    {"MemoryOverflowsAlone", Job("limits: {memory: 99999999999999999999}"),
     "jobs[0].limits.memory: expected a size"},
    {"MemoryAsAList", Job("limits: {memory: [1]}"),
     "jobs[0].limits.memory: expected a size such as 512MiB"},
    {"FileSizeWithUnknownUnit", Job("limits: {file_size: 1PiB}"),
     "jobs[0].limits.file_size: expected a size such as 512MiB"},
    {"TooFewProcesses", Job("limits: {processes: 3}"),
     "jobs[0].limits.processes: must be at least 4"},
    {"ProcessesNotANumber", Job("limits: {processes: many}"),
     "jobs[0].limits.processes: expected an integer"},
    {"TooFewOpenFiles", Job("limits: {open_files: 15}"),
     "jobs[0].limits.open_files: must be at least 16"},
    {"TooLittleCpuTime", Job("limits: {cpu_time: 500ms}"),
     "jobs[0].limits.cpu_time: must be at least 1s"},
    {"CpuTimeNotADuration", Job("limits: {cpu_time: forever}"), "jobs[0].limits.cpu_time"},
    // secret_env
    {"SecretEnvNotAMap", Job("secret_env: [X]"),
     "jobs[0].secret_env: expected a map of NAME: {token_env: X} or {token_file: F}"},
    {"SecretEnvKeyNotAnEnvName", Job("secret_env: {\"1BAD\": {token_env: X}}"),
     "jobs[0].secret_env: keys must be environment variable names"},
    {"SecretEnvKeyWithADash", Job("secret_env: {BAD-NAME: {token_env: X}}"),
     "jobs[0].secret_env: keys must be environment variable names"},
    {"SecretEnvWithBothSources", Job("secret_env: {K: {token_env: X, token_file: /f}}"),
     "jobs[0].secret_env.K: needs exactly one of token_env and token_file"},
    {"SecretEnvWithNoSource", Job("secret_env: {K: {}}"),
     "jobs[0].secret_env.K: needs exactly one of token_env and token_file"},
    {"SecretEnvUnknownKey", Job("secret_env: {K: {token: x}}"),
     "jobs[0].secret_env.K.token: unknown key"},
    {"SecretEnvBadTokenEnv", Job("secret_env: {K: {token_env: \"A B\"}}"),
     "jobs[0].secret_env.K.token_env: not a valid environment variable name"},
    {"SecretEnvRelativeTokenFile", Job("secret_env: {K: {token_file: secrets/k}}"),
     "jobs[0].secret_env.K.token_file: must be an absolute path"},
    {"SecretEnvSourceNotAMap", Job("secret_env: {K: X}"), "jobs[0].secret_env.K"},
    // the worker's keys
    {"WorkerExecutorContainer", Worker("executor: container"),
     "worker.executor: container needs an image per job"},
    {"WorkerExecutorUnknown", Worker("executor: vm"),
     "worker.executor: expected sandbox, container or process"},
    {"WorkerUnknownLimit", Worker("limits: {threads: 4}"), "worker.limits.threads: unknown key"},
    {"WorkerTooFewProcesses", Worker("limits: {processes: 1}"),
     "worker.limits.processes: must be at least 4"},
    {"WorkerMaxLogBytesWithBadUnit", Worker("max_log_bytes: 4 megabytes"),
     "worker.max_log_bytes: expected a size such as 512MiB"},
    {"WorkerMaxLogBytesZero", Worker("max_log_bytes: 0"),
     "worker.max_log_bytes: must be at least 1 byte"},
    {"WorkerNegativeKeptWorkspaces", Worker("keep_failed_workspaces: -1"),
     "worker.keep_failed_workspaces: must be at least 0"},
    {"WorkerShortRetention", Worker("artifacts_retention: 59m"),
     "worker.artifacts_retention: must be at least 1h"},
    {"WorkerRetentionNotADuration", Worker("artifacts_retention: a week"),
     "worker.artifacts_retention"},
    {"WorkerUidBaseOfAHostUser", Worker("job_uid_base: 999"),
     "worker.job_uid_base: must be at least 1000"},
    {"WorkerUidBaseTooLarge", Worker("job_uid_base: 4000000001"),
     "worker.job_uid_base: must be at most 4000000000"},
    {"WorkerEmptyBwrap", Worker("bwrap: \"\""), "worker.bwrap"},
    {"WorkerEmptyPodman", Worker("podman: \"\""), "worker.podman"},
    // pipeline jobs and projects
    {"PipelineJobUnknownExecutor", Project("", "executor: chroot"),
     "projects[0].pipeline.jobs[0].executor: expected sandbox, container or process"},
    {"PipelineJobTooFewOpenFiles", Project("", "limits: {open_files: 1}"),
     "projects[0].pipeline.jobs[0].limits.open_files: must be at least 16"},
    {"PipelineJobSecretWithBothSources",
     Project("", "secret_env: {K: {token_env: X, token_file: /f}}"),
     "projects[0].pipeline.jobs[0].secret_env.K: needs exactly one"},
    {"ProjectSecretRelativeFile", Project("secret_env: {K: {token_file: k.txt}}"),
     "projects[0].secret_env.K.token_file: must be an absolute path"},
    {"ProjectSecretBadKey", Project("secret_env: {\"a b\": {token_env: X}}"),
     "projects[0].secret_env: keys must be environment variable names"},
    // masked variables
    {"MaskedValueTooShort", Project("variables: {KEY: {value: \"1234567\", masked: true}}"),
     "projects[0].variables.KEY.masked: a masked value needs at least 8 characters"},
    {"VariableWithoutValue", Project("variables: {KEY: {masked: true}}"),
     "projects[0].variables.KEY.value: is required"},
    {"VariableWithUnknownKey", Project("variables: {KEY: {value: x, protected: true}}"),
     "projects[0].variables.KEY.protected: unknown key"},
    {"VariableMaskedNotABoolean",
     Project("variables: {KEY: {value: \"12345678\", masked: yes please}}"),
     "projects[0].variables.KEY.masked"},
    {"VariableNull", Project("variables: {KEY: }"),
     "projects[0].variables.KEY: expected a value or {value, masked}"},
};

class BadRuntimeTest : public ::testing::TestWithParam<BadRuntime> {};

TEST_P(BadRuntimeTest, IsRejectedWithAMessageNamingTheKeyPath) {
  const BadRuntime& bad = GetParam();
  StatusOr<Config> config = LoadConfigText(bad.yaml);
  ASSERT_FALSE(config.ok()) << "accepted:\n" << bad.yaml;
  EXPECT_EQ(config.status().code(), Code::kInvalidArgument);
  EXPECT_NE(config.status().message().find(bad.expected), std::string::npos)
      << "message: " << config.status().message() << "\nexpected to contain: " << bad.expected;
}

INSTANTIATE_TEST_SUITE_P(Table, BadRuntimeTest, ::testing::ValuesIn(kBadRuntimes),
                         [](const ::testing::TestParamInfo<BadRuntime>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace sluice
