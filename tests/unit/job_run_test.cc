#include "worker/job_run.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fakes.h"
#include "process_tree_helpers.h"
#include "worker/checkout.h"
#include "worker/process_executor.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const std::string kId = "0190f3a2-7b1c-7d2e-8f3a-0123456789ab";
const std::string kBaseSha = "0123456789abcdef0123456789abcdef01234567";
const std::string kPullSha = "89abcdef0123456789abcdef0123456789abcdef";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class JobRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-job-run-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    job_.name = "periodic-echo";
    job_.type = JobType::kPeriodic;
    job_.command = {"sh", "-c", "echo $RELEASE_IMAGE_LATEST"};
    job_.env = {{"RELEASE_IMAGE_LATEST", "quay.io/release:4.18"}, {"KEEP", "from-job"}};
    job_.allow_env_override = {"RELEASE_IMAGE_LATEST"};
    job_.timeout = minutes(10);
    trigger_.id = kId;
    trigger_.job_name = job_.name;
    trigger_.job_type = JobType::kPeriodic;
    trigger_.create_time = t0_ - seconds(1);
    trigger_.client = "ci";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  JobRun::Params Params(int attempt = 1) {
    JobRun::Params p;
    p.job = &job_;
    p.trigger = trigger_;
    p.attempt = attempt;
    p.worker_id = "worker-1";
    p.worker.workspace = root_ + "/workspace";
    p.worker.artifacts = root_ + "/artifacts";
    p.worker.kill_grace = seconds(10);
    p.inherited_path = "/opt/tools/bin:/usr/bin:/bin";
    return p;
  }
  std::string Workspace(int attempt = 1) const {
    return root_ + "/workspace/" + kId + "-" + std::to_string(attempt);
  }
  std::string LogPath() const {
    return root_ + "/artifacts/periodic-echo/" + kId + "/build-log.txt";
  }

  // Turns this into a clone: true postsubmit job with refs.
  void MakeCloneJob() {
    job_.name = "post-build";
    job_.type = JobType::kPostsubmit;
    job_.clone = true;
    job_.command = {"make", "images"};
    trigger_.job_name = job_.name;
    trigger_.job_type = JobType::kPresubmit;
    Refs refs;
    refs.org = "openshift";
    refs.repo = "assisted-installer";
    refs.base_ref = "main";
    refs.base_sha = kBaseSha;
    refs.clone_uri = "https://git.example.invalid/openshift/assisted-installer.git";
    Pull pull;
    pull.number = 7;
    pull.sha = kPullSha;
    refs.pulls.push_back(pull);
    trigger_.refs = refs;
  }

  std::string root_;
  JobConfig job_;
  Trigger trigger_;
  FakeProcessRunner runner_;
  ProcessExecutor executor_{WorkerConfig{}, runner_};
  const TimePoint t0_ = TestEpoch();
};

TEST_F(JobRunTest, ExitZeroIsSuccess) {
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  ASSERT_EQ(runner_.started(), 1u);
  EXPECT_FALSE(run.finished());
  EXPECT_FALSE(run.Tick(t0_ + seconds(1))) << "still running";
  runner_.process(0).Exit(0);
  EXPECT_TRUE(run.Tick(t0_ + seconds(2)));
  EXPECT_TRUE(run.finished());
  EXPECT_EQ(run.status(), JobStatus::kSuccess);
  EXPECT_EQ(run.message(), "");
  EXPECT_EQ(run.start_time(), t0_);
  EXPECT_EQ(run.completion_time(), t0_ + seconds(2));
  EXPECT_TRUE(runner_.process(0).signals.empty()) << "a job that ended is not signalled";
}

TEST_F(JobRunTest, AnUnsuccessfulExitIsFailureNamingHowItEnded) {
  struct Case {
    std::string name;
    std::optional<int> exit_code;
    int signal;
    std::string message_names;
  };
  const Case cases[] = {
      {"exit 3", 3, 0, "exit code 3"},
      {"exit 127", 127, 0, "exit code 127"},
      {"killed by SIGSEGV", std::nullopt, SIGSEGV, "signal 11"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakeProcessRunner runner;
    ProcessExecutor executor(WorkerConfig{}, runner);
    JobRun run(Params(), executor, executor);
    run.Start(t0_);
    ASSERT_EQ(runner.started(), 1u);
    if (c.exit_code) {
      runner.process(0).Exit(*c.exit_code);
    } else {
      runner.process(0).Kill(c.signal);
    }
    ASSERT_TRUE(run.Tick(t0_ + seconds(1)));
    EXPECT_EQ(run.status(), JobStatus::kFailure);
    EXPECT_NE(run.message().find(c.message_names), std::string::npos) << run.message();
  }
}

TEST_F(JobRunTest, ACommandThatCannotStartIsError) {
  runner_.FailNextStart(InvalidArgument("cannot run \"sh\": No such file or directory"));
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  EXPECT_TRUE(run.finished()) << "finished by Start itself";
  EXPECT_EQ(run.status(), JobStatus::kError);
  EXPECT_NE(run.message().find("No such file or directory"), std::string::npos) << run.message();
  EXPECT_EQ(run.completion_time(), t0_);
  EXPECT_TRUE(run.Tick(t0_ + seconds(1)));
}

TEST_F(JobRunTest, TimeoutSendsSigtermToTheGroupThenSigkillAfterTheGrace) {
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  FakeProcessState& p = runner_.process(0);  // ignores SIGTERM: no fatal signals

  EXPECT_FALSE(run.Tick(t0_ + minutes(10) - milliseconds(1)));
  EXPECT_TRUE(p.signals.empty()) << "signalled before the timeout";

  EXPECT_FALSE(run.Tick(t0_ + minutes(10)));
  EXPECT_EQ(p.signals, std::vector<int>{SIGTERM});

  EXPECT_FALSE(run.Tick(t0_ + minutes(10) + seconds(10) - milliseconds(1)));
  EXPECT_EQ(p.signals, std::vector<int>{SIGTERM}) << "SIGKILL before kill_grace passed";

  EXPECT_FALSE(run.Tick(t0_ + minutes(10) + seconds(10)));
  EXPECT_EQ(p.signals, (std::vector<int>{SIGTERM, SIGKILL}));

  p.Kill(SIGKILL);
  ASSERT_TRUE(run.Tick(t0_ + minutes(10) + seconds(11)));
  EXPECT_EQ(run.status(), JobStatus::kFailure);
  EXPECT_NE(run.message().find("timed out after 10m"), std::string::npos) << run.message();
  EXPECT_EQ(p.signals, (std::vector<int>{SIGTERM, SIGKILL})) << "signalled again after exit";
}

// Durations are capped at 100 years ("100000d" is refused by ParseDuration and so by the config
// checker). The longest accepted timeout must not overflow start time + timeout into a deadline
// in the past, which would stop the job as "timed out" on its first tick.
TEST_F(JobRunTest, TheLongestTimeoutDoesNotWrapIntoAnImmediateOne) {
  EXPECT_FALSE(ParseDuration("100000d").has_value());
  std::optional<Duration> century = ParseDuration("36500d");
  ASSERT_TRUE(century.has_value());
  job_.timeout = *century;
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  EXPECT_FALSE(run.Tick(t0_ + seconds(1)));
  EXPECT_TRUE(runner_.process(0).signals.empty()) << "stopped one second into a century timeout";
}

TEST_F(JobRunTest, AJobThatHonoursSigtermOnTimeoutIsNotKilled) {
  runner_.SetFatalSignals({SIGTERM});
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  EXPECT_FALSE(run.Tick(t0_ + minutes(10)));
  ASSERT_TRUE(run.Tick(t0_ + minutes(10) + seconds(1)));
  EXPECT_EQ(run.status(), JobStatus::kFailure);
  EXPECT_NE(run.message().find("timed out after 10m"), std::string::npos) << run.message();
  EXPECT_EQ(runner_.process(0).signals, std::vector<int>{SIGTERM});
}

TEST_F(JobRunTest, StopAbortsWithTheReason) {
  runner_.SetFatalSignals({SIGTERM});
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  run.Stop(t0_ + seconds(5), JobStatus::kAborted, "aborted on request");
  EXPECT_EQ(runner_.process(0).signals, std::vector<int>{SIGTERM});
  ASSERT_TRUE(run.Tick(t0_ + seconds(6)));
  EXPECT_EQ(run.status(), JobStatus::kAborted);
  EXPECT_EQ(run.message(), "aborted on request");
  EXPECT_EQ(run.completion_time(), t0_ + seconds(6));
}

TEST_F(JobRunTest, StopKillsAJobThatIgnoresSigtermAfterTheGrace) {
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  run.Stop(t0_ + seconds(5), JobStatus::kAborted, "aborted on request");
  EXPECT_FALSE(run.Tick(t0_ + seconds(14)));
  EXPECT_EQ(runner_.process(0).signals, std::vector<int>{SIGTERM});
  EXPECT_FALSE(run.Tick(t0_ + seconds(15)));
  EXPECT_EQ(runner_.process(0).signals, (std::vector<int>{SIGTERM, SIGKILL}));
  runner_.process(0).Kill(SIGKILL);
  ASSERT_TRUE(run.Tick(t0_ + seconds(16)));
  EXPECT_EQ(run.status(), JobStatus::kAborted);
}

TEST_F(JobRunTest, ShutdownMayStopWithAShorterKillGrace) {
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  run.Stop(t0_ + seconds(5), JobStatus::kAborted, "worker shut down", seconds(2));
  EXPECT_FALSE(run.Tick(t0_ + seconds(6)));
  EXPECT_EQ(runner_.process(0).signals, std::vector<int>{SIGTERM});
  EXPECT_FALSE(run.Tick(t0_ + seconds(7)));
  EXPECT_EQ(runner_.process(0).signals, (std::vector<int>{SIGTERM, SIGKILL}));
}

// Ticks a JobRun on the real clock until it finishes or 10 s pass.
bool TickUntilFinished(JobRun& run, TimePoint from) {
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  TimePoint now = from;
  while (!run.Tick(now)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
    now += milliseconds(10);
  }
  return true;
}

TEST_F(JobRunTest, ADescendantThatCalledSetsidDoesNotOutliveTheJob) {
  PosixProcessRunner real_runner;
  job_.command = {"sh", "-c", "setsid sh -c \"sleep 300\" & echo started"};
  ProcessExecutor executor(WorkerConfig{}, real_runner);
  JobRun run(Params(), executor, executor);
  run.Start(t0_);
  ASSERT_TRUE(TickUntilFinished(run, t0_));
  EXPECT_EQ(run.status(), JobStatus::kSuccess) << run.message();
  EXPECT_EQ(LivingTaggedProcesses(), std::vector<int>{});
  EXPECT_NE(ReadFile(LogPath()).find("process tree ends with it by the worker as child subreaper"),
            std::string::npos)
      << ReadFile(LogPath());
}

TEST_F(JobRunTest, AnAbortEndsADoubleForkedDaemonOfTheJob) {
  PosixProcessRunner real_runner;
  std::string pid_file = root_ + "/daemon.pid";
  job_.command = {"sh", "-c",
                  "(setsid sh -c 'echo $$ > " + pid_file + ".tmp; mv " + pid_file + ".tmp " +
                      pid_file + "; exec sleep 300' &); sleep 300"};
  ProcessExecutor executor(WorkerConfig{}, real_runner);
  JobRun run(Params(), executor, executor);
  run.Start(t0_);
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (!fs::exists(pid_file) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_TRUE(fs::exists(pid_file));
  int daemon = std::stoi(ReadFile(pid_file));
  run.Stop(t0_, JobStatus::kAborted, "aborted on request");
  ASSERT_TRUE(TickUntilFinished(run, t0_));
  EXPECT_EQ(run.status(), JobStatus::kAborted);
  EXPECT_TRUE(IsDead(daemon)) << "daemon " << daemon;
  EXPECT_EQ(LivingTaggedProcesses(), std::vector<int>{});
}

TEST_F(JobRunTest, AStoppedJobEndsAbortedEvenIfItExitsCleanly) {
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  run.Stop(t0_ + seconds(5), JobStatus::kAborted, "aborted on request");
  runner_.process(0).Exit(0);
  ASSERT_TRUE(run.Tick(t0_ + seconds(6)));
  EXPECT_EQ(run.status(), JobStatus::kAborted);
}

TEST_F(JobRunTest, StopAfterTheJobEndedChangesNothing) {
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  runner_.process(0).Exit(0);
  ASSERT_TRUE(run.Tick(t0_ + seconds(1)));
  run.Stop(t0_ + seconds(2), JobStatus::kAborted, "too late");
  EXPECT_EQ(run.status(), JobStatus::kSuccess);
  EXPECT_TRUE(runner_.process(0).signals.empty());
}

TEST_F(JobRunTest, KillNowAndDestructionKillTheGroupAtOnce) {
  {
    JobRun run(Params(), executor_, executor_);
    run.Start(t0_);
    run.KillNow();
    EXPECT_EQ(runner_.process(0).signals, std::vector<int>{SIGKILL});
    EXPECT_TRUE(runner_.process(0).destroyed);
  }
  {
    JobRun run(Params(), executor_, executor_);
    run.Start(t0_);
  }
  EXPECT_EQ(runner_.process(1).signals, std::vector<int>{SIGKILL});
  EXPECT_TRUE(runner_.process(1).destroyed);
}

TEST_F(JobRunTest, TheCommandGetsTheJobEnvironmentWithOverridesWinning) {
  ASSERT_EQ(setenv("SLUICE_WORKER_ONLY_SECRET", "do-not-leak", 1), 0);
  trigger_.pod_spec_options.envs = {{"RELEASE_IMAGE_LATEST", "quay.io/override:1"}};
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  unsetenv("SLUICE_WORKER_ONLY_SECRET");
  ASSERT_EQ(runner_.started(), 1u);
  const ProcessSpec& spec = runner_.process(0).spec;
  EXPECT_EQ(spec.argv, job_.command);
  EXPECT_EQ(spec.env.at("RELEASE_IMAGE_LATEST"), "quay.io/override:1");
  EXPECT_EQ(spec.env.at("KEEP"), "from-job");
  EXPECT_EQ(spec.env.at("JOB_NAME"), "periodic-echo");
  EXPECT_EQ(spec.env.at("JOB_TYPE"), "periodic");
  EXPECT_EQ(spec.env.at("BUILD_ID"), kId);
  EXPECT_EQ(spec.env.at("PROW_JOB_ID"), kId);
  EXPECT_EQ(spec.env.at("PATH"), "/opt/tools/bin:/usr/bin:/bin");
  EXPECT_EQ(spec.env.count("SLUICE_WORKER_ONLY_SECRET"), 0u) << "the worker's environment leaks";
  EXPECT_EQ(spec.working_dir, Workspace());
  EXPECT_TRUE(fs::is_directory(spec.working_dir));
  EXPECT_EQ(spec.log_path, LogPath());
  EXPECT_EQ(run.log_path(), LogPath());
  EXPECT_EQ(run.artifacts_dir(), ArtifactsPathFor(root_ + "/artifacts", "periodic-echo", kId));
}

TEST_F(JobRunTest, EachAttemptGetsAFreshWorkspaceThatIsRemovedAfterwards) {
  fs::create_directories(Workspace(2));
  std::ofstream(Workspace(2) + "/left-over-from-a-lost-worker") << "x";
  JobRun run(Params(2), executor_, executor_);
  run.Start(t0_);
  ASSERT_EQ(runner_.started(), 1u);
  EXPECT_EQ(runner_.process(0).spec.working_dir, Workspace(2));
  EXPECT_FALSE(fs::exists(Workspace(2) + "/left-over-from-a-lost-worker"));
  runner_.process(0).Exit(0);
  ASSERT_TRUE(run.Tick(t0_ + seconds(1)));
  EXPECT_FALSE(fs::exists(Workspace(2))) << "scratch space is removed";
  EXPECT_TRUE(fs::exists(LogPath())) << "the log stays";
}

TEST_F(JobRunTest, TheLogStartsWithTheAttemptHeaderAndEndsWithTheOutcome) {
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  std::string log = ReadFile(LogPath());
  EXPECT_EQ(log.substr(0, log.find('\n')),
            "[sluice] attempt 1 of periodic-echo (" + kId + ") on worker worker-1");
  EXPECT_NE(log.find("\n[sluice] the job's process tree ends with it by its process group\n"),
            std::string::npos)
      << log;
  runner_.process(0).Exit(3);
  ASSERT_TRUE(run.Tick(t0_ + seconds(1)));
  log = ReadFile(LogPath());
  EXPECT_NE(log.find("[sluice] finished: FAILURE"), std::string::npos) << log;
}

TEST_F(JobRunTest, ASecondAttemptSaysSoInTheLog) {
  JobRun run(Params(2), executor_, executor_);
  run.Start(t0_);
  std::string log = ReadFile(LogPath());
  EXPECT_TRUE(log.starts_with("[sluice] attempt 2 of periodic-echo")) << log;
}

TEST_F(JobRunTest, ACloneJobChecksOutBeforeRunningTheCommand) {
  MakeCloneJob();
  std::string src = Workspace() + "/src";
  StatusOr<std::vector<std::vector<std::string>>> checkout = CheckoutCommands(*trigger_.refs, src);
  ASSERT_TRUE(checkout.ok()) << checkout.status().ToString();
  ASSERT_GE(checkout->size(), 3u);

  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  TimePoint now = t0_;
  for (size_t i = 0; i < checkout->size(); ++i) {
    SCOPED_TRACE("checkout step " + std::to_string(i));
    ASSERT_EQ(runner_.started(), i + 1) << "steps run one at a time, in order";
    const ProcessSpec& spec = runner_.process(i).spec;
    EXPECT_EQ(spec.argv, (*checkout)[i]);
    EXPECT_EQ(spec.working_dir, src);
    EXPECT_EQ(spec.env.count("GIT_TERMINAL_PROMPT") ? spec.env.at("GIT_TERMINAL_PROMPT") : "", "0");
    EXPECT_EQ(spec.log_path, run.log_path());
    runner_.process(i).Exit(0);
    now += seconds(1);
    EXPECT_FALSE(run.Tick(now));
  }
  ASSERT_EQ(runner_.started(), checkout->size() + 1);
  const ProcessSpec& command = runner_.last().spec;
  EXPECT_EQ(command.argv, (std::vector<std::string>{"make", "images"}));
  EXPECT_EQ(command.working_dir, src);
  EXPECT_EQ(command.env.at("PULL_BASE_SHA"), kBaseSha);
  EXPECT_EQ(command.env.at("PULL_PULL_SHA"), kPullSha);
  runner_.last().Exit(0);
  ASSERT_TRUE(run.Tick(now + seconds(1)));
  EXPECT_EQ(run.status(), JobStatus::kSuccess);
}

TEST_F(JobRunTest, AFailingCheckoutStepIsErrorWithGitsMessageAndTheCommandNeverRuns) {
  MakeCloneJob();
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  ASSERT_EQ(runner_.started(), 1u);
  runner_.process(0).Exit(0);
  ASSERT_FALSE(run.Tick(t0_ + seconds(1)));
  ASSERT_EQ(runner_.started(), 2u);
  // git writes its complaint to the log, as the real process would.
  runner_.process(1).Print("fatal: couldn't find remote ref main\n");
  runner_.process(1).Exit(128);
  ASSERT_TRUE(run.Tick(t0_ + seconds(2)));
  EXPECT_EQ(run.status(), JobStatus::kError);
  EXPECT_NE(run.message().find("checkout failed"), std::string::npos) << run.message();
  EXPECT_NE(run.message().find("exit code 128"), std::string::npos) << run.message();
  EXPECT_NE(run.message().find("couldn't find remote ref main"), std::string::npos)
      << run.message();
  EXPECT_EQ(runner_.started(), 2u) << "the command ran after a failed checkout";
}

TEST_F(JobRunTest, ACheckoutThatCannotStartIsError) {
  MakeCloneJob();
  runner_.FailNextStart(InvalidArgument("cannot run \"git\": No such file or directory"));
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  ASSERT_TRUE(run.finished());
  EXPECT_EQ(run.status(), JobStatus::kError);
  EXPECT_NE(run.message().find("checkout failed"), std::string::npos) << run.message();
  EXPECT_EQ(runner_.started(), 0u);
}

TEST_F(JobRunTest, ACloneJobWithoutRefsIsErrorWithoutRunningAnything) {
  MakeCloneJob();
  trigger_.refs.reset();
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  ASSERT_TRUE(run.finished());
  EXPECT_EQ(run.status(), JobStatus::kError);
  EXPECT_NE(run.message().find("refs"), std::string::npos) << run.message();
  EXPECT_TRUE(runner_.start_attempts().empty());
}

TEST_F(JobRunTest, ATimeoutDuringCheckoutStopsTheCheckout) {
  MakeCloneJob();
  runner_.SetFatalSignals({SIGTERM});
  JobRun run(Params(), executor_, executor_);
  run.Start(t0_);
  EXPECT_FALSE(run.Tick(t0_ + minutes(10)));
  EXPECT_EQ(runner_.process(0).signals, std::vector<int>{SIGTERM});
  ASSERT_TRUE(run.Tick(t0_ + minutes(10) + seconds(1)));
  EXPECT_EQ(run.status(), JobStatus::kFailure);
  EXPECT_NE(run.message().find("timed out"), std::string::npos) << run.message();
  EXPECT_EQ(runner_.started(), 1u);
}

// A ProcessRunner whose Start waits until the test opens the gate, on whatever thread calls it.
class GatedRunner final : public ProcessRunner {
 public:
  explicit GatedRunner(FakeProcessRunner& inner) : inner_(inner) {}
  StatusOr<std::unique_ptr<Process>> Start(const ProcessSpec& spec) override {
    gate_.wait();
    std::lock_guard<std::mutex> lock(mutex_);
    thread_ = std::this_thread::get_id();
    return inner_.Start(spec);
  }
  void Open() { opener_.set_value(); }
  std::thread::id thread() {
    std::lock_guard<std::mutex> lock(mutex_);
    return thread_;
  }

 private:
  FakeProcessRunner& inner_;
  std::promise<void> opener_;
  std::shared_future<void> gate_ = opener_.get_future().share();
  std::mutex mutex_;
  std::thread::id thread_;
};

// What the worker gives a run: told on another thread when a step has started.
struct StartedSignal {
  std::promise<void> promise;
  std::future<void> future = promise.get_future();
  std::function<void()> Callback() {
    return [this] { promise.set_value(); };
  }
  bool Arrived() { return future.wait_for(seconds(10)) == std::future_status::ready; }
};

// A run whose step starts on another thread, `started` told when it has; started at `t0`.
std::unique_ptr<JobRun> StartElsewhere(JobRun::Params params, Executor& executor,
                                       StartedSignal& started, TimePoint t0) {
  static StepStarter starter(2);
  params.starter = &starter;
  params.on_started = started.Callback();
  auto run = std::make_unique<JobRun>(std::move(params), executor, executor);
  run->Start(t0);
  return run;
}

TEST_F(JobRunTest, WithOnStartedTheStepStartsOnAnotherThreadAndTheCallerIsTold) {
  GatedRunner gated(runner_);
  ProcessExecutor executor(WorkerConfig{}, gated);
  StartedSignal started;
  // Start returns while the process's start waits at the gate: the caller is never held up.
  auto owned = StartElsewhere(Params(), executor, started, t0_);
  JobRun& run = *owned;
  EXPECT_FALSE(run.finished());
  EXPECT_FALSE(run.Tick(t0_ + seconds(1))) << "starting";
  std::vector<int> fds;
  EXPECT_TRUE(run.AddWaitFds(&fds)) << "while starting, on_started stands for the descriptors";
  gated.Open();
  ASSERT_TRUE(started.Arrived()) << "on_started not called";
  EXPECT_NE(gated.thread(), std::this_thread::get_id());
  EXPECT_FALSE(run.Tick(t0_ + seconds(2))) << "running";
  ASSERT_EQ(runner_.started(), 1u);
  runner_.process(0).Exit(0);
  EXPECT_TRUE(run.Tick(t0_ + seconds(3)));
  EXPECT_EQ(run.status(), JobStatus::kSuccess);
}

TEST_F(JobRunTest, WithOnStartedACommandThatCannotStartIsErrorAtTheNextTick) {
  runner_.FailNextStart(InvalidArgument("cannot run \"sh\": No such file or directory"));
  StartedSignal started;
  auto owned = StartElsewhere(Params(), executor_, started, t0_);
  JobRun& run = *owned;
  ASSERT_TRUE(started.Arrived());
  ASSERT_TRUE(run.Tick(t0_ + seconds(1)));
  EXPECT_EQ(run.status(), JobStatus::kError);
  EXPECT_NE(run.message().find("cannot start the job's command"), std::string::npos)
      << run.message();
  EXPECT_NE(run.message().find("No such file or directory"), std::string::npos) << run.message();
}

TEST_F(JobRunTest, AStopWhileTheStepStartsReachesItOnceStarted) {
  GatedRunner gated(runner_);
  ProcessExecutor executor(WorkerConfig{}, gated);
  StartedSignal started;
  auto owned = StartElsewhere(Params(), executor, started, t0_);
  JobRun& run = *owned;
  run.Stop(t0_ + seconds(1), JobStatus::kAborted, "aborted on request");
  EXPECT_FALSE(run.finished()) << "the process is on its way: it is stopped, not forgotten";
  gated.Open();
  ASSERT_TRUE(started.Arrived());
  EXPECT_FALSE(run.Tick(t0_ + seconds(2)));
  ASSERT_EQ(runner_.started(), 1u);
  EXPECT_EQ(runner_.process(0).signals, std::vector<int>{SIGTERM});
  runner_.process(0).Kill(SIGTERM);
  ASSERT_TRUE(run.Tick(t0_ + seconds(3)));
  EXPECT_EQ(run.status(), JobStatus::kAborted);
}

TEST_F(JobRunTest, DestroyedWhileTheStepStartsItWaitsForItAndKillsIt) {
  GatedRunner gated(runner_);
  ProcessExecutor executor(WorkerConfig{}, gated);
  StartedSignal started;
  {
    auto run = StartElsewhere(Params(), executor, started, t0_);
    std::thread opener([&gated] {
      std::this_thread::sleep_for(milliseconds(50));
      gated.Open();
    });
    run->KillNow();  // waits for the start, then kills what started
    opener.join();
  }
  ASSERT_EQ(runner_.started(), 1u);
  EXPECT_EQ(runner_.process(0).signals, std::vector<int>{SIGKILL});
  EXPECT_TRUE(runner_.process(0).destroyed);
}

}  // namespace
}  // namespace sluice
