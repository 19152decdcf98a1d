#include "worker/container_executor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "unit/fakes.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

bool Contains(const std::vector<std::string>& argv, const std::string& item) {
  return std::find(argv.begin(), argv.end(), item) != argv.end();
}

// Whether `first` is directly followed by `second` somewhere in argv.
bool HasPair(const std::vector<std::string>& argv, const std::string& first,
             const std::string& second) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == first && argv[i + 1] == second) return true;
  }
  return false;
}

std::string ValueAfter(const std::vector<std::string>& argv, const std::string& flag) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return "";
}

// A temporary directory the test owns, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "sluice-container-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs FakeProcesses; every podman command but `run` (rm, kill, info) ends at once with
// `others_exit`, so that a signal or a probe does not wait for it.
class RemovingRunner final : public ProcessRunner {
 public:
  StatusOr<std::unique_ptr<Process>> Start(const ProcessSpec& spec) override {
    auto process = fake.Start(spec);
    if (process.ok() && !Contains(spec.argv, "run")) fake.last().Exit(others_exit);
    return process;
  }
  FakeProcessRunner fake;
  int others_exit = 0;
};

class ContainerCommandLineTest : public ::testing::Test {
 protected:
  ContainerCommandLineTest() {
    workspace_ = dir_.path() + "/work";
    artifacts_ = dir_.path() + "/artifacts";
    fs::create_directories(workspace_ + "/src");
    fs::create_directories(artifacts_);
    step_.argv = {"sh", "-c", "make test"};
    step_.env = {{"PATH", "/usr/bin:/bin"},
                 {"HOME", workspace_},
                 {"DEPLOY_TOKEN", "s3cret-value"},
                 {"CI", "true"}};
    step_.working_dir = workspace_ + "/src";
    step_.workspace_dir = workspace_;
    step_.artifacts_dir = artifacts_;
    step_.log_path = artifacts_ + "/log.txt";
    step_.name = "exec-42-1";
    step_.slot = 2;
    step_.runtime.image = "localhost/sluice-test:1";
    step_.runtime.limits = {.memory_bytes = 512ull << 20,
                            .processes = 100,
                            .cpu_time = std::chrono::seconds(90),
                            .open_files = 256,
                            .file_bytes = 1ull << 30};
    config_.podman = "/usr/bin/podman";
    config_.podman_args = {"--runtime", "runc"};
    config_.job_uid_base = 2100000000;
  }

  // The argv of podman run for the step as it is now.
  std::vector<std::string> StartAndGetArgv() {
    ContainerExecutor executor(config_, runner_);
    auto process = executor.Start(step_);
    EXPECT_TRUE(process.ok()) << process.status().message();
    if (!process.ok()) return {};
    return runner_.fake.process(runner_.fake.started() - 1).spec.argv;
  }

  TempDir dir_;
  std::string workspace_;
  std::string artifacts_;
  JobStep step_;
  WorkerConfig config_;
  RemovingRunner runner_;
};

TEST_F(ContainerCommandLineTest, PodmanArgsComeBeforeRun) {
  std::vector<std::string> argv = StartAndGetArgv();
  ASSERT_GE(argv.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(argv.begin(), argv.begin() + 4),
            (std::vector<std::string>{"/usr/bin/podman", "--runtime", "runc", "run"}));
}

TEST_F(ContainerCommandLineTest, ImageThenTheJobsCommandEndTheCommandLine) {
  std::vector<std::string> argv = StartAndGetArgv();
  ASSERT_GE(argv.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(argv.end() - 4, argv.end()),
            (std::vector<std::string>{"localhost/sluice-test:1", "sh", "-c", "make test"}));
}

TEST_F(ContainerCommandLineTest, ContainerIsRemovedOnExitAndHasAnInit) {
  std::vector<std::string> argv = StartAndGetArgv();
  EXPECT_TRUE(Contains(argv, "--rm"));
  EXPECT_TRUE(Contains(argv, "--init"));
}

TEST_F(ContainerCommandLineTest, NameIsValidAndUniquePerStart) {
  ContainerExecutor executor(config_, runner_);
  ASSERT_TRUE(executor.Start(step_).ok());
  ASSERT_TRUE(executor.Start(step_).ok());
  std::string first = ValueAfter(runner_.fake.process(0).spec.argv, "--name");
  std::string second = ValueAfter(runner_.fake.process(1).spec.argv, "--name");
  EXPECT_EQ(first.rfind("sluice-exec-42-1-", 0), 0u) << first;
  EXPECT_NE(first, second);
  step_.name = "weird name/with:chars";
  ASSERT_TRUE(executor.Start(step_).ok());
  std::string third = ValueAfter(runner_.fake.process(2).spec.argv, "--name");
  EXPECT_EQ(
      third.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"),
      std::string::npos)
      << third;
}

TEST_F(ContainerCommandLineTest, NoEnvironmentValueOnTheCommandLineOrInPodmansEnvironment) {
  ContainerExecutor executor(config_, runner_);
  ASSERT_TRUE(executor.Start(step_).ok());
  const ProcessSpec& spec = runner_.fake.process(0).spec;
  for (const std::string& arg : spec.argv) {
    EXPECT_EQ(arg.find("s3cret-value"), std::string::npos) << arg;
    EXPECT_EQ(arg.find("DEPLOY_TOKEN"), std::string::npos) << arg;
  }
  EXPECT_EQ(spec.env.count("DEPLOY_TOKEN"), 0u);
  EXPECT_EQ(spec.env.count("CI"), 0u);
  // The values reach podman as a file it reads from descriptor 3 (in memory only).
  EXPECT_TRUE(HasPair(spec.argv, "--env-file", "/dev/fd/3"));
  EXPECT_EQ(spec.pass_fds.size(), 1u);
  // Nothing of podman's defaults, the image's or the host's proxies.
  EXPECT_TRUE(Contains(spec.argv, "--unsetenv-all"));
  EXPECT_TRUE(Contains(spec.argv, "--http-proxy=false"));
}

TEST_F(ContainerCommandLineTest, WorkspaceAndArtifactsAreMountedAtTheirHostPaths) {
  std::vector<std::string> argv = StartAndGetArgv();
  EXPECT_TRUE(HasPair(argv, "--volume", workspace_ + ":" + workspace_ + ":rw"));
  EXPECT_TRUE(HasPair(argv, "--volume", artifacts_ + ":" + artifacts_ + ":rw"));
  EXPECT_TRUE(HasPair(argv, "--workdir", workspace_ + "/src"));
}

TEST_F(ContainerCommandLineTest, ExistingLogIsMountedReadOnlyOverItself) {
  std::ofstream(step_.log_path) << "header\n";
  std::vector<std::string> argv = StartAndGetArgv();
  EXPECT_TRUE(HasPair(argv, "--volume", step_.log_path + ":" + step_.log_path + ":ro"));
}

TEST_F(ContainerCommandLineTest, MissingLogIsNotMounted) {
  std::vector<std::string> argv = StartAndGetArgv();
  for (const std::string& arg : argv) EXPECT_EQ(arg.find("log.txt"), std::string::npos) << arg;
}

TEST_F(ContainerCommandLineTest, ReadOnlyPathsAreMountedReadOnly) {
  step_.read_only_paths = {dir_.path() + "/repo.git"};
  std::vector<std::string> argv = StartAndGetArgv();
  EXPECT_TRUE(HasPair(argv, "--volume", dir_.path() + "/repo.git:" + dir_.path() + "/repo.git:ro"));
}

TEST_F(ContainerCommandLineTest, LimitsArePodmans) {
  std::vector<std::string> argv = StartAndGetArgv();
  EXPECT_TRUE(HasPair(argv, "--memory", std::to_string(512ull << 20)));
  EXPECT_TRUE(HasPair(argv, "--memory-swap", std::to_string(512ull << 20)));
  EXPECT_TRUE(HasPair(argv, "--pids-limit", "100"));
  EXPECT_TRUE(HasPair(argv, "--ulimit", "nofile=256:256"));
  // RLIMIT_NPROC is the job's own only with a user of its own (a root worker's).
  if (::geteuid() == 0) {
    EXPECT_TRUE(HasPair(argv, "--ulimit", "nproc=100:100"));
  }
  EXPECT_TRUE(HasPair(argv, "--ulimit", "cpu=90:90"));
  EXPECT_TRUE(HasPair(argv, "--ulimit", "fsize=1073741824:1073741824"));
}

TEST_F(ContainerCommandLineTest, UnsetLimitsAreNotPassedExceptOpenFilesAndProcesses) {
  step_.runtime.limits = {};
  std::vector<std::string> argv = StartAndGetArgv();
  EXPECT_FALSE(Contains(argv, "--memory"));
  EXPECT_FALSE(Contains(argv, "--pids-limit"));
  // podman would raise these to its own defaults, which fails without CAP_SYS_RESOURCE.
  int ulimits = 0;
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] != "--ulimit") continue;
    ++ulimits;
    EXPECT_TRUE(argv[i + 1].rfind("nofile=", 0) == 0 || argv[i + 1].rfind("nproc=", 0) == 0)
        << argv[i + 1];
  }
  EXPECT_EQ(ulimits, 2);
}

TEST_F(ContainerCommandLineTest, NoNetworkMeansNetworkNone) {
  step_.runtime.network = false;
  EXPECT_TRUE(HasPair(StartAndGetArgv(), "--network", "none"));
}

TEST_F(ContainerCommandLineTest, NetworkMeansPodmansDefaultNotTheHosts) {
  step_.runtime.network = true;
  std::vector<std::string> argv = StartAndGetArgv();
  EXPECT_FALSE(Contains(argv, "--network"));
  EXPECT_FALSE(Contains(argv, "--net"));
}

TEST_F(ContainerCommandLineTest, JobRunsUnprivilegedWithoutCapabilities) {
  std::vector<std::string> argv = StartAndGetArgv();
  if (::geteuid() == 0) {
    EXPECT_TRUE(HasPair(argv, "--user", "2100000002:2100000002"));
  } else {
    EXPECT_TRUE(Contains(argv, "--userns=keep-id"));
  }
  EXPECT_TRUE(HasPair(argv, "--cap-drop", "all"));
  EXPECT_TRUE(HasPair(argv, "--security-opt", "no-new-privileges"));
  EXPECT_TRUE(Contains(argv, "--read-only"));
  EXPECT_TRUE(HasPair(argv, "--tmpfs", "/tmp:rw,nosuid,nodev,mode=1777"));
  EXPECT_FALSE(Contains(argv, "-i"));
  EXPECT_FALSE(Contains(argv, "--interactive"));
}

TEST_F(ContainerCommandLineTest, RootWorkerGivesTheJobsDirectoriesToTheJobsUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  StartAndGetArgv();
  struct stat st {};
  ASSERT_EQ(::stat(workspace_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 2100000002u);
  ASSERT_EQ(::stat(artifacts_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 2100000002u);
}

TEST_F(ContainerCommandLineTest, OutputGoesToTheStepsDescriptorOrLog) {
  step_.output_fd = 7;
  StartAndGetArgv();
  EXPECT_EQ(runner_.fake.process(0).spec.output_fd, 7);
  EXPECT_EQ(runner_.fake.process(0).spec.log_path, step_.log_path);
}

TEST_F(ContainerCommandLineTest, WhatPodmanWouldMisreadIsRefused) {
  struct Case {
    const char* what;
    std::function<void(JobStep&)> change;
  };
  const Case cases[] = {
      {"no image", [](JobStep& s) { s.runtime.image = ""; }},
      {"image like a flag", [](JobStep& s) { s.runtime.image = "--privileged"; }},
      {"workspace with a colon", [](JobStep& s) { s.workspace_dir += ":x"; }},
      {"artifacts with a comma", [](JobStep& s) { s.artifacts_dir += ",x"; }},
      {"relative working dir", [](JobStep& s) { s.working_dir = "src"; }},
      {"empty command", [](JobStep& s) { s.argv.clear(); }},
      {"value with a line break", [](JobStep& s) { s.env["X"] = "a\nb"; }},
  };
  for (const Case& c : cases) {
    JobStep step = step_;
    c.change(step);
    ContainerExecutor executor(config_, runner_);
    auto process = executor.Start(step);
    ASSERT_FALSE(process.ok()) << c.what;
    EXPECT_EQ(process.status().code(), Code::kInvalidArgument) << c.what;
  }
  EXPECT_EQ(runner_.fake.start_attempts().size(), 0u);
}

TEST(ContainerProbeTest, PodmanThatRunsIsUsable) {
  RemovingRunner runner;
  WorkerConfig config;
  config.podman_args = {"--runtime", "runc"};
  EXPECT_TRUE(ContainerExecutor::Probe(config, runner).ok());
  EXPECT_EQ(runner.fake.process(0).spec.argv,
            (std::vector<std::string>{"podman", "--runtime", "runc", "info"}));
}

TEST(ContainerProbeTest, MissingOrFailingPodmanIsUnavailable) {
  RemovingRunner runner;
  runner.fake.FailNextStart(NotFound("cannot run \"podman\": No such file or directory"));
  Status missing = ContainerExecutor::Probe(WorkerConfig(), runner);
  EXPECT_EQ(missing.code(), Code::kUnavailable);
  EXPECT_NE(missing.message().find("No such file"), std::string::npos) << missing.message();
  runner.others_exit = 125;
  Status failing = ContainerExecutor::Probe(WorkerConfig(), runner);
  EXPECT_EQ(failing.code(), Code::kUnavailable);
  EXPECT_NE(failing.message().find("exit code 125"), std::string::npos) << failing.message();
}

TEST(ContainerEnvFileTest, HoldsOneLinePerVariableWithValuesAsTheyAre) {
  auto text = ContainerEnvFile({{"A", "1"},
                                {"B", "  x y  "},
                                {"C", "#not a comment"},
                                {"D", ""},
                                {"E", "a=b"},
                                {"F", "\"quoted\""}});
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "A=1\nB=  x y  \nC=#not a comment\nD=\nE=a=b\nF=\"quoted\"\n");
}

TEST(ContainerEnvFileTest, RefusesWhatTheFileCannotCarryWithoutEchoingTheValue) {
  const std::map<std::string, std::string> cases[] = {
      {{"X", "line1\nline2-secret"}},
      {{"X", "ends-in-cr-secret\r"}},
      {{"PREFIX*", "v"}},
      {{"A B", "v"}},
      {{"#A", "v"}},
      {{"", "v"}},
      {{"X", std::string(kMaxContainerEnvLine - 1, 's')}},
  };
  for (const auto& env : cases) {
    auto text = ContainerEnvFile(env);
    ASSERT_FALSE(text.ok()) << env.begin()->first;
    EXPECT_EQ(text.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(text.status().message().find("secret"), std::string::npos) << text.status().message();
    EXPECT_EQ(text.status().message().find("sss"), std::string::npos);
  }
}

TEST(ContainerEnvFileTest, LongestLinePodmanReadsIsAccepted) {
  EXPECT_TRUE(ContainerEnvFile({{"X", std::string(kMaxContainerEnvLine - 2, 'v')}}).ok());
}

TEST_F(ContainerCommandLineTest, SigtermGoesToTheContainerWithPodmanKillNotToTheClient) {
  ContainerExecutor executor(config_, runner_);
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok());
  std::string name = ValueAfter(runner_.fake.process(0).spec.argv, "--name");
  EXPECT_TRUE(Contains(runner_.fake.process(0).spec.argv, "--sig-proxy=false"));
  (*process)->SignalGroup(SIGTERM);
  EXPECT_TRUE(runner_.fake.process(0).signals.empty());
  ASSERT_EQ(runner_.fake.started(), 2u);
  EXPECT_EQ(runner_.fake.process(1).spec.argv,
            (std::vector<std::string>{"/usr/bin/podman", "--runtime", "runc", "kill", "--signal",
                                      "15", name}));
}

TEST_F(ContainerCommandLineTest, ContainerEndedByASignalIsRemovedWhenTheClientEnds) {
  ContainerExecutor executor(config_, runner_);
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok());
  (*process)->SignalGroup(SIGTERM);
  runner_.fake.process(0).Exit(143);
  EXPECT_EQ((*process)->Poll(), (ProcessExit{false, 143, 0}));
  ASSERT_EQ(runner_.fake.started(), 3u);
  EXPECT_TRUE(Contains(runner_.fake.process(2).spec.argv, "rm"));
  (*process)->Poll();
  EXPECT_EQ(runner_.fake.started(), 3u);  // once
}

TEST_F(ContainerCommandLineTest, ClientThatEndsUnsignalledStartsNoOtherPodman) {
  ContainerExecutor executor(config_, runner_);
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok());
  runner_.fake.process(0).Exit(0);
  EXPECT_EQ((*process)->Poll(), (ProcessExit{false, 0, 0}));
  process->reset();
  EXPECT_EQ(runner_.fake.started(), 1u);
}

TEST_F(ContainerCommandLineTest, SigkillAlsoRemovesTheContainer) {
  ContainerExecutor executor(config_, runner_);
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok());
  std::string name = ValueAfter(runner_.fake.process(0).spec.argv, "--name");
  (*process)->SignalGroup(SIGKILL);
  EXPECT_EQ(runner_.fake.process(0).signals, std::vector<int>{SIGKILL});
  ASSERT_EQ(runner_.fake.started(), 2u);
  EXPECT_EQ(runner_.fake.process(1).spec.argv,
            (std::vector<std::string>{"/usr/bin/podman", "--runtime", "runc", "rm", "--force",
                                      "--ignore", "--time", "0", name}));
}

TEST_F(ContainerCommandLineTest, DestroyingARunningProcessRemovesTheContainer) {
  ContainerExecutor executor(config_, runner_);
  {
    auto process = executor.Start(step_);
    ASSERT_TRUE(process.ok());
  }
  ASSERT_EQ(runner_.fake.started(), 2u);
  EXPECT_TRUE(Contains(runner_.fake.process(1).spec.argv, "rm"));
}

TEST_F(ContainerCommandLineTest, SignalsAfterExitDoNothing) {
  ContainerExecutor executor(config_, runner_);
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok());
  runner_.fake.process(0).Exit(0);
  (*process)->SignalGroup(SIGKILL);
  process->reset();
  EXPECT_EQ(runner_.fake.started(), 1u);
  EXPECT_TRUE(runner_.fake.process(0).signals.empty());
}

TEST_F(ContainerCommandLineTest, LimitHitNamesTheLimitThatExplainsTheEnd) {
  ContainerExecutor executor(config_, runner_);
  EXPECT_NE(executor.LimitHit(step_, {false, 137, 0}).find("memory limit 512 MiB"),
            std::string::npos);
  EXPECT_NE(executor.LimitHit(step_, {false, 128 + SIGXCPU, 0}).find("CPU time limit"),
            std::string::npos);
  EXPECT_NE(executor.LimitHit(step_, {false, 128 + SIGXFSZ, 0}).find("file size limit 1 GiB"),
            std::string::npos);
  // Any other failure names the limits the job ran under: a refused fork says nothing else.
  EXPECT_EQ(executor.LimitHit(step_, {false, 1, 0}),
            "it ran under the container's limits of memory 512 MiB, 100 processes");
  EXPECT_EQ(executor.LimitHit(step_, {false, 125, 0}), "") << "podman's own error";
  step_.runtime.limits.memory_bytes.reset();
  EXPECT_EQ(executor.LimitHit(step_, {false, 137, 0}).find("memory limit"), std::string::npos);
}

TEST_F(ContainerCommandLineTest, LimitHitDoesNotBlameMemoryForTheWorkersKill) {
  ContainerExecutor executor(config_, runner_);
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok());
  (*process)->SignalGroup(SIGKILL);
  runner_.fake.process(0).Exit(137);
  EXPECT_EQ(executor.LimitHit(step_, {false, 137, 0}), "");
}

TEST_F(ContainerCommandLineTest, DescribeSaysWhatIsolatesAndWhichLimitsApply) {
  ContainerExecutor executor(config_, runner_);
  step_.runtime.network = false;
  std::vector<std::string> lines = executor.Describe(step_);
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  EXPECT_NE(text.find("container (podman)"), std::string::npos) << text;
  EXPECT_NE(text.find("localhost/sluice-test:1"), std::string::npos) << text;
  EXPECT_NE(text.find("network: none"), std::string::npos) << text;
  EXPECT_NE(text.find("memory 512 MiB"), std::string::npos) << text;
  EXPECT_NE(text.find("cgroup"), std::string::npos) << text;
  EXPECT_NE(text.find("processes 100"), std::string::npos) << text;
  EXPECT_NE(text.find("open files 256"), std::string::npos) << text;
  EXPECT_NE(text.find("file size 1 GiB"), std::string::npos) << text;
  EXPECT_NE(text.find("125-127"), std::string::npos) << text;
}

// --- The real podman, with scripts/container-image.sh's image ---

// podman's global flags for the tests: runc where it is installed (scripts/install-deps.sh),
// because crun 1.8 (Debian 12's) refuses a cgroup v1 hybrid host such as this project's CI
// machine ("cgroups in hybrid mode not supported"); runc runs on hybrid and cgroup v2 hosts alike.
std::vector<std::string> TestPodmanArgs() {
  if (fs::exists("/usr/bin/runc")) return {"--runtime", "runc"};
  return {};
}

struct Finished {
  std::optional<ProcessExit> exit;  // unset: still running at the deadline (then killed)
  std::string output;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Waits for `process` to end, polling, at most `limit`.
std::optional<ProcessExit> WaitFor(Process& process, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto exit = process.Poll()) return exit;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

// Waits until `path` holds `text`, at most `limit`.
bool WaitForText(const std::string& path, const std::string& text, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadFile(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Runs a host command through `runner` (argv[0] from the host's PATH), its output captured.
Finished RunHost(ProcessRunner& runner, std::vector<std::string> argv, const std::string& out) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.env = {{"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}};
  if (const char* home = std::getenv("HOME")) spec.env["HOME"] = home;
  std::error_code ec;
  fs::remove(out, ec);
  spec.log_path = out;
  Finished result;
  auto process = runner.Start(spec);
  if (!process.ok()) {
    result.output = process.status().message();
    return result;
  }
  result.exit = WaitFor(**process, std::chrono::seconds(120));
  result.output = ReadFile(out);
  return result;
}

class RealPodmanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    PosixProcessRunner runner;
    TempDir dir;
    Finished version = RunHost(runner, {"podman", "--version"}, dir.path() + "/out");
    podman_present_ = version.exit && version.exit->success();
    if (!podman_present_) return;
    std::vector<std::string> argv = {
        std::string(SLUICE_FIXTURES_DIR) + "/../../scripts/container-image.sh", "--podman-args"};
    for (const std::string& arg : TestPodmanArgs()) argv.push_back(arg);
    Finished image = RunHost(runner, argv, dir.path() + "/out");
    image_ok_ = image.exit && image.exit->success();
    image_output_ = image.output;
  }

  void SetUp() override {
    if (!podman_present_) GTEST_SKIP() << "podman is not installed (scripts/install-deps.sh)";
    ASSERT_TRUE(image_ok_) << "scripts/container-image.sh failed: " << image_output_;
    workspace_ = dir_.path() + "/work";
    artifacts_ = dir_.path() + "/artifacts";
    fs::create_directories(workspace_);
    fs::create_directories(artifacts_);
    // The worker's directories are not for everyone; only the job's own user gets its own.
    fs::permissions(dir_.path(), fs::perms::owner_all, fs::perm_options::replace);
    ::chmod(dir_.path().c_str(), 0711);
    step_.env = {{"PATH", "/bin"}, {"HOME", workspace_}, {"ARTIFACTS", artifacts_}};
    step_.working_dir = workspace_;
    step_.workspace_dir = workspace_;
    step_.artifacts_dir = artifacts_;
    step_.log_path = artifacts_ + "/log.txt";
    std::ofstream(step_.log_path) << "";
    step_.name = "unit-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name();
    step_.runtime.image = "localhost/sluice-test:1";
    step_.runtime.network = false;
    step_.runtime.limits = WorkerConfig().limits;
    config_.podman_args = TestPodmanArgs();
  }

  std::string Log() const { return ReadFile(step_.log_path); }

  // Starts `script` in a container and waits until it has printed "ready"; null on failure.
  std::unique_ptr<Process> StartUntilReady(ContainerExecutor& executor, const std::string& script) {
    step_.argv = {"sh", "-c", script};
    auto process = executor.Start(step_);
    EXPECT_TRUE(process.ok()) << process.status().message();
    if (!process.ok()) return nullptr;
    EXPECT_TRUE(WaitForText(step_.log_path, "ready", std::chrono::seconds(60))) << Log();
    return std::move(*process);
  }

  // Names of the containers podman knows, running or not.
  std::vector<std::string> Containers() {
    std::vector<std::string> argv = {"podman"};
    for (const std::string& arg : TestPodmanArgs()) argv.push_back(arg);
    for (const char* arg : {"ps", "--all", "--format", "{{.Names}}"}) argv.push_back(arg);
    Finished ps = RunHost(runner_, argv, dir_.path() + "/ps.out");
    EXPECT_TRUE(ps.exit && ps.exit->success()) << ps.output;
    std::vector<std::string> names;
    std::istringstream lines(ps.output);
    for (std::string line; std::getline(lines, line);) names.push_back(line);
    return names;
  }

  bool ContainerOfThisTestExists() {
    for (const std::string& name : Containers()) {
      if (name.rfind("sluice-" + step_.name + "-", 0) == 0) return true;
    }
    return false;
  }

  static inline bool podman_present_ = false;
  static inline bool image_ok_ = false;
  static inline std::string image_output_;
  PosixProcessRunner runner_;
  TempDir dir_;
  std::string workspace_;
  std::string artifacts_;
  JobStep step_;
  WorkerConfig config_;
};

TEST_F(RealPodmanTest, ProbeFindsPodmanUsable) {
  Status probe = ContainerExecutor::Probe(config_, runner_);
  EXPECT_TRUE(probe.ok()) << probe.message();
}

TEST_F(RealPodmanTest, OutputReachesTheLogAndTheExitCodePassesThrough) {
  ContainerExecutor executor(config_, runner_);
  step_.argv = {"sh", "-c", "echo hello from the container; echo to stderr >&2; exit 3"};
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok()) << process.status().message();
  auto exit = WaitFor(**process, std::chrono::seconds(60));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(*exit, (ProcessExit{false, 3, 0})) << Log();
  EXPECT_NE(Log().find("hello from the container\n"), std::string::npos) << Log();
  EXPECT_NE(Log().find("to stderr\n"), std::string::npos) << Log();
  EXPECT_FALSE(ContainerOfThisTestExists());
}

TEST_F(RealPodmanTest, EnvironmentIsExactlyTheStepsPlusPodmansHostname) {
  ContainerExecutor executor(config_, runner_);
  step_.env["DEPLOY_TOKEN"] = "s3cret with  spaces='and quotes\"";
  step_.env["EMPTY"] = "";
  step_.argv = {"env"};
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok()) << process.status().message();
  auto exit = WaitFor(**process, std::chrono::seconds(60));
  ASSERT_TRUE(exit && exit->success()) << Log();
  std::set<std::string> got;
  std::istringstream lines(Log());
  for (std::string line; std::getline(lines, line);) {
    // podman always sets HOSTNAME (the container's id); nothing else is added.
    if (line.rfind("HOSTNAME=", 0) == 0) continue;
    got.insert(line);
  }
  std::set<std::string> want;
  for (const auto& [name, value] : step_.env) want.insert(name + "=" + value);
  EXPECT_EQ(got, want) << Log();
}

TEST_F(RealPodmanTest, JobRunsAsItsOwnUserWritesItsWorkspaceButNotItsLog) {
  ContainerExecutor executor(config_, runner_);
  step_.argv = {"sh", "-c",
                "id -u; echo made > \"$HOME/file\" && echo wrote workspace; "
                // Its artifacts directory is its own: without the read-only mount it could
                // replace the log.
                "rm -f \"$LOG\" 2>/dev/null; (echo forged >> \"$LOG\") 2>/dev/null || "
                "echo log is read-only; "
                "touch /etc/x 2>/dev/null || echo root is read-only; "
                "touch /tmp/x && echo tmp is writable"};
  step_.env["LOG"] = step_.log_path;
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok()) << process.status().message();
  auto exit = WaitFor(**process, std::chrono::seconds(60));
  ASSERT_TRUE(exit.has_value());
  std::string log = Log();
  if (::geteuid() == 0) {
    EXPECT_NE(log.find(std::to_string(config_.job_uid_base + step_.slot) + "\n"), std::string::npos)
        << log;
  }
  EXPECT_NE(log.find("wrote workspace"), std::string::npos) << log;
  EXPECT_EQ(ReadFile(workspace_ + "/file"), "made\n");
  EXPECT_NE(log.find("log is read-only"), std::string::npos) << log;
  EXPECT_EQ(log.find("forged"), std::string::npos) << log;
  EXPECT_NE(log.find("root is read-only"), std::string::npos) << log;
  EXPECT_NE(log.find("tmp is writable"), std::string::npos) << log;
}

TEST_F(RealPodmanTest, NoNetworkLeavesOnlyLoopback) {
  ContainerExecutor executor(config_, runner_);
  step_.argv = {"ls", "/sys/class/net"};
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok()) << process.status().message();
  auto exit = WaitFor(**process, std::chrono::seconds(60));
  ASSERT_TRUE(exit && exit->success()) << Log();
  EXPECT_EQ(Log(), "lo\n");
}

TEST_F(RealPodmanTest, NetworkIsPodmansNotTheHostsLoopback) {
  // A listener on the host's loopback, as the worker's broker may be.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 16), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  std::string port = std::to_string(ntohs(address.sin_port));

  ContainerExecutor executor(config_, runner_);
  step_.runtime.network = true;
  step_.argv = {"sh", "-c",
                "ls /sys/class/net; timeout 5 nc 127.0.0.1 " + port +
                    " </dev/null && echo connected || echo refused"};
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok()) << process.status().message();
  auto exit = WaitFor(**process, std::chrono::seconds(60));
  // A connection that reached the listener waits in its backlog.
  ::fcntl(listener, F_SETFL, O_NONBLOCK);
  int accepted = ::accept(listener, nullptr, nullptr);
  if (accepted >= 0) ::close(accepted);
  ::close(listener);
  EXPECT_LT(accepted, 0) << "the container reached the host's loopback";
  ASSERT_TRUE(exit && exit->success()) << Log();
  EXPECT_NE(Log().find("eth0\n"), std::string::npos) << Log();
  EXPECT_NE(Log().find("refused"), std::string::npos) << Log();
}

TEST_F(RealPodmanTest, SigtermReachesTheJob) {
  ContainerExecutor executor(config_, runner_);
  auto process = StartUntilReady(
      executor, "trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.1; done");
  ASSERT_TRUE(process);
  process->SignalGroup(SIGTERM);
  auto exit = WaitFor(*process, std::chrono::seconds(30));
  ASSERT_TRUE(exit.has_value()) << Log();
  EXPECT_EQ(*exit, (ProcessExit{false, 42, 0})) << Log();
  EXPECT_NE(Log().find("got TERM"), std::string::npos) << Log();
  EXPECT_FALSE(ContainerOfThisTestExists());
}

TEST_F(RealPodmanTest, SigtermEndsAJobThatDoesNotHandleIt) {
  ContainerExecutor executor(config_, runner_);
  auto process = StartUntilReady(executor, "echo ready; sleep 1000");
  ASSERT_TRUE(process);
  process->SignalGroup(SIGTERM);
  auto exit = WaitFor(*process, std::chrono::seconds(30));
  ASSERT_TRUE(exit.has_value()) << Log();
  EXPECT_EQ(*exit, (ProcessExit{false, 128 + SIGTERM, 0})) << Log();
  EXPECT_FALSE(ContainerOfThisTestExists());
}

TEST_F(RealPodmanTest, KillLeavesNoContainer) {
  ContainerExecutor executor(config_, runner_);
  auto process = StartUntilReady(executor, "trap '' TERM; echo ready; sleep 1000");
  ASSERT_TRUE(process);
  ASSERT_TRUE(ContainerOfThisTestExists());
  process->SignalGroup(SIGKILL);
  auto exit = WaitFor(*process, std::chrono::seconds(30));
  ASSERT_TRUE(exit.has_value());
  EXPECT_FALSE(ContainerOfThisTestExists());
  EXPECT_EQ(executor.LimitHit(step_, *exit), "");
}

// Processes of the host running as `uid` (by their real uid).
std::vector<int> ProcessesOfUser(uid_t uid) {
  std::vector<int> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream status(entry.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Uid:", 0) != 0) continue;
      std::istringstream fields(line.substr(4));
      uid_t real = 0;
      if (fields >> real && real == uid) found.push_back(std::stoi(name));
      break;
    }
  }
  return found;
}

TEST_F(RealPodmanTest, DaemonEndsWithTheJob) {
  if (::geteuid() != 0) GTEST_SKIP() << "finds the job's processes by its own user (root worker)";
  step_.slot = 3;  // a user no other test of this file runs as
  ContainerExecutor executor(config_, runner_);
  // Found by its user and a marker of this run: other tests may run jobs as the same user.
  const std::string marker = "sluice-container-daemon-" + std::to_string(::getpid());
  step_.argv = {
      "sh", "-c",
      "setsid sh -c 'sleep 1000; : " + marker + "' < /dev/null > /dev/null 2>&1 & echo started"};
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok()) << process.status().message();
  auto exit = WaitFor(**process, std::chrono::seconds(60));
  ASSERT_TRUE(exit && exit->success()) << Log();
  std::vector<int> daemons;
  for (int pid : ProcessesOfUser(config_.job_uid_base + 3)) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(marker) != std::string::npos) daemons.push_back(pid);
  }
  EXPECT_EQ(daemons, std::vector<int>{});
  EXPECT_FALSE(ContainerOfThisTestExists());
}

TEST_F(RealPodmanTest, MemoryLimitEndsAMemoryHogAndIsNamed) {
  ContainerExecutor executor(config_, runner_);
  step_.runtime.limits.memory_bytes = 32ull << 20;
  // Doubles a shell variable until the container's cgroup has no memory left for it.
  step_.argv = {"sh", "-c", "x=x; while :; do x=\"$x$x\"; done"};
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok()) << process.status().message();
  auto exit = WaitFor(**process, std::chrono::seconds(60));
  ASSERT_TRUE(exit.has_value()) << Log();
  EXPECT_EQ(*exit, (ProcessExit{false, 128 + SIGKILL, 0})) << Log();
  EXPECT_NE(executor.LimitHit(step_, *exit).find("memory limit 32 MiB"), std::string::npos);
}

}  // namespace
}  // namespace sluice
