#include "worker/job_secrets.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "worker/job_log.h"

namespace sluice {
namespace {
namespace fs = std::filesystem;

// A worker environment of its own for each test.
GetEnvFunction FakeEnvironment(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](const char* name) -> const char* {
    auto it = variables.find(name);
    return it == variables.end() ? nullptr : it->second.c_str();
  };
}

SecretSource FromEnv(std::string name) { return {.token_env = std::move(name), .token_file = ""}; }
SecretSource FromFile(std::string path) { return {.token_env = "", .token_file = std::move(path)}; }

class JobSecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "sluice_job_secrets_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  // The error of resolving one secret DEPLOY_KEY from `source`.
  std::string ErrorOf(const SecretSource& source,
                      const GetEnvFunction& getenv = FakeEnvironment({})) {
    auto resolved = ResolveSecretEnv({{"DEPLOY_KEY", source}}, getenv);
    EXPECT_FALSE(resolved.ok());
    return resolved.ok() ? "" : resolved.status().message();
  }

  std::string dir_;
};

TEST_F(JobSecretsTest, ReadsTokenEnvFromTheWorkersEnvironment) {
  auto resolved = ResolveSecretEnv({{"DEPLOY_KEY", FromEnv("SLUICE_DEPLOY_KEY")}},
                                   FakeEnvironment({{"SLUICE_DEPLOY_KEY", " value with spaces "}}));
  ASSERT_TRUE(resolved.ok()) << resolved.status().message();
  EXPECT_EQ(*resolved, (std::map<std::string, std::string>{{"DEPLOY_KEY", " value with spaces "}}));
}

TEST_F(JobSecretsTest, ReadsTokenFileWithoutItsTrailingWhitespace) {
  const std::string path = WriteFile("key", "  line one\nline two \t\r\n\n");
  auto resolved = ResolveSecretEnv({{"DEPLOY_KEY", FromFile(path)}}, FakeEnvironment({}));
  ASSERT_TRUE(resolved.ok()) << resolved.status().message();
  EXPECT_EQ(resolved->at("DEPLOY_KEY"), "  line one\nline two");
}

TEST_F(JobSecretsTest, ResolvesSeveralSecrets) {
  auto resolved = ResolveSecretEnv(
      {{"A_KEY", FromEnv("WORKER_A")}, {"B_KEY", FromFile(WriteFile("b", "bbbbbbbbbb\n"))}},
      FakeEnvironment({{"WORKER_A", "aaaaaaaaaa"}}));
  ASSERT_TRUE(resolved.ok()) << resolved.status().message();
  EXPECT_EQ(*resolved,
            (std::map<std::string, std::string>{{"A_KEY", "aaaaaaaaaa"}, {"B_KEY", "bbbbbbbbbb"}}));
}

TEST_F(JobSecretsTest, AMissingEnvironmentVariableIsAnErrorNamingTheSecretAndItsSource) {
  EXPECT_EQ(ErrorOf(FromEnv("SLUICE_DEPLOY_KEY")),
            "secret_env.DEPLOY_KEY: token_env SLUICE_DEPLOY_KEY is not set in the worker's "
            "environment");
}

TEST_F(JobSecretsTest, AnEmptyValueIsAnError) {
  EXPECT_EQ(ErrorOf(FromEnv("EMPTY"), FakeEnvironment({{"EMPTY", ""}})),
            "secret_env.DEPLOY_KEY: token_env EMPTY is empty");
  const std::string path = WriteFile("blank", " \n\t\n");
  EXPECT_EQ(ErrorOf(FromFile(path)), "secret_env.DEPLOY_KEY: token_file " + path + " is empty");
}

TEST_F(JobSecretsTest, AMissingFileIsAnError) {
  const std::string path = dir_ + "/missing";
  EXPECT_EQ(ErrorOf(FromFile(path)), "secret_env.DEPLOY_KEY: token_file " + path +
                                         " cannot be opened: No such file or directory");
}

TEST_F(JobSecretsTest, AFileThatIsNotRegularIsRefusedWithoutBlocking) {
  EXPECT_EQ(ErrorOf(FromFile(dir_)),
            "secret_env.DEPLOY_KEY: token_file " + dir_ + " is not a regular file");
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(ErrorOf(FromFile(fifo)),
            "secret_env.DEPLOY_KEY: token_file " + fifo + " is not a regular file");
}

TEST_F(JobSecretsTest, AnUnreadableFileIsAnError) {
  const std::string path = WriteFile("key", "the-secret-value");
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  const std::string expected =
      "secret_env.DEPLOY_KEY: token_file " + path + " cannot be opened: Permission denied";
  if (::geteuid() != 0) {
    EXPECT_EQ(ErrorOf(FromFile(path)), expected);
    return;
  }
  // Root reads any file: try it as nobody, in a child of its own.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    auto resolved = ResolveSecretEnv({{"DEPLOY_KEY", FromFile(path)}}, FakeEnvironment({}));
    ::_exit(resolved.ok() ? 1 : resolved.status().message() == expected ? 0 : 2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: read as nobody, 2: another message, 3: no setuid";
}

TEST_F(JobSecretsTest, AFileOfTheLargestSizeIsRead) {
  const std::string value(kMaxSecretBytes, 'k');
  auto resolved =
      ResolveSecretEnv({{"DEPLOY_KEY", FromFile(WriteFile("key", value))}}, FakeEnvironment({}));
  ASSERT_TRUE(resolved.ok()) << resolved.status().message();
  EXPECT_EQ(resolved->at("DEPLOY_KEY"), value);
}

TEST_F(JobSecretsTest, ALargerFileIsRefused) {
  const std::string path = WriteFile("key", std::string(kMaxSecretBytes + 1, 'k'));
  EXPECT_EQ(ErrorOf(FromFile(path)), "secret_env.DEPLOY_KEY: token_file " + path +
                                         " is larger than the 65536 bytes a secret may have");
}

TEST_F(JobSecretsTest, ALargerEnvironmentValueIsRefused) {
  EXPECT_EQ(
      ErrorOf(FromEnv("BIG"), FakeEnvironment({{"BIG", std::string(kMaxSecretBytes + 1, 'k')}})),
      "secret_env.DEPLOY_KEY: token_env BIG is larger than the 65536 bytes a secret may have");
}

TEST_F(JobSecretsTest, AFileWithANulByteIsRefused) {
  const std::string path = WriteFile("key", std::string("abcdefgh\0ijkl", 13));
  EXPECT_EQ(ErrorOf(FromFile(path)),
            "secret_env.DEPLOY_KEY: token_file " + path + " holds a NUL byte");
}

TEST_F(JobSecretsTest, NoErrorQuotesTheValue) {
  const std::string value = "TOPSECRET-0123456789";
  const std::vector<std::string> contents = {
      value + std::string(kMaxSecretBytes, 'x'),  // too large
      value + std::string("\0", 1) + value,       // a NUL byte
  };
  for (const std::string& content : contents) {
    const std::string path = WriteFile("key", content);
    EXPECT_EQ(ErrorOf(FromFile(path)).find("TOPSECRET"), std::string::npos);
  }
  const std::string big = value + std::string(kMaxSecretBytes, 'x');
  EXPECT_EQ(ErrorOf(FromEnv("BIG"), FakeEnvironment({{"BIG", big}})).find("TOPSECRET"),
            std::string::npos);
}

TEST_F(JobSecretsTest, TheJobsSecretEnvWinsOverTheProjects) {
  const auto merged = MergeSecretEnv(
      {{"SHARED", FromEnv("PROJECT_SHARED")}, {"PROJECT_ONLY", FromFile("/etc/project-only")}},
      {{"SHARED", FromEnv("JOB_SHARED")}, {"JOB_ONLY", FromEnv("J")}});
  EXPECT_EQ(merged,
            (std::map<std::string, SecretSource>{{"JOB_ONLY", FromEnv("J")},
                                                 {"PROJECT_ONLY", FromFile("/etc/project-only")},
                                                 {"SHARED", FromEnv("JOB_SHARED")}}));
}

TEST_F(JobSecretsTest, APlainJobMasksItsSecrets) {
  JobRuntime runtime;
  runtime.secret_env = {{"TOKEN", FromEnv("WORKER_TOKEN")}, {"PIN", FromEnv("WORKER_PIN")}};
  auto secrets = ResolveJobSecrets(
      runtime, nullptr,
      FakeEnvironment({{"WORKER_TOKEN", "token-0123456789"}, {"WORKER_PIN", "1234"}}));
  ASSERT_TRUE(secrets.ok()) << secrets.status().message();
  EXPECT_EQ(secrets->env,
            (std::map<std::string, std::string>{{"PIN", "1234"}, {"TOKEN", "token-0123456789"}}));
  EXPECT_EQ(secrets->masked_values, (std::vector<std::string>{"1234", "token-0123456789"}));
  // Too short to mask: the worker says so in the log instead.
  EXPECT_EQ(secrets->unmasked_names, (std::vector<std::string>{"PIN"}));
}

TEST_F(JobSecretsTest, APipelineJobMasksItsProjectsSecretsAndMaskedVariablesOnly) {
  ProjectConfig project;
  project.variables = {{"REGISTRY_PASSWORD", "registry-pass-1"}, {"REGION", "eu-west-1"}};
  project.masked_variables = {"REGISTRY_PASSWORD"};
  project.secret_env = {{"SHARED", FromEnv("PROJECT_SHARED")},
                        {"PROJECT_KEY", FromEnv("PROJECT_KEY_SOURCE")}};
  JobRuntime runtime;
  runtime.secret_env = {{"SHARED", FromEnv("JOB_SHARED")}};
  auto secrets = ResolveJobSecrets(runtime, &project,
                                   FakeEnvironment({{"PROJECT_SHARED", "project-shared-value"},
                                                    {"JOB_SHARED", "job-shared-value"},
                                                    {"PROJECT_KEY_SOURCE", "project-key-value"}}));
  ASSERT_TRUE(secrets.ok()) << secrets.status().message();
  EXPECT_EQ(secrets->env, (std::map<std::string, std::string>{{"PROJECT_KEY", "project-key-value"},
                                                              {"SHARED", "job-shared-value"}}));
  EXPECT_EQ(secrets->masked_values,
            (std::vector<std::string>{"project-key-value", "job-shared-value", "registry-pass-1"}));
  EXPECT_TRUE(secrets->unmasked_names.empty());
}

TEST_F(JobSecretsTest, AJobWhoseSecretCannotBeResolvedGetsNone) {
  JobRuntime runtime;
  runtime.secret_env = {{"A", FromEnv("SET")}, {"B", FromEnv("UNSET")}};
  auto secrets = ResolveJobSecrets(runtime, nullptr, FakeEnvironment({{"SET", "set-value-123"}}));
  ASSERT_FALSE(secrets.ok());
  EXPECT_EQ(secrets.status().message(),
            "secret_env.B: token_env UNSET is not set in the worker's environment");
}

}  // namespace
}  // namespace sluice
