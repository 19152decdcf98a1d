#include "worker/process_runner.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "process_tree_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr auto kWaitBound = seconds(10);

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

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

std::optional<ProcessExit> WaitForExit(Process& process) {
  std::optional<ProcessExit> exit;
  WaitFor([&] { return (exit = process.Poll()).has_value(); });
  return exit;
}

class ProcessRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "sluice_process_runner_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = fs::canonical(pattern);
    const char* path = ::getenv("PATH");
    path_ = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  }
  void TearDown() override { fs::remove_all(dir_); }

  ProcessSpec Spec(std::vector<std::string> argv) {
    ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.env = {{"PATH", path_}};
    spec.working_dir = dir_.string();
    spec.log_path = (dir_ / "log").string();
    return spec;
  }

  std::unique_ptr<Process> StartOk(const ProcessSpec& spec) {
    StatusOr<std::unique_ptr<Process>> process = runner_.Start(spec);
    EXPECT_TRUE(process.ok()) << process.status().ToString();
    return process.ok() ? std::move(process).value() : nullptr;
  }

  // Runs spec to completion; nullopt when it did not end within kWaitBound.
  std::optional<ProcessExit> Run(const ProcessSpec& spec) {
    std::unique_ptr<Process> process = StartOk(spec);
    if (process == nullptr) return std::nullopt;
    return WaitForExit(*process);
  }

  std::string Log() { return ReadFile(dir_ / "log"); }

  PosixProcessRunner runner_;
  fs::path dir_;
  std::string path_;
};

TEST_F(ProcessRunnerTest, ReportsExitCodeZero) {
  std::optional<ProcessExit> exit = Run(Spec({"true"}));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success());
  EXPECT_FALSE(exit->signaled);
  EXPECT_EQ(exit->exit_code, 0);
}

TEST_F(ProcessRunnerTest, ReportsNonZeroExitCode) {
  std::optional<ProcessExit> exit = Run(Spec({"sh", "-c", "exit 3"}));
  ASSERT_TRUE(exit.has_value());
  EXPECT_FALSE(exit->success());
  EXPECT_FALSE(exit->signaled);
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_EQ(exit->Describe(), "exit code 3");
}

TEST_F(ProcessRunnerTest, PollIsIdempotentAfterExit) {
  std::unique_ptr<Process> process = StartOk(Spec({"sh", "-c", "exit 5"}));
  ASSERT_NE(process, nullptr);
  std::optional<ProcessExit> first = WaitForExit(*process);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(process->Poll(), first);
  EXPECT_EQ(process->Poll(), first);
  process->SignalGroup(SIGKILL);  // no-op after exit
  EXPECT_EQ(process->Poll(), first);
}

TEST_F(ProcessRunnerTest, AppendsStdoutAndStderrToLog) {
  {
    std::ofstream existing(dir_ / "log");
    existing << "existing\n";
  }
  std::optional<ProcessExit> exit = Run(Spec({"sh", "-c", "echo out; echo err >&2"}));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success());
  EXPECT_EQ(Log(), "existing\nout\nerr\n");
}

TEST_F(ProcessRunnerTest, CreatesMissingLogWithMode0644) {
  mode_t previous_umask = ::umask(022);
  std::optional<ProcessExit> exit = Run(Spec({"sh", "-c", "echo hello"}));
  ::umask(previous_umask);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(Log(), "hello\n");
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(ProcessRunnerTest, StdinIsDevNull) {
  std::optional<ProcessExit> exit = Run(Spec({"sh", "-c", "cat; echo end"}));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success());
  EXPECT_EQ(Log(), "end\n");
}

TEST_F(ProcessRunnerTest, EnvironmentIsExactlyTheGivenOne) {
  ASSERT_EQ(::setenv("SLUICE_TEST_LEAK", "leaked", 1), 0);
  ProcessSpec spec = Spec({"env"});
  spec.env["FOO"] = "bar baz";
  std::optional<ProcessExit> exit = Run(spec);
  ::unsetenv("SLUICE_TEST_LEAK");
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success());

  std::set<std::string> lines;
  std::istringstream log(Log());
  std::string tag;
  for (std::string line; std::getline(log, line);) {
    if (line.starts_with(std::string(kProcessTreeVariable) + "=")) {
      tag = line;  // the runner's own addition, checked below
    } else {
      lines.insert(line);
    }
  }
  EXPECT_EQ(lines, (std::set<std::string>{"PATH=" + path_, "FOO=bar baz"}));
  EXPECT_TRUE(tag.starts_with("SLUICE_PROCESS_TREE=" + std::to_string(::getpid()) + "-")) << tag;
}

TEST_F(ProcessRunnerTest, AnEnvironmentValueTooBigForExecIsAClearError) {
  ProcessSpec spec = Spec({"true"});
  spec.env["RELEASE_IMAGE_LATEST"] = std::string(200 * 1024, 'x');  // over MAX_ARG_STRLEN
  StatusOr<std::unique_ptr<Process>> process = runner_.Start(spec);
  ASSERT_FALSE(process.ok());
  EXPECT_EQ(process.status().message(), "cannot run \"true\": Argument list too long");
}

TEST_F(ProcessRunnerTest, EachProcessGetsItsOwnTreeTagWhichTheSpecCannotOverride) {
  ProcessSpec spec = Spec({"sh", "-c", "echo $SLUICE_PROCESS_TREE"});
  spec.env[kProcessTreeVariable] = "forged";
  ASSERT_TRUE(Run(spec).has_value());
  ASSERT_TRUE(Run(spec).has_value());
  std::istringstream log(Log());
  std::string first, second;
  std::getline(log, first);
  std::getline(log, second);
  EXPECT_TRUE(first.starts_with(std::to_string(::getpid()) + "-")) << first;
  EXPECT_NE(first, second);
}

TEST_F(ProcessRunnerTest, LooksUpCommandInPathOfChildEnvironment) {
  fs::create_directory(dir_ / "bin");
  {
    std::ofstream script(dir_ / "bin" / "sluice-hello");
    script << "#!/bin/sh\necho hello from script\n";
  }
  fs::permissions(dir_ / "bin" / "sluice-hello", fs::perms::owner_all);

  ProcessSpec found = Spec({"sluice-hello"});
  found.env["PATH"] = (dir_ / "bin").string() + ":" + path_;
  std::optional<ProcessExit> exit = Run(found);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success());
  EXPECT_EQ(Log(), "hello from script\n");

  // The worker's own PATH does not count.
  std::string worker_path = path_;
  ASSERT_EQ(::setenv("PATH", ((dir_ / "bin").string() + ":" + path_).c_str(), 1), 0);
  StatusOr<std::unique_ptr<Process>> not_found = runner_.Start(Spec({"sluice-hello"}));
  ::setenv("PATH", worker_path.c_str(), 1);
  EXPECT_FALSE(not_found.ok());
}

TEST_F(ProcessRunnerTest, RunsScriptWithoutShebangWithShell) {
  {
    std::ofstream script(dir_ / "plain-script");
    script << "echo plain $1\n";
  }
  fs::permissions(dir_ / "plain-script", fs::perms::owner_all);
  std::optional<ProcessExit> exit = Run(Spec({"./plain-script", "arg"}));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success());
  EXPECT_EQ(Log(), "plain arg\n");
}

TEST_F(ProcessRunnerTest, MissingCommandIsAnError) {
  StatusOr<std::unique_ptr<Process>> process = runner_.Start(Spec({"sluice-no-such-command"}));
  ASSERT_FALSE(process.ok());
  EXPECT_EQ(process.status().code(), Code::kNotFound);
  EXPECT_EQ(process.status().message(),
            "cannot run \"sluice-no-such-command\": No such file or directory");
}

TEST_F(ProcessRunnerTest, MissingCommandByPathIsAnError) {
  std::string command = (dir_ / "missing").string();
  StatusOr<std::unique_ptr<Process>> process = runner_.Start(Spec({command}));
  ASSERT_FALSE(process.ok());
  EXPECT_NE(process.status().message().find("cannot run \"" + command + "\""), std::string::npos)
      << process.status().message();
}

TEST_F(ProcessRunnerTest, NonExecutableCommandIsAnError) {
  {
    std::ofstream file(dir_ / "not-executable");
    file << "echo hi\n";
  }
  fs::permissions(dir_ / "not-executable", fs::perms::owner_read | fs::perms::owner_write);
  StatusOr<std::unique_ptr<Process>> process = runner_.Start(Spec({"./not-executable"}));
  ASSERT_FALSE(process.ok());
  // No execute bit at all: EACCES even for root.
  EXPECT_EQ(process.status().code(), Code::kPermissionDenied);
  EXPECT_NE(process.status().message().find("cannot run \"./not-executable\""), std::string::npos)
      << process.status().message();
}

TEST_F(ProcessRunnerTest, EmptyCommandIsAnError) {
  StatusOr<std::unique_ptr<Process>> process = runner_.Start(Spec({}));
  ASSERT_FALSE(process.ok());
  EXPECT_EQ(process.status().code(), Code::kInvalidArgument);
}

TEST_F(ProcessRunnerTest, RunsInWorkingDirectory) {
  fs::create_directory(dir_ / "sub");
  ProcessSpec spec = Spec({"pwd"});
  spec.working_dir = (dir_ / "sub").string();
  std::optional<ProcessExit> exit = Run(spec);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success());
  EXPECT_EQ(Log(), (dir_ / "sub").string() + "\n");
}

TEST_F(ProcessRunnerTest, MissingWorkingDirectoryIsAnError) {
  ProcessSpec spec = Spec({"true"});
  spec.working_dir = (dir_ / "no-such-dir").string();
  StatusOr<std::unique_ptr<Process>> process = runner_.Start(spec);
  ASSERT_FALSE(process.ok());
  EXPECT_NE(process.status().message().find("no-such-dir"), std::string::npos)
      << process.status().message();
}

TEST_F(ProcessRunnerTest, UnopenableLogIsAnError) {
  ProcessSpec spec = Spec({"true"});
  spec.log_path = (dir_ / "no-such-dir" / "log").string();
  StatusOr<std::unique_ptr<Process>> process = runner_.Start(spec);
  ASSERT_FALSE(process.ok());
  EXPECT_NE(process.status().message().find("cannot open log file"), std::string::npos)
      << process.status().message();
}

TEST_F(ProcessRunnerTest, DoesNotLeakDescriptorsWithoutCloexec) {
  // Deliberately without close-on-exec: a low descriptor and one far above the runner's own.
  int low = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(low, 3);
  int high = ::fcntl(low, F_DUPFD, 500);
  ASSERT_GE(high, 500);
  std::string check = "test -e /proc/$$/fd/" + std::to_string(low) + " || test -e /proc/$$/fd/" +
                      std::to_string(high);
  std::optional<ProcessExit> exit = Run(Spec({"sh", "-c", check}));
  ::close(low);
  ::close(high);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 1) << "descriptor " << low << " or " << high << " reached the child";
}

TEST_F(ProcessRunnerTest, ChildDoesNotInheritIgnoredSignals) {
  struct sigaction ignore {
  }, previous{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGTERM, &ignore, &previous), 0);
  // A shell cannot un-ignore a signal it inherited ignored, so this survives only if it was.
  std::optional<ProcessExit> exit = Run(Spec({"sh", "-c", "kill -TERM $$; exit 0"}));
  ::sigaction(SIGTERM, &previous, nullptr);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->signaled) << exit->Describe();
  EXPECT_EQ(exit->signal, SIGTERM);
}

TEST_F(ProcessRunnerTest, ChildDoesNotInheritBlockedSignals) {
  sigset_t block, previous;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ASSERT_EQ(::sigprocmask(SIG_BLOCK, &block, &previous), 0);
  std::optional<ProcessExit> exit = Run(Spec({"sh", "-c", "kill -USR1 $$; exit 0"}));
  ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->signaled) << exit->Describe();
  EXPECT_EQ(exit->signal, SIGUSR1);
}

TEST_F(ProcessRunnerTest, SignalGroupKillsChildAndGrandchild) {
  std::string pid_file = (dir_ / "grandchild.pid").string();
  std::unique_ptr<Process> process =
      StartOk(Spec({"sh", "-c",
                    "sleep 30 & echo $! > " + pid_file + ".tmp; mv " + pid_file + ".tmp " +
                        pid_file + "; sleep 30; wait"}));
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(pid_file); }));
  int grandchild = std::stoi(ReadFile(pid_file));
  ASSERT_FALSE(IsDead(grandchild));
  EXPECT_EQ(::getpgid(grandchild), process->pid());

  process->SignalGroup(SIGTERM);
  std::optional<ProcessExit> exit = WaitForExit(*process);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->signal, SIGTERM);
  EXPECT_EQ(exit->Describe(), "killed by signal 15 (SIGTERM)");
  EXPECT_TRUE(WaitFor([&] { return IsDead(grandchild); })) << "grandchild " << grandchild;
}

TEST_F(ProcessRunnerTest, SigkillEndsProcessThatIgnoresSigterm) {
  std::string ready = (dir_ / "ready").string();
  std::unique_ptr<Process> process =
      StartOk(Spec({"sh", "-c", "trap '' TERM; touch " + ready + "; sleep 30"}));
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(ready); }));

  process->SignalGroup(SIGTERM);
  // Negative check: give SIGTERM a moment to (not) take effect.
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_FALSE(process->Poll().has_value()) << "SIGTERM should have been ignored";

  process->SignalGroup(SIGKILL);
  std::optional<ProcessExit> exit = WaitForExit(*process);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_EQ(exit->Describe(), "killed by signal 9 (SIGKILL)");
}

TEST_F(ProcessRunnerTest, DestroyingRunningProcessKillsAndReapsIt) {
  std::unique_ptr<Process> process = StartOk(Spec({"sh", "-c", "trap '' TERM; sleep 30"}));
  ASSERT_NE(process, nullptr);
  int pid = process->pid();
  auto start = steady_clock::now();
  process.reset();
  EXPECT_LT(steady_clock::now() - start, seconds(5));
  // Reaped, so not even a zombie is left.
  EXPECT_FALSE(fs::exists("/proc/" + std::to_string(pid)));
}

// A shell command that starts `daemon` in the background, waits until it has written its pid to
// `pid_file`, then runs `then`.
std::string StartsDaemon(const std::string& daemon, const std::string& pid_file,
                         const std::string& then) {
  return daemon + " & while [ ! -s " + pid_file + " ]; do sleep 0.01; done; " + then;
}

std::string WritesPidThenSleeps(const std::string& pid_file) {
  return "sh -c 'echo $$ > " + pid_file + ".tmp; mv " + pid_file + ".tmp " + pid_file +
         "; exec sleep 300'";
}

TEST_F(ProcessRunnerTest, ADescendantThatCalledSetsidEndsWhenTheProcessEnds) {
  std::string pid_file = (dir_ / "daemon.pid").string();
  std::optional<ProcessExit> exit = Run(
      Spec({"sh", "-c",
            StartsDaemon("setsid " + WritesPidThenSleeps(pid_file), pid_file, "echo started")}));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success());
  int daemon = std::stoi(ReadFile(pid_file));
  EXPECT_NE(::getsid(daemon), ::getsid(0)) << "the daemon left the session";
  // Killed and, re-parented here (child subreaper), reaped: not even a zombie is left.
  EXPECT_TRUE(IsDead(daemon)) << "daemon " << daemon;
  EXPECT_FALSE(fs::exists("/proc/" + std::to_string(daemon)));
  EXPECT_EQ(LivingTaggedProcesses(), std::vector<int>{});
}

TEST_F(ProcessRunnerTest, ADoubleForkedDaemonEndsWhenTheProcessEnds) {
  std::string pid_file = (dir_ / "daemon.pid").string();
  // The subshell forks the daemon and exits at once: the daemon is orphaned while the process
  // still runs, and is in a session of its own.
  std::optional<ProcessExit> exit =
      Run(Spec({"sh", "-c",
                StartsDaemon("(setsid " + WritesPidThenSleeps(pid_file) + " &)", pid_file,
                             "echo started")}));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success());
  int daemon = std::stoi(ReadFile(pid_file));
  EXPECT_TRUE(IsDead(daemon)) << "daemon " << daemon;
  EXPECT_EQ(LivingTaggedProcesses(), std::vector<int>{});
}

TEST_F(ProcessRunnerTest, TheBriefsSetsidSleepLeavesNothingRunning) {
  std::optional<ProcessExit> exit =
      Run(Spec({"sh", "-c", "setsid sh -c \"sleep 300\" & echo started"}));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success());
  EXPECT_EQ(LivingTaggedProcesses(), std::vector<int>{});
}

TEST_F(ProcessRunnerTest, SignalGroupReachesADescendantThatCalledSetsid) {
  std::string pid_file = (dir_ / "daemon.pid").string();
  std::unique_ptr<Process> process = StartOk(
      Spec({"sh", "-c",
            StartsDaemon("setsid " + WritesPidThenSleeps(pid_file), pid_file, "sleep 300")}));
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(pid_file); }));
  int daemon = std::stoi(ReadFile(pid_file));
  ASSERT_FALSE(IsDead(daemon));

  process->SignalGroup(SIGTERM);  // as an abort does
  EXPECT_TRUE(WaitFor([&] { return IsDead(daemon); })) << "daemon " << daemon;
  ASSERT_TRUE(WaitForExit(*process).has_value());
  EXPECT_EQ(LivingTaggedProcesses(), std::vector<int>{});
}

TEST_F(ProcessRunnerTest, DestroyingARunningProcessEndsItsWholeTree) {
  std::string pid_file = (dir_ / "daemon.pid").string();
  std::unique_ptr<Process> process = StartOk(
      Spec({"sh", "-c",
            "trap '' TERM; " + StartsDaemon("(setsid " + WritesPidThenSleeps(pid_file) + " &)",
                                            pid_file, "sleep 300")}));
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(pid_file); }));
  int daemon = std::stoi(ReadFile(pid_file));
  process.reset();
  EXPECT_TRUE(IsDead(daemon)) << "daemon " << daemon;
  EXPECT_EQ(LivingTaggedProcesses(), std::vector<int>{});
}

TEST_F(ProcessRunnerTest, KillAllProcessTreesEndsEveryRunningTree) {
  std::string pid_file = (dir_ / "daemon.pid").string();
  std::unique_ptr<Process> process = StartOk(
      Spec({"sh", "-c",
            StartsDaemon("setsid " + WritesPidThenSleeps(pid_file), pid_file, "sleep 300")}));
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(pid_file); }));
  int daemon = std::stoi(ReadFile(pid_file));
  KillAllProcessTrees();
  EXPECT_TRUE(IsDead(daemon)) << "daemon " << daemon;
  std::optional<ProcessExit> exit = WaitForExit(*process);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->signal, SIGKILL);
}

TEST_F(ProcessRunnerTest, TheMechanismIsTheChildSubreaper) {
  EXPECT_NE(runner_.TreeMechanism().find("child subreaper"), std::string::npos)
      << runner_.TreeMechanism();
}

TEST(ProcessExitTest, Describe) {
  struct Case {
    ProcessExit exit;
    std::string text;
  };
  for (const Case& c : std::vector<Case>{
           {{.signaled = false, .exit_code = 0}, "exit code 0"},
           {{.signaled = false, .exit_code = 3}, "exit code 3"},
           {{.signaled = true, .signal = SIGKILL}, "killed by signal 9 (SIGKILL)"},
           {{.signaled = true, .signal = SIGTERM}, "killed by signal 15 (SIGTERM)"},
       }) {
    EXPECT_EQ(c.exit.Describe(), c.text);
  }
}

// --- Issue 12: output descriptor, rlimits, user, passed descriptors, a supervising leader ---

// A pipe whose reading end the test drains; the writing end goes to ProcessSpec::output_fd.
class OutputPipe {
 public:
  OutputPipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    ::fcntl(read_fd_, F_SETFL, O_NONBLOCK);
  }
  ~OutputPipe() {
    CloseWritingEnd();
    ::close(read_fd_);
  }
  int write_fd() const { return write_fd_; }
  // The runner keeps its own copy: the test's goes once the child has started.
  void CloseWritingEnd() {
    if (write_fd_ >= 0) ::close(write_fd_);
    write_fd_ = -1;
  }
  // Everything written so far.
  std::string Read() {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(read_fd_, buffer, sizeof buffer)) > 0) text_.append(buffer, n);
    return text_;
  }

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::string text_;
};

TEST_F(ProcessRunnerTest, OutputGoesToTheOutputDescriptorNotTheLog) {
  OutputPipe pipe;
  ProcessSpec spec = Spec({"sh", "-c", "echo out; echo err >&2"});
  spec.output_fd = pipe.write_fd();
  std::unique_ptr<Process> process = StartOk(spec);
  ASSERT_NE(process, nullptr);
  pipe.CloseWritingEnd();
  std::optional<ProcessExit> exit = WaitForExit(*process);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success());
  EXPECT_EQ(pipe.Read(), "out\nerr\n");
  EXPECT_EQ(Log(), "");
}

TEST_F(ProcessRunnerTest, RlimitsAreSetSoftAndHardInTheChild) {
  ProcessSpec spec =
      Spec({"grep", "-E", "^Max (open files|file size|processes)", "/proc/self/limits"});
  spec.rlimits = {{RLIMIT_NOFILE, 77}, {RLIMIT_FSIZE, 1 << 20}, {RLIMIT_NPROC, 4321}};
  std::optional<ProcessExit> exit = Run(spec);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << Log();
  std::string log = Log();
  std::istringstream lines(log);
  std::map<std::string, std::pair<std::string, std::string>> limits;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line.substr(line.find_first_of("0123456789u", 20)));
    std::string soft, hard;
    words >> soft >> hard;
    limits[line.substr(0, line.find("  "))] = {soft, hard};
  }
  using Pair = std::pair<std::string, std::string>;
  EXPECT_EQ(limits["Max open files"], Pair("77", "77")) << log;
  EXPECT_EQ(limits["Max file size"], Pair("1048576", "1048576")) << log;
  EXPECT_EQ(limits["Max processes"], Pair("4321", "4321")) << log;
}

TEST_F(ProcessRunnerTest, PassedDescriptorsAreThreeFourInOrderAndNothingElseIsOpen) {
  std::string first = (dir_ / "first").string();
  std::string second = (dir_ / "second").string();
  std::ofstream(first) << "1";
  std::ofstream(second) << "2";
  // Opened in the other order, so that their numbers here are not 3 and 4's order.
  int second_fd = ::open(second.c_str(), O_RDONLY | O_CLOEXEC);
  int first_fd = ::open(first.c_str(), O_RDONLY | O_CLOEXEC);
  // One the worker opened without O_CLOEXEC, which the child must not get either.
  int leaked_fd = ::open(first.c_str(), O_RDONLY);
  ASSERT_GE(first_fd, 0);
  ASSERT_GE(second_fd, 0);
  ASSERT_GE(leaked_fd, 0);
  // ls lists the shell's descriptors (its own would include the directory it reads).
  ProcessSpec spec = Spec({"sh", "-c", "ls -l /proc/$$/fd"});
  spec.pass_fds = {first_fd, second_fd};
  std::optional<ProcessExit> exit = Run(spec);
  ::close(first_fd);
  ::close(second_fd);
  ::close(leaked_fd);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << Log();
  std::istringstream lines(Log());
  std::map<int, std::string> open;
  for (std::string line; std::getline(lines, line);) {
    size_t arrow = line.find(" -> ");
    if (arrow == std::string::npos) continue;
    size_t number = line.rfind(' ', arrow - 1) + 1;
    open[std::stoi(line.substr(number, arrow - number))] = line.substr(arrow + 4);
  }
  open.erase(0);
  open.erase(1);
  open.erase(2);
  EXPECT_EQ(open, (std::map<int, std::string>{{3, first}, {4, second}})) << Log();
}

TEST_F(ProcessRunnerTest, TheChildLeadsASessionOfItsOwn) {
  std::unique_ptr<Process> process =
      StartOk(Spec({"sh", "-c", "echo $$; cut -d' ' -f6 /proc/$$/stat"}));
  ASSERT_NE(process, nullptr);
  std::optional<ProcessExit> exit = WaitForExit(*process);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(Log(), std::to_string(process->pid()) + "\n" + std::to_string(process->pid()) + "\n");
}

// The leader waits for its child, says so when the child ends, then stays.
ProcessSpec SupervisingLeader(ProcessSpec spec, const std::string& pid_file) {
  spec.argv = {"sh", "-c",
               "sleep 60 & echo $! > " + pid_file + ".tmp; mv " + pid_file + ".tmp " + pid_file +
                   "; wait $!; echo child ended; exec sleep 60"};
  spec.leader_supervises = true;
  return spec;
}

TEST_F(ProcessRunnerTest, WithASupervisingLeaderSigtermReachesItsChildButNotIt) {
  std::string pid_file = (dir_ / "child.pid").string();
  std::unique_ptr<Process> process = StartOk(SupervisingLeader(Spec({}), pid_file));
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(pid_file); }));
  int child = std::stoi(ReadFile(pid_file));

  process->SignalGroup(SIGTERM);
  EXPECT_TRUE(WaitFor([&] { return IsDead(child); })) << "the child was not signalled";
  // The shell may first say that its child was terminated.
  EXPECT_TRUE(WaitFor([&] { return Log().find("child ended\n") != std::string::npos; })) << Log();
  EXPECT_FALSE(process->Poll().has_value()) << "the leader was signalled";

  process->SignalGroup(SIGKILL);
  std::optional<ProcessExit> exit = WaitForExit(*process);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->signal, SIGKILL);
}

TEST_F(ProcessRunnerTest, WithASupervisingLeaderSigkillReachesBoth) {
  std::string pid_file = (dir_ / "child.pid").string();
  std::unique_ptr<Process> process = StartOk(SupervisingLeader(Spec({}), pid_file));
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(pid_file); }));
  int child = std::stoi(ReadFile(pid_file));

  process->SignalGroup(SIGKILL);
  std::optional<ProcessExit> exit = WaitForExit(*process);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_TRUE(WaitFor([&] { return IsDead(child); }));
  EXPECT_EQ(Log(), "") << "the leader outlived its child";
}

}  // namespace
}  // namespace sluice
