#include "worker/sandbox_executor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "unit/fakes.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr auto kWaitBound = seconds(10);
constexpr uint32_t kUidBase = 2100000000;

bool Contains(const std::vector<std::string>& argv, const std::string& item) {
  return std::find(argv.begin(), argv.end(), item) != argv.end();
}

// Where the run `items` starts in argv, or -1.
int FindRun(const std::vector<std::string>& argv, const std::vector<std::string>& items) {
  auto it = std::search(argv.begin(), argv.end(), items.begin(), items.end());
  return it == argv.end() ? -1 : static_cast<int>(it - argv.begin());
}

bool HasRun(const std::vector<std::string>& argv, const std::vector<std::string>& items) {
  return FindRun(argv, items) >= 0;
}

// Every argument of bwrap's that names `path` as its last operand ("--tmpfs /x", "--ro-bind a
// /x", ...), as the flag that precedes it.
std::vector<std::string> FlagsNaming(const std::vector<std::string>& argv,
                                     const std::string& path) {
  std::vector<std::string> flags;
  auto end = std::find(argv.begin(), argv.end(), "--");
  for (auto it = argv.begin(); it != end; ++it) {
    if (*it != path) continue;
    for (auto flag = it; flag != argv.begin();) {
      --flag;
      if (flag->rfind("--", 0) == 0) {
        flags.push_back(*flag);
        break;
      }
    }
  }
  return flags;
}

// A temporary directory the test owns, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "sluice-sandbox-test-XXXXXX").string();
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

class SandboxTest : public ::testing::Test {
 protected:
  SandboxTest() {
    workspace_ = dir_.path() + "/workspaces/exec-1";
    artifacts_ = dir_.path() + "/artifacts/exec-1";
    fs::create_directories(workspace_ + "/src");
    fs::create_directories(artifacts_);
    step_.argv = {"sh", "-c", "make test"};
    step_.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", workspace_}, {"CI", "true"}};
    step_.working_dir = workspace_ + "/src";
    step_.workspace_dir = workspace_;
    step_.artifacts_dir = artifacts_;
    step_.log_path = artifacts_ + "/log.txt";
    step_.name = "exec-1-1";
    step_.slot = 3;
    config_.bwrap = "bwrap";
    config_.job_uid_base = kUidBase;
  }

  std::vector<std::string> Arguments(const std::vector<std::string>& hidden = {}) {
    SandboxExecutor executor(config_, fake_, hidden);
    return executor.BwrapArguments(step_);
  }

  TempDir dir_;
  std::string workspace_;
  std::string artifacts_;
  JobStep step_;
  WorkerConfig config_;
  FakeProcessRunner fake_;
};

// --- The argument list, with a fake runner ---

using SandboxArgumentsTest = SandboxTest;

TEST_F(SandboxArgumentsTest, TheTestsRunAsRootSoEachJobHasAUserOfItsOwn) {
  ASSERT_EQ(::geteuid(), 0u) << "these tests describe the root worker's sandbox";
  SandboxExecutor executor(config_, fake_, {});
  EXPECT_TRUE(executor.per_job_user());
}

TEST_F(SandboxArgumentsTest, NamespacesOtherThanTheUsersAreNew) {
  std::vector<std::string> argv = Arguments();
  for (const char* flag : {"--unshare-pid", "--unshare-ipc", "--unshare-uts"}) {
    EXPECT_TRUE(Contains(argv, flag)) << flag;
  }
  EXPECT_TRUE(Contains(argv, "--unshare-cgroup-try") || Contains(argv, "--unshare-cgroup"));
  EXPECT_TRUE(Contains(argv, "--die-with-parent"));
  // Under root the job's user is a real uid of its own, not a user namespace.
  EXPECT_FALSE(Contains(argv, "--unshare-user"));
  EXPECT_FALSE(Contains(argv, "--unshare-all"));
}

TEST_F(SandboxArgumentsTest, NetworkIsCutOnlyWithNetworkFalse) {
  step_.runtime.network = true;
  EXPECT_FALSE(Contains(Arguments(), "--unshare-net"));
  step_.runtime.network = false;
  EXPECT_TRUE(Contains(Arguments(), "--unshare-net"));
}

TEST_F(SandboxArgumentsTest, SystemDirectoriesAreReadOnlyAndTheirLinksRecreated) {
  std::vector<std::string> argv = Arguments();
  for (const char* path : {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/opt"}) {
    std::error_code ec;
    fs::file_status status = fs::symlink_status(path, ec);
    if (ec || !fs::exists(status)) continue;
    if (fs::is_symlink(status)) {
      EXPECT_TRUE(HasRun(argv, {"--symlink", fs::read_symlink(path).string(), path})) << path;
    } else {
      EXPECT_TRUE(HasRun(argv, {"--ro-bind", path, path})) << path;
    }
    EXPECT_FALSE(HasRun(argv, {"--bind", path, path})) << path;
  }
  // Nothing else of the host's is bound by path: not / nor the worker's directories.
  EXPECT_FALSE(HasRun(argv, {"--ro-bind", "/", "/"}));
  EXPECT_FALSE(HasRun(argv, {"--bind", "/", "/"}));
  EXPECT_FALSE(Contains(argv, "/home"));
  EXPECT_FALSE(Contains(argv, "/root"));
}

TEST_F(SandboxArgumentsTest, TmpProcAndDevAreTheSandboxsOwn) {
  std::vector<std::string> argv = Arguments();
  EXPECT_TRUE(HasRun(argv, {"--proc", "/proc"}));
  EXPECT_TRUE(HasRun(argv, {"--dev", "/dev"}));
  EXPECT_TRUE(HasRun(argv, {"--perms", "1777", "--tmpfs", "/tmp"}));
  EXPECT_TRUE(HasRun(argv, {"--perms", "1777", "--tmpfs", "/var/tmp"}));
}

TEST_F(SandboxArgumentsTest, WorkspaceArtifactsLogAndReadOnlyPathsAreBoundThroughDescriptors) {
  std::ofstream(step_.log_path) << "worker's log\n";
  std::string repository = dir_.path() + "/repos/project.git";
  fs::create_directories(repository);
  step_.read_only_paths = {repository};
  std::vector<std::string> argv = Arguments();
  int workspace = FindRun(argv, {"--bind-fd", "3", workspace_});
  int artifacts = FindRun(argv, {"--bind-fd", "4", artifacts_});
  int log = FindRun(argv, {"--ro-bind-fd", "5", step_.log_path});
  int read_only = FindRun(argv, {"--ro-bind-fd", "6", repository});
  EXPECT_GE(workspace, 0);
  EXPECT_GT(artifacts, workspace);
  // The log is bound over the writable artifacts, so after them.
  EXPECT_GT(log, artifacts);
  EXPECT_GT(read_only, 0);
  EXPECT_FALSE(HasRun(argv, {"--bind-fd", "5", step_.log_path}));
  EXPECT_FALSE(HasRun(argv, {"--bind-fd", "6", repository}));
  // Never by path: a bwrap running as the job's user may not reach them so.
  EXPECT_FALSE(HasRun(argv, {"--bind", workspace_, workspace_}));
  EXPECT_FALSE(HasRun(argv, {"--ro-bind", repository, repository}));
}

TEST_F(SandboxArgumentsTest, StartPassesOneDescriptorPerBoundPath) {
  std::ofstream(step_.log_path) << "worker's log\n";
  step_.read_only_paths = {dir_.path()};
  SandboxExecutor executor(config_, fake_, {});
  auto process = executor.Start(step_);
  ASSERT_TRUE(process.ok()) << process.status().message();
  const ProcessSpec& spec = fake_.last().spec;
  EXPECT_EQ(spec.pass_fds.size(), 4u) << "workspace, artifacts, log, read-only path";
  // The descriptors are the executor's own, distinct, and none of them the standard ones.
  std::set<int> distinct(spec.pass_fds.begin(), spec.pass_fds.end());
  EXPECT_EQ(distinct.size(), spec.pass_fds.size());
  for (int fd : spec.pass_fds) EXPECT_GT(fd, 2);
}

TEST_F(SandboxArgumentsTest, ALogOutsideTheArtifactsIsNotBound) {
  step_.log_path = dir_.path() + "/elsewhere.log";
  std::ofstream(step_.log_path) << "x\n";
  std::vector<std::string> argv = Arguments();
  EXPECT_FALSE(Contains(argv, step_.log_path));
}

TEST_F(SandboxArgumentsTest, StartFailsNamingAPathItCannotOpen) {
  step_.read_only_paths = {dir_.path() + "/missing"};
  SandboxExecutor executor(config_, fake_, {});
  auto process = executor.Start(step_);
  ASSERT_FALSE(process.ok());
  EXPECT_NE(process.status().message().find(dir_.path() + "/missing"), std::string::npos)
      << process.status().message();
  EXPECT_EQ(fake_.started(), 0u);
}

TEST_F(SandboxArgumentsTest, HiddenPathsUnderSystemDirectoriesAreCovered) {
  // A directory and a file that exist on every Debian host, under /etc.
  ASSERT_TRUE(fs::is_directory("/etc/apt"));
  ASSERT_TRUE(fs::is_regular_file("/etc/hostname") || fs::is_regular_file("/etc/passwd"));
  std::string file = fs::is_regular_file("/etc/hostname") ? "/etc/hostname" : "/etc/passwd";
  std::vector<std::string> argv = Arguments({"/etc/apt", file});
  EXPECT_TRUE(HasRun(argv, {"--tmpfs", "/etc/apt"}));
  EXPECT_TRUE(HasRun(argv, {"--ro-bind", "/dev/null", file}));
  // Covered after /etc is bound, or /etc's binding would uncover it.
  EXPECT_GT(FindRun(argv, {"--tmpfs", "/etc/apt"}), FindRun(argv, {"--ro-bind", "/etc", "/etc"}));
}

TEST_F(SandboxArgumentsTest, AHiddenPathInsideAHiddenDirectoryIsNotCoveredTwice) {
  ASSERT_TRUE(fs::is_directory("/etc/apt/apt.conf.d"));
  std::vector<std::string> argv = Arguments({"/etc/apt", "/etc/apt/apt.conf.d"});
  EXPECT_TRUE(HasRun(argv, {"--tmpfs", "/etc/apt"}));
  EXPECT_FALSE(Contains(argv, "/etc/apt/apt.conf.d"));
}

TEST_F(SandboxArgumentsTest, HiddenPathsOutsideSystemDirectoriesAreNotMentioned) {
  std::string secret = dir_.path() + "/secret.token";
  std::ofstream(secret) << "s3cret\n";
  std::vector<std::string> argv = Arguments({secret, dir_.path() + "/config.yaml", "/etc"});
  EXPECT_FALSE(Contains(argv, secret));
  EXPECT_FALSE(Contains(argv, dir_.path() + "/config.yaml"));
  // A system directory itself is not hidden by covering it whole.
  EXPECT_FALSE(HasRun(argv, {"--tmpfs", "/etc"}));
}

TEST_F(SandboxArgumentsTest, HiddenPathsThatDoNotExistAreNotMentioned) {
  std::vector<std::string> argv = Arguments({"/etc/sluice-no-such-file-" + step_.name});
  EXPECT_FALSE(Contains(argv, "/etc/sluice-no-such-file-" + step_.name));
}

TEST_F(SandboxArgumentsTest, ParentsOfBoundPathsAreMadeSearchable) {
  std::vector<std::string> argv = Arguments();
  for (const std::string& parent :
       {dir_.path(), dir_.path() + "/workspaces", dir_.path() + "/artifacts"}) {
    EXPECT_TRUE(HasRun(argv, {"--perms", "0755", "--dir", parent})) << parent;
  }
  // Made once, before the binding beneath them; /tmp itself is the sandbox's tmpfs.
  EXPECT_EQ(FlagsNaming(argv, dir_.path()).size(), 1u);
  EXPECT_LT(FindRun(argv, {"--dir", dir_.path() + "/workspaces"}),
            FindRun(argv, {"--bind-fd", "3"}));
  EXPECT_FALSE(HasRun(argv, {"--dir", "/tmp"}));
}

TEST_F(SandboxArgumentsTest, TheProcessTreeTagIsUnsetAndTheJobStartsInItsWorkingDirectory) {
  std::vector<std::string> argv = Arguments();
  EXPECT_TRUE(HasRun(argv, {"--unsetenv", kProcessTreeVariable}));
  EXPECT_TRUE(HasRun(argv, {"--chdir", step_.working_dir}));
}

TEST_F(SandboxArgumentsTest, UnderRootTheJobBecomesTheSlotsUserWithoutCapabilities) {
  std::vector<std::string> argv = Arguments();
  std::string user = std::to_string(kUidBase + 3);
  int separator = FindRun(argv, {"--", "/usr/bin/setpriv"});
  ASSERT_GE(separator, 0);
  std::vector<std::string> wrapper(argv.begin() + separator + 1, argv.end());
  EXPECT_EQ(wrapper,
            (std::vector<std::string>{"/usr/bin/setpriv", "--reuid=" + user, "--regid=" + user,
                                      "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                                      "--no-new-privs", "--", "sh", "-c", "make test"}));
}

TEST_F(SandboxArgumentsTest, TheSpecSupervisesCarriesTheRlimitsAndTheOutputDescriptor) {
  step_.runtime.limits = {.memory_bytes = 64ull << 20,
                          .processes = 8,
                          .cpu_time = std::chrono::milliseconds(1500),
                          .open_files = 64,
                          .file_bytes = 1ull << 20};
  step_.output_fd = 7;
  SandboxExecutor executor(config_, fake_, {});
  ProcessSpec spec = executor.SpecFor(step_);
  EXPECT_TRUE(spec.leader_supervises);
  EXPECT_EQ(spec.output_fd, 7);
  EXPECT_EQ(spec.log_path, step_.log_path);
  EXPECT_EQ(spec.env, step_.env);
  EXPECT_EQ(spec.working_dir, "/");
  EXPECT_EQ(spec.argv.at(0), "/usr/bin/bwrap") << "bwrap from the worker's PATH";
  EXPECT_EQ(spec.rlimits, (std::vector<ProcessSpec::ResourceLimit>{{RLIMIT_DATA, 64ull << 20},
                                                                   {RLIMIT_NPROC, 8},
                                                                   {RLIMIT_CPU, 2},
                                                                   {RLIMIT_NOFILE, 64},
                                                                   {RLIMIT_FSIZE, 1ull << 20}}));
}

TEST(RlimitsForTest, ProcessesAreLimitedOnlyForAJobUserOfItsOwn) {
  JobLimits limits;
  limits.processes = 8;
  EXPECT_EQ(RlimitsFor(limits, true), (std::vector<ProcessSpec::ResourceLimit>{{RLIMIT_NPROC, 8}}));
  EXPECT_TRUE(RlimitsFor(limits, false).empty());
}

TEST(RlimitsForTest, UnsetLimitsAreNotSet) { EXPECT_TRUE(RlimitsFor(JobLimits{}, true).empty()); }

TEST(DescribeRlimitsTest, NamesEveryLimitAndWhyProcessesMayBeUnlimited) {
  JobLimits limits = {.memory_bytes = 32ull << 20,
                      .processes = 8,
                      .cpu_time = seconds(90),
                      .open_files = 64,
                      .file_bytes = 1ull << 30};
  std::string own = DescribeRlimits(limits, true);
  EXPECT_NE(own.find("memory 32 MiB per process"), std::string::npos) << own;
  EXPECT_NE(own.find("8 processes"), std::string::npos) << own;
  EXPECT_NE(own.find("open files 64"), std::string::npos) << own;
  EXPECT_NE(own.find("files up to 1 GiB"), std::string::npos) << own;
  std::string shared = DescribeRlimits(limits, false);
  EXPECT_NE(shared.find("processes not limited"), std::string::npos) << shared;
  std::string none = DescribeRlimits(JobLimits{}, true);
  EXPECT_NE(none.find("memory unlimited"), std::string::npos) << none;
  EXPECT_NE(none.find("processes unlimited"), std::string::npos) << none;
  EXPECT_NE(none.find("files up to any size"), std::string::npos) << none;
}

TEST(FormatBytesTest, UsesTheLargestExactBinaryUnit) {
  EXPECT_EQ(FormatBytes(17), "17 bytes");
  EXPECT_EQ(FormatBytes(1023), "1023 bytes");
  EXPECT_EQ(FormatBytes(3 << 10), "3 KiB");
  EXPECT_EQ(FormatBytes(512ull << 20), "512 MiB");
  EXPECT_EQ(FormatBytes(4ull << 30), "4 GiB");
  EXPECT_EQ(FormatBytes(2ull << 40), "2 TiB");
  EXPECT_EQ(FormatBytes(1536), "1536 bytes") << "not a whole number of KiB";
}

TEST_F(SandboxArgumentsTest, LimitHitNamesTheCpuAndFileSizeLimitsAndOtherwiseTheRlimits) {
  step_.runtime.limits.memory_bytes = 32ull << 20;
  step_.runtime.limits.cpu_time = seconds(2);
  step_.runtime.limits.file_bytes = 1ull << 20;
  SandboxExecutor executor(config_, fake_, {});
  EXPECT_NE(executor.LimitHit(step_, {.signaled = true, .signal = SIGXCPU}).find("CPU time limit"),
            std::string::npos);
  EXPECT_NE(executor.LimitHit(step_, {.signaled = true, .signal = SIGXFSZ})
                .find("file size limit 1 MiB reached"),
            std::string::npos);
  EXPECT_NE(executor.LimitHit(step_, {.exit_code = 1}).find("memory 32 MiB per process"),
            std::string::npos);
}

TEST_F(SandboxArgumentsTest, DescribeSaysWhatIsolatesTheJobAndWhichLimitsApply) {
  step_.runtime.network = false;
  step_.runtime.limits.memory_bytes = 32ull << 20;
  SandboxExecutor executor(config_, fake_, {});
  std::vector<std::string> lines = executor.Describe(step_);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("as user " + std::to_string(kUidBase + 3)), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("network: none"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("rlimits"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("memory 32 MiB"), std::string::npos) << lines[1];
}

// --- Real sandboxes, with PosixProcessRunner and the host's bwrap ---

// Waits until condition() holds or kWaitBound passes; returns whether it held.
template <typename Condition>
bool WaitFor(Condition condition) {
  auto deadline = steady_clock::now() + kWaitBound;
  while (!condition()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

// Host processes whose command line contains `marker`.
std::vector<int> ProcessesWithMarker(const std::string& marker) {
  std::vector<int> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(marker) != std::string::npos) found.push_back(std::stoi(name));
  }
  return found;
}

class RealSandboxTest : public SandboxTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access("/usr/bin/bwrap", X_OK), 0) << "bubblewrap must be installed";
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    ASSERT_EQ(::fcntl(read_fd_, F_SETFL, O_NONBLOCK), 0);
    step_.output_fd = write_fd_;
    marker_ = "sluice-sandbox-test-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  void TearDown() override {
    if (write_fd_ >= 0) ::close(write_fd_);
    ::close(read_fd_);
  }

  std::unique_ptr<Process> Start(const std::string& script) {
    step_.argv = {"sh", "-c", script};
    SandboxExecutor executor(config_, runner_, hidden_);
    auto process = executor.Start(step_);
    EXPECT_TRUE(process.ok()) << process.status().message();
    // Only the job holds the pipe's writing end from now on.
    ::close(write_fd_);
    write_fd_ = -1;
    return process.ok() ? std::move(process).value() : nullptr;
  }

  std::optional<ProcessExit> WaitForExit(Process& process) {
    std::optional<ProcessExit> exit;
    WaitFor([&] {
      Drain();
      return (exit = process.Poll()).has_value();
    });
    Drain();
    return exit;
  }

  // Runs the script to its end; the exit, or nullopt after kWaitBound.
  std::optional<ProcessExit> Run(const std::string& script) {
    std::unique_ptr<Process> process = Start(script);
    if (process == nullptr) return std::nullopt;
    return WaitForExit(*process);
  }

  void Drain() {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(read_fd_, buffer, sizeof buffer)) > 0) output_.append(buffer, n);
  }

  std::vector<std::string> OutputLines() {
    std::vector<std::string> lines;
    std::istringstream in(output_);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  PosixProcessRunner runner_;
  std::vector<std::string> hidden_;
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::string output_;
  std::string marker_;
};

TEST_F(RealSandboxTest, ProbeSucceedsOnThisHost) {
  Status probe = SandboxExecutor::Probe("bwrap", runner_);
  EXPECT_TRUE(probe.ok()) << probe.message();
}

TEST_F(RealSandboxTest, TheJobSeesOnlyTheEnvironmentItWasGiven) {
  step_.env["JOB_VALUE"] = "given";
  std::optional<ProcessExit> exit = Run("env");
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->Describe() << "\n" << output_;
  std::set<std::string> names;
  for (const std::string& line : OutputLines()) names.insert(line.substr(0, line.find('=')));
  // sh itself adds PWD; nothing else may appear.
  names.erase("PWD");
  EXPECT_EQ(names, (std::set<std::string>{"PATH", "HOME", "CI", "JOB_VALUE"})) << output_;
}

TEST_F(RealSandboxTest, TheJobCannotSeeOtherWorkspacesBesideItsOwn) {
  fs::create_directories(dir_.path() + "/workspaces/exec-2");
  std::ofstream(dir_.path() + "/workspaces/exec-2/other-jobs-file") << "private\n";
  std::optional<ProcessExit> exit = Run("ls -A " + dir_.path() + "/workspaces");
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->Describe() << "\n" << output_;
  EXPECT_EQ(OutputLines(), std::vector<std::string>{"exec-1"}) << output_;
}

TEST_F(RealSandboxTest, TheJobWritesItsWorkspaceAndArtifactsButNotItsLog) {
  std::ofstream(step_.log_path) << "worker's log\n";
  // Writable by anyone on the host: only the read-only binding keeps the job from it.
  fs::permissions(step_.log_path, fs::perms::all);
  std::optional<ProcessExit> exit =
      Run("echo built > " + workspace_ + "/out && echo kept > " + artifacts_ +
          "/report && if echo forged >> " + step_.log_path + "; then echo LOG-WRITTEN; fi");
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->Describe() << "\n" << output_;
  std::ifstream out(workspace_ + "/out"), report(artifacts_ + "/report"), log(step_.log_path);
  std::string line;
  EXPECT_TRUE(std::getline(out, line) && line == "built");
  EXPECT_TRUE(std::getline(report, line) && line == "kept");
  EXPECT_TRUE(std::getline(log, line) && line == "worker's log");
  EXPECT_FALSE(std::getline(log, line)) << "the job wrote its log: " << line;
  EXPECT_EQ(output_.find("LOG-WRITTEN"), std::string::npos) << output_;
}

TEST_F(RealSandboxTest, HiddenPathsUnderEtcCannotBeReadByTheJob) {
  // Paths every Debian host has, hidden from this job only: the host's stay as they are.
  ASSERT_FALSE(fs::is_empty("/etc/apt"));
  ASSERT_GT(fs::file_size("/etc/passwd"), 0u);
  hidden_ = {"/etc/apt", "/etc/passwd"};
  // A hidden file is the host's /dev/null on a mount without devices: it cannot be opened.
  std::optional<ProcessExit> exit =
      Run("echo apt: $(ls -A /etc/apt | wc -l); echo passwd: $(cat /etc/passwd 2>/dev/null); "
          "echo group: $(grep -c '^root:' /etc/group)");
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->Describe() << "\n" << output_;
  EXPECT_EQ(OutputLines(), (std::vector<std::string>{"apt: 0", "passwd:", "group: 1"})) << output_;
}

TEST_F(RealSandboxTest, TmpIsPrivateAndWritable) {
  std::string host_file = "/tmp/" + marker_;
  std::ofstream(host_file) << "host\n";
  std::optional<ProcessExit> exit =
      Run("test ! -e " + host_file + " && echo private && echo mine > /tmp/own && cat /tmp/own");
  fs::remove(host_file);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->Describe() << "\n" << output_;
  EXPECT_EQ(OutputLines(), (std::vector<std::string>{"private", "mine"})) << output_;
}

TEST_F(RealSandboxTest, ProcShowsOnlyTheSandboxsProcesses) {
  std::optional<ProcessExit> exit = Run("ls /proc | grep -E '^[0-9]+$'");
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->Describe() << "\n" << output_;
  std::vector<std::string> pids = OutputLines();
  // bwrap (PID 1), the shell and the pipeline's two commands.
  EXPECT_LE(pids.size(), 5u) << output_;
  EXPECT_TRUE(std::find(pids.begin(), pids.end(), "1") != pids.end()) << output_;
  // Numbered from 1 in the sandbox's own PID namespace.
  for (const std::string& pid : pids) EXPECT_LE(std::stoi(pid), 10) << output_;
}

TEST_F(RealSandboxTest, TheJobRunsAsTheSlotsUserWithoutCapabilities) {
  std::optional<ProcessExit> exit =
      Run("id -u; id -g; grep -E '^Cap(Eff|Prm|Bnd|Amb)' "
          "/proc/self/status; grep NoNewPrivs /proc/self/status");
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->Describe() << "\n" << output_;
  std::vector<std::string> lines = OutputLines();
  ASSERT_EQ(lines.size(), 7u) << output_;
  EXPECT_EQ(lines[0], std::to_string(kUidBase + 3));
  EXPECT_EQ(lines[1], std::to_string(kUidBase + 3));
  for (size_t i = 2; i < 6; ++i) {
    EXPECT_NE(lines[i].find("0000000000000000"), std::string::npos) << lines[i];
  }
  EXPECT_NE(lines[6].find('1'), std::string::npos) << lines[6];
}

TEST_F(RealSandboxTest, WithoutNetworkOnlyLoopbackIsLeft) {
  step_.runtime.network = false;
  std::optional<ProcessExit> exit = Run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->Describe() << "\n" << output_;
  EXPECT_EQ(OutputLines(), std::vector<std::string>{"lo"}) << output_;
}

TEST_F(RealSandboxTest, WithNetworkTheHostsInterfacesAreSeen) {
  step_.runtime.network = true;
  std::optional<ProcessExit> exit = Run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->Describe() << "\n" << output_;
  std::ifstream host("/proc/net/dev");
  size_t host_interfaces = 0;
  for (std::string line; std::getline(host, line);) host_interfaces += line.find(':') != line.npos;
  EXPECT_EQ(OutputLines().size(), host_interfaces) << output_;
}

TEST_F(RealSandboxTest, ASetsidDaemonEndsWhenTheStepEnds) {
  std::string go = workspace_ + "/go";
  std::unique_ptr<Process> process =
      Start("setsid sh -c 'sleep 60; : " + marker_ + "' </dev/null >/dev/null 2>&1 & " +
            "while [ ! -e " + go + " ]; do sleep 0.05; done");
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(WaitFor([&] { return !ProcessesWithMarker(marker_).empty(); }))
      << "the daemon never ran";
  std::ofstream(go) << "go\n";
  std::optional<ProcessExit> exit = WaitForExit(*process);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->Describe() << "\n" << output_;
  EXPECT_TRUE(WaitFor([&] { return ProcessesWithMarker(marker_).empty(); }))
      << "the daemon outlived its step";
}

TEST_F(RealSandboxTest, SigtermReachesTheJobWhichFinishesItsTrap) {
  std::string ready = workspace_ + "/ready";
  std::unique_ptr<Process> process =
      Start("trap 'echo trapped; exit 7' TERM; touch " + ready + "; while :; do sleep 0.05; done");
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(ready); })) << output_;
  process->SignalGroup(SIGTERM);
  std::optional<ProcessExit> exit = WaitForExit(*process);
  ASSERT_TRUE(exit.has_value()) << "SIGTERM did not end the job";
  // bwrap stayed to hand on the job's own exit: it was not killed by the signal.
  EXPECT_FALSE(exit->signaled) << exit->Describe();
  EXPECT_EQ(exit->exit_code, 7) << exit->Describe();
  EXPECT_NE(output_.find("trapped"), std::string::npos) << output_;
}

TEST_F(RealSandboxTest, SigkillEndsTheWholeSandbox) {
  std::string ready = workspace_ + "/ready";
  std::unique_ptr<Process> process =
      Start("trap '' TERM; sh -c 'sleep 60; : " + marker_ + "' & touch " + ready + "; wait");
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(ready) && !ProcessesWithMarker(marker_).empty(); }))
      << output_;
  process->SignalGroup(SIGKILL);
  std::optional<ProcessExit> exit = WaitForExit(*process);
  ASSERT_TRUE(exit.has_value()) << "SIGKILL did not end the sandbox";
  EXPECT_TRUE(exit->signaled) << exit->Describe();
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_TRUE(WaitFor([&] { return ProcessesWithMarker(marker_).empty(); }));
}

TEST_F(RealSandboxTest, TheProcessesLimitMakesAForkLoopFail) {
  step_.runtime.limits.processes = 8;
  std::optional<ProcessExit> exit =
      Run("started=0; i=0; while [ $i -lt 50 ]; do i=$((i+1)); "
          "if sleep 2 2>/dev/null & then started=$((started+1)); fi; done; "
          "echo attempted $i; kill $(jobs -p) 2>/dev/null; true");
  ASSERT_TRUE(exit.has_value());
  // dash reports a fork that failed on stderr ("Cannot fork"), and goes on.
  EXPECT_NE(output_.find("fork"), std::string::npos) << exit->Describe() << "\n" << output_;
}

TEST_F(RealSandboxTest, TheMemoryLimitMakesALargeAllocationFail) {
  step_.runtime.limits.memory_bytes = 32ull << 20;
  std::optional<ProcessExit> exit =
      Run("head -c 100000000 /dev/zero | tail >/dev/null && echo allocated");
  ASSERT_TRUE(exit.has_value());
  EXPECT_FALSE(exit->success()) << output_;
  EXPECT_EQ(output_.find("allocated"), std::string::npos) << output_;
}

TEST_F(RealSandboxTest, WithoutAMemoryLimitTheSameAllocationSucceeds) {
  std::optional<ProcessExit> exit =
      Run("head -c 100000000 /dev/zero | tail >/dev/null && echo allocated");
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->Describe() << "\n" << output_;
  EXPECT_NE(output_.find("allocated"), std::string::npos) << output_;
}

}  // namespace
}  // namespace sluice
