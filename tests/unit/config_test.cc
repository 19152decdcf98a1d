#include "common/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include "common/crypto.h"
#include "common/record_limits.h"

namespace sluice {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kTokenEnv[] = "SLUICE_CONFIG_TEST_TOKEN";
constexpr char kTokenValue[] = "s3cret-from-env";
constexpr char kUnsetEnv[] = "SLUICE_CONFIG_TEST_UNSET";
constexpr char kEmptyEnv[] = "SLUICE_CONFIG_TEST_EMPTY";

// A valid sha256 to fill token_sha256 where the token is not what a test is about.
const std::string kHash(64, 'a');

// One valid job, appended to files that test other sections.
constexpr char kOneJob[] = "jobs: [{name: j, type: periodic, command: [\"true\"]}]\n";

class ConfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv(kTokenEnv, kTokenValue, 1);
    setenv(kEmptyEnv, "", 1);
    unsetenv(kUnsetEnv);
  }

  // Writes content to a fresh file under the test's temporary directory and returns its path.
  static std::string WriteTempFile(const std::string& name, const std::string& content) {
    std::string path =
        ::testing::TempDir() + "sluice_config_test_" + std::to_string(getpid()) + "_" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    EXPECT_TRUE(out) << "cannot write " << path;
    return path;
  }
};

constexpr char kFullFile[] = R"(
gateway:
  listen: "127.0.0.1:9090"
  public_url: "https://sluice.example.com"
  max_body_bytes: 2048
  request_timeout: 15s
  threads: 8
  max_in_flight: 500
kafka:
  brokers: "kafka-1:9092,kafka-2:9092"
  topic_prefix: "ci.sluice."
  partitions: 24
  replication_factor: 3
  properties:
    security.protocol: SASL_SSL
    batch.num.messages: 1000
    enable.idempotence: true
worker:
  max_concurrency: 6
  workspace: /srv/sluice/work
  artifacts: /srv/sluice/artifacts
  heartbeat: 2s
  lease: 20s
  shutdown_grace: 45s
  kill_grace: 250ms
results:
  retention: 14d
clients:
  - {name: release-bot, token_env: SLUICE_CONFIG_TEST_TOKEN, allow_jobs: ["periodic-*", "branch-ci-*"], rate_limit: {per_second: 0.5, burst: 10}}
  - name: admin
    token_sha256: AAAABBBBCCCCDDDDEEEEFFFF0000111122223333444455556666777788889999
jobs:
  - name: periodic-to-trigger
    type: periodic
    command: ["sh", "-c", "echo using $RELEASE_IMAGE_LATEST"]
    env: {RELEASE_IMAGE_LATEST: "quay.io/openshift-release-dev/ocp-release:4.18.7-x86_64"}
    allow_env_override: ["RELEASE_IMAGE_LATEST", "MULTISTAGE_PARAM_OVERRIDE_*"]
    timeout: 10m
    max_attempts: 1
  - name: branch-ci-openshift-assisted-installer-release-4.12-images
    type: postsubmit
    repo: openshift/assisted-installer
    branches: ["^release-4\\.12$"]
    clone: true
    command: ["make", "images"]
    max_attempts: 3
)";

TEST_F(ConfigTest, FullFileSetsEveryField) {
  StatusOr<Config> config = LoadConfigText(kFullFile);
  ASSERT_TRUE(config.ok()) << config.status().message();

  const GatewayConfig& gateway = config->gateway;
  EXPECT_EQ(gateway.listen, "127.0.0.1:9090");
  EXPECT_EQ(gateway.public_url, "https://sluice.example.com");
  EXPECT_EQ(gateway.max_body_bytes, 2048u);
  EXPECT_EQ(gateway.request_timeout, seconds(15));
  EXPECT_EQ(gateway.threads, 8);
  EXPECT_EQ(gateway.max_in_flight, 500);

  const KafkaConfig& kafka = config->kafka;
  EXPECT_EQ(kafka.brokers, "kafka-1:9092,kafka-2:9092");
  EXPECT_EQ(kafka.topic_prefix, "ci.sluice.");
  EXPECT_EQ(kafka.RequestsTopic(), "ci.sluice.requests");
  EXPECT_EQ(kafka.partitions, 24);
  EXPECT_EQ(kafka.replication_factor, 3);
  std::map<std::string, std::string> properties = {{"security.protocol", "SASL_SSL"},
                                                   {"batch.num.messages", "1000"},
                                                   {"enable.idempotence", "true"}};
  EXPECT_EQ(kafka.properties, properties);

  const WorkerConfig& worker = config->worker;
  EXPECT_EQ(worker.max_concurrency, 6);
  EXPECT_EQ(worker.workspace, "/srv/sluice/work");
  EXPECT_EQ(worker.artifacts, "/srv/sluice/artifacts");
  EXPECT_EQ(worker.heartbeat, seconds(2));
  EXPECT_EQ(worker.lease, seconds(20));
  EXPECT_EQ(worker.shutdown_grace, seconds(45));
  EXPECT_EQ(worker.kill_grace, milliseconds(250));

  ASSERT_EQ(config->clients.size(), 2u);
  const ClientConfig& bot = config->clients[0];
  EXPECT_EQ(bot.name, "release-bot");
  EXPECT_EQ(bot.token_sha256, Sha256Hex(kTokenValue));
  EXPECT_EQ(bot.allow_jobs, (std::vector<std::string>{"periodic-*", "branch-ci-*"}));
  EXPECT_DOUBLE_EQ(bot.rate_limit.per_second, 0.5);
  EXPECT_EQ(bot.rate_limit.burst, 10);
  const ClientConfig& admin = config->clients[1];
  EXPECT_EQ(admin.name, "admin");
  EXPECT_EQ(admin.token_sha256, "aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999");
  EXPECT_TRUE(admin.allow_jobs.empty());
  EXPECT_DOUBLE_EQ(admin.rate_limit.per_second, 0);
  EXPECT_EQ(admin.rate_limit.burst, 0);

  ASSERT_EQ(config->jobs.size(), 2u);
  const JobConfig& periodic = config->jobs[0];
  EXPECT_EQ(periodic.name, "periodic-to-trigger");
  EXPECT_EQ(periodic.type, JobType::kPeriodic);
  EXPECT_EQ(periodic.command,
            (std::vector<std::string>{"sh", "-c", "echo using $RELEASE_IMAGE_LATEST"}));
  EXPECT_EQ(
      periodic.env,
      (std::map<std::string, std::string>{
          {"RELEASE_IMAGE_LATEST", "quay.io/openshift-release-dev/ocp-release:4.18.7-x86_64"}}));
  EXPECT_EQ(periodic.allow_env_override,
            (std::vector<std::string>{"RELEASE_IMAGE_LATEST", "MULTISTAGE_PARAM_OVERRIDE_*"}));
  EXPECT_EQ(periodic.timeout, minutes(10));
  EXPECT_EQ(periodic.max_attempts, 1);
  EXPECT_EQ(periodic.repo, "");
  EXPECT_TRUE(periodic.branches.empty());
  EXPECT_FALSE(periodic.clone);

  const JobConfig& postsubmit = config->jobs[1];
  EXPECT_EQ(postsubmit.name, "branch-ci-openshift-assisted-installer-release-4.12-images");
  EXPECT_EQ(postsubmit.type, JobType::kPostsubmit);
  EXPECT_EQ(postsubmit.repo, "openshift/assisted-installer");
  EXPECT_EQ(postsubmit.branches, (std::vector<std::string>{"^release-4\\.12$"}));
  EXPECT_TRUE(postsubmit.clone);
  EXPECT_EQ(postsubmit.command, (std::vector<std::string>{"make", "images"}));
  EXPECT_TRUE(postsubmit.env.empty());
  EXPECT_TRUE(postsubmit.allow_env_override.empty());
  EXPECT_EQ(postsubmit.timeout, hours(1));
  EXPECT_EQ(postsubmit.max_attempts, 3);

  EXPECT_EQ(config->results.retention, hours(14 * 24));
}

TEST_F(ConfigTest, ClientsAndJobsAloneGetDefaults) {
  StatusOr<Config> config = LoadConfigText(R"(
clients:
  - {name: bot, token_env: SLUICE_CONFIG_TEST_TOKEN}
jobs:
  - {name: presubmit-unit, type: presubmit, command: [make, test]}
)");
  ASSERT_TRUE(config.ok()) << config.status().message();

  const GatewayConfig gateway_defaults;
  EXPECT_EQ(config->gateway.listen, "0.0.0.0:8080");
  EXPECT_EQ(config->gateway.public_url, "http://localhost:8080");
  EXPECT_EQ(config->gateway.max_body_bytes, 1048576u);
  EXPECT_EQ(config->gateway.request_timeout, seconds(10));
  EXPECT_EQ(config->gateway.threads, gateway_defaults.threads);
  EXPECT_EQ(config->gateway.max_in_flight, gateway_defaults.max_in_flight);

  EXPECT_EQ(config->kafka.brokers, "localhost:9092");
  EXPECT_EQ(config->kafka.topic_prefix, "sluice.");
  EXPECT_EQ(config->kafka.partitions, 12);
  EXPECT_EQ(config->kafka.replication_factor, 1);
  EXPECT_TRUE(config->kafka.properties.empty());

  EXPECT_EQ(config->worker.max_concurrency, 4);
  EXPECT_EQ(config->worker.workspace, "/var/lib/sluice/work");
  EXPECT_EQ(config->worker.artifacts, "/var/lib/sluice/artifacts");
  EXPECT_EQ(config->worker.heartbeat, seconds(5));
  EXPECT_EQ(config->worker.lease, seconds(30));
  EXPECT_EQ(config->worker.shutdown_grace, seconds(30));
  EXPECT_EQ(config->worker.kill_grace, seconds(10));

  ASSERT_EQ(config->clients.size(), 1u);
  EXPECT_TRUE(config->clients[0].allow_jobs.empty());
  EXPECT_EQ(config->clients[0].rate_limit.per_second, 0);

  ASSERT_EQ(config->jobs.size(), 1u);
  const JobConfig& job = config->jobs[0];
  EXPECT_EQ(job.type, JobType::kPresubmit);
  EXPECT_EQ(job.timeout, hours(1));
  EXPECT_EQ(job.max_attempts, 1);
  EXPECT_FALSE(job.clone);
  EXPECT_TRUE(job.env.empty());
}

TEST_F(ConfigTest, ClientsMayBeAbsent) {
  StatusOr<Config> config = LoadConfigText(kOneJob);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_TRUE(config->clients.empty());
}

TEST_F(ConfigTest, EmptySectionsKeepDefaults) {
  StatusOr<Config> config = LoadConfigText(std::string("gateway:\nkafka: {}\nworker:\n") + kOneJob);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->gateway.listen, "0.0.0.0:8080");
  EXPECT_EQ(config->kafka.partitions, 12);
  EXPECT_EQ(config->worker.lease, seconds(30));
}

TEST_F(ConfigTest, WorkerMetricsListenDefaultsToLoopbackAndMayBeTurnedOff) {
  StatusOr<Config> config = LoadConfigText(kOneJob);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->worker.metrics_listen, "127.0.0.1:9464");
  config = LoadConfigText(std::string("worker: {metrics_listen: \"\"}\n") + kOneJob);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->worker.metrics_listen, "");
  config = LoadConfigText(std::string("worker: {metrics_listen: \"[::]:0\"}\n") + kOneJob);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->worker.metrics_listen, "[::]:0");
  config = LoadConfigText(std::string("worker: {metrics_listen: \"9464\"}\n") + kOneJob);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("worker.metrics_listen: expected HOST:PORT"),
            std::string::npos)
      << config.status().message();
}

// The project of the GitLab issue, as README's GitLab section writes it.
TEST_F(ConfigTest, ProjectsWithTheirPipelines) {
  StatusOr<Config> config = LoadConfigText(
      "clients:\n"
      "  - {name: release-bot, token_sha256: " +
      kHash +
      "}\n"
      "  - {name: ops, token_sha256: " +
      kHash +
      "}\n"
      "projects:\n"
      "  - id: 9\n"
      "    path: group/project\n"
      "    refs: {branches: [\"main\", \"release-*\"], tags: [\"v*\"]}\n"
      "    repository: \"file:///srv/git/project.git\"\n"
      "    variables: {DEPLOY_ENV: staging}\n"
      "    members: {release-bot: developer, ops: maintainer}\n"
      "    pipeline:\n"
      "      stages: [test, build, package]\n"
      "      jobs:\n"
      "        - {name: run_tests, stage: test, command: [make, test]}\n"
      "        - {name: build_package, stage: build, command: [make, build], timeout: 10m}\n"
      "        - name: upload_package\n"
      "          stage: package\n"
      "          when: manual\n"
      "          command: [sh, -c, 'make upload']\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->jobs.empty()) << "jobs are optional next to projects";
  ASSERT_EQ(config->projects.size(), 1u);
  const ProjectConfig& p = config->projects[0];
  EXPECT_EQ(p.id, 9);
  EXPECT_EQ(p.path, "group/project");
  EXPECT_EQ(p.branches, (std::vector<std::string>{"main", "release-*"}));
  EXPECT_EQ(p.tags, (std::vector<std::string>{"v*"}));
  EXPECT_EQ(p.repository, "file:///srv/git/project.git");
  EXPECT_EQ(p.variables.at("DEPLOY_ENV"), "staging");
  EXPECT_EQ(p.members.at("release-bot"), ProjectRole::kDeveloper);
  EXPECT_EQ(p.members.at("ops"), ProjectRole::kMaintainer);
  EXPECT_EQ(p.stages, (std::vector<std::string>{"test", "build", "package"}));
  ASSERT_EQ(p.jobs.size(), 3u);
  EXPECT_EQ(p.jobs[0].when, JobWhen::kOnSuccess);
  EXPECT_FALSE(p.jobs[0].allow_failure);
  EXPECT_EQ(p.jobs[1].timeout, minutes(10));
  EXPECT_EQ(p.jobs[2].when, JobWhen::kManual);
  EXPECT_TRUE(p.jobs[2].allow_failure) << "manual jobs are optional unless allow_failure: false";
  EXPECT_EQ(p.jobs[2].command, (std::vector<std::string>{"sh", "-c", "make upload"}));

  EXPECT_EQ(config->FindProject("9"), &p);
  EXPECT_EQ(config->FindProject("group/project"), &p);
  EXPECT_EQ(config->FindProject("group%2Fproject"), &p);
  EXPECT_EQ(config->FindProject("group%2fproject"), &p);
  EXPECT_EQ(config->FindProject("10"), nullptr);
  EXPECT_EQ(config->FindProject("group"), nullptr);
}

TEST_F(ConfigTest, WebhookSecretsInClearTextWithScopesAndExpiry) {
  std::string path = WriteTempFile("hook-secret", "from-file\n");
  StatusOr<Config> config =
      LoadConfigText(std::string("webhooks:\n"
                                 "  timestamp_tolerance: 2m\n"
                                 "  github:\n"
                                 "    max_body_bytes: 1000\n"
                                 "    secrets:\n"
                                 "      \"openshift/assisted-installer\": [{token_env: ") +
                     kTokenEnv + "}, {token_file: \"" + path +
                     "\", expires: \"2026-12-31T00:00:00Z\"}]\n"
                     "      \"*\": [{token_file: \"" +
                     path + "\"}]\n" +
                     "jobs: [{name: j, type: postsubmit, command: [x], branches: [main], "
                     "skip_branches: [\"^wip-\"],"
                     " tags: [\"^v\"]}]\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->webhooks.timestamp_tolerance, minutes(2));
  ASSERT_EQ(config->webhooks.hosts.count(GitHost::kGitHub), 1u);
  EXPECT_EQ(config->webhooks.hosts.count(GitHost::kGitLab), 0u);
  const WebhookHostConfig& github = config->webhooks.hosts.at(GitHost::kGitHub);
  EXPECT_EQ(github.max_body_bytes, 1000u);
  const auto& repo = github.secrets.at("openshift/assisted-installer");
  ASSERT_EQ(repo.size(), 2u);
  EXPECT_EQ(repo[0].secret, kTokenValue);
  EXPECT_EQ(repo[0].source, std::string("token_env ") + kTokenEnv);
  EXPECT_FALSE(repo[0].expires);
  EXPECT_EQ(repo[1].secret, "from-file");
  EXPECT_EQ(repo[1].expires, ParseRfc3339("2026-12-31T00:00:00Z"));
  EXPECT_EQ(github.secrets.at("*")[0].secret, "from-file");
  EXPECT_EQ(config->jobs[0].skip_branches, std::vector<std::string>{"^wip-"});
  EXPECT_EQ(config->jobs[0].tags, std::vector<std::string>{"^v"});
}

TEST_F(ConfigTest, AManualJobMayBeMadeRequired) {
  StatusOr<Config> config = LoadConfigText(
      "projects: [{id: 1, path: a/b, pipeline: {stages: [s], jobs: [{name: j, stage: s, "
      "when: manual, allow_failure: false, command: [x]}]}}]\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_FALSE(config->projects[0].jobs[0].allow_failure);
}

TEST_F(ConfigTest, FindJobReturnsTheJobByNameOrNull) {
  StatusOr<Config> config = LoadConfigText(kFullFile);
  ASSERT_TRUE(config.ok()) << config.status().message();
  const JobConfig* job = config->FindJob("periodic-to-trigger");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job, &config->jobs[0]);
  EXPECT_EQ(config->FindJob("periodic"), nullptr);
  EXPECT_EQ(config->FindJob(""), nullptr);
}

TEST_F(ConfigTest, TokenFileIsHashedWithoutTrailingWhitespace) {
  std::string path = WriteTempFile("token", "file-s3cret \n");
  StatusOr<Config> config =
      LoadConfigText("clients: [{name: bot, token_file: \"" + path + "\"}]\n" + kOneJob);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->clients[0].token_sha256, Sha256Hex("file-s3cret"));
  unlink(path.c_str());
}

TEST_F(ConfigTest, TokenFileThatIsEmptyIsAnError) {
  std::string path = WriteTempFile("empty_token", "\n");
  StatusOr<Config> config =
      LoadConfigText("clients: [{name: bot, token_file: \"" + path + "\"}]\n" + kOneJob);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Code::kInvalidArgument);
  EXPECT_NE(config.status().message().find("clients[0].token_file: file " + path + " is empty"),
            std::string::npos)
      << config.status().message();
  unlink(path.c_str());
}

TEST_F(ConfigTest, TokenFileThatIsMissingIsAnError) {
  std::string path = ::testing::TempDir() + "sluice_config_test_no_such_token";
  StatusOr<Config> config =
      LoadConfigText("clients: [{name: bot, token_file: \"" + path + "\"}]\n" + kOneJob);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("clients[0].token_file: cannot read " + path +
                                           ": No such file or directory"),
            std::string::npos)
      << config.status().message();
}

TEST_F(ConfigTest, ErrorsNeverQuoteATokenGivenInTheWrongPlace) {
  StatusOr<Config> config = LoadConfigText(
      std::string("clients: [{name: bot, token_sha256: hunter2-clear-text}]\n") + kOneJob);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("clients[0].token_sha256"), std::string::npos);
  EXPECT_EQ(config.status().message().find("hunter2"), std::string::npos)
      << config.status().message();
}

TEST_F(ConfigTest, ErrorsNeverQuoteATokenReadFromTheEnvironment) {
  StatusOr<Config> config = LoadConfigText(
      std::string("clients: [{name: bot, token_env: SLUICE_CONFIG_TEST_TOKEN, token_sha256: ") +
      kHash + "}]\n" + kOneJob);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message().find(kTokenValue), std::string::npos)
      << config.status().message();
}

TEST_F(ConfigTest, BurstDefaultsToTheRateRoundedUp) {
  StatusOr<Config> config = LoadConfigText(std::string(R"(
clients:
  - {name: slow, token_sha256: )" + kHash + R"(, rate_limit: {per_second: 0.5}}
  - {name: fast, token_sha256: )" + kHash + R"(, rate_limit: {per_second: 2.5}}
  - {name: free, token_sha256: )" + kHash + R"(, rate_limit: {}}
)") + kOneJob);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->clients[0].rate_limit.burst, 1);
  EXPECT_DOUBLE_EQ(config->clients[1].rate_limit.per_second, 2.5);
  EXPECT_EQ(config->clients[1].rate_limit.burst, 3);
  EXPECT_DOUBLE_EQ(config->clients[2].rate_limit.per_second, 0);
  EXPECT_EQ(config->clients[2].rate_limit.burst, 1);
}

TEST_F(ConfigTest, ListenAcceptsHostPortAndBracketedIpv6) {
  for (const char* listen : {"[::1]:8080", "[::]:0", "localhost:65535", "10.0.0.1:1"}) {
    StatusOr<Config> config =
        LoadConfigText(std::string("gateway: {listen: \"") + listen + "\"}\n" + kOneJob);
    ASSERT_TRUE(config.ok()) << listen << ": " << config.status().message();
    EXPECT_EQ(config->gateway.listen, listen);
  }
}

TEST_F(ConfigTest, SyntaxErrorNamesLineAndColumn) {
  StatusOr<Config> config = LoadConfigText("gateway:\n  listen: [unclosed\njobs: []\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Code::kInvalidArgument);
  EXPECT_NE(config.status().message().find("YAML syntax error at line "), std::string::npos)
      << config.status().message();
  EXPECT_NE(config.status().message().find(", column "), std::string::npos)
      << config.status().message();
}

TEST_F(ConfigTest, EveryErrorIsReported) {
  StatusOr<Config> config =
      LoadConfigText(std::string("gateway: {threads: 0}\nkafka: {partitions: x}\n") + kOneJob);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            "gateway.threads: must be at least 1, got 0; "
            "kafka.partitions: expected an integer, got \"x\"");
}

TEST_F(ConfigTest, ResultsRetentionDefaultsToThirtyDaysAndTakesSmallValues) {
  StatusOr<Config> defaults = LoadConfigText(kOneJob);
  ASSERT_TRUE(defaults.ok()) << defaults.status().message();
  EXPECT_EQ(defaults->results.retention, hours(30 * 24));
  for (const auto& [text, want] :
       std::vector<std::pair<std::string, Duration>>{{"1m", minutes(1)},
                                                     {"90s", seconds(90)},
                                                     {"7d", hours(7 * 24)},
                                                     {"365d", hours(8760)}}) {
    StatusOr<Config> config = LoadConfigText("results: {retention: " + text + "}\n" + kOneJob);
    ASSERT_TRUE(config.ok()) << text << ": " << config.status().message();
    EXPECT_EQ(config->results.retention, want) << text;
  }
}

TEST_F(ConfigTest, ResultsRetentionRejectsNonsense) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"results: {retention: 59s}", "results.retention: must be at least 1m"},
      {"results: {retention: 0s}", "results.retention: must be greater than 0, got 0s"},
      {"results: {retention: soon}",
       "results.retention: expected a duration like 10s or 5m, got \"soon\""},
      {"results: {retention: -1d}",
       "results.retention: expected a duration like 10s or 5m, got \"-1d\""},
      {"results: {retention: 2m}\nworker: {lease: 2m, heartbeat: 20s}",
       "results.retention: must be longer than worker.lease (2m): a running execution stays in "
       "the status views by its heartbeats"},
      {"results: {keep: 1d}", "unknown key"},
  };
  for (const auto& [yaml, want] : cases) {
    StatusOr<Config> config = LoadConfigText(yaml + "\n" + kOneJob);
    ASSERT_FALSE(config.ok()) << yaml;
    EXPECT_NE(config.status().message().find(want), std::string::npos)
        << yaml << ": " << config.status().message();
  }
}

TEST_F(ConfigTest, LoadConfigFileReadsTheFile) {
  std::string path = WriteTempFile("good.yaml", kFullFile);
  StatusOr<Config> config = LoadConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->jobs.size(), 2u);
  unlink(path.c_str());
}

TEST_F(ConfigTest, LoadConfigFileNamesTheFileInErrors) {
  std::string path = WriteTempFile("bad.yaml", std::string("gateway: {listn: x}\n") + kOneJob);
  StatusOr<Config> config = LoadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            path + ": gateway.listn: unknown key (did you mean \"listen\"?)");
  unlink(path.c_str());
}

TEST_F(ConfigTest, LoadConfigFileThatCannotBeReadIsAnError) {
  std::string path = ::testing::TempDir() + "sluice_config_test_no_such_file.yaml";
  StatusOr<Config> config = LoadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "cannot read config file " + path + ": No such file or directory");
}

struct BadConfig {
  const char* name;
  std::string yaml;
  std::string expected;  // a substring of the error message
};

std::string Client(const std::string& fields) {
  return "clients: [{name: bot, " + fields + "}]\n" + kOneJob;
}
std::string Job(const std::string& fields) {
  return "jobs: [{name: j, type: postsubmit, command: [make], " + fields + "}]\n";
}
// A project with one pipeline job; `fields` are extra keys of the project, `job` of its job.
std::string Project(const std::string& fields, const std::string& job = "") {
  return "clients: [{name: ops, token_sha256: " + kHash +
         "}]\nprojects:\n  - {id: 9, path: group/project, " + fields +
         (fields.empty() ? "" : ", ") +
         "pipeline: {stages: [test], jobs: [{name: t, stage: test, command: [make], " + job +
         "}]}}\n";
}

const BadConfig kBadConfigs[] = {
    // Unknown keys at every level.
    {"UnknownTopLevelKey", std::string("jobz: []\n") + kOneJob,
     "jobz: unknown key (did you mean \"jobs\"?)"},
    {"UnknownGatewayKey", std::string("gateway: {listn: x}\n") + kOneJob,
     "gateway.listn: unknown key (did you mean \"listen\"?)"},
    {"UnknownKafkaKey", std::string("kafka: {broker: x}\n") + kOneJob,
     "kafka.broker: unknown key (did you mean \"brokers\"?)"},
    {"UnknownWorkerKey", std::string("worker: {lease_time: 5s}\n") + kOneJob,
     "worker.lease_time: unknown key"},
    {"UnknownClientKey", Client("token: x"), "clients[0].token: unknown key"},
    {"UnknownRateLimitKey", Client("token_sha256: " + kHash + ", rate_limit: {rate: 1}"),
     "clients[0].rate_limit.rate: unknown key"},
    {"UnknownJobKey",
     std::string("jobs: [{name: a, type: periodic, command: [x]}, "
                 "{name: b, type: periodic, comand: [x]}]\n"),
     "jobs[1].comand: unknown key (did you mean \"command\"?)"},
    {"DuplicateKey", std::string("gateway: {threads: 1, threads: 2}\n") + kOneJob,
     "gateway.threads: duplicate key"},

    // Shapes.
    {"TopLevelIsAList", "- gateway\n", "config: expected a map, got a list"},
    {"SectionIsAScalar", std::string("gateway: 5\n") + kOneJob,
     "gateway: expected a map, got \"5\""},
    {"ClientsIsAMap", std::string("clients: {bot: x}\n") + kOneJob,
     "clients: expected a list, got a map"},
    {"JobsIsAMap", "jobs: {j: x}\n", "jobs: expected a list, got a map"},
    {"EmptyFile", "", "jobs: at least one job is required"},
    {"NoJobs", "clients: []\n", "jobs: at least one job is required"},
    {"EmptyJobs", "jobs: []\n", "jobs: at least one job is required"},

    // Gateway.
    {"ListenWithoutPort", std::string("gateway: {listen: localhost}\n") + kOneJob,
     "gateway.listen: expected HOST:PORT, got \"localhost\""},
    {"ListenPortTooLarge", std::string("gateway: {listen: \"0.0.0.0:65536\"}\n") + kOneJob,
     "gateway.listen: port must be a number from 0 to 65535"},
    {"ListenPortNotANumber", std::string("gateway: {listen: \"0.0.0.0:http\"}\n") + kOneJob,
     "gateway.listen: port must be a number from 0 to 65535"},
    {"ListenIpv6WithoutBrackets", std::string("gateway: {listen: \"::1:8080\"}\n") + kOneJob,
     "gateway.listen: IPv6 addresses must be written in brackets"},
    {"ListenWithoutHost", std::string("gateway: {listen: \":8080\"}\n") + kOneJob,
     "gateway.listen: missing host"},
    {"PublicUrlWithoutScheme", std::string("gateway: {public_url: \"localhost:8080\"}\n") + kOneJob,
     "gateway.public_url: must start with http:// or https://"},
    {"ZeroMaxBodyBytes", std::string("gateway: {max_body_bytes: 0}\n") + kOneJob,
     "gateway.max_body_bytes: must be at least 1, got 0"},
    {"MaxBodyBytesThatCouldMakeARecordKafkaRefuses",
     std::string("gateway: {max_body_bytes: 2031617}\n") + kOneJob,
     "gateway.max_body_bytes: 2031617 bytes could make a record larger than the topics' "
     "max.message.bytes of 2097152"},
    {"ZeroThreads", std::string("gateway: {threads: 0}\n") + kOneJob,
     "gateway.threads: must be at least 1, got 0"},
    {"ThreadsIsAList", std::string("gateway: {threads: [1]}\n") + kOneJob,
     "gateway.threads: expected an integer, got a list"},
    {"ZeroMaxInFlight", std::string("gateway: {max_in_flight: 0}\n") + kOneJob,
     "gateway.max_in_flight: must be at least 1"},
    {"RequestTimeoutWithoutUnit", std::string("gateway: {request_timeout: 10}\n") + kOneJob,
     "gateway.request_timeout: expected a duration like 10s or 5m, got \"10\""},

    // Kafka.
    {"PartitionsNotAnInteger", std::string("kafka: {partitions: x}\n") + kOneJob,
     "kafka.partitions: expected an integer, got \"x\""},
    {"PartitionsFractional", std::string("kafka: {partitions: 1.5}\n") + kOneJob,
     "kafka.partitions: expected an integer, got \"1.5\""},
    {"PartitionsTooLarge", std::string("kafka: {partitions: 99999999999}\n") + kOneJob,
     "kafka.partitions: must be at most 2147483647"},
    {"ZeroPartitions", std::string("kafka: {partitions: 0}\n") + kOneJob,
     "kafka.partitions: must be at least 1, got 0"},
    {"ZeroReplicationFactor", std::string("kafka: {replication_factor: 0}\n") + kOneJob,
     "kafka.replication_factor: must be at least 1"},
    {"TopicPrefixWithSlash", std::string("kafka: {topic_prefix: \"a/b.\"}\n") + kOneJob,
     "kafka.topic_prefix: may hold only letters, digits"},
    {"EmptyBrokers", std::string("kafka: {brokers: \"\"}\n") + kOneJob,
     "kafka.brokers: must not be empty"},
    {"PropertiesIsAList", std::string("kafka: {properties: [a]}\n") + kOneJob,
     "kafka.properties: expected a map, got a list"},
    {"PropertyValueIsAMap", std::string("kafka: {properties: {sasl: {a: b}}}\n") + kOneJob,
     "kafka.properties.sasl: expected a string, number or boolean"},

    // Worker.
    {"HeartbeatEqualToLease", std::string("worker: {heartbeat: 30s, lease: 30s}\n") + kOneJob,
     "worker.heartbeat: must be at most a third of worker.lease (30s > 30s / 3)"},
    {"HeartbeatJustOverAThirdOfTheLease",
     std::string("worker: {heartbeat: 1001ms, lease: 3s}\n") + kOneJob,
     "worker.heartbeat: must be at most a third of worker.lease (1001ms > 3s / 3)"},
    {"HeartbeatLongerThanDefaultLease", std::string("worker: {heartbeat: 1m}\n") + kOneJob,
     "worker.heartbeat: must be at most a third of worker.lease (1m > 30s / 3)"},
    {"ZeroMaxConcurrency", std::string("worker: {max_concurrency: 0}\n") + kOneJob,
     "worker.max_concurrency: must be at least 1"},
    {"EmptyWorkspace", std::string("worker: {workspace: \"\"}\n") + kOneJob,
     "worker.workspace: must not be empty"},
    {"ZeroKillGrace", std::string("worker: {kill_grace: 0s}\n") + kOneJob,
     "worker.kill_grace: must be greater than 0"},

    // Clients.
    {"MissingToken", Client("allow_jobs: [j]"),
     "clients[0]: one of token_sha256, token_file or token_env is required"},
    {"TwoTokens", Client("token_sha256: " + kHash + ", token_env: SLUICE_CONFIG_TEST_TOKEN"),
     "clients[0]: give exactly one of token_sha256, token_file or token_env, not token_sha256 "
     "and token_env"},
    {"UnsetTokenEnv", Client("token_env: SLUICE_CONFIG_TEST_UNSET"),
     "clients[0].token_env: environment variable SLUICE_CONFIG_TEST_UNSET is not set"},
    {"EmptyTokenEnv", Client("token_env: SLUICE_CONFIG_TEST_EMPTY"),
     "clients[0].token_env: environment variable SLUICE_CONFIG_TEST_EMPTY is empty"},
    {"TokenEnvNotAName", Client("token_env: \"MY-TOKEN\""),
     "clients[0].token_env: not a valid environment variable name"},
    {"ShortTokenSha256", Client("token_sha256: abc123"),
     "clients[0].token_sha256: expected 64 hexadecimal characters"},
    {"NonHexTokenSha256", Client("token_sha256: " + std::string(64, 'g')),
     "clients[0].token_sha256: expected 64 hexadecimal characters"},
    {"ClientWithoutName", "clients: [{token_sha256: " + kHash + "}]\n" + kOneJob,
     "clients[0].name: is required"},
    {"EmptyClientName", "clients: [{name: \"\", token_sha256: " + kHash + "}]\n" + kOneJob,
     "clients[0].name: must not be empty"},
    {"DuplicateClientName",
     "clients: [{name: bot, token_sha256: " + kHash + "}, {name: bot, token_sha256: " + kHash +
         "}]\n" + kOneJob,
     "clients[1].name: duplicate client name \"bot\""},
    {"AllowJobsIsAScalar", Client("token_sha256: " + kHash + ", allow_jobs: j"),
     "clients[0].allow_jobs: expected a list of strings, got \"j\""},
    {"EmptyAllowJobsEntry", Client("token_sha256: " + kHash + ", allow_jobs: [j, \"\"]"),
     "clients[0].allow_jobs[1]: must not be empty"},
    {"NegativeRate", Client("token_sha256: " + kHash + ", rate_limit: {per_second: -1}"),
     "clients[0].rate_limit.per_second: must be at least 0, got -1"},
    {"RateNotANumber", Client("token_sha256: " + kHash + ", rate_limit: {per_second: fast}"),
     "clients[0].rate_limit.per_second: expected a number, got \"fast\""},
    {"ZeroBurst", Client("token_sha256: " + kHash + ", rate_limit: {per_second: 1, burst: 0}"),
     "clients[0].rate_limit.burst: must be at least 1, got 0"},

    // Jobs.
    {"JobWithoutName", "jobs: [{type: periodic, command: [x]}]\n", "jobs[0].name: is required"},
    {"JobNameWithSlash", "jobs: [{name: ../etc, type: periodic, command: [x]}]\n",
     "jobs[0].name: must start with a letter or digit"},
    {"JobNameTooLong",
     "jobs: [{name: " + std::string(201, 'a') + ", type: periodic, command: [x]}]\n",
     "jobs[0].name: must start with a letter or digit and hold at most 200"},
    {"DuplicateJobName",
     "jobs: [{name: j, type: periodic, command: [x]}, {name: j, type: presubmit, "
     "command: [y]}]\n",
     "jobs[1].name: duplicate job name \"j\" (also jobs[0])"},
    {"JobWithoutType", "jobs: [{name: j, command: [x]}]\n",
     "jobs[0].type: is required (periodic, postsubmit or presubmit)"},
    {"UnknownJobType", "jobs: [{name: j, type: batch, command: [x]}]\n",
     "jobs[0].type: expected periodic, postsubmit or presubmit, got \"batch\""},
    {"JobWithoutCommand", "jobs: [{name: j, type: periodic}]\n", "jobs[0].command: is required"},
    {"CommandIsAString", "jobs: [{name: j, type: periodic, command: \"make images\"}]\n",
     "jobs[0].command: expected a list of strings"},
    {"CommandIsEmpty", "jobs: [{name: j, type: periodic, command: []}]\n",
     "jobs[0].command: must not be empty"},
    {"CommandHoldsAMap", "jobs: [{name: j, type: periodic, command: [make, {a: b}]}]\n",
     "jobs[0].command[1]: expected a string, got a map"},
    {"TimeoutNotADuration", Job("timeout: ten"),
     "jobs[0].timeout: expected a duration like 10s or 5m, got \"ten\""},
    {"ZeroTimeout", Job("timeout: 0s"), "jobs[0].timeout: must be greater than 0"},
    {"ZeroMaxAttempts", Job("max_attempts: 0"), "jobs[0].max_attempts: must be at least 1"},
    {"EnvNameInvalid", Job("env: {1BAD: x}"),
     "jobs[0].env.1BAD: not a valid environment variable name"},
    {"EnvValueIsAList", Job("env: {FOO: [a]}"),
     "jobs[0].env.FOO: expected a string, number or boolean"},
    {"EnvOverrideWithDash", Job("allow_env_override: [OK_NAME, MY-VAR]"),
     "jobs[0].allow_env_override[1]: expected an environment variable name or a NAME_PREFIX* "
     "pattern, got \"MY-VAR\""},
    {"EnvOverrideWithInnerStar", Job("allow_env_override: [\"A*B\"]"),
     "jobs[0].allow_env_override[0]: expected an environment variable name"},
    {"EnvOverrideBareStar", Job("allow_env_override: [\"*\"]"),
     "jobs[0].allow_env_override[0]: expected an environment variable name"},
    {"EnvOverrideStartingWithDigit", Job("allow_env_override: [\"1_*\"]"),
     "jobs[0].allow_env_override[0]: expected an environment variable name"},
    {"RepoWithoutOrg", Job("repo: assisted-installer"),
     "jobs[0].repo: expected org/repo, got \"assisted-installer\""},
    {"RepoWithTwoSlashes", Job("repo: a/b/c"), "jobs[0].repo: expected org/repo"},
    {"BadBranchRegex", Job("branches: [main, \"release-(\"]"),
     "jobs[0].branches[1]: invalid regular expression \"release-(\""},
    {"CloneNotABool", Job("clone: maybe"), "jobs[0].clone: expected true or false, got \"maybe\""},
    {"PeriodicWithClone", "jobs: [{name: j, type: periodic, command: [x], clone: true}]\n",
     "jobs[0].clone: only postsubmit and presubmit jobs can clone"},

    // Projects.
    {"ProjectWithoutId", "projects: [{path: a/b, pipeline: {stages: [s], jobs: []}}]\n",
     "projects[0].id: is required"},
    {"ProjectIdTooLargeForJavaScript",
     "projects: [{id: 9007199254740992, path: a/b, pipeline: {stages: [s], jobs: []}}]\n",
     "projects[0].id: must be at most 9007199254740991"},
    {"ProjectPathWithoutGroup", "projects: [{id: 1, path: project, pipeline: {stages: [s]}}]\n",
     "projects[0].path: expected group/project"},
    {"DuplicateProjectId",
     Project("") + "  - {id: 9, path: g/other, pipeline: {stages: [s], jobs: [{name: a, stage: "
                   "s, command: [x]}]}}\n",
     "projects[1].id: duplicate project id 9"},
    {"MemberWhoIsNoClient", Project("members: {nobody: developer}"),
     "projects[0].members.nobody: no client is named \"nobody\""},
    {"MemberWithUnknownRole", Project("members: {ops: owner}"),
     "projects[0].members.ops: expected reporter, developer or maintainer, got \"owner\""},
    {"ProjectVariableWithBadName", Project("variables: {\"1X\": y}"),
     "projects[0].variables.1X: not a valid environment variable name"},
    {"JobInAnUnknownStage",
     "projects: [{id: 1, path: a/b, pipeline: {stages: [test], jobs: [{name: j, stage: deploy, "
     "command: [x]}]}}]\n",
     "projects[0].pipeline.jobs[0].stage: is not one of the pipeline's stages, got \"deploy\""},
    {"JobWithUnknownWhen", Project("", "when: sometimes"),
     "projects[0].pipeline.jobs[0].when: expected on_success, manual or always"},
    {"PipelineWithoutStages", "projects: [{id: 1, path: a/b, pipeline: {jobs: []}}]\n",
     "projects[0].pipeline.stages: is required"},
    {"UnknownRefsKey", Project("refs: {branch: [main]}"),
     "projects[0].refs.branch: unknown key (did you mean \"branches\"?)"},
    {"WebhookSecretFromAnUnsetVariable",
     std::string("webhooks: {github: {secrets: {\"*\": [{token_env: ") + kUnsetEnv + "}]}}}\n" +
         kOneJob,
     std::string("webhooks.github.secrets.*[0].token_env: environment variable ") + kUnsetEnv +
         " is not set"},
    {"WebhookSecretWithTwoSources",
     std::string("webhooks: {gitea: {secrets: {acme: [{token_env: ") + kTokenEnv +
         ", token_file: /x}]}}}\n" + kOneJob,
     "webhooks.gitea.secrets.acme[0]: give exactly one of token_env or token_file"},
    {"WebhookSecretExpiryUnreadable",
     std::string("webhooks: {gitlab: {secrets: {a/b: [{token_env: ") + kTokenEnv +
         ", expires: tomorrow}]}}}\n" + kOneJob,
     "webhooks.gitlab.secrets.a/b[0].expires: expected an RFC 3339 time"},
    {"WebhookScopeMalformed",
     std::string("webhooks: {github: {secrets: {\"a/b/c\": [{token_env: ") + kTokenEnv + "}]}}}\n" +
         kOneJob,
     "webhooks.github.secrets.a/b/c: expected \"org/repo\", \"org\" or \"*\""},
    {"WebhookUnknownHost", std::string("webhooks: {bitbucket: {}}\n") + kOneJob,
     "webhooks.bitbucket: unknown key"},
    {"SkipBranchesBadRegex",
     "jobs: [{name: j, type: postsubmit, command: [x], skip_branches: [\"(\"]}]\n",
     "jobs[0].skip_branches[0]: invalid regular expression"},
};

class BadConfigTest : public ConfigTest, public ::testing::WithParamInterface<BadConfig> {};

TEST_P(BadConfigTest, IsRejectedWithAMessageNamingTheKeyPath) {
  const BadConfig& bad = GetParam();
  StatusOr<Config> config = LoadConfigText(bad.yaml);
  ASSERT_FALSE(config.ok()) << "accepted:\n" << bad.yaml;
  EXPECT_EQ(config.status().code(), Code::kInvalidArgument);
  EXPECT_NE(config.status().message().find(bad.expected), std::string::npos)
      << "message: " << config.status().message() << "\nexpected to contain: " << bad.expected;
}

INSTANTIATE_TEST_SUITE_P(Table, BadConfigTest, ::testing::ValuesIn(kBadConfigs),
                         [](const ::testing::TestParamInfo<BadConfig>& info) {
                           return std::string(info.param.name);
                         });

TEST_F(ConfigTest, TheLargestBodyWhoseRecordsFitKafkaIsAccepted) {
  size_t largest = kMaxRecordBytes - kRequestRecordReserveBytes;
  auto config =
      LoadConfigText("gateway: {max_body_bytes: " + std::to_string(largest) + "}\n" + kOneJob);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->gateway.max_body_bytes, largest);
  EXPECT_LE(GatewayConfig().max_body_bytes, largest) << "the default must pass";
}

}  // namespace
}  // namespace sluice
