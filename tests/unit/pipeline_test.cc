#include "common/pipeline.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/json_codec.h"
#include "tests/unit/fakes.h"
#include "tests/unit/pipeline_fixtures.h"
#include "worker/pipeline_owner.h"

namespace sluice {
namespace {

using S = PipelineJobStatus;
using Vars = std::map<std::string, std::string>;
using Ids = std::vector<int64_t>;

// Millisecond precision: what RFC 3339 records keep.
TimePoint At(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }
const TimePoint kCreated = At(1'795'428'000'123);
const TimePoint kLater = At(1'795'428'060'456);
const TimePoint kNow = At(1'795'428'120'789);

// Where the start command of the pipelines below sits in the requests topic.
constexpr RecordPosition kStartedAt{3, 41};

// A pipeline as its start command creates it: one first run of each job of the project.
Pipeline NewPipeline(const ProjectConfig& project) {
  Pipeline p;
  p.id = PipelineIdAt(kStartedAt, 0);
  p.iid = p.id;
  p.project_id = project.id;
  p.ref = "main";
  p.user = "ci-bot";
  p.created_at = kCreated;
  p.updated_at = kCreated;
  p.command_key = "pipeline-key";
  p.applied_offset = kStartedAt.offset;
  for (const PipelineJobConfig& job : project.jobs) {
    PipelineJobRun run;
    run.id = NewJobIdAt(project, kStartedAt, job.name);
    run.name = job.name;
    run.created_at = kCreated;
    p.jobs.push_back(run);
  }
  return p;
}

// The id of the last run of `name`.
int64_t IdOf(const Pipeline& p, const std::string& name) {
  int64_t id = 0;
  for (const PipelineJobRun& run : p.jobs) {
    if (run.name == name) id = run.id;
  }
  return id;
}

int RunsOf(const Pipeline& p, const std::string& name) {
  int n = 0;
  for (const PipelineJobRun& run : p.jobs) n += run.name == name;
  return n;
}

PipelineJobRun* RunOf(Pipeline& p, const std::string& name) {
  PipelineJobRun* last = nullptr;
  for (PipelineJobRun& run : p.jobs) {
    if (run.name == name) last = &run;
  }
  return last;
}

// The results topic as the status view has it: executions by id.
class Executions {
 public:
  void Set(int64_t job_id, JobStatus status) {
    Execution e;
    e.id = std::to_string(job_id);
    e.job_status = status;
    by_id_[e.id] = e;
  }
  ExecutionLookup Lookup() const {
    return [this](const std::string& id) -> std::optional<Execution> {
      auto it = by_id_.find(id);
      if (it == by_id_.end()) return std::nullopt;
      return it->second;
    };
  }

 private:
  std::map<std::string, Execution> by_id_;
};

// The status of the current run of `name`; fails the test when there is none.
PipelineJobStatus StatusOf(const PipelineState& state, const std::string& name) {
  const PipelineJobState* found = nullptr;
  for (const PipelineJobState& job : state.jobs) {
    if (job.run.name == name && job.current) {
      EXPECT_EQ(found, nullptr) << "two current runs of " << name;
      found = &job;
    }
  }
  EXPECT_NE(found, nullptr) << "no current run of " << name;
  return found ? found->status : S::kCreated;
}

// --- Codecs ---

Pipeline EveryFieldSet() {
  Pipeline p;
  p.id = 1234567;
  p.iid = 1234567;
  p.project_id = 9;
  p.ref = "v1.2.3";
  p.tag = true;
  p.sha = "0123456789abcdef0123456789abcdef01234567";
  p.source = "pipeline";
  p.user = "release-bot";
  p.created_at = kCreated;
  p.updated_at = kLater;
  p.variables = {{"DEPLOY", "prod"}, {"EMPTY", ""}};
  p.payload = R"({"ref":"v1.2.3","variables":{"DEPLOY":"prod"}})";
  p.fingerprint = "fp-1";
  p.idempotency = "ab12cd34";
  p.command_key = "group/project#1234567";
  PipelineJobRun first;
  first.id = 1234568;
  first.name = "run_tests";
  first.created_at = kCreated;
  PipelineJobRun retried;
  retried.id = 99887766;
  retried.name = "run_tests";
  retried.variables = {{"RETRY", "1"}};
  retried.start = true;
  retried.canceled = true;
  retried.user = "alice";
  retried.created_at = kLater;
  p.jobs = {first, retried};
  p.canceled = true;
  p.applied_offset = 77;
  return p;
}

TEST(PipelineCodecTest, RoundTripsEveryField) {
  Pipeline p = EveryFieldSet();
  auto decoded = DecodePipeline(EncodePipeline(p));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(*decoded, p);
  // Field by field too, so that a failure names what was lost.
  ASSERT_EQ(decoded->jobs.size(), 2u);
  EXPECT_EQ(decoded->jobs[1].variables, (Vars{{"RETRY", "1"}}));
  EXPECT_TRUE(decoded->jobs[1].start);
  EXPECT_TRUE(decoded->jobs[1].canceled);
  EXPECT_EQ(decoded->jobs[1].user, "alice");
  EXPECT_EQ(decoded->jobs[1].created_at, kLater);
  EXPECT_TRUE(decoded->canceled);
  EXPECT_EQ(decoded->applied_offset, 77);
  EXPECT_EQ(decoded->idempotency, "ab12cd34");
  EXPECT_EQ(decoded->command_key, "group/project#1234567");
  EXPECT_EQ(decoded->payload, p.payload);
  EXPECT_TRUE(decoded->tag);
}

TEST(PipelineCodecTest, RoundTripsAFreshPipelineWithItsDefaults) {
  Pipeline p = NewPipeline(IssueProject());
  p.applied_offset = -1;
  auto decoded = DecodePipeline(EncodePipeline(p));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(*decoded, p);
  EXPECT_EQ(decoded->applied_offset, -1);
  EXPECT_FALSE(decoded->canceled);
  EXPECT_FALSE(decoded->tag);
}

std::string WithoutMember(const std::string& json, const char* member) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  EXPECT_TRUE(doc.IsObject());
  EXPECT_TRUE(doc.RemoveMember(member)) << member;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  doc.Accept(w);
  return buf.GetString();
}

TEST(PipelineCodecTest, RejectsARecordLackingItsIdProjectOrCreationTime) {
  std::string json = EncodePipeline(EveryFieldSet());
  ASSERT_TRUE(DecodePipeline(json).ok()) << "the complete record is readable";
  for (const char* member : {"id", "project_id", "created_at"}) {
    EXPECT_FALSE(DecodePipeline(WithoutMember(json, member)).ok()) << "without " << member;
  }
  Pipeline zero_id = EveryFieldSet();
  zero_id.id = 0;
  EXPECT_FALSE(DecodePipeline(EncodePipeline(zero_id)).ok()) << "id 0";
  Pipeline zero_project = EveryFieldSet();
  zero_project.project_id = 0;
  EXPECT_FALSE(DecodePipeline(EncodePipeline(zero_project)).ok()) << "project_id 0";
}

TEST(PipelineCodecTest, RejectsWhatIsNotAJsonObject) {
  for (const char* text : {"", "not json", "{\"id\": 1,", "[1, 2]", "\"pipeline\"", "42"}) {
    EXPECT_FALSE(DecodePipeline(text).ok()) << text;
  }
}

constexpr PipelineCommandKind kAllKinds[] = {
    PipelineCommandKind::kStart,     PipelineCommandKind::kPlay,   PipelineCommandKind::kRetryJob,
    PipelineCommandKind::kCancelJob, PipelineCommandKind::kCancel, PipelineCommandKind::kRetry,
};

TEST(PipelineCommandCodecTest, RoundTripsEachKindAndKeepsVariablesOptional) {
  const std::optional<Vars> variable_cases[] = {std::nullopt, Vars{}, Vars{{"K", "v"}, {"E", ""}}};
  for (PipelineCommandKind kind : kAllKinds) {
    for (const std::optional<Vars>& variables : variable_cases) {
      PipelineCommand c;
      c.kind = kind;
      c.pipeline_id = kind == PipelineCommandKind::kStart ? 0 : 4242;
      c.job_id = kind == PipelineCommandKind::kStart ? 0 : 4243;
      c.variables = variables;
      c.user = "alice";
      c.time = kLater;
      std::string json = EncodePipelineCommand(c);
      std::string what = std::string(PipelineCommandKindName(kind)) + " with " +
                         (variables ? std::to_string(variables->size()) + " variables" : "none");
      EXPECT_TRUE(IsPipelineCommandRecord(json)) << what;
      auto decoded = DecodePipelineCommand(json);
      ASSERT_TRUE(decoded.ok()) << what << ": " << decoded.status().message();
      EXPECT_EQ(decoded->kind, kind) << what;
      EXPECT_EQ(decoded->pipeline_id, c.pipeline_id) << what;
      EXPECT_EQ(decoded->job_id, c.job_id) << what;
      EXPECT_EQ(decoded->variables, variables) << what;
      EXPECT_EQ(decoded->user, "alice") << what;
      EXPECT_EQ(decoded->time, kLater) << what;
    }
  }
}

TEST(PipelineCommandCodecTest, KindsHaveDistinctNames) {
  std::set<std::string> names;
  for (PipelineCommandKind kind : kAllKinds) names.insert(PipelineCommandKindName(kind));
  EXPECT_EQ(names.size(), std::size(kAllKinds));
  EXPECT_STREQ(PipelineCommandKindName(PipelineCommandKind::kRetryJob), "retry_job");
}

TEST(PipelineCommandCodecTest, RejectsAnUnknownKind) {
  EXPECT_TRUE(
      DecodePipelineCommand(R"({"pipeline_command":{"kind":"cancel","pipeline_id":5}})").ok())
      << "the same command with a known kind is readable";
  EXPECT_FALSE(
      DecodePipelineCommand(R"({"pipeline_command":{"kind":"explode","pipeline_id":5}})").ok());
  EXPECT_FALSE(DecodePipelineCommand(R"({"pipeline_command":{"pipeline_id":5}})").ok());
}

TEST(PipelineCommandCodecTest, OnlyAStartCommandMayLackAPipelineId) {
  PipelineCommand c;
  c.pipeline_id = 0;
  for (PipelineCommandKind kind : kAllKinds) {
    c.kind = kind;
    auto decoded = DecodePipelineCommand(EncodePipelineCommand(c));
    EXPECT_EQ(decoded.ok(), kind == PipelineCommandKind::kStart) << PipelineCommandKindName(kind);
  }
}

TEST(PipelineCommandCodecTest, RejectsWhatIsNotACommand) {
  for (const char* text : {"", "nope", "[]", "42", "\"s\"", R"({"id":"x","job_name":"j"})",
                           R"({"pipeline_command":"start"})"}) {
    EXPECT_FALSE(DecodePipelineCommand(text).ok()) << text;
  }
}

TEST(IsPipelineCommandRecordTest, TellsATriggerFromACommand) {
  Trigger t;
  t.id = "x";
  t.job_name = "j";
  t.job_type = JobType::kPeriodic;
  t.create_time = kCreated;
  t.client = "alice";
  EXPECT_FALSE(IsPipelineCommandRecord(EncodeTrigger(t)));

  // A trigger that mentions the command member among its own strings is still a trigger.
  t.pod_spec_options.envs = {{"pipeline_command", "start"}};
  t.client = "pipeline_command";
  EXPECT_FALSE(IsPipelineCommandRecord(EncodeTrigger(t)));

  PipelineCommand c;
  c.kind = PipelineCommandKind::kCancel;
  c.pipeline_id = 7;
  EXPECT_TRUE(IsPipelineCommandRecord(EncodePipelineCommand(c)));

  // A command whose variables or user mention a trigger's member names is still a command.
  c.kind = PipelineCommandKind::kPlay;
  c.variables = std::map<std::string, std::string>{{"job_name", "x"}, {"id", "y"}};
  c.user = "job_name";
  EXPECT_TRUE(IsPipelineCommandRecord(EncodePipelineCommand(c)));
}

// --- Ids ---

TEST(PipelineIdTest, DiffersForEachPartitionOffsetAndK) {
  constexpr int64_t kLastOffset = (int64_t{1} << 35) - 1;
  std::set<int64_t> seen;
  int drawn = 0;
  for (int32_t partition : {0, 1, 2, 63, 64, 4094, 4095}) {
    for (int64_t offset :
         {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{4096}, kLastOffset - 1, kLastOffset}) {
      for (int k : {0, 1, 2, 62, 63}) {
        int64_t id = PipelineIdAt(RecordPosition{partition, offset}, k);
        EXPECT_GT(id, 0) << partition << "/" << offset << "/" << k;
        seen.insert(id);
        ++drawn;
      }
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(drawn));
}

TEST(PipelineIdTest, ADenseRangeOfPositionsGivesDistinctIds) {
  std::set<int64_t> seen;
  int drawn = 0;
  for (int32_t partition = 0; partition < 8; ++partition) {
    for (int64_t offset = 0; offset < 8; ++offset) {
      for (int k = 0; k <= kMaxPipelineJobs; ++k) {
        seen.insert(PipelineIdAt(RecordPosition{partition, offset}, k));
        ++drawn;
      }
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(drawn));
}

TEST(PipelineIdTest, StaysBelowTwoToThe53) {
  constexpr int64_t kLimit = int64_t{1} << 53;
  constexpr int64_t kLastOffset = (int64_t{1} << 35) - 1;
  for (int64_t offset : {int64_t{0}, int64_t{1} << 34, kLastOffset - 1}) {
    for (int32_t partition : {0, 4095}) {
      for (int k = 0; k <= kMaxPipelineJobs; ++k) {
        EXPECT_LT(PipelineIdAt(RecordPosition{partition, offset}, k), kLimit)
            << partition << "/" << offset << "/" << k;
      }
    }
  }
  for (int k = 0; k < kMaxPipelineJobs; ++k) {
    EXPECT_LT(PipelineIdAt(RecordPosition{4095, kLastOffset}, k), kLimit) << k;
  }
}

TEST(NewJobIdAtTest, IsTheIdDrawnForTheJobsIndexPlusOne) {
  ProjectConfig project = IssueProject();
  RecordPosition at{5, 1000};
  EXPECT_EQ(NewJobIdAt(project, at, "run_tests"), PipelineIdAt(at, 1));
  EXPECT_EQ(NewJobIdAt(project, at, "build_package"), PipelineIdAt(at, 2));
  EXPECT_EQ(NewJobIdAt(project, at, "upload_package"), PipelineIdAt(at, 3));
  EXPECT_NE(NewJobIdAt(project, at, "run_tests"), PipelineIdAt(at, 0))
      << "a job never takes its pipeline's id";
  EXPECT_NE(NewJobIdAt(project, at, "run_tests"), NewJobIdAt(project, {5, 1001}, "run_tests"));
}

TEST(NewJobIdAtTest, IsZeroForAJobTheProjectDoesNotHave) {
  ProjectConfig project = IssueProject();
  EXPECT_EQ(NewJobIdAt(project, {5, 1000}, "deploy"), 0);
  EXPECT_EQ(NewJobIdAt(project, {5, 1000}, ""), 0);
  EXPECT_EQ(NewJobIdAt(ProjectConfig{}, {5, 1000}, "run_tests"), 0);
}

// --- EvaluatePipeline ---

class EvaluatePipelineTest : public ::testing::Test {
 protected:
  PipelineState Evaluate() const {
    return EvaluatePipeline(project_, pipeline_, executions_.Lookup());
  }
  void SetExecution(const std::string& name, JobStatus status) {
    executions_.Set(IdOf(pipeline_, name), status);
  }

  ProjectConfig project_ = IssueProject();
  Pipeline pipeline_ = NewPipeline(project_);
  Executions executions_;
};

TEST_F(EvaluatePipelineTest, AFreshPipelineStartsItsFirstStage) {
  PipelineState s = Evaluate();
  ASSERT_EQ(s.jobs.size(), 3u);
  EXPECT_EQ(StatusOf(s, "run_tests"), S::kPending);
  EXPECT_EQ(StatusOf(s, "build_package"), S::kCreated);
  EXPECT_EQ(StatusOf(s, "upload_package"), S::kCreated);
  EXPECT_EQ(s.to_start, Ids{IdOf(pipeline_, "run_tests")});
  EXPECT_TRUE(s.to_abort.empty());
  EXPECT_EQ(s.status, PipelineStatus::kPending);
  EXPECT_FALSE(s.finished);
  // Each run knows its stage, and none has an execution yet.
  EXPECT_EQ(s.jobs[0].stage, "test");
  EXPECT_EQ(s.jobs[1].stage, "build");
  EXPECT_EQ(s.jobs[2].stage, "package");
  for (const PipelineJobState& job : s.jobs) {
    EXPECT_FALSE(job.execution.has_value()) << job.run.name;
    EXPECT_TRUE(job.current) << job.run.name;
  }
}

TEST_F(EvaluatePipelineTest, FindsAJobByItsId) {
  PipelineState s = Evaluate();
  const PipelineJobState* job = s.Job(IdOf(pipeline_, "build_package"));
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->run.name, "build_package");
  EXPECT_EQ(s.Job(12345), nullptr);
}

TEST_F(EvaluatePipelineTest, ASucceededStageStartsTheNext) {
  SetExecution("run_tests", JobStatus::kSuccess);
  PipelineState s = Evaluate();
  EXPECT_EQ(StatusOf(s, "run_tests"), S::kSuccess);
  EXPECT_EQ(StatusOf(s, "build_package"), S::kPending);
  EXPECT_EQ(StatusOf(s, "upload_package"), S::kCreated);
  EXPECT_EQ(s.to_start, Ids{IdOf(pipeline_, "build_package")});
  ASSERT_NE(s.Job(IdOf(pipeline_, "run_tests")), nullptr);
  ASSERT_TRUE(s.Job(IdOf(pipeline_, "run_tests"))->execution.has_value());
  EXPECT_EQ(s.Job(IdOf(pipeline_, "run_tests"))->execution->id,
            std::to_string(IdOf(pipeline_, "run_tests")));
  EXPECT_FALSE(s.finished);
}

TEST_F(EvaluatePipelineTest, OnceTheRequiredJobsSucceededTheManualJobWaitsAndThePipelineSucceeds) {
  SetExecution("run_tests", JobStatus::kSuccess);
  SetExecution("build_package", JobStatus::kSuccess);
  PipelineState s = Evaluate();
  EXPECT_EQ(StatusOf(s, "upload_package"), S::kManual);
  EXPECT_EQ(s.status, PipelineStatus::kSuccess);
  EXPECT_TRUE(s.finished);
  EXPECT_TRUE(s.to_start.empty());
  EXPECT_TRUE(s.to_abort.empty());
}

TEST_F(EvaluatePipelineTest, AJobShowsItsExecutionsStatusAsGitLabsJobStatus) {
  struct Case {
    JobStatus execution;
    PipelineJobStatus job;
    PipelineStatus pipeline;
  };
  const Case cases[] = {
      {JobStatus::kTriggered, S::kPending, PipelineStatus::kPending},
      {JobStatus::kPending, S::kRunning, PipelineStatus::kRunning},
      {JobStatus::kSuccess, S::kSuccess, PipelineStatus::kPending},  // build is due
      {JobStatus::kFailure, S::kFailed, PipelineStatus::kFailed},
      {JobStatus::kError, S::kFailed, PipelineStatus::kFailed},
      {JobStatus::kAborted, S::kCanceled, PipelineStatus::kCanceled},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(JobStatusName(c.execution));
    SetExecution("run_tests", c.execution);
    PipelineState s = Evaluate();
    EXPECT_EQ(StatusOf(s, "run_tests"), c.job);
    EXPECT_EQ(s.status, c.pipeline);
    for (int64_t id : s.to_start) {
      EXPECT_NE(id, IdOf(pipeline_, "run_tests")) << "triggered already: not started again";
    }
    EXPECT_TRUE(s.to_abort.empty());
  }
}

TEST_F(EvaluatePipelineTest, AFailedBuildSkipsTheManualJobAndFailsThePipeline) {
  SetExecution("run_tests", JobStatus::kSuccess);
  SetExecution("build_package", JobStatus::kFailure);
  PipelineState s = Evaluate();
  EXPECT_EQ(StatusOf(s, "build_package"), S::kFailed);
  EXPECT_EQ(StatusOf(s, "upload_package"), S::kSkipped);
  EXPECT_EQ(s.status, PipelineStatus::kFailed);
  EXPECT_TRUE(s.finished);
  EXPECT_TRUE(s.to_start.empty());
}

TEST_F(EvaluatePipelineTest, APlayedManualJobIsPendingAndStarts) {
  SetExecution("run_tests", JobStatus::kSuccess);
  SetExecution("build_package", JobStatus::kSuccess);
  RunOf(pipeline_, "upload_package")->start = true;
  PipelineState s = Evaluate();
  EXPECT_EQ(StatusOf(s, "upload_package"), S::kPending);
  EXPECT_EQ(s.to_start, Ids{IdOf(pipeline_, "upload_package")});
  EXPECT_EQ(s.status, PipelineStatus::kPending);
  EXPECT_FALSE(s.finished);

  // Once triggered, it is not started again.
  SetExecution("upload_package", JobStatus::kTriggered);
  s = Evaluate();
  EXPECT_EQ(StatusOf(s, "upload_package"), S::kPending);
  EXPECT_TRUE(s.to_start.empty());
}

TEST_F(EvaluatePipelineTest, ACanceledPipelineStartsNothingAndAbortsWhatRuns) {
  SetExecution("run_tests", JobStatus::kPending);
  pipeline_.canceled = true;
  PipelineState s = Evaluate();
  EXPECT_EQ(StatusOf(s, "run_tests"), S::kRunning) << "until its execution ends";
  EXPECT_EQ(StatusOf(s, "build_package"), S::kCanceled);
  EXPECT_EQ(StatusOf(s, "upload_package"), S::kCanceled);
  EXPECT_TRUE(s.to_start.empty());
  EXPECT_EQ(s.to_abort, Ids{IdOf(pipeline_, "run_tests")});
  EXPECT_NE(s.status, PipelineStatus::kCanceled) << "a job is still active";
  EXPECT_FALSE(s.finished);

  SetExecution("run_tests", JobStatus::kAborted);
  s = Evaluate();
  EXPECT_EQ(StatusOf(s, "run_tests"), S::kCanceled);
  EXPECT_TRUE(s.to_abort.empty());
  EXPECT_TRUE(s.to_start.empty());
  EXPECT_EQ(s.status, PipelineStatus::kCanceled);
  EXPECT_TRUE(s.finished);
}

TEST_F(EvaluatePipelineTest, ACanceledPipelineDoesNotStartItsFirstStage) {
  pipeline_.canceled = true;
  PipelineState s = Evaluate();
  for (const PipelineJobState& job : s.jobs) EXPECT_EQ(job.status, S::kCanceled) << job.run.name;
  EXPECT_TRUE(s.to_start.empty());
  EXPECT_TRUE(s.to_abort.empty());
  EXPECT_EQ(s.status, PipelineStatus::kCanceled);
  EXPECT_TRUE(s.finished);
}

TEST_F(EvaluatePipelineTest, ACanceledPipelineLeavesEndedJobsAsTheyEnded) {
  SetExecution("run_tests", JobStatus::kSuccess);
  SetExecution("build_package", JobStatus::kTriggered);
  pipeline_.canceled = true;
  PipelineState s = Evaluate();
  EXPECT_EQ(StatusOf(s, "run_tests"), S::kSuccess);
  EXPECT_EQ(s.to_abort, Ids{IdOf(pipeline_, "build_package")}) << "a triggered job is aborted too";
}

TEST_F(EvaluatePipelineTest, ACanceledJobIsCanceledOrAbortedAndEndsThePipeline) {
  RunOf(pipeline_, "run_tests")->canceled = true;
  PipelineState s = Evaluate();
  EXPECT_EQ(StatusOf(s, "run_tests"), S::kCanceled) << "canceled before it was triggered";
  EXPECT_TRUE(s.to_start.empty());
  EXPECT_EQ(s.status, PipelineStatus::kCanceled);
  EXPECT_TRUE(s.finished);

  SetExecution("run_tests", JobStatus::kPending);
  s = Evaluate();
  EXPECT_EQ(StatusOf(s, "run_tests"), S::kRunning);
  EXPECT_EQ(s.to_abort, Ids{IdOf(pipeline_, "run_tests")});
  EXPECT_FALSE(s.finished);
}

TEST_F(EvaluatePipelineTest, ARetriedJobFollowsItsLastRun) {
  int64_t first = IdOf(pipeline_, "run_tests");
  executions_.Set(first, JobStatus::kFailure);
  PipelineJobRun retry;
  retry.id = NewJobIdAt(project_, {3, 90}, "run_tests");
  retry.name = "run_tests";
  retry.start = true;
  retry.user = "alice";
  retry.created_at = kLater;
  pipeline_.jobs.push_back(retry);

  PipelineState s = Evaluate();
  ASSERT_EQ(s.jobs.size(), 4u);
  ASSERT_NE(s.Job(first), nullptr);
  ASSERT_NE(s.Job(retry.id), nullptr);
  EXPECT_FALSE(s.Job(first)->current);
  EXPECT_EQ(s.Job(first)->status, S::kFailed) << "an old run keeps its own status";
  EXPECT_TRUE(s.Job(retry.id)->current);
  EXPECT_EQ(StatusOf(s, "run_tests"), S::kPending);
  EXPECT_EQ(s.to_start, Ids{retry.id});
  EXPECT_EQ(StatusOf(s, "upload_package"), S::kCreated) << "not skipped: the failure is retried";
  EXPECT_EQ(s.status, PipelineStatus::kPending);

  executions_.Set(retry.id, JobStatus::kSuccess);
  s = Evaluate();
  EXPECT_EQ(StatusOf(s, "run_tests"), S::kSuccess);
  EXPECT_EQ(s.to_start, Ids{IdOf(pipeline_, "build_package")});

  // And the other way round: a failed retry of a succeeded job fails the pipeline.
  executions_.Set(first, JobStatus::kSuccess);
  executions_.Set(retry.id, JobStatus::kFailure);
  s = Evaluate();
  EXPECT_EQ(StatusOf(s, "run_tests"), S::kFailed);
  EXPECT_EQ(s.status, PipelineStatus::kFailed);
  EXPECT_TRUE(s.to_start.empty());
}

TEST_F(EvaluatePipelineTest, OnlyTheCurrentRunOfAJobIsStarted) {
  // The status view has no execution for either run yet: the older is not started any more.
  RunOf(pipeline_, "run_tests")->start = true;
  PipelineJobRun retry = *RunOf(pipeline_, "run_tests");
  retry.id = NewJobIdAt(project_, {3, 90}, "run_tests");
  pipeline_.jobs.push_back(retry);
  PipelineState s = Evaluate();
  EXPECT_EQ(s.to_start, Ids{retry.id});
}

// --- ApplyPipelineCommand ---

class ApplyPipelineCommandTest : public EvaluatePipelineTest {
 protected:
  PipelineCommand Command(PipelineCommandKind kind, const std::string& job = "",
                          RecordPosition at = {3, 100}) const {
    PipelineCommand c;
    c.kind = kind;
    c.pipeline_id = pipeline_.id;
    c.job_id = job.empty() ? 0 : IdOf(pipeline_, job);
    c.user = "alice";
    c.time = kLater;
    c.position = at;
    return c;
  }
  // Applies `c` to the pipeline as it is evaluated now.
  bool Apply(const PipelineCommand& c) {
    return ApplyPipelineCommand(project_, c, Evaluate(), pipeline_, kNow);
  }
  // Applies `c` and expects it to change nothing at all.
  void ExpectNoChange(const PipelineCommand& c) {
    Pipeline before = pipeline_;
    EXPECT_FALSE(Apply(c));
    EXPECT_EQ(pipeline_, before);
  }
  void SucceedRequiredJobs() {
    SetExecution("run_tests", JobStatus::kSuccess);
    SetExecution("build_package", JobStatus::kSuccess);
  }
};

TEST_F(ApplyPipelineCommandTest, PlayStartsAManualJobWithItsVariablesAndUser) {
  SucceedRequiredJobs();
  PipelineCommand play = Command(PipelineCommandKind::kPlay, "upload_package");
  play.variables = Vars{{"TARGET", "prod"}};
  ASSERT_EQ(StatusOf(Evaluate(), "upload_package"), S::kManual);
  EXPECT_TRUE(Apply(play));
  const PipelineJobRun* run = RunOf(pipeline_, "upload_package");
  EXPECT_TRUE(run->start);
  EXPECT_EQ(run->variables, (Vars{{"TARGET", "prod"}}));
  EXPECT_EQ(run->user, "alice");
  EXPECT_EQ(RunsOf(pipeline_, "upload_package"), 1) << "a play starts the run, adds none";
  EXPECT_EQ(pipeline_.updated_at, kNow);

  PipelineState s = Evaluate();
  EXPECT_EQ(StatusOf(s, "upload_package"), S::kPending);
  EXPECT_EQ(s.to_start, Ids{run->id});

  // Played already: a second play no longer applies.
  ExpectNoChange(play);
}

TEST_F(ApplyPipelineCommandTest, PlayOnAJobThatIsNotManualChangesNothing) {
  PipelineCommand play = Command(PipelineCommandKind::kPlay, "run_tests");
  play.variables = Vars{{"TARGET", "prod"}};
  ExpectNoChange(play);  // pending
  play.job_id = IdOf(pipeline_, "build_package");
  ExpectNoChange(play);  // created
  play.job_id = IdOf(pipeline_, "upload_package");
  ExpectNoChange(play);  // created: its stage is not reached yet
  play.job_id = 12345;
  ExpectNoChange(play);  // no such job
  SetExecution("run_tests", JobStatus::kSuccess);
  play.job_id = IdOf(pipeline_, "run_tests");
  ExpectNoChange(play);  // success
}

TEST_F(ApplyPipelineCommandTest, RetryJobAppendsARunWithAnIdFromTheCommandsPosition) {
  SetExecution("run_tests", JobStatus::kFailure);
  int64_t first = IdOf(pipeline_, "run_tests");
  RecordPosition at{3, 200};
  PipelineCommand retry = Command(PipelineCommandKind::kRetryJob, "run_tests", at);
  retry.variables = Vars{{"DEBUG", "1"}};
  EXPECT_TRUE(Apply(retry));
  ASSERT_EQ(pipeline_.jobs.size(), 4u);
  const PipelineJobRun& run = pipeline_.jobs.back();
  EXPECT_EQ(run.id, NewJobIdAt(project_, at, "run_tests"));
  EXPECT_NE(run.id, first);
  EXPECT_EQ(run.name, "run_tests");
  EXPECT_TRUE(run.start);
  EXPECT_FALSE(run.canceled);
  EXPECT_EQ(run.variables, (Vars{{"DEBUG", "1"}}));
  EXPECT_EQ(run.user, "alice");
  EXPECT_EQ(run.created_at, kLater);
  EXPECT_EQ(pipeline_.updated_at, kNow);

  PipelineState s = Evaluate();
  EXPECT_EQ(s.to_start, Ids{run.id});
  EXPECT_EQ(StatusOf(s, "run_tests"), S::kPending);
}

TEST_F(ApplyPipelineCommandTest, RetryJobWithoutVariablesKeepsThoseOfTheRunItRetries) {
  SucceedRequiredJobs();
  PipelineCommand play = Command(PipelineCommandKind::kPlay, "upload_package", {3, 100});
  play.variables = Vars{{"TARGET", "prod"}};
  ASSERT_TRUE(Apply(play));
  SetExecution("upload_package", JobStatus::kError);

  PipelineCommand retry = Command(PipelineCommandKind::kRetryJob, "upload_package", {3, 101});
  ASSERT_FALSE(retry.variables.has_value());
  EXPECT_TRUE(Apply(retry));
  EXPECT_EQ(RunsOf(pipeline_, "upload_package"), 2);
  EXPECT_EQ(pipeline_.jobs.back().variables, (Vars{{"TARGET", "prod"}}));

  // Empty variables given are the variables of the retry: none.
  SetExecution("upload_package", JobStatus::kFailure);
  retry = Command(PipelineCommandKind::kRetryJob, "upload_package", {3, 102});
  retry.variables = Vars{};
  EXPECT_TRUE(Apply(retry));
  EXPECT_EQ(RunsOf(pipeline_, "upload_package"), 3);
  EXPECT_TRUE(pipeline_.jobs.back().variables.empty());
}

TEST_F(ApplyPipelineCommandTest, RetryJobAppliedTwiceAppendsOnce) {
  SetExecution("run_tests", JobStatus::kFailure);
  PipelineCommand retry = Command(PipelineCommandKind::kRetryJob, "run_tests", {3, 200});
  PipelineState before = Evaluate();
  ASSERT_TRUE(ApplyPipelineCommand(project_, retry, before, pipeline_, kNow));
  Pipeline once = pipeline_;

  // Against the state it was first applied to (the run it makes is already in the record)...
  EXPECT_FALSE(ApplyPipelineCommand(project_, retry, before, pipeline_, kLater));
  EXPECT_EQ(pipeline_, once);
  // ...and against the state as it is now (the run it retries is no longer current).
  ExpectNoChange(retry);
  EXPECT_EQ(RunsOf(pipeline_, "run_tests"), 2);
}

TEST_F(ApplyPipelineCommandTest, RetryJobOnAJobThatHasNotEndedChangesNothing) {
  SetExecution("run_tests", JobStatus::kPending);
  ExpectNoChange(Command(PipelineCommandKind::kRetryJob, "run_tests"));  // running
  SetExecution("run_tests", JobStatus::kTriggered);
  ExpectNoChange(Command(PipelineCommandKind::kRetryJob, "run_tests"));      // pending
  ExpectNoChange(Command(PipelineCommandKind::kRetryJob, "build_package"));  // created
}

TEST_F(ApplyPipelineCommandTest, RetryJobOfAnOldRunChangesNothing) {
  SetExecution("run_tests", JobStatus::kFailure);
  PipelineCommand retry = Command(PipelineCommandKind::kRetryJob, "run_tests", {3, 200});
  ASSERT_TRUE(Apply(retry));
  executions_.Set(IdOf(pipeline_, "run_tests"), JobStatus::kFailure);
  retry.position = {3, 201};  // retries the first run again: it is not the current one
  ExpectNoChange(retry);
}

TEST_F(ApplyPipelineCommandTest, CancelJobMarksAnUnendedRunAndItIsAborted) {
  SetExecution("run_tests", JobStatus::kPending);
  PipelineCommand cancel = Command(PipelineCommandKind::kCancelJob, "run_tests");
  EXPECT_TRUE(Apply(cancel));
  EXPECT_TRUE(RunOf(pipeline_, "run_tests")->canceled);
  EXPECT_EQ(RunOf(pipeline_, "run_tests")->user, "alice");
  EXPECT_FALSE(pipeline_.canceled);
  EXPECT_EQ(Evaluate().to_abort, Ids{IdOf(pipeline_, "run_tests")});
  ExpectNoChange(cancel);  // asked already

  SetExecution("run_tests", JobStatus::kSuccess);
  RunOf(pipeline_, "run_tests")->canceled = false;
  ExpectNoChange(cancel);  // ended
}

TEST_F(ApplyPipelineCommandTest, CancelStopsAnUnfinishedPipeline) {
  SetExecution("run_tests", JobStatus::kPending);
  ASSERT_FALSE(Evaluate().finished);
  EXPECT_TRUE(Apply(Command(PipelineCommandKind::kCancel)));
  EXPECT_TRUE(pipeline_.canceled);
  EXPECT_EQ(pipeline_.updated_at, kNow);
  for (const PipelineJobRun& run : pipeline_.jobs) EXPECT_FALSE(run.canceled) << run.name;
  EXPECT_EQ(Evaluate().to_abort, Ids{IdOf(pipeline_, "run_tests")});
  ExpectNoChange(Command(PipelineCommandKind::kCancel));  // canceled already
}

TEST_F(ApplyPipelineCommandTest, CancelOfAFinishedPipelineCancelsItsWaitingManualJob) {
  SucceedRequiredJobs();
  ASSERT_TRUE(Evaluate().finished);
  EXPECT_TRUE(Apply(Command(PipelineCommandKind::kCancel)));
  EXPECT_FALSE(pipeline_.canceled) << "what ended stays as it ended";
  EXPECT_TRUE(RunOf(pipeline_, "upload_package")->canceled);
  EXPECT_FALSE(RunOf(pipeline_, "run_tests")->canceled);
  EXPECT_FALSE(RunOf(pipeline_, "build_package")->canceled);
  EXPECT_EQ(pipeline_.updated_at, kNow);
  PipelineState s = Evaluate();
  EXPECT_EQ(StatusOf(s, "upload_package"), S::kCanceled);
  EXPECT_EQ(StatusOf(s, "run_tests"), S::kSuccess);
  EXPECT_TRUE(s.finished);
}

TEST_F(ApplyPipelineCommandTest, CancelOfAFinishedPipelineWithNothingWaitingChangesNothing) {
  SetExecution("run_tests", JobStatus::kSuccess);
  SetExecution("build_package", JobStatus::kFailure);  // upload_package is skipped
  ASSERT_TRUE(Evaluate().finished);
  ExpectNoChange(Command(PipelineCommandKind::kCancel));
}

TEST_F(ApplyPipelineCommandTest, RetryUncancelsAndRerunsTheCanceledJobs) {
  SetExecution("run_tests", JobStatus::kPending);
  ASSERT_TRUE(Apply(Command(PipelineCommandKind::kCancel, "", {3, 100})));
  SetExecution("run_tests", JobStatus::kAborted);
  ASSERT_EQ(Evaluate().status, PipelineStatus::kCanceled);

  RecordPosition at{3, 101};
  pipeline_.updated_at = kCreated;
  EXPECT_TRUE(Apply(Command(PipelineCommandKind::kRetry, "", at)));
  EXPECT_FALSE(pipeline_.canceled);
  EXPECT_EQ(pipeline_.updated_at, kNow);
  EXPECT_EQ(RunsOf(pipeline_, "run_tests"), 2);
  EXPECT_EQ(IdOf(pipeline_, "run_tests"), NewJobIdAt(project_, at, "run_tests"));
  EXPECT_EQ(RunsOf(pipeline_, "build_package"), 1) << "never ran: its stage rules start it";
  EXPECT_EQ(RunsOf(pipeline_, "upload_package"), 1);

  PipelineState s = Evaluate();
  EXPECT_EQ(StatusOf(s, "run_tests"), S::kPending);
  EXPECT_EQ(StatusOf(s, "build_package"), S::kCreated);
  EXPECT_EQ(s.to_start, Ids{IdOf(pipeline_, "run_tests")});
  EXPECT_EQ(s.status, PipelineStatus::kPending);
}

TEST_F(ApplyPipelineCommandTest, RetryRerunsOnlyTheFailedJobs) {
  SetExecution("run_tests", JobStatus::kSuccess);
  SetExecution("build_package", JobStatus::kFailure);
  ASSERT_EQ(StatusOf(Evaluate(), "upload_package"), S::kSkipped);
  RunOf(pipeline_, "build_package")->variables = {{"OPT", "2"}};

  RecordPosition at{3, 150};
  EXPECT_TRUE(Apply(Command(PipelineCommandKind::kRetry, "", at)));
  EXPECT_EQ(RunsOf(pipeline_, "run_tests"), 1);
  EXPECT_EQ(RunsOf(pipeline_, "build_package"), 2);
  EXPECT_EQ(RunsOf(pipeline_, "upload_package"), 1);
  const PipelineJobRun& run = pipeline_.jobs.back();
  EXPECT_EQ(run.id, NewJobIdAt(project_, at, "build_package"));
  EXPECT_EQ(run.name, "build_package");
  EXPECT_EQ(run.variables, (Vars{{"OPT", "2"}}));
  EXPECT_EQ(run.user, "alice");
  EXPECT_EQ(run.created_at, kLater);

  PipelineState s = Evaluate();
  EXPECT_EQ(StatusOf(s, "build_package"), S::kPending);
  EXPECT_EQ(StatusOf(s, "upload_package"), S::kCreated);
  EXPECT_EQ(s.to_start, Ids{run.id});

  // Applied again, it appends nothing more.
  ExpectNoChange(Command(PipelineCommandKind::kRetry, "", at));
}

TEST_F(ApplyPipelineCommandTest, RetryLeavesTheOldRunsOfARetriedJobAlone) {
  SetExecution("run_tests", JobStatus::kFailure);
  ASSERT_TRUE(Apply(Command(PipelineCommandKind::kRetryJob, "run_tests", {3, 200})));
  SetExecution("run_tests", JobStatus::kSuccess);  // the retry
  SetExecution("build_package", JobStatus::kFailure);

  EXPECT_TRUE(Apply(Command(PipelineCommandKind::kRetry, "", {3, 201})));
  EXPECT_EQ(RunsOf(pipeline_, "run_tests"), 2) << "its failed first run is not current";
  EXPECT_EQ(RunsOf(pipeline_, "build_package"), 2);
}

TEST_F(ApplyPipelineCommandTest, RetryOfASucceededPipelineChangesNothing) {
  SucceedRequiredJobs();
  ExpectNoChange(Command(PipelineCommandKind::kRetry));
}

TEST_F(ApplyPipelineCommandTest, UpdatedAtMovesOnlyWhenTheRecordChanges) {
  SetExecution("run_tests", JobStatus::kPending);
  // None of these applies: the record, updated_at included, stays as it is.
  ExpectNoChange(Command(PipelineCommandKind::kStart));
  ExpectNoChange(Command(PipelineCommandKind::kPlay, "run_tests"));
  ExpectNoChange(Command(PipelineCommandKind::kRetryJob, "run_tests"));
  ExpectNoChange(Command(PipelineCommandKind::kRetry));
  EXPECT_EQ(pipeline_.updated_at, kCreated);

  EXPECT_TRUE(Apply(Command(PipelineCommandKind::kCancelJob, "run_tests")));
  EXPECT_EQ(pipeline_.updated_at, kNow);
}

TEST_F(ApplyPipelineCommandTest, RetryDoesNotRerunAJobThatSucceededAfterItsCancelWasAsked) {
  SetExecution("run_tests", JobStatus::kPending);
  ASSERT_TRUE(Apply(Command(PipelineCommandKind::kCancelJob, "run_tests")));
  SetExecution("run_tests", JobStatus::kSuccess);  // it ended before the abort reached it
  SetExecution("build_package", JobStatus::kFailure);
  ASSERT_TRUE(Apply(Command(PipelineCommandKind::kRetry)));
  EXPECT_EQ(RunsOf(pipeline_, "run_tests"), 1);
  EXPECT_EQ(RunsOf(pipeline_, "build_package"), 2);
}

TEST_F(EvaluatePipelineTest, AJobCanceledTwiceOverIsAbortedOnce) {
  SetExecution("run_tests", JobStatus::kPending);
  pipeline_.jobs[0].canceled = true;
  pipeline_.canceled = true;
  EXPECT_EQ(Evaluate().to_abort, Ids{IdOf(pipeline_, "run_tests")});
}

TEST_F(ApplyPipelineCommandTest, AJobRetriedInACanceledPipelineRunsAndTheRestStaysCanceled) {
  SetExecution("run_tests", JobStatus::kPending);
  ASSERT_TRUE(Apply(Command(PipelineCommandKind::kCancel)));
  SetExecution("run_tests", JobStatus::kAborted);
  ASSERT_EQ(Evaluate().status, PipelineStatus::kCanceled);
  ASSERT_TRUE(Apply(Command(PipelineCommandKind::kRetryJob, "run_tests")));
  PipelineState s = Evaluate();
  EXPECT_EQ(s.to_start, Ids{pipeline_.jobs.back().id});
  EXPECT_EQ(StatusOf(s, "build_package"), S::kCanceled);
  EXPECT_EQ(StatusOf(s, "upload_package"), S::kCanceled);
}

TEST_F(ApplyPipelineCommandTest, APlayOrRetryAwaitsAViewThatHasNotCaughtUpWithTheGateways) {
  PipelineCommand play = Command(PipelineCommandKind::kPlay, "upload_package");
  PipelineCommand retry = Command(PipelineCommandKind::kRetryJob, "run_tests");
  EXPECT_TRUE(PipelineCommandAwaitsView(play, Evaluate())) << "upload_package is created";
  EXPECT_TRUE(PipelineCommandAwaitsView(retry, Evaluate())) << "run_tests is pending";
  SetExecution("run_tests", JobStatus::kPending);
  EXPECT_TRUE(PipelineCommandAwaitsView(retry, Evaluate())) << "run_tests is running";

  SucceedRequiredJobs();
  EXPECT_FALSE(PipelineCommandAwaitsView(play, Evaluate())) << "upload_package is manual";
  EXPECT_FALSE(PipelineCommandAwaitsView(retry, Evaluate())) << "run_tests ended";
  EXPECT_FALSE(
      PipelineCommandAwaitsView(Command(PipelineCommandKind::kCancelJob, "run_tests"), Evaluate()));
  EXPECT_FALSE(PipelineCommandAwaitsView(Command(PipelineCommandKind::kCancel), Evaluate()));

  // A job the record does not have, or an old run, waits for nothing.
  PipelineCommand unknown = play;
  unknown.job_id = 1;
  EXPECT_FALSE(PipelineCommandAwaitsView(unknown, Evaluate()));
  ASSERT_TRUE(Apply(Command(PipelineCommandKind::kRetryJob, "run_tests", {3, 200})));
  EXPECT_FALSE(PipelineCommandAwaitsView(retry, Evaluate())) << "not the current run";
}

// --- PipelineOwner: a command sent within milliseconds of the one before ---

// The owner of IssueProject's pipeline (started at kStartedAt) over fakes: commands are held as
// the worker holds them, Kafka acknowledges only what the test lands, and the status view shows
// a results record only once it has landed.
class PipelineOwnerTest : public ::testing::Test {
 protected:
  PipelineOwnerTest() {
    config_.projects = {IssueProject()};
    pipeline_id_ = NewPipeline(project()).id;
    pipelines_.Put(NewPipeline(project()));
    PipelineCommand start;
    start.kind = PipelineCommandKind::kStart;
    start.pipeline_id = pipeline_id_;
    start.time = clock_.Now();
    start.position = kStartedAt;
    held_[kStartedAt.offset] = start;
  }

  const ProjectConfig& project() const { return config_.projects[0]; }

  // A command that lands on the requests topic after the ones before; returns its position.
  RecordPosition Send(PipelineCommandKind kind, int64_t job_id = 0) {
    PipelineCommand c;
    c.kind = kind;
    c.pipeline_id = pipeline_id_;
    c.job_id = job_id;
    c.user = "alice";
    c.time = clock_.Now();
    c.position = {kStartedAt.partition, next_offset_++};
    held_[c.position.offset] = c;
    return c.position;
  }

  // One turn of the worker's loop: the owner advances the commands it holds, and the worker
  // lets go of those it answers as done.
  void Turn() {
    std::vector<PipelineOwner::HeldCommand> held;
    for (const auto& [offset, command] : held_) held.push_back({offset, &command});
    std::set<int64_t> ids;
    if (!held.empty()) {
      ids.insert(pipeline_id_);
      for (int64_t offset : owner_.Advance(pipeline_id_, held, clock_.Now())) {
        held_.erase(offset);
      }
    }
    owner_.Retain(ids);
  }

  // Kafka acknowledges every record sent so far on `topics`; a results record then shows in the
  // status view.
  void Land(const std::set<std::string>& topics) {
    std::vector<FakePublisher::Record> records = publisher_.records();
    for (size_t i = 0; i < records.size(); ++i) {
      if (records[i].completed || !topics.count(records[i].topic)) continue;
      publisher_.Complete(i);
      if (records[i].topic == config_.kafka.ResultsTopic()) {
        auto e = DecodeExecutionRecord(records[i].value);
        ASSERT_TRUE(e.ok()) << records[i].value;
        view_.store().Apply(*e);
      }
    }
  }
  void LandAll() {
    Land({config_.kafka.ResultsTopic(), config_.kafka.PipelinesTopic(),
          config_.kafka.RequestsTopic(), config_.kafka.ControlTopic()});
  }
  void LandRecord() { Land({config_.kafka.PipelinesTopic()}); }

  // A worker's record of job `id` in the status view.
  void Show(int64_t id, JobStatus status) {
    Execution e = view_.store().Get(std::to_string(id)).value_or(Execution{});
    e.id = std::to_string(id);
    e.job_status = status;
    e.attempt = 1;
    e.worker = "worker-1";
    view_.store().Apply(e);
  }

  // Keys of the acknowledged records on `topic`.
  std::set<std::string> Landed(const std::string& topic) const {
    std::set<std::string> keys;
    for (const FakePublisher::Record& r : publisher_.records()) {
      if (r.completed && r.topic == topic) keys.insert(r.key);
    }
    return keys;
  }

  // 20 turns, each landing every record sent, with a worker that starts each landed trigger
  // (PENDING) and ends it on the next turn (`outcome`), or ends it ABORTED once its abort landed.
  void RunToEnd(JobStatus outcome = JobStatus::kSuccess) {
    for (int turn = 0; turn < 20; ++turn) {
      Turn();
      LandAll();
      std::set<std::string> aborts = Landed(config_.kafka.ControlTopic());
      for (const std::string& id : Landed(config_.kafka.RequestsTopic())) {
        auto e = view_.store().Get(id);
        if (!e || IsTerminal(e->job_status)) continue;
        if (aborts.count(id)) {
          Show(std::stoll(id), JobStatus::kAborted);
        } else {
          Show(std::stoll(id),
               e->job_status == JobStatus::kTriggered ? JobStatus::kPending : outcome);
        }
      }
    }
  }

  PipelineState State() {
    auto pipeline = pipelines_.Get(pipeline_id_);
    EXPECT_TRUE(pipeline.has_value());
    return EvaluatePipeline(project(), pipeline.value_or(Pipeline{}),
                            [this](const std::string& id) { return view_.store().Get(id); });
  }
  int64_t CurrentId(const std::string& name) {
    for (const PipelineJobState& job : State().jobs) {
      if (job.current && job.run.name == name) return job.run.id;
    }
    ADD_FAILURE() << "no current run of " << name;
    return 0;
  }

  // Nothing is left to happen: the owner let go of every command and no execution of the
  // pipeline is waiting or running.
  void ExpectEnded(PipelineStatus status) {
    EXPECT_TRUE(held_.empty()) << held_.size() << " command(s) still held";
    PipelineState s = State();
    EXPECT_TRUE(s.finished);
    EXPECT_EQ(std::string(PipelineStatusName(s.status)), PipelineStatusName(status));
    for (const PipelineJobState& job : s.jobs) {
      EXPECT_NE(job.status, S::kPending) << job.run.name << " " << job.run.id;
      EXPECT_NE(job.status, S::kRunning) << job.run.name << " " << job.run.id;
    }
  }

  Config config_;
  FakePublisher publisher_;
  FakeStatusView view_;
  PipelineStore pipelines_;
  ManualClock clock_;
  PipelineOwner owner_{config_, publisher_, view_, pipelines_, clock_};
  int64_t pipeline_id_ = 0;
  std::map<int64_t, PipelineCommand> held_;
  int64_t next_offset_ = kStartedAt.offset + 1;
};

TEST_F(PipelineOwnerTest, ACancelRightAfterTheTriggerEndsCanceledWithEveryJobEnded) {
  Turn();  // run_tests is due: its TRIGGERED record is on its way
  Send(PipelineCommandKind::kCancel);
  Turn();
  LandRecord();  // the canceled record lands before run_tests' TRIGGERED record
  Turn();
  RunToEnd();
  ExpectEnded(PipelineStatus::kCanceled);
  EXPECT_EQ(StatusOf(State(), "run_tests"), S::kCanceled);
  EXPECT_EQ(view_.store().Get(std::to_string(CurrentId("run_tests")))->job_status,
            JobStatus::kAborted);
}

TEST_F(PipelineOwnerTest, ACancelAfterTheFirstJobWasTriggeredAbortsIt) {
  Turn();
  LandAll();
  Turn();  // run_tests' trigger
  Send(PipelineCommandKind::kCancel);
  RunToEnd();
  ExpectEnded(PipelineStatus::kCanceled);
  EXPECT_EQ(Landed(config_.kafka.ControlTopic()),
            std::set<std::string>{std::to_string(CurrentId("run_tests"))});
}

TEST_F(PipelineOwnerTest, APlayRightAfterTheTriggerRunsTheManualJob) {
  config_.projects[0].jobs.push_back(Job("lint", "test", JobWhen::kManual));
  pipelines_.Put(NewPipeline(project()));
  ASSERT_EQ(StatusOf(State(), "lint"), S::kManual);
  Turn();
  Send(PipelineCommandKind::kPlay, CurrentId("lint"));
  Turn();
  LandRecord();
  RunToEnd();
  ExpectEnded(PipelineStatus::kSuccess);
  EXPECT_EQ(StatusOf(State(), "lint"), S::kSuccess);
  EXPECT_EQ(StatusOf(State(), "upload_package"), S::kManual);
}

TEST_F(PipelineOwnerTest, ARetryRightAfterAJobFailedRunsItAgainWhenTheOwnersViewIsBehind) {
  Turn();
  LandAll();
  Turn();
  int64_t first = CurrentId("run_tests");
  Show(first, JobStatus::kPending);
  // The gateway's view shows run_tests failed; the owner's shows it running a moment longer.
  RecordPosition at = Send(PipelineCommandKind::kRetryJob, first);
  Turn();
  Show(first, JobStatus::kFailure);
  RunToEnd();
  EXPECT_EQ(CurrentId("run_tests"), NewJobIdAt(project(), at, "run_tests"));
  ExpectEnded(PipelineStatus::kSuccess);
}

TEST_F(PipelineOwnerTest, ARetryTheOwnersViewDoesNotAllowForTwiceTheRequestTimeoutIsDropped) {
  Turn();
  LandAll();
  Turn();
  int64_t first = CurrentId("run_tests");
  Show(first, JobStatus::kPending);
  Send(PipelineCommandKind::kRetryJob, first);
  Turn();
  clock_.Advance(config_.gateway.request_timeout * 2 + std::chrono::seconds(1));
  Turn();
  Show(first, JobStatus::kFailure);  // too late for the retry
  RunToEnd();
  EXPECT_EQ(CurrentId("run_tests"), first);
  ExpectEnded(PipelineStatus::kFailed);
}

TEST_F(PipelineOwnerTest, ACancelJobRightAfterAPlayEndsThePlayedJobCanceled) {
  RunToEnd();  // run_tests and build_package succeed; upload_package waits for its play
  ASSERT_EQ(StatusOf(State(), "upload_package"), S::kManual);
  int64_t upload = CurrentId("upload_package");
  Send(PipelineCommandKind::kPlay, upload);
  Turn();
  LandRecord();
  Turn();  // upload_package's TRIGGERED record is on its way
  Send(PipelineCommandKind::kCancelJob, upload);
  Turn();
  LandRecord();
  Turn();
  RunToEnd();
  ExpectEnded(PipelineStatus::kCanceled);
  EXPECT_EQ(StatusOf(State(), "upload_package"), S::kCanceled);
}

TEST_F(PipelineOwnerTest, ACancelJobRightAfterARetryEndsTheNewRunCanceled) {
  RunToEnd(JobStatus::kFailure);
  ASSERT_EQ(StatusOf(State(), "run_tests"), S::kFailed);
  RecordPosition at = Send(PipelineCommandKind::kRetryJob, CurrentId("run_tests"));
  int64_t retried = NewJobIdAt(project(), at, "run_tests");
  Turn();
  LandRecord();
  Turn();  // the new run's TRIGGERED record is on its way
  Send(PipelineCommandKind::kCancelJob, retried);
  Turn();
  LandRecord();
  Turn();
  RunToEnd();
  ExpectEnded(PipelineStatus::kCanceled);
  EXPECT_EQ(CurrentId("run_tests"), retried);
  EXPECT_EQ(StatusOf(State(), "run_tests"), S::kCanceled);
}

}  // namespace
}  // namespace sluice
