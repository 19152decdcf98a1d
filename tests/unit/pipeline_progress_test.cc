#include "common/pipeline_progress.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/unit/pipeline_fixtures.h"

namespace sluice {
namespace {

using S = PipelineJobStatus;
using Names = std::vector<std::string>;

TEST(NextPipelineStepTest, StagesRunInOrderAndAManualJobWaitsForItsPlay) {
  ProjectConfig p = IssueProject();
  PipelineStep s = NextPipelineStep(p, {});
  EXPECT_EQ(s.start, Names{"run_tests"});
  EXPECT_EQ(s.status, PipelineStatus::kPending);
  EXPECT_FALSE(s.finished);

  s = NextPipelineStep(p, {{"run_tests", S::kRunning}});
  EXPECT_TRUE(s.start.empty()) << "build waits for test";
  EXPECT_EQ(s.status, PipelineStatus::kRunning);

  s = NextPipelineStep(p, {{"run_tests", S::kSuccess}});
  EXPECT_EQ(s.start, Names{"build_package"});

  s = NextPipelineStep(p, {{"run_tests", S::kSuccess}, {"build_package", S::kSuccess}});
  EXPECT_TRUE(s.start.empty());
  EXPECT_EQ(s.manual, Names{"upload_package"});
  EXPECT_EQ(s.status, PipelineStatus::kSuccess) << "an optional manual job does not hold it";
  EXPECT_TRUE(s.finished);

  // Played: the manual job runs, then the pipeline is done again.
  s = NextPipelineStep(p, {{"run_tests", S::kSuccess},
                           {"build_package", S::kSuccess},
                           {"upload_package", S::kRunning}});
  EXPECT_EQ(s.status, PipelineStatus::kRunning);
  s = NextPipelineStep(p, {{"run_tests", S::kSuccess},
                           {"build_package", S::kSuccess},
                           {"upload_package", S::kSuccess}});
  EXPECT_EQ(s.status, PipelineStatus::kSuccess);
  EXPECT_TRUE(s.start.empty() && s.manual.empty() && s.skip.empty());
}

TEST(NextPipelineStepTest, JobsOfOneStageStartTogether) {
  ProjectConfig p;
  p.stages = {"test", "deploy"};
  p.jobs = {Job("unit", "test"), Job("lint", "test"), Job("ship", "deploy")};
  EXPECT_EQ(NextPipelineStep(p, {}).start, (Names{"unit", "lint"}));
  PipelineStep s = NextPipelineStep(p, {{"unit", S::kSuccess}, {"lint", S::kRunning}});
  EXPECT_TRUE(s.start.empty()) << "deploy waits for every job of test";
  EXPECT_EQ(NextPipelineStep(p, {{"unit", S::kSuccess}, {"lint", S::kSuccess}}).start,
            Names{"ship"});
}

TEST(NextPipelineStepTest, AFailureSkipsWhatFollowsButAlwaysJobsRun) {
  ProjectConfig p;
  p.stages = {"test", "build", "cleanup"};
  p.jobs = {Job("run_tests", "test"), Job("build_package", "build"),
            Job("upload", "build", JobWhen::kManual), Job("tidy", "cleanup", JobWhen::kAlways)};
  PipelineStep s = NextPipelineStep(p, {{"run_tests", S::kFailed}});
  EXPECT_EQ(s.skip, (Names{"build_package", "upload"}));
  EXPECT_EQ(s.start, Names{"tidy"});
  EXPECT_EQ(s.status, PipelineStatus::kPending);
  s = NextPipelineStep(p, {{"run_tests", S::kFailed},
                           {"build_package", S::kSkipped},
                           {"upload", S::kSkipped},
                           {"tidy", S::kSuccess}});
  EXPECT_EQ(s.status, PipelineStatus::kFailed);
  EXPECT_TRUE(s.finished);
}

TEST(NextPipelineStepTest, AnAllowedFailureCountsAsPassed) {
  ProjectConfig p;
  p.stages = {"test", "build"};
  p.jobs = {Job("flaky", "test", JobWhen::kOnSuccess, true), Job("build", "build")};
  PipelineStep s = NextPipelineStep(p, {{"flaky", S::kFailed}});
  EXPECT_EQ(s.start, Names{"build"});
  s = NextPipelineStep(p, {{"flaky", S::kFailed}, {"build", S::kSuccess}});
  EXPECT_EQ(s.status, PipelineStatus::kSuccess);
}

TEST(NextPipelineStepTest, ARequiredManualJobHoldsLaterStagesAndThePipelineShowsManual) {
  ProjectConfig p;
  p.stages = {"approve", "deploy"};
  p.jobs = {Job("approval", "approve", JobWhen::kManual, false), Job("deploy", "deploy")};
  PipelineStep s = NextPipelineStep(p, {});
  EXPECT_EQ(s.manual, Names{"approval"});
  EXPECT_TRUE(s.start.empty());
  EXPECT_EQ(s.status, PipelineStatus::kManual);
  EXPECT_TRUE(s.finished) << "nothing moves until someone plays it";
  s = NextPipelineStep(p, {{"approval", S::kSuccess}});
  EXPECT_EQ(s.start, Names{"deploy"});
}

TEST(NextPipelineStepTest, ACanceledJobStopsThePipeline) {
  ProjectConfig p = IssueProject();
  PipelineStep s = NextPipelineStep(p, {{"run_tests", S::kCanceled}});
  EXPECT_TRUE(s.start.empty() && s.manual.empty());
  EXPECT_EQ(s.status, PipelineStatus::kCanceled);
  EXPECT_TRUE(s.finished);
}

TEST(NextPipelineStepTest, AJobAlreadyUnderWayIsNotStartedAgain) {
  // A restarted owner recomputes the step from the jobs' states: what runs keeps running.
  ProjectConfig p = IssueProject();
  PipelineStep s = NextPipelineStep(p, {{"run_tests", S::kPending}});
  EXPECT_TRUE(s.start.empty());
  EXPECT_EQ(s.status, PipelineStatus::kPending);
}

TEST(PipelineStatusNamesTest, AreGitLabs) {
  EXPECT_STREQ(PipelineStatusName(PipelineStatus::kManual), "manual");
  EXPECT_STREQ(PipelineStatusName(PipelineStatus::kCanceled), "canceled");
  EXPECT_STREQ(PipelineJobStatusName(PipelineJobStatus::kSkipped), "skipped");
  EXPECT_STREQ(PipelineJobStatusName(PipelineJobStatus::kCreated), "created");
}

}  // namespace
}  // namespace sluice
