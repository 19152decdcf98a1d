#include "worker/workspace_janitor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fakes.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr Duration kRetention = hours(7 * 24);

void WriteFile(const std::string& path, const std::string& text = "x") {
  std::ofstream out(path);
  out << text;
}

// Sets a path's modification time without following a symlink.
void SetTime(const std::string& path, TimePoint t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = ns / 1000000000;
  times[0].tv_nsec = times[1].tv_nsec = ns % 1000000000;
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

bool Exists(const std::string& path) { return fs::exists(fs::symlink_status(path)); }

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-janitor-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // Something outside the roots that a symlink may point at.
    outside_ = dir_ + "/outside";
    fs::create_directories(outside_ + "/precious");
    WriteFile(outside_ + "/precious/file.txt", "keep me");
    WriteFile(outside_ + "/" + std::string(kLogName()), "an outside log");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static const char* kLogName() { return "build-log.txt"; }
  bool OutsideIntact() const {
    std::ifstream in(outside_ + "/precious/file.txt");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text == "keep me";
  }

  std::string dir_;
  std::string outside_;
};

// --- Workspaces ---

class WorkspaceJanitorTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    root_ = dir_ + "/work";
    fs::create_directories(root_);
  }
  // A finished run's workspace with a little content, as a job leaves it.
  std::string MakeWorkspace(const std::string& name) {
    std::string path = root_ + "/" + name;
    fs::create_directories(path + "/src/sub");
    WriteFile(path + "/src/sub/out.o");
    return path;
  }
  bool Has(const std::string& name) const { return Exists(root_ + "/" + name); }

  std::string root_;
};

TEST(KeepsWorkspaceTest, OnlyFailureAndErrorAreKeptAndOnlyWhenKeepingAny) {
  struct Case {
    JobStatus status;
    int keep;
    bool kept;
  };
  const Case cases[] = {
      {JobStatus::kSuccess, 3, false},  {JobStatus::kFailure, 3, true},
      {JobStatus::kError, 3, true},     {JobStatus::kAborted, 3, false},
      {JobStatus::kFailure, 0, false},  {JobStatus::kError, 0, false},
      {JobStatus::kFailure, -1, false}, {JobStatus::kPending, 3, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(KeepsWorkspace(c.status, c.keep), c.kept)
        << JobStatusName(c.status) << " keep=" << c.keep;
  }
}

TEST_F(WorkspaceJanitorTest, SuccessfulRunsWorkspaceIsRemoved) {
  WorkspaceJanitor janitor(root_, 2);
  MakeWorkspace("a-1");
  ASSERT_TRUE(janitor.RunEnded("a-1", JobStatus::kSuccess, TestEpoch()).ok());
  EXPECT_FALSE(Has("a-1"));
  EXPECT_TRUE(janitor.Kept().empty());
}

TEST_F(WorkspaceJanitorTest, AbortedRunsWorkspaceIsRemoved) {
  WorkspaceJanitor janitor(root_, 2);
  MakeWorkspace("a-1");
  ASSERT_TRUE(janitor.RunEnded("a-1", JobStatus::kAborted, TestEpoch()).ok());
  EXPECT_FALSE(Has("a-1"));
}

TEST_F(WorkspaceJanitorTest, FailedAndErroredRunsWorkspacesAreKept) {
  WorkspaceJanitor janitor(root_, 2);
  MakeWorkspace("a-1");
  MakeWorkspace("b-1");
  ASSERT_TRUE(janitor.RunEnded("a-1", JobStatus::kFailure, TestEpoch()).ok());
  ASSERT_TRUE(janitor.RunEnded("b-1", JobStatus::kError, TestEpoch() + seconds(1)).ok());
  EXPECT_TRUE(Exists(root_ + "/a-1/src/sub/out.o"));
  EXPECT_TRUE(Exists(root_ + "/b-1/src/sub/out.o"));
  EXPECT_EQ(janitor.Kept(), (std::vector<std::string>{"b-1", "a-1"}));
}

TEST_F(WorkspaceJanitorTest, FailedRunsWorkspaceIsRemovedWhenKeepingNone) {
  WorkspaceJanitor janitor(root_, 0);
  MakeWorkspace("a-1");
  ASSERT_TRUE(janitor.RunEnded("a-1", JobStatus::kFailure, TestEpoch()).ok());
  EXPECT_FALSE(Has("a-1"));
  EXPECT_FALSE(Has(WorkspaceJanitor::kRecordDir));
}

TEST_F(WorkspaceJanitorTest, OnlyTheNewestNKeptWorkspacesRemain) {
  WorkspaceJanitor janitor(root_, 2);
  // Reported out of order: "newest" is the time the run ended, not the order of the calls.
  const std::pair<std::string, int> runs[] = {{"c-1", 30}, {"a-1", 10}, {"d-1", 40}, {"b-1", 20}};
  for (const auto& [name, minute] : runs) {
    MakeWorkspace(name);
    ASSERT_TRUE(janitor.RunEnded(name, JobStatus::kFailure, TestEpoch() + minutes(minute)).ok());
  }
  EXPECT_TRUE(Has("d-1"));
  EXPECT_TRUE(Has("c-1"));
  EXPECT_FALSE(Has("b-1"));
  EXPECT_FALSE(Has("a-1"));
  EXPECT_EQ(janitor.Kept(), (std::vector<std::string>{"d-1", "c-1"}));
}

TEST_F(WorkspaceJanitorTest, RunningJobsWorkspacesAreNeverTouched) {
  // Workspaces of runs that have not ended: the janitor was never told about them.
  std::string running = MakeWorkspace("running-1");
  MakeWorkspace("running-2");
  SetTime(running, TestEpoch() - hours(24 * 365));
  WorkspaceJanitor janitor(root_, 1);
  for (int i = 0; i < 4; ++i) {
    std::string name = "failed-" + std::to_string(i);
    MakeWorkspace(name);
    ASSERT_TRUE(janitor.RunEnded(name, JobStatus::kFailure, TestEpoch() + minutes(i)).ok());
  }
  ASSERT_TRUE(WorkspaceJanitor(root_, 0).Prune().ok());
  EXPECT_TRUE(Exists(root_ + "/running-1/src/sub/out.o"));
  EXPECT_TRUE(Exists(root_ + "/running-2/src/sub/out.o"));
  EXPECT_FALSE(Has("failed-3"));
}

TEST_F(WorkspaceJanitorTest, ARestartedJanitorKeepsTheRule) {
  {
    WorkspaceJanitor before(root_, 3);
    for (int i = 0; i < 3; ++i) {
      std::string name = "w-" + std::to_string(i);
      MakeWorkspace(name);
      ASSERT_TRUE(before.RunEnded(name, JobStatus::kError, TestEpoch() + minutes(i)).ok());
    }
  }
  // The worker restarts with a smaller limit: the start-up prune applies it to what was kept.
  WorkspaceJanitor after(root_, 2);
  ASSERT_TRUE(after.Prune().ok());
  EXPECT_EQ(after.Kept(), (std::vector<std::string>{"w-2", "w-1"}));
  EXPECT_FALSE(Has("w-0"));
  // And the next failure pushes out the oldest of those kept before the restart.
  MakeWorkspace("w-3");
  ASSERT_TRUE(after.RunEnded("w-3", JobStatus::kFailure, TestEpoch() + minutes(3)).ok());
  EXPECT_EQ(after.Kept(), (std::vector<std::string>{"w-3", "w-2"}));
  EXPECT_FALSE(Has("w-1"));
}

TEST_F(WorkspaceJanitorTest, AKeptWorkspaceRemovedByHandNoLongerCounts) {
  WorkspaceJanitor janitor(root_, 2);
  for (int i = 0; i < 2; ++i) {
    std::string name = "w-" + std::to_string(i);
    MakeWorkspace(name);
    ASSERT_TRUE(janitor.RunEnded(name, JobStatus::kFailure, TestEpoch() + minutes(i)).ok());
  }
  fs::remove_all(root_ + "/w-1");  // an operator looked at it and cleaned up
  MakeWorkspace("w-2");
  ASSERT_TRUE(janitor.RunEnded("w-2", JobStatus::kFailure, TestEpoch() + minutes(2)).ok());
  EXPECT_TRUE(Has("w-0"));
  EXPECT_TRUE(Has("w-2"));
  EXPECT_EQ(janitor.Kept(), (std::vector<std::string>{"w-2", "w-0"}));
  EXPECT_FALSE(Exists(root_ + "/" + WorkspaceJanitor::kRecordDir + "/w-1"));
}

TEST_F(WorkspaceJanitorTest, ANameThatIsNotOneWorkspaceIsRefused) {
  MakeWorkspace("a-1");
  WorkspaceJanitor janitor(root_, 1);
  for (const std::string& name : {std::string(""), std::string(".."), std::string("../outside"),
                                  std::string("a-1/src"), std::string(".sluice-kept-failed")}) {
    EXPECT_EQ(janitor.RunEnded(name, JobStatus::kSuccess, TestEpoch()).code(),
              Code::kInvalidArgument)
        << name;
  }
  EXPECT_TRUE(Exists(root_ + "/a-1/src/sub/out.o"));
  EXPECT_TRUE(OutsideIntact());
}

TEST_F(WorkspaceJanitorTest, RemovingAWorkspaceNeverFollowsItsSymlinks) {
  std::string ws = MakeWorkspace("a-1");
  fs::create_directory_symlink(outside_, ws + "/link-to-dir");
  fs::create_directory_symlink(outside_ + "/precious", ws + "/src/sub/deeper-link");
  fs::create_symlink(outside_ + "/precious/file.txt", ws + "/link-to-file");
  // A workspace replaced by a symlink to elsewhere: the link goes, not what it names.
  fs::create_directory_symlink(outside_, root_ + "/b-1");
  WorkspaceJanitor janitor(root_, 0);
  ASSERT_TRUE(janitor.RunEnded("a-1", JobStatus::kSuccess, TestEpoch()).ok());
  ASSERT_TRUE(janitor.RunEnded("b-1", JobStatus::kSuccess, TestEpoch()).ok());
  EXPECT_FALSE(Has("a-1"));
  EXPECT_FALSE(Has("b-1"));
  EXPECT_TRUE(OutsideIntact());
}

// A job can nest directories far deeper than the descriptors a worker may hold: the removal
// holds at most 48 and moves the deeper part up, so it works under a limit of 100 descriptors.
TEST_F(WorkspaceJanitorTest, AWorkspaceNestedDeeperThanTheDescriptorLimitIsRemoved) {
  std::string ws = MakeWorkspace("a-1");
  int fd = ::open(ws.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  for (int depth = 0; depth < 300; ++depth) {
    ASSERT_EQ(::mkdirat(fd, "d", 0700), 0);
    int next = ::openat(fd, "d", O_RDONLY | O_DIRECTORY);
    ::close(fd);
    ASSERT_GE(next, 0);
    fd = next;
    if (depth % 50 == 0) ::close(::openat(fd, "f", O_WRONLY | O_CREAT, 0600));
  }
  ::close(fd);
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  struct rlimit low = saved;
  low.rlim_cur = 100;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  Status removed = RemoveEntryBelow(root_, "a-1");
  ::setrlimit(RLIMIT_NOFILE, &saved);
  EXPECT_TRUE(removed.ok()) << removed.ToString();
  EXPECT_FALSE(Has("a-1"));
}

// Run as an unprivileged user (root ignores modes): a job's `chmod 000` and `chmod 500` on its
// own directories do not stop the removal.
TEST_F(WorkspaceJanitorTest, DirectoriesTheJobLockedAreRemoved) {
  const uid_t kNobody = 65534;
  if (::geteuid() == 0) {
    ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
    ASSERT_EQ(::chown(root_.c_str(), kNobody, kNobody), 0);
  }
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::geteuid() == 0 && (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)) ::_exit(2);
    std::string ws = root_ + "/a-1";
    std::error_code ec;
    fs::create_directories(ws + "/locked/inner/deeper", ec);
    WriteFile(ws + "/locked/inner/deeper/f");
    WriteFile(ws + "/locked/inner/f");
    if (ec || ::chmod((ws + "/locked/inner").c_str(), 0) != 0 ||
        ::chmod((ws + "/locked").c_str(), 0500) != 0) {
      ::_exit(3);
    }
    ::_exit(RemoveEntryBelow(root_, "a-1").ok() ? 0 : 1);
  }
  int wait_status = 0;
  ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFEXITED(wait_status));
  EXPECT_EQ(WEXITSTATUS(wait_status), 0);
  EXPECT_FALSE(Has("a-1"));
}

// --- Artifacts ---

class SweepArtifactsTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    root_ = dir_ + "/artifacts";
    fs::create_directories(root_);
    now_ = TestEpoch();
    // What a symlink may lead to is recent: following one would keep an expired execution.
    SetTime(outside_ + "/build-log.txt", now_ - minutes(1));
  }
  // An execution's artifacts whose directory and log were last written at `written`.
  std::string MakeExecution(const std::string& job, const std::string& id, TimePoint written) {
    std::string path = root_ + "/" + job + "/" + id;
    fs::create_directories(path + "/junit");
    WriteFile(path + "/junit/report.xml");
    WriteFile(path + "/build-log.txt", "log");
    SetTime(path + "/build-log.txt", written);
    SetTime(path, written);
    return path;
  }
  ArtifactsSweepReport Sweep(const std::unordered_set<std::string>& running = {}) {
    StatusOr<ArtifactsSweepReport> report = SweepArtifacts(root_, kRetention, now_, running);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : ArtifactsSweepReport{};
  }
  bool Has(const std::string& relative) const { return Exists(root_ + "/" + relative); }

  std::string root_;
  TimePoint now_;
};

TEST_F(SweepArtifactsTest, ExpiredExecutionsAreRemovedAndRecentOnesStay) {
  MakeExecution("build", "old", now_ - kRetention - hours(1));
  MakeExecution("build", "recent", now_ - hours(1));
  ArtifactsSweepReport report = Sweep();
  EXPECT_FALSE(Has("build/old"));
  EXPECT_TRUE(Has("build/recent/build-log.txt"));
  EXPECT_EQ(report.executions_seen, 2);
  EXPECT_EQ(report.executions_removed, 1);
  EXPECT_EQ(report.failures, 0);
}

TEST_F(SweepArtifactsTest, RetentionIsCountedFromTheLastWrite) {
  MakeExecution("build", "at-retention", now_ - kRetention);
  MakeExecution("build", "just-past", now_ - kRetention - seconds(1));
  Sweep();
  EXPECT_TRUE(Has("build/at-retention"));
  EXPECT_FALSE(Has("build/just-past"));
}

TEST_F(SweepArtifactsTest, ARecentLogKeepsAnOldDirectory) {
  std::string path = MakeExecution("build", "log-recent", now_ - kRetention - hours(5));
  SetTime(path + "/build-log.txt", now_ - minutes(1));
  std::string other = MakeExecution("build", "dir-recent", now_ - kRetention - hours(5));
  SetTime(other, now_ - minutes(1));
  Sweep();
  EXPECT_TRUE(Has("build/log-recent"));
  EXPECT_TRUE(Has("build/dir-recent"));
}

TEST_F(SweepArtifactsTest, RunningExecutionsAreNeverRemoved) {
  MakeExecution("build", "running", now_ - kRetention - hours(100));
  MakeExecution("build", "ended", now_ - kRetention - hours(100));
  Sweep({"running"});
  EXPECT_TRUE(Has("build/running/build-log.txt"));
  EXPECT_FALSE(Has("build/ended"));
}

TEST_F(SweepArtifactsTest, EmptyJobDirectoriesAreRemoved) {
  MakeExecution("gone", "old", now_ - kRetention - hours(1));
  fs::create_directories(root_ + "/empty-before");
  MakeExecution("stays", "old", now_ - kRetention - hours(1));
  MakeExecution("stays", "recent", now_ - hours(1));
  ArtifactsSweepReport report = Sweep();
  EXPECT_FALSE(Has("gone"));
  EXPECT_FALSE(Has("empty-before"));
  EXPECT_TRUE(Has("stays/recent"));
  EXPECT_EQ(report.job_dirs_removed, 2);
}

TEST_F(SweepArtifactsTest, SymlinksPlantedByAJobAreRemovedNotFollowed) {
  std::string path = MakeExecution("build", "old", now_ - kRetention - hours(1));
  fs::create_directory_symlink(outside_, path + "/junit/to-outside-dir");
  fs::create_symlink(outside_ + "/precious/file.txt", path + "/to-outside-file");
  SetTime(path, now_ - kRetention - hours(1));
  Sweep();
  EXPECT_FALSE(Has("build/old"));
  EXPECT_TRUE(OutsideIntact());
}

TEST_F(SweepArtifactsTest, AnExecutionReplacedByASymlinkLosesTheLinkOnly) {
  fs::create_directories(root_ + "/build");
  // The outside directory looks like an expired execution, and is recent through a symlink's
  // eyes: neither may count.
  SetTime(outside_, now_ - kRetention - hours(1));
  fs::create_directory_symlink(outside_, root_ + "/build/old-link");
  SetTime(root_ + "/build/old-link", now_ - kRetention - hours(1));
  fs::create_directory_symlink(outside_, root_ + "/build/recent-link");
  SetTime(root_ + "/build/recent-link", now_ - hours(1));
  Sweep();
  EXPECT_FALSE(Has("build/old-link"));
  EXPECT_TRUE(Has("build/recent-link"));
  EXPECT_TRUE(OutsideIntact());
  EXPECT_TRUE(Exists(outside_ + "/build-log.txt"));
}

TEST_F(SweepArtifactsTest, ALogSymlinkedToARecentFileDoesNotKeepAnExecution) {
  std::string path = root_ + "/build/old";
  fs::create_directories(path);
  fs::create_symlink(outside_ + "/build-log.txt", path + "/build-log.txt");  // written just now
  SetTime(path + "/build-log.txt", now_ - kRetention - hours(1));
  SetTime(path, now_ - kRetention - hours(1));
  Sweep();
  EXPECT_FALSE(Has("build/old"));
  EXPECT_TRUE(Exists(outside_ + "/build-log.txt"));
}

TEST_F(SweepArtifactsTest, ASymlinkAtTheRootIsNeitherFollowedNorRemoved) {
  fs::create_directories(outside_ + "/old-execution");
  SetTime(outside_ + "/old-execution", now_ - kRetention - hours(1));
  fs::create_directory_symlink(outside_, root_ + "/job-link");
  Sweep();
  EXPECT_TRUE(Exists(outside_ + "/old-execution"));
  EXPECT_TRUE(Has("job-link"));
  EXPECT_TRUE(OutsideIntact());
}

TEST_F(SweepArtifactsTest, AFarFutureDirectoryTimeDoesNotKeepAnExpiredLog) {
  std::string forged = MakeExecution("build", "forged", now_ - kRetention - hours(1));
  SetTime(forged, now_ + hours(24 * 365 * 70));  // a job's `touch -d 2099 $ARTIFACTS`
  Sweep();
  EXPECT_FALSE(Has("build/forged"));
}

TEST_F(SweepArtifactsTest, AWorkerWhoseClockIsBehindRemovesNothingRecent) {
  // Written "now" by workers with right clocks; this worker's clock says three days earlier.
  MakeExecution("build", "recent", now_ + hours(72));
  MakeExecution("build", "skewed-a-little", now_ + minutes(5));
  Sweep();
  EXPECT_TRUE(Has("build/recent/build-log.txt"));
  EXPECT_TRUE(Has("build/skewed-a-little/build-log.txt"));
}

TEST_F(SweepArtifactsTest, AMissingRootIsNothingToSweep) {
  StatusOr<ArtifactsSweepReport> report =
      SweepArtifacts(dir_ + "/no-such-dir", kRetention, now_, {});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->executions_seen, 0);
}

TEST(SweepScheduleTest, DueAtStartThenOncePerInterval) {
  SweepSchedule schedule(minutes(10));
  TimePoint t = TestEpoch();
  EXPECT_TRUE(schedule.Due(t));
  schedule.Ran(t);
  EXPECT_FALSE(schedule.Due(t + minutes(9)));
  EXPECT_TRUE(schedule.Due(t + minutes(10)));
  schedule.Ran(t + minutes(12));
  EXPECT_FALSE(schedule.Due(t + minutes(21)));
  EXPECT_TRUE(schedule.Due(t + minutes(22)));
}

}  // namespace
}  // namespace sluice
