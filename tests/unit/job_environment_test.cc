#include "worker/job_environment.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "common/json_codec.h"

namespace sluice {
namespace {

constexpr char kWorkspace[] = "/var/lib/sluice/workspace/exec-1";
constexpr char kArtifacts[] = "/artifacts/build/exec-1";
constexpr char kPath[] = "/opt/bin:/usr/bin:/bin";

JobConfig Job() {
  JobConfig job;
  job.name = "build";
  job.type = JobType::kPostsubmit;
  job.command = {"make"};
  return job;
}

Trigger PeriodicTrigger() {
  Trigger trigger;
  trigger.id = "exec-1";
  trigger.job_name = "build";
  trigger.job_type = JobType::kPeriodic;
  return trigger;
}

Refs BaseRefs() {
  Refs refs;
  refs.org = "acme";
  refs.repo = "widgets";
  refs.base_ref = "main";
  refs.base_sha = "aaaa111";
  return refs;
}

Pull MakePull(int number, std::string sha, std::string ref = "") {
  Pull pull;
  pull.number = number;
  pull.sha = std::move(sha);
  pull.ref = std::move(ref);
  return pull;
}

std::map<std::string, std::string> Build(const JobConfig& job, const Trigger& trigger,
                                         const std::string& inherited_path = kPath) {
  return BuildJobEnvironment(job, trigger, kWorkspace, kArtifacts, inherited_path);
}

TEST(JobEnvironmentTest, BaseEnvironment) {
  std::map<std::string, std::string> env = Build(Job(), PeriodicTrigger());
  EXPECT_EQ(env.at("PATH"), kPath);
  EXPECT_EQ(env.at("HOME"), kWorkspace);
  EXPECT_EQ(env.at("LANG"), "C.UTF-8");
}

TEST(JobEnvironmentTest, DefaultPathWhenNoneInherited) {
  std::map<std::string, std::string> env = Build(Job(), PeriodicTrigger(), "");
  EXPECT_EQ(env.at("PATH"), "/usr/local/bin:/usr/bin:/bin");
}

TEST(JobEnvironmentTest, PeriodicWithoutRefsHasExactlyTheseVariables) {
  std::map<std::string, std::string> env = Build(Job(), PeriodicTrigger());
  std::map<std::string, std::string> expected = {
      {"PATH", kPath},
      {"HOME", kWorkspace},
      {"LANG", "C.UTF-8"},
      {"JOB_NAME", "build"},
      {"JOB_TYPE", "periodic"},
      {"BUILD_ID", "exec-1"},
      {"PROW_JOB_ID", "exec-1"},
      {"JOB_SPEC", R"({"type":"periodic","job":"build","buildid":"exec-1","prowjobid":"exec-1"})"},
      {"SLUICE_EXECUTION_ID", "exec-1"},
      {"ARTIFACTS", kArtifacts},
  };
  EXPECT_EQ(env, expected);
}

TEST(JobEnvironmentTest, JobTypeIsLowerCase) {
  struct Case {
    JobType trigger_type;
    JobType job_type;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {JobType::kPeriodic, JobType::kPeriodic, "periodic"},
           {JobType::kPostsubmit, JobType::kPeriodic, "postsubmit"},
           {JobType::kPresubmit, JobType::kPeriodic, "presubmit"},
           {JobType::kUnspecified, JobType::kPresubmit, "presubmit"},  // falls back to the job's
       }) {
    JobConfig job = Job();
    job.type = c.job_type;
    Trigger trigger = PeriodicTrigger();
    trigger.job_type = c.trigger_type;
    EXPECT_EQ(Build(job, trigger).at("JOB_TYPE"), c.expected);
  }
}

TEST(JobEnvironmentTest, NoRefVariablesWithoutRefs) {
  std::map<std::string, std::string> env = Build(Job(), PeriodicTrigger());
  for (const char* name : {"REPO_OWNER", "REPO_NAME", "PULL_BASE_REF", "PULL_BASE_SHA", "PULL_REFS",
                           "PULL_NUMBER", "PULL_PULL_SHA"}) {
    EXPECT_EQ(env.count(name), 0u) << name;
  }
}

TEST(JobEnvironmentTest, RefVariablesWithRefsAndNoPulls) {
  Trigger trigger = PeriodicTrigger();
  trigger.job_type = JobType::kPostsubmit;
  trigger.refs = BaseRefs();
  std::map<std::string, std::string> env = Build(Job(), trigger);
  EXPECT_EQ(env.at("REPO_OWNER"), "acme");
  EXPECT_EQ(env.at("REPO_NAME"), "widgets");
  EXPECT_EQ(env.at("PULL_BASE_REF"), "main");
  EXPECT_EQ(env.at("PULL_BASE_SHA"), "aaaa111");
  EXPECT_EQ(env.at("PULL_REFS"), "main:aaaa111");
  EXPECT_EQ(env.count("PULL_NUMBER"), 0u);
  EXPECT_EQ(env.count("PULL_PULL_SHA"), 0u);
}

TEST(JobEnvironmentTest, PullVariablesComeFromFirstPull) {
  Trigger trigger = PeriodicTrigger();
  trigger.job_type = JobType::kPresubmit;
  trigger.refs = BaseRefs();
  trigger.refs->pulls = {MakePull(42, "bbbb222"), MakePull(7, "cccc333")};
  std::map<std::string, std::string> env = Build(Job(), trigger);
  EXPECT_EQ(env.at("PULL_NUMBER"), "42");
  EXPECT_EQ(env.at("PULL_PULL_SHA"), "bbbb222");
  EXPECT_EQ(env.at("PULL_REFS"), "main:aaaa111,42:bbbb222,7:cccc333");
}

TEST(JobEnvironmentTest, PullRefsFormat) {
  struct Case {
    std::string name;
    Refs refs;
    std::string expected;
  };
  Refs no_sha = BaseRefs();
  no_sha.base_sha = "";
  Refs one_pull = BaseRefs();
  one_pull.pulls = {MakePull(1, "bbbb222")};
  Refs two_pulls = BaseRefs();
  two_pulls.pulls = {MakePull(1, "bbbb222"), MakePull(23, "cccc333")};
  Refs pull_with_ref = BaseRefs();
  pull_with_ref.pulls = {MakePull(5, "dddd444", "refs/changes/05/5/1")};
  for (const Case& c : std::vector<Case>{
           {"base only", BaseRefs(), "main:aaaa111"},
           {"base without sha", no_sha, "main"},
           {"one pull", one_pull, "main:aaaa111,1:bbbb222"},
           {"two pulls", two_pulls, "main:aaaa111,1:bbbb222,23:cccc333"},
           {"pull with ref", pull_with_ref, "main:aaaa111,5:dddd444:refs/changes/05/5/1"},
       }) {
    EXPECT_EQ(PullRefsString(c.refs), c.expected) << c.name;
  }
}

TEST(JobEnvironmentTest, JobSpecIsJsonWithRefs) {
  Trigger trigger = PeriodicTrigger();
  trigger.job_type = JobType::kPresubmit;
  trigger.refs = BaseRefs();
  trigger.refs->pulls = {MakePull(42, "bbbb222")};
  std::map<std::string, std::string> env = Build(Job(), trigger);

  rapidjson::Document spec;
  ASSERT_TRUE(ParseJson(env.at("JOB_SPEC"), spec).ok()) << env.at("JOB_SPEC");
  ASSERT_TRUE(spec.IsObject());
  EXPECT_STREQ(spec["type"].GetString(), "presubmit");
  EXPECT_STREQ(spec["job"].GetString(), "build");
  EXPECT_STREQ(spec["buildid"].GetString(), "exec-1");
  EXPECT_STREQ(spec["prowjobid"].GetString(), "exec-1");
  ASSERT_TRUE(spec.HasMember("refs"));
  EXPECT_EQ(ReadRefs(spec["refs"]), *trigger.refs);
}

TEST(JobEnvironmentTest, JobSpecHasNoRefsWithoutRefs) {
  std::map<std::string, std::string> env = Build(Job(), PeriodicTrigger());
  rapidjson::Document spec;
  ASSERT_TRUE(ParseJson(env.at("JOB_SPEC"), spec).ok()) << env.at("JOB_SPEC");
  EXPECT_FALSE(spec.HasMember("refs"));
  EXPECT_STREQ(spec["type"].GetString(), "periodic");
}

TEST(JobEnvironmentTest, JobEnvBeatsBase) {
  JobConfig job = Job();
  job.env = {{"PATH", "/job/bin"}, {"HOME", "/job/home"}, {"EXTRA", "job"}};
  std::map<std::string, std::string> env = Build(job, PeriodicTrigger());
  EXPECT_EQ(env.at("PATH"), "/job/bin");
  EXPECT_EQ(env.at("HOME"), "/job/home");
  EXPECT_EQ(env.at("EXTRA"), "job");
  EXPECT_EQ(env.at("LANG"), "C.UTF-8");
}

TEST(JobEnvironmentTest, ProwVariablesBeatJobEnv) {
  JobConfig job = Job();
  job.env = {{"JOB_NAME", "other"}, {"BUILD_ID", "other"}, {"ARTIFACTS", "/elsewhere"}};
  std::map<std::string, std::string> env = Build(job, PeriodicTrigger());
  EXPECT_EQ(env.at("JOB_NAME"), "build");
  EXPECT_EQ(env.at("BUILD_ID"), "exec-1");
  EXPECT_EQ(env.at("ARTIFACTS"), kArtifacts);
}

TEST(JobEnvironmentTest, OverridesBeatEverything) {
  JobConfig job = Job();
  job.env = {{"MODE", "job"}, {"LANG", "en_US.UTF-8"}};
  Trigger trigger = PeriodicTrigger();
  trigger.pod_spec_options.envs = {
      {"MODE", "override"}, {"LANG", "de_DE.UTF-8"}, {"PATH", "/req/bin"}, {"BUILD_ID", "mine"}};
  std::map<std::string, std::string> env = Build(job, trigger);
  EXPECT_EQ(env.at("MODE"), "override");       // beats job env
  EXPECT_EQ(env.at("LANG"), "de_DE.UTF-8");    // beats job env and base
  EXPECT_EQ(env.at("PATH"), "/req/bin");       // beats base
  EXPECT_EQ(env.at("BUILD_ID"), "mine");       // beats Prow variables
  EXPECT_EQ(env.at("PROW_JOB_ID"), "exec-1");  // untouched ones stay
}

// gangway-cli sends RELEASE_IMAGE_INITIAL="" when -i is not given: the job gets it set and empty.
TEST(JobEnvironmentTest, AnEmptyOverrideSetsTheVariableEmpty) {
  JobConfig job = Job();
  job.env = {{"RELEASE_IMAGE_INITIAL", "quay.io/x:1"}};
  Trigger trigger = PeriodicTrigger();
  trigger.pod_spec_options.envs = {{"RELEASE_IMAGE_INITIAL", ""}, {"RELEASE_IMAGE_LATEST", ""}};
  std::map<std::string, std::string> env = Build(job, trigger);
  ASSERT_EQ(env.count("RELEASE_IMAGE_INITIAL"), 1u);
  EXPECT_EQ(env.at("RELEASE_IMAGE_INITIAL"), "");
  ASSERT_EQ(env.count("RELEASE_IMAGE_LATEST"), 1u);
  EXPECT_EQ(env.at("RELEASE_IMAGE_LATEST"), "");
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

struct PipelineJobSetup {
  ProjectConfig project;
  PipelineJobConfig job;
  PipelineJobContext context;
};

// The issue's upload_package job of project 9, triggered with UPLOAD_TO_S3=true.
PipelineJobSetup UploadPackage() {
  PipelineJobSetup s;
  s.project.id = 9;
  s.project.path = "group/project";
  s.project.variables = {{"DEPLOY_ENV", "staging"}, {"LEVEL", "project"}};
  s.job.name = "upload_package";
  s.job.stage = "package";
  s.job.env = {{"LEVEL", "job"}, {"ONLY_JOB", "1"}, {"DEPLOY_ENV", "job"}};
  s.context.pipeline_id = 445584632984941;
  s.context.pipeline_iid = 12;
  s.context.job_id = 445584632984999;
  s.context.ref = "main";
  s.context.sha = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";
  s.context.variables = {{"UPLOAD_TO_S3", "true"}, {"LEVEL", "trigger"}};
  s.context.payload_path = "/builds/payload.json";
  s.context.job_token = "job-token";
  return s;
}

std::map<std::string, std::string> Build(const PipelineJobSetup& s) {
  return BuildPipelineJobEnvironment(s.project, s.job, s.context, "0190f3a2-exec", "/work",
                                     "/artifacts", "/usr/bin");
}

TEST(PipelineJobEnvironmentTest, GitLabsPredefinedVariables) {
  auto env = Build(UploadPackage());
  EXPECT_EQ(env.at("CI_PIPELINE_SOURCE"), "trigger");
  EXPECT_EQ(env.at("CI_PIPELINE_TRIGGERED"), "true");
  EXPECT_EQ(env.at("CI_PIPELINE_ID"), "445584632984941");
  EXPECT_EQ(env.at("CI_PIPELINE_IID"), "12");
  EXPECT_EQ(env.at("CI_JOB_ID"), "445584632984999");
  EXPECT_EQ(env.at("CI_JOB_NAME"), "upload_package");
  EXPECT_EQ(env.at("CI_JOB_STAGE"), "package");
  EXPECT_EQ(env.at("CI_PROJECT_ID"), "9");
  EXPECT_EQ(env.at("CI_PROJECT_PATH"), "group/project");
  EXPECT_EQ(env.at("CI_COMMIT_REF_NAME"), "main");
  EXPECT_EQ(env.at("CI_COMMIT_SHA"), "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
  EXPECT_EQ(env.at("TRIGGER_PAYLOAD"), "/builds/payload.json");
  EXPECT_EQ(env.at("CI_JOB_TOKEN"), "job-token");
  EXPECT_EQ(env.at("HOME"), "/work");
  EXPECT_EQ(env.at("PATH"), "/usr/bin");
}

TEST(PipelineJobEnvironmentTest, TheServerUrlsComeFromTheGatewaysPublicUrl) {
  PipelineJobSetup s = UploadPackage();
  s.context.server_url = "https://sluice.example:8443/";
  auto env = Build(s);
  EXPECT_EQ(env.at("CI_SERVER_URL"), "https://sluice.example:8443");
  EXPECT_EQ(env.at("CI_API_V4_URL"), "https://sluice.example:8443/api/v4");
  EXPECT_EQ(env.at("CI_PROJECT_URL"), "https://sluice.example:8443/group/project");
  s.context.server_url.clear();
  EXPECT_EQ(Build(s).count("CI_SERVER_URL"), 0u);
}

TEST(PipelineJobEnvironmentTest, TriggerVariablesWinOverProjectVariablesOverTheJobsEnv) {
  auto env = Build(UploadPackage());
  EXPECT_EQ(env.at("UPLOAD_TO_S3"), "true");
  EXPECT_EQ(env.at("LEVEL"), "trigger");
  EXPECT_EQ(env.at("DEPLOY_ENV"), "staging") << "project over job";
  EXPECT_EQ(env.at("ONLY_JOB"), "1");
}

TEST(PipelineJobEnvironmentTest, WhatIdentifiesTheRunCannotBeOverridden) {
  PipelineJobSetup s = UploadPackage();
  s.context.variables["CI_JOB_TOKEN"] = "forged";
  s.context.variables["CI_PIPELINE_ID"] = "1";
  s.context.variables["CI_COMMIT_REF_NAME"] = "from-trigger";
  auto env = Build(s);
  EXPECT_EQ(env.at("CI_JOB_TOKEN"), "job-token");
  EXPECT_EQ(env.at("CI_PIPELINE_ID"), "445584632984941");
  EXPECT_EQ(env.at("CI_COMMIT_REF_NAME"), "from-trigger") << "as GitLab lets trigger variables do";
}

TEST(PipelineJobEnvironmentTest, AMultiProjectPipelineIsNotTriggeredAndMayLackASha) {
  PipelineJobSetup s = UploadPackage();
  s.context.source = "pipeline";
  s.context.sha.clear();
  s.context.payload_path.clear();
  auto env = Build(s);
  EXPECT_EQ(env.at("CI_PIPELINE_SOURCE"), "pipeline");
  EXPECT_FALSE(env.count("CI_PIPELINE_TRIGGERED"));
  EXPECT_FALSE(env.count("CI_COMMIT_SHA"));
  EXPECT_FALSE(env.count("TRIGGER_PAYLOAD"));
}

}  // namespace
}  // namespace sluice
