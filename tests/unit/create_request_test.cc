#include "gateway/create_request.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sluice {
namespace {

constexpr const char* kSha = "0123456789abcdef0123456789abcdef01234567";

// An error case: the status must be kInvalidArgument (HTTP 400) and contain message.
void ExpectInvalid(const Status& status, const std::string& message) {
  ASSERT_FALSE(status.ok()) << "expected an error containing: " << message;
  EXPECT_EQ(status.code(), Code::kInvalidArgument) << status.ToString();
  EXPECT_EQ(status.http_status(), 400) << status.ToString();
  EXPECT_NE(status.message().find(message), std::string::npos)
      << "message: " << status.message() << "\nexpected to contain: " << message;
}

Status ParseStatus(const std::string& body,
                   const std::optional<std::string>& path_job = std::nullopt) {
  return ParseCreateRequest(body, path_job).status();
}

CreateRequest MustParse(const std::string& body,
                        const std::optional<std::string>& path_job = std::nullopt) {
  StatusOr<CreateRequest> result = ParseCreateRequest(body, path_job);
  EXPECT_TRUE(result.ok()) << result.status().ToString() << "\nbody: " << body;
  return result.ok() ? *result : CreateRequest{};
}

// ---- Content-Type ----------------------------------------------------------------------------

TEST(CheckContentTypeTest, AcceptsJsonAndWhatCurlSends) {
  for (const char* type :
       {"", "  ", "application/json", "Application/JSON", "application/json; charset=utf-8",
        " application/json ;charset=UTF-8", "application/merge-patch+json",
        "application/vnd.sluice.v1+json", "text/plain", "text/plain;charset=us-ascii",
        "application/x-www-form-urlencoded", "APPLICATION/X-WWW-FORM-URLENCODED"}) {
    Status s = CheckContentType(type);
    EXPECT_TRUE(s.ok()) << "\"" << type << "\": " << s.ToString();
  }
}

TEST(CheckContentTypeTest, RejectsOtherMediaTypesWith415) {
  for (const char* type : {"application/xml", "multipart/form-data; boundary=x", "text/html",
                           "text/json+xml", "application/jsonx", "+json", "/+json",
                           "application/+json", "json", "*/*", "application/octet-stream"}) {
    SCOPED_TRACE(type);
    Status s = CheckContentType(type);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_EQ(s.http_status(), 415);
    std::string media(type);
    media = media.substr(0, media.find(';'));
    EXPECT_NE(s.message().find("\"" + media + "\""), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("application/json"), std::string::npos) << s.message();
  }
}

// ---- Parsing ---------------------------------------------------------------------------------

TEST(ParseCreateRequestTest, ReadsEveryField) {
  CreateRequest r = MustParse(R"({
    "job_name": "images",
    "job_execution_type": "2",
    "refs": {"org": "openshift", "repo": "installer", "repo_link": "https://x/openshift/installer",
             "base_ref": "main", "base_sha": "7336f38f75f91a876313daacbfw97f25dfe21bbf",
             "base_link": "https://x/compare", "path_alias": "github.com/openshift/installer",
             "clone_uri": "https://x/openshift/installer.git",
             "pulls": [{"number": 12, "author": "alice", "sha": "0123456789abcdef0123456789abcdef01234567",
                        "title": "Fix", "ref": "refs/pull/12/head", "link": "https://x/pull/12",
                        "commit_link": "https://x/commit", "author_link": "https://x/alice"}]},
    "pod_spec_options": {"envs": {"FOO": "bar"}, "labels": {"team": "ci"},
                         "annotations": {"note": "hello world"}}
  })");
  EXPECT_EQ(r.job_name, "images");
  EXPECT_EQ(r.job_type, JobType::kPostsubmit);
  ASSERT_TRUE(r.refs.has_value());
  EXPECT_EQ(r.refs->org, "openshift");
  EXPECT_EQ(r.refs->repo, "installer");
  EXPECT_EQ(r.refs->repo_link, "https://x/openshift/installer");
  EXPECT_EQ(r.refs->base_ref, "main");
  EXPECT_EQ(r.refs->base_sha, "7336f38f75f91a876313daacbfw97f25dfe21bbf");
  EXPECT_EQ(r.refs->base_link, "https://x/compare");
  EXPECT_EQ(r.refs->path_alias, "github.com/openshift/installer");
  EXPECT_EQ(r.refs->clone_uri, "https://x/openshift/installer.git");
  ASSERT_EQ(r.refs->pulls.size(), 1u);
  const Pull& p = r.refs->pulls[0];
  EXPECT_EQ(p.number, 12);
  EXPECT_EQ(p.author, "alice");
  EXPECT_EQ(p.sha, kSha);
  EXPECT_EQ(p.title, "Fix");
  EXPECT_EQ(p.ref, "refs/pull/12/head");
  EXPECT_EQ(p.link, "https://x/pull/12");
  EXPECT_EQ(p.commit_link, "https://x/commit");
  EXPECT_EQ(p.author_link, "https://x/alice");
  EXPECT_EQ(r.pod_spec_options.envs, (std::map<std::string, std::string>{{"FOO", "bar"}}));
  EXPECT_EQ(r.pod_spec_options.labels, (std::map<std::string, std::string>{{"team", "ci"}}));
  EXPECT_EQ(r.pod_spec_options.annotations,
            (std::map<std::string, std::string>{{"note", "hello world"}}));
}

TEST(ParseCreateRequestTest, MinimalPeriodicHasNoRefs) {
  CreateRequest r = MustParse(R"({"job_name": "periodic-to-trigger", "job_execution_type": "1"})");
  EXPECT_EQ(r.job_name, "periodic-to-trigger");
  EXPECT_EQ(r.job_type, JobType::kPeriodic);
  EXPECT_FALSE(r.refs.has_value());
  EXPECT_EQ(r.pod_spec_options, PodSpecOptions{});
}

TEST(ParseCreateRequestTest, EmptyRefsObjectIsPresent) {
  CreateRequest r = MustParse(R"({"job_name": "j", "job_execution_type": 1, "refs": {}})");
  ASSERT_TRUE(r.refs.has_value());
  EXPECT_EQ(*r.refs, Refs{});
}

TEST(ParseCreateRequestTest, AcceptsEveryJobExecutionTypeForm) {
  struct Case {
    const char* value;
    JobType type;
  };
  const Case cases[] = {
      {"1", JobType::kPeriodic},
      {R"("1")", JobType::kPeriodic},
      {R"("PERIODIC")", JobType::kPeriodic},
      {"2", JobType::kPostsubmit},
      {R"("2")", JobType::kPostsubmit},
      {R"("POSTSUBMIT")", JobType::kPostsubmit},
      {"3", JobType::kPresubmit},
      {R"("3")", JobType::kPresubmit},
      {R"("PRESUBMIT")", JobType::kPresubmit},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    CreateRequest r =
        MustParse(std::string(R"({"job_name": "j", "job_execution_type": )") + c.value + "}");
    EXPECT_EQ(r.job_type, c.type);
  }
}

TEST(ParseCreateRequestTest, RejectsUnsetUnsupportedAndUnknownJobExecutionTypes) {
  struct Case {
    const char* value;  // nullptr: field absent
    std::string message;
  };
  const Case cases[] = {
      {nullptr, "job_execution_type: required field is missing. The job type: 1 or \"PERIODIC\""},
      {"0",
       "job_execution_type: must be set to 1 or \"PERIODIC\", 2 or \"POSTSUBMIT\", 3 or "
       "\"PRESUBMIT\""},
      {R"("0")", "job_execution_type: must be set"},
      {R"("JOB_EXECUTION_TYPE_UNSPECIFIED")", "job_execution_type: must be set"},
      {"4", "job_execution_type: BATCH is not supported; use 1 or \"PERIODIC\""},
      {R"("4")", "job_execution_type: BATCH is not supported"},
      {R"("BATCH")", "job_execution_type: BATCH is not supported"},
      {"5",
       "job_execution_type: 5 is not a job type; use 1 or \"PERIODIC\", 2 or "
       "\"POSTSUBMIT\", 3 or \"PRESUBMIT\""},
      {"-1", "job_execution_type: -1 is not a job type"},
      {"99999999999999999999",
       "job_execution_type: expected an integer or a string, got a number "
       "that is not a plain integer"},
      {R"("periodic")", "job_execution_type: \"periodic\" is not a job type"},
      {R"(" 1")", "job_execution_type: \" 1\" is not a job type"},
      {R"("")", "job_execution_type: \"\" is not a job type"},
      {"1.5",
       "job_execution_type: expected an integer or a string, got a number that is not a "
       "plain integer"},
      {"true", "job_execution_type: expected an integer or a string, got a boolean"},
      {"null", "job_execution_type: expected an integer or a string, got null"},
      {"[1]", "job_execution_type: expected an integer or a string, got an array"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value ? c.value : "(absent)");
    std::string body =
        c.value ? std::string(R"({"job_name": "j", "job_execution_type": )") + c.value + "}"
                : std::string(R"({"job_name": "j"})");
    ExpectInvalid(ParseStatus(body), c.message);
  }
}

TEST(ParseCreateRequestTest, RejectsBodiesThatAreNotJsonObjects) {
  struct Case {
    std::string body;
    std::string message;
  };
  const Case cases[] = {
      {"", "request body is not valid JSON"},
      {"{", "request body is not valid JSON"},
      {"job_name=x", "request body is not valid JSON"},
      {R"({"job_name": "j",})", "request body is not valid JSON"},
      {"[]", "request body must be a JSON object, got an array"},
      {R"("text")", "request body must be a JSON object, got a string"},
      {"42", "request body must be a JSON object, got a number"},
      {"null", "request body must be a JSON object, got null"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    ExpectInvalid(ParseStatus(c.body), c.message);
  }
}

TEST(ParseCreateRequestTest, NamesUnknownFieldsByPath) {
  struct Case {
    std::string body;
    std::string message;
  };
  const Case cases[] = {
      {R"({"job_name": "j", "job_execution_type": 1, "jobName": "j"})",
       R"(unknown field "jobName"; the request accepts only job_name, job_execution_type, refs, pod_spec_options)"},
      {R"({"job_name": "j", "job_execution_type": 2, "refs": {"org": "o", "foo": "x"}})",
       R"(unknown field "refs.foo"; refs accepts only org, repo, repo_link)"},
      // Fields of Prow's Refs that Sluice does not implement are unknown too.
      {R"({"job_name": "j", "job_execution_type": 2, "refs": {"work_dir": true}})",
       R"(unknown field "refs.work_dir")"},
      // An unknown field whose value is an object is named itself, not by its members.
      {R"({"job_name": "j", "job_execution_type": 2, "refs": {"extra": {"org": "o"}}})",
       R"(unknown field "refs.extra")"},
      {R"({"job_name": "j", "job_execution_type": 2, "refs": {"a b": 1}})",
       R"(unknown field "refs."a b"")"},
      {R"({"job_name": "j", "job_execution_type": 3, "refs": {"pulls": [{"number": 1}, {"number": 2, "head": "x"}]}})",
       R"(unknown field "refs.pulls[1].head"; refs.pulls[1] accepts only number, author, sha)"},
      {R"({"job_name": "j", "job_execution_type": 1, "pod_spec_options": {"env": {}}})",
       R"(unknown field "pod_spec_options.env"; pod_spec_options accepts only envs, labels, annotations)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    ExpectInvalid(ParseStatus(c.body), c.message);
  }
}

TEST(ParseCreateRequestTest, NamesWrongTypesByPath) {
  struct Case {
    std::string fragment;  // appended to {"job_execution_type": 2
    std::string message;
  };
  const Case cases[] = {
      {R"(, "job_name": 5)", "job_name: expected a string, got a number"},
      {R"(, "job_name": "j", "refs": "openshift/installer")",
       "refs: expected an object, got a string"},
      {R"(, "job_name": "j", "refs": {"org": 5})", "refs.org: expected a string, got a number"},
      {R"(, "job_name": "j", "refs": {"base_sha": null})",
       "refs.base_sha: expected a string, got null"},
      {R"(, "job_name": "j", "refs": {"pulls": {}})",
       "refs.pulls: expected an array, got an object"},
      {R"(, "job_name": "j", "refs": {"pulls": [7]})",
       "refs.pulls[0]: expected an object, got a number"},
      {R"(, "job_name": "j", "refs": {"pulls": [{"number": 1}, {"sha": 1}]})",
       "refs.pulls[1].sha: expected a string, got a number"},
      {R"(, "job_name": "j", "refs": {"pulls": [{"number": "12"}]})",
       "refs.pulls[0].number: expected an integer, got a string"},
      {R"(, "job_name": "j", "refs": {"pulls": [{"number": 1.5}]})",
       "refs.pulls[0].number: expected an integer, got a number that is not a plain integer"},
      {R"(, "job_name": "j", "refs": {"pulls": [{"number": 3000000000}]})",
       "refs.pulls[0].number: must be at most 2147483647"},
      {R"(, "job_name": "j", "refs": {"pulls": [{"number": -3000000000}]})",
       "refs.pulls[0].number: must be at least -2147483648"},
      {R"(, "job_name": "j", "pod_spec_options": [])",
       "pod_spec_options: expected an object, got an array"},
      {R"(, "job_name": "j", "pod_spec_options": {"envs": "FOO=bar"})",
       "pod_spec_options.envs: expected an object, got a string"},
      {R"(, "job_name": "j", "pod_spec_options": {"envs": {"FOO": 1}})",
       "pod_spec_options.envs.FOO: expected a string, got a number"},
      {R"(, "job_name": "j", "pod_spec_options": {"labels": {"app/x": true}})",
       R"(pod_spec_options.labels."app/x": expected a string, got a boolean)"},
      {R"(, "job_name": "j", "pod_spec_options": {"annotations": {"0": {}}})",
       R"(pod_spec_options.annotations."0": expected a string, got an object)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.fragment);
    ExpectInvalid(ParseStatus(R"({"job_execution_type": 2)" + c.fragment + "}"), c.message);
  }
}

TEST(ParseCreateRequestTest, RequiresANonEmptyJobName) {
  ExpectInvalid(ParseStatus(R"({"job_execution_type": 1})"), "job_name: required");
  ExpectInvalid(ParseStatus(R"({"job_name": "", "job_execution_type": 1})"), "job_name: required");
  ExpectInvalid(ParseStatus(R"({"job_execution_type": 1})", std::string()), "job_name: required");
}

TEST(ParseCreateRequestTest, JobNameFromThePath) {
  EXPECT_EQ(MustParse(R"({"job_execution_type": "1"})", "nightly").job_name, "nightly");
  EXPECT_EQ(MustParse(R"({"job_name": "nightly", "job_execution_type": "1"})", "nightly").job_name,
            "nightly");
  EXPECT_EQ(MustParse(R"({"job_name": "", "job_execution_type": "1"})", "nightly").job_name,
            "nightly");
  ExpectInvalid(ParseStatus(R"({"job_name": "other", "job_execution_type": "1"})", "nightly"),
                R"(job_name: the body says "other" but the path says "nightly")");
}

// gangway-cli's body as it sends it (Go's json.MarshalIndent), with -l given and -i not.
TEST(ParseCreateRequestTest, KeepsEmptyEnvValuesAsGangwayCliSendsThem) {
  CreateRequest r = MustParse(
      "{\n  \"job_execution_type\": \"1\",\n  \"pod_spec_options\": {\n    \"envs\": {\n"
      "      \"RELEASE_IMAGE_INITIAL\": \"\",\n      \"RELEASE_IMAGE_LATEST\": \"quay.io/x:1\"\n"
      "    }\n  }\n}",
      "nightly");
  EXPECT_EQ(r.job_name, "nightly");
  EXPECT_EQ(r.job_type, JobType::kPeriodic);
  EXPECT_EQ(r.pod_spec_options.envs,
            (std::map<std::string, std::string>{{"RELEASE_IMAGE_INITIAL", ""},
                                                {"RELEASE_IMAGE_LATEST", "quay.io/x:1"}}));
}

// ---- Rules that need the job -----------------------------------------------------------------

JobConfig PeriodicJob() {
  JobConfig job;
  job.name = "nightly";
  job.type = JobType::kPeriodic;
  job.allow_env_override = {"RELEASE_IMAGE_LATEST", "MULTISTAGE_PARAM_OVERRIDE_*"};
  return job;
}

JobConfig PostsubmitJob() {
  JobConfig job;
  job.name = "images";
  job.type = JobType::kPostsubmit;
  job.repo = "openshift/installer";
  job.branches = {"^main$", R"(^release-4\.[0-9]+$)"};
  return job;
}

JobConfig PresubmitJob() {
  JobConfig job;
  job.name = "unit";
  job.type = JobType::kPresubmit;
  return job;
}

Pull MakePull(int number, std::string sha) {
  Pull pull;
  pull.number = number;
  pull.sha = std::move(sha);
  return pull;
}

CreateRequest RequestFor(const JobConfig& job) {
  CreateRequest r;
  r.job_name = job.name;
  r.job_type = job.type;
  if (job.type != JobType::kPeriodic) {
    Refs refs;
    refs.org = "openshift";
    refs.repo = "installer";
    refs.base_ref = "main";
    // Not hex: OpenShift's documented example has a 'w', and Prow does not check base_sha.
    refs.base_sha = "7336f38f75f91a876313daacbfw97f25dfe21bbf";
    if (job.type == JobType::kPresubmit) refs.pulls.push_back(MakePull(12, kSha));
    r.refs = refs;
  }
  return r;
}

struct JobCase {
  std::string name;
  JobConfig job;
  std::function<void(CreateRequest&)> change;
  std::string message;  // empty: valid
};

void RunJobCases(const std::vector<JobCase>& cases) {
  for (const JobCase& c : cases) {
    SCOPED_TRACE(c.name);
    CreateRequest request = RequestFor(c.job);
    c.change(request);
    Status s = ValidateAgainstJob(request, c.job);
    if (c.message.empty()) {
      EXPECT_TRUE(s.ok()) << s.ToString();
    } else {
      ExpectInvalid(s, c.message);
    }
  }
}

TEST(ValidateAgainstJobTest, AcceptsWellFormedRequests) {
  auto none = [](CreateRequest&) {};
  RunJobCases({
      {"periodic", PeriodicJob(), none, ""},
      {"postsubmit with a non-hex base_sha", PostsubmitJob(), none, ""},
      {"presubmit", PresubmitJob(), none, ""},
      {"release branch", PostsubmitJob(),
       [](CreateRequest& r) { r.refs->base_ref = "release-4.18"; }, ""},
      {"allowed envs", PeriodicJob(),
       [](CreateRequest& r) {
         r.pod_spec_options.envs = {{"RELEASE_IMAGE_LATEST", "quay.io/x:1"},
                                    {"MULTISTAGE_PARAM_OVERRIDE_FOO", "bar"}};
       },
       ""},
      {"labels and annotations", PeriodicJob(),
       [](CreateRequest& r) {
         r.pod_spec_options.labels = {{"team", "ci"}, {"example.com/tier", "v1.2-x_y"}};
         r.pod_spec_options.annotations = {{"note with spaces", "any value / at all"}};
       },
       ""},
      {"any repo and branch when the job does not restrict them", PresubmitJob(),
       [](CreateRequest& r) {
         r.refs->org = "kubernetes";
         r.refs->repo = "kubernetes";
         r.refs->base_ref = "feature/x";
       },
       ""},
  });
}

TEST(ValidateAgainstJobTest, JobTypeMustMatchTheJob) {
  RunJobCases({
      {"periodic sent for postsubmit", PostsubmitJob(),
       [](CreateRequest& r) { r.job_type = JobType::kPeriodic; },
       R"(job_execution_type: job "images" is a POSTSUBMIT job, not PERIODIC; send job_execution_type 2 (POSTSUBMIT))"},
      {"presubmit sent for periodic", PeriodicJob(),
       [](CreateRequest& r) { r.job_type = JobType::kPresubmit; },
       R"(job_execution_type: job "nightly" is a PERIODIC job, not PRESUBMIT)"},
  });
}

TEST(ValidateAgainstJobTest, RefsRules) {
  RunJobCases({
      {"periodic with refs", PeriodicJob(), [](CreateRequest& r) { r.refs = Refs{}; },
       "refs: must be absent for a PERIODIC job"},
      {"postsubmit without refs", PostsubmitJob(), [](CreateRequest& r) { r.refs.reset(); },
       "refs: required for a POSTSUBMIT job"},
      {"presubmit without refs", PresubmitJob(), [](CreateRequest& r) { r.refs.reset(); },
       "refs: required for a PRESUBMIT job"},
      {"no org", PostsubmitJob(), [](CreateRequest& r) { r.refs->org.clear(); },
       "refs.org: required for a POSTSUBMIT job"},
      {"no repo", PostsubmitJob(), [](CreateRequest& r) { r.refs->repo.clear(); },
       "refs.repo: required for a POSTSUBMIT job"},
      {"no base_ref", PostsubmitJob(), [](CreateRequest& r) { r.refs->base_ref.clear(); },
       "refs.base_ref: required for a POSTSUBMIT job"},
      {"no base_sha", PostsubmitJob(), [](CreateRequest& r) { r.refs->base_sha.clear(); },
       "refs.base_sha: required for a POSTSUBMIT job"},
      {"presubmit no base_sha", PresubmitJob(), [](CreateRequest& r) { r.refs->base_sha.clear(); },
       "refs.base_sha: required for a PRESUBMIT job"},
      {"presubmit without pulls", PresubmitJob(), [](CreateRequest& r) { r.refs->pulls.clear(); },
       "refs.pulls: a PRESUBMIT job needs at least one pull request"},
      {"pull number 0", PresubmitJob(), [](CreateRequest& r) { r.refs->pulls[0].number = 0; },
       "refs.pulls[0].number: must be a positive pull request number, got 0"},
      {"pull number negative", PresubmitJob(),
       [](CreateRequest& r) { r.refs->pulls[0].number = -3; },
       "refs.pulls[0].number: must be a positive pull request number, got -3"},
      {"pull sha missing", PresubmitJob(), [](CreateRequest& r) { r.refs->pulls[0].sha.clear(); },
       "refs.pulls[0].sha: must be a 40-character hex commit SHA"},
      {"pull sha short", PresubmitJob(),
       [](CreateRequest& r) { r.refs->pulls[0].sha = "0123456789abcdef"; },
       R"(refs.pulls[0].sha: must be a 40-character hex commit SHA (lower case), the pull request's head commit; got "0123456789abcdef")"},
      {"pull sha not hex", PresubmitJob(),
       [](CreateRequest& r) { r.refs->pulls[0].sha = "7336f38f75f91a876313daacbfw97f25dfe21bbf"; },
       "refs.pulls[0].sha: must be a 40-character hex commit SHA"},
      {"pull sha upper case", PresubmitJob(),
       [](CreateRequest& r) { r.refs->pulls[0].sha = "0123456789ABCDEF0123456789ABCDEF01234567"; },
       "refs.pulls[0].sha: must be a 40-character hex commit SHA"},
      {"second pull bad", PresubmitJob(),
       [](CreateRequest& r) { r.refs->pulls.push_back(MakePull(13, "nope")); },
       "refs.pulls[1].sha: must be a 40-character hex commit SHA"},
      {"postsubmit pulls are checked when present", PostsubmitJob(),
       [](CreateRequest& r) { r.refs->pulls.push_back(MakePull(5, "abc")); },
       "refs.pulls[0].sha: must be a 40-character hex commit SHA"},
      {"wrong org", PostsubmitJob(), [](CreateRequest& r) { r.refs->org = "kubernetes"; },
       R"(refs.org: job "images" builds openshift/installer, not "kubernetes/installer")"},
      {"wrong repo", PostsubmitJob(), [](CreateRequest& r) { r.refs->repo = "origin"; },
       R"(refs.repo: job "images" builds openshift/installer, not "openshift/origin")"},
      {"branch not matching", PostsubmitJob(), [](CreateRequest& r) { r.refs->base_ref = "dev"; },
       R"(refs.base_ref: job "images" does not run on branch "dev"; base_ref must match one of "^main$", "^release-4\\.[0-9]+$")"},
      {"branch regex is searched, anchors matter", PostsubmitJob(),
       [](CreateRequest& r) { r.refs->base_ref = "main2"; },
       R"(refs.base_ref: job "images" does not run on branch "main2")"},
      {"absurdly long base_ref", PostsubmitJob(),
       [](CreateRequest& r) { r.refs->base_ref = std::string(5000, 'm'); },
       "refs.base_ref: longer than 1024 bytes"},
  });
}

TEST(ValidateAgainstJobTest, BranchesAreSearchedNotFullyMatched) {
  JobConfig job = PostsubmitJob();
  job.branches = {"release"};
  CreateRequest r = RequestFor(job);
  r.refs->base_ref = "openshift-release-4.18";
  EXPECT_TRUE(ValidateAgainstJob(r, job).ok());
}

TEST(ValidateAgainstJobTest, EnvRules) {
  auto with_env = [](std::string name, std::string value) {
    return [name, value](CreateRequest& r) { r.pod_spec_options.envs[name] = value; };
  };
  JobConfig no_overrides = PeriodicJob();
  no_overrides.allow_env_override.clear();
  RunJobCases({
      {"bad name", PeriodicJob(), with_env("1BAD", "x"),
       R"(pod_spec_options.envs: "1BAD" is not a valid environment variable name)"},
      {"name with dash", PeriodicJob(), with_env("MY-VAR", "x"),
       R"(pod_spec_options.envs: "MY-VAR" is not a valid environment variable name)"},
      {"empty name", PeriodicJob(), with_env("", "x"),
       R"(pod_spec_options.envs: "" is not a valid environment variable name)"},
      {"empty value is a value", PeriodicJob(), with_env("RELEASE_IMAGE_LATEST", ""), ""},
      {"empty value of a variable the job does not allow", PeriodicJob(), with_env("FOO", ""),
       R"(pod_spec_options.envs.FOO: job "nightly" does not allow overriding FOO (allowed: RELEASE_IMAGE_LATEST, MULTISTAGE_PARAM_OVERRIDE_*))"},
      {"empty value when the job allows none", no_overrides, with_env("RELEASE_IMAGE_LATEST", ""),
       "does not allow overriding RELEASE_IMAGE_LATEST; the job allows no environment overrides"},
      {"not allowed", PeriodicJob(), with_env("FOO", "x"),
       R"(pod_spec_options.envs.FOO: job "nightly" does not allow overriding FOO (allowed: RELEASE_IMAGE_LATEST, MULTISTAGE_PARAM_OVERRIDE_*))"},
      {"prefix without the glob is exact", PeriodicJob(), with_env("RELEASE_IMAGE_LATEST_2", "x"),
       "pod_spec_options.envs.RELEASE_IMAGE_LATEST_2: job \"nightly\" does not allow overriding"},
      {"job allows none", no_overrides, with_env("FOO", "x"),
       R"(pod_spec_options.envs.FOO: job "nightly" does not allow overriding FOO; the job allows no environment overrides)"},
  });
}

TEST(ValidateAgainstJobTest, LabelAndAnnotationRules) {
  auto with_label = [](std::string key, std::string value) {
    return [key, value](CreateRequest& r) { r.pod_spec_options.labels[key] = value; };
  };
  auto with_annotation = [](std::string key, std::string value) {
    return [key, value](CreateRequest& r) { r.pod_spec_options.annotations[key] = value; };
  };
  const JobConfig job = PeriodicJob();
  RunJobCases({
      {"reserved label", job, with_label("sluice.io/user", "me"),
       R"(pod_spec_options.labels."sluice.io/user": the sluice.io/ prefix is reserved)"},
      {"reserved label, other case", job, with_label("Sluice.IO/user", "me"),
       R"(pod_spec_options.labels."Sluice.IO/user": the sluice.io/ prefix is reserved)"},
      {"reserved annotation", job, with_annotation("sluice.io/client", "me"),
       R"(pod_spec_options.annotations."sluice.io/client": the sluice.io/ prefix is reserved)"},
      {"empty label key", job, with_label("", "x"),
       "pod_spec_options.labels: keys must not be empty"},
      {"empty annotation key", job, with_annotation("", "x"),
       "pod_spec_options.annotations: keys must not be empty"},
      {"empty label value", job, with_label("team", ""),
       "pod_spec_options.labels.team: value must not be empty"},
      {"empty annotation value", job, with_annotation("note", ""),
       "pod_spec_options.annotations.note: value must not be empty"},
      {"label key starts with dash", job, with_label("-team", "x"),
       R"(pod_spec_options.labels."-team": not a valid label key)"},
      {"label key with space", job, with_label("my team", "x"),
       R"(pod_spec_options.labels."my team": not a valid label key)"},
      {"label key too long", job, with_label(std::string(64, 'a'), "x"), "not a valid label key"},
      {"label key prefix upper case", job, with_label("Example.com/team", "x"),
       R"(pod_spec_options.labels."Example.com/team": not a valid label key)"},
      {"label key empty prefix", job, with_label("/team", "x"), "not a valid label key"},
      {"label key two slashes", job, with_label("a.io/b/c", "x"), "not a valid label key"},
      {"label key empty name", job, with_label("example.com/", "x"), "not a valid label key"},
      {"label value too long", job, with_label("team", std::string(64, 'a')),
       "pod_spec_options.labels.team: \"aaaa"},
      {"label value ends with dot", job, with_label("team", "ci."),
       R"(pod_spec_options.labels.team: "ci." is not a valid label value)"},
      {"label value with slash", job, with_label("team", "a/b"),
       R"(pod_spec_options.labels.team: "a/b" is not a valid label value)"},
      {"63-character label key and value are fine", job,
       with_label(std::string(63, 'k'), std::string(63, 'v')), ""},
  });
}

TEST(ValidateAgainstJobTest, ReportsTheFirstRuleInOrder) {
  // Each request breaks two rules; the one checked first is reported.
  RunJobCases({
      {"type before refs", PeriodicJob(),
       [](CreateRequest& r) {
         r.job_type = JobType::kPostsubmit;
         r.refs = Refs{};
       },
       "job_execution_type:"},
      {"refs before envs", PostsubmitJob(),
       [](CreateRequest& r) {
         r.refs->org.clear();
         r.pod_spec_options.envs["1BAD"] = "x";
       },
       "refs.org:"},
      {"required fields before pulls", PresubmitJob(),
       [](CreateRequest& r) {
         r.refs->repo.clear();
         r.refs->pulls.clear();
       },
       "refs.repo:"},
      {"envs before labels", PeriodicJob(),
       [](CreateRequest& r) {
         r.pod_spec_options.envs["FOO"] = "x";
         r.pod_spec_options.labels["sluice.io/x"] = "y";
       },
       "pod_spec_options.envs.FOO:"},
      {"labels before annotations", PeriodicJob(),
       [](CreateRequest& r) {
         r.pod_spec_options.labels["team"] = "";
         r.pod_spec_options.annotations["sluice.io/x"] = "y";
       },
       "pod_spec_options.labels.team:"},
  });
}

TEST(EnvNamesTest, IsValidEnvName) {
  for (const char* name : {"A", "_", "FOO", "foo_bar", "_X1", "RELEASE_IMAGE_LATEST", "a1"}) {
    EXPECT_TRUE(IsValidEnvName(name)) << name;
  }
  for (const char* name : {"", "1BAD", "9", "MY-VAR", "A B", "A=B", "É", "FOO.BAR"}) {
    EXPECT_FALSE(IsValidEnvName(name)) << name;
  }
}

TEST(EnvNamesTest, EnvNameAllowed) {
  const std::vector<std::string> allow = {"RELEASE_IMAGE_LATEST", "MULTISTAGE_PARAM_OVERRIDE_*",
                                          "A*B"};
  struct Case {
    const char* name;
    bool allowed;
  };
  const Case cases[] = {
      {"RELEASE_IMAGE_LATEST", true},
      {"RELEASE_IMAGE_LATES", false},
      {"RELEASE_IMAGE_LATEST_X", false},
      {"MULTISTAGE_PARAM_OVERRIDE_", true},
      {"MULTISTAGE_PARAM_OVERRIDE_FOO", true},
      {"MULTISTAGE_PARAM_OVERRIDE", false},
      {"multistage_param_override_FOO", false},
      {"AXB", false},  // '*' is a glob only at the end
      {"A*B", true},
  };
  for (const Case& c : cases) EXPECT_EQ(EnvNameAllowed(allow, c.name), c.allowed) << c.name;
  EXPECT_FALSE(EnvNameAllowed({}, "FOO"));
  EXPECT_TRUE(EnvNameAllowed({"*"}, "ANYTHING"));
}

// ---- Fingerprint -----------------------------------------------------------------------------

CreateRequest FullRequest() {
  CreateRequest r = RequestFor(PresubmitJob());
  r.refs->repo_link = "https://x/repo";
  r.refs->base_link = "https://x/base";
  r.refs->path_alias = "alias";
  r.refs->clone_uri = "https://x/clone";
  Pull& p = r.refs->pulls[0];
  p.author = "alice";
  p.title = "Fix";
  p.ref = "refs/pull/12/head";
  p.link = "https://x/pull/12";
  p.commit_link = "https://x/commit";
  p.author_link = "https://x/alice";
  r.pod_spec_options.envs = {{"A", "bc"}};
  r.pod_spec_options.labels = {{"team", "ci"}};
  r.pod_spec_options.annotations = {{"note", "n"}};
  return r;
}

TEST(RequestFingerprintTest, IsLowerCaseHexSha256AndStable) {
  const std::string fingerprint = RequestFingerprint(FullRequest());
  EXPECT_EQ(fingerprint.size(), 64u);
  EXPECT_EQ(fingerprint.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(fingerprint, RequestFingerprint(FullRequest()));
  // Fingerprints are stored with executions in Kafka: a change to the encoding makes a retried
  // Idempotency-Key look like a different request. Change this value only on purpose.
  EXPECT_EQ(RequestFingerprint(RequestFor(PeriodicJob())),
            "92729ce90f16ad7344ddd9bcfb0cb373ec725ecc63a92001d5058971166b5f61");
}

TEST(RequestFingerprintTest, IgnoresJsonSpellingAndWhereTheJobNameCameFrom) {
  CreateRequest a = MustParse(
      R"({"job_name": "nightly", "job_execution_type": "1",
          "pod_spec_options": {"envs": {"B": "2", "A": "1"}, "labels": {"x": "y"}}})");
  CreateRequest b = MustParse(
      R"({"pod_spec_options": {"labels": {"x": "y"}, "envs": {"A": "1", "B": "2"}},
          "job_execution_type": "PERIODIC"})",
      "nightly");
  CreateRequest c = MustParse(
      R"({"job_execution_type": 1, "job_name": "nightly",
          "pod_spec_options": {"envs": {"A": "1", "B": "2"}, "labels": {"x": "y"}, "annotations": {}}})");
  EXPECT_EQ(RequestFingerprint(a), RequestFingerprint(b));
  EXPECT_EQ(RequestFingerprint(a), RequestFingerprint(c));
}

TEST(RequestFingerprintTest, ChangesWithEveryField) {
  const std::string base = RequestFingerprint(FullRequest());
  const std::vector<std::pair<std::string, std::function<void(CreateRequest&)>>> changes = {
      {"job_name", [](CreateRequest& r) { r.job_name = "unit2"; }},
      {"job_type", [](CreateRequest& r) { r.job_type = JobType::kPostsubmit; }},
      {"refs absent", [](CreateRequest& r) { r.refs.reset(); }},
      {"org", [](CreateRequest& r) { r.refs->org = "o2"; }},
      {"repo", [](CreateRequest& r) { r.refs->repo = "r2"; }},
      {"repo_link", [](CreateRequest& r) { r.refs->repo_link += "2"; }},
      {"base_ref", [](CreateRequest& r) { r.refs->base_ref = "dev"; }},
      {"base_sha", [](CreateRequest& r) { r.refs->base_sha = "x"; }},
      {"base_link", [](CreateRequest& r) { r.refs->base_link += "2"; }},
      {"path_alias", [](CreateRequest& r) { r.refs->path_alias += "2"; }},
      {"clone_uri", [](CreateRequest& r) { r.refs->clone_uri += "2"; }},
      {"no pulls", [](CreateRequest& r) { r.refs->pulls.clear(); }},
      {"second pull", [](CreateRequest& r) { r.refs->pulls.push_back(r.refs->pulls[0]); }},
      {"pull number", [](CreateRequest& r) { r.refs->pulls[0].number = 13; }},
      {"pull author", [](CreateRequest& r) { r.refs->pulls[0].author = "bob"; }},
      {"pull sha", [](CreateRequest& r) { r.refs->pulls[0].sha[0] = 'f'; }},
      {"pull title", [](CreateRequest& r) { r.refs->pulls[0].title += "!"; }},
      {"pull ref", [](CreateRequest& r) { r.refs->pulls[0].ref += "2"; }},
      {"pull link", [](CreateRequest& r) { r.refs->pulls[0].link += "2"; }},
      {"pull commit_link", [](CreateRequest& r) { r.refs->pulls[0].commit_link += "2"; }},
      {"pull author_link", [](CreateRequest& r) { r.refs->pulls[0].author_link += "2"; }},
      {"env value", [](CreateRequest& r) { r.pod_spec_options.envs["A"] = "bd"; }},
      // {"A": "bc"} and {"Ab": "c"} must not collide.
      {"env split differently",
       [](CreateRequest& r) {
         r.pod_spec_options.envs = {{"Ab", "c"}};
       }},
      {"extra env", [](CreateRequest& r) { r.pod_spec_options.envs["Z"] = "z"; }},
      {"label", [](CreateRequest& r) { r.pod_spec_options.labels["team"] = "cd"; }},
      {"annotation", [](CreateRequest& r) { r.pod_spec_options.annotations["note"] = "m"; }},
      {"label moved to annotations",
       [](CreateRequest& r) {
         r.pod_spec_options.labels.clear();
         r.pod_spec_options.annotations["team"] = "ci";
       }},
  };
  std::set<std::string> seen = {base};
  for (const auto& [name, change] : changes) {
    CreateRequest r = FullRequest();
    change(r);
    std::string fingerprint = RequestFingerprint(r);
    EXPECT_NE(fingerprint, base) << name;
    EXPECT_TRUE(seen.insert(fingerprint).second) << name << " collides with an earlier change";
  }
}

TEST(RequestFingerprintTest, AbsentRefsDifferFromEmptyRefs) {
  CreateRequest without = RequestFor(PeriodicJob());
  CreateRequest with_empty = without;
  with_empty.refs = Refs{};
  EXPECT_NE(RequestFingerprint(without), RequestFingerprint(with_empty));
}

TEST(CheckEnvSizesTest, AcceptsValuesAndTotalsAtTheLimits) {
  EXPECT_TRUE(CheckEnvSizes({{"A", std::string(10, 'x')}}, 10, 11, "envs").ok());
  EXPECT_TRUE(CheckEnvSizes({}, 0, 0, "envs").ok());
}

TEST(CheckEnvSizesTest, NamesTheVariableOverTheValueLimit) {
  ExpectInvalid(CheckEnvSizes({{"A", "ok"}, {"BIG", std::string(11, 'x')}}, 10, 100, "envs"),
                "envs.BIG: the value is 11 bytes; the limit is 10 bytes per value");
}

TEST(CheckEnvSizesTest, CountsNamesAndValuesAgainstTheTotal) {
  ExpectInvalid(CheckEnvSizes({{"AB", "xxxx"}, {"CD", "yyyy"}}, 10, 11, "variables"),
                "variables: names and values add up to 12 bytes; the limit is 11 bytes in all");
}

TEST(CheckEnvSizesTest, EchoesALongVariableNameShortly) {
  Status s = CheckEnvSizes({{std::string(5000, 'N'), "toolong"}}, 1, 100000, "envs");
  ASSERT_FALSE(s.ok());
  EXPECT_LT(s.message().size(), 400u) << s.message();
}

TEST(ParseCreateRequestTest, EchoesAtMost200CharactersOfALongValue) {
  std::string body =
      R"({"job_name":"a","job_execution_type":")" + std::string(900000, 'T') + R"("})";
  Status s = ParseStatus(body);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(std::string(200, 'T') + "\xE2\x80\xA6"), std::string::npos);
  EXPECT_EQ(s.message().find(std::string(201, 'T')), std::string::npos);
  EXPECT_LT(s.message().size(), 500u);
}

TEST(ParseCreateRequestTest, RefusesTextThatIsNotUtf8NamingTheField) {
  ExpectInvalid(ParseStatus("{\"job_name\":\"j\",\"job_execution_type\":1,"
                            "\"pod_spec_options\":{\"envs\":{\"X\":\"\xff\xfe\xc0\xaf\"}}}"),
                "pod_spec_options.envs.X: not valid UTF-8");
  ExpectInvalid(ParseStatus(R"({"job_name":"j","job_execution_type":1,)"
                            R"("pod_spec_options":{"envs":{"X":"\udc00"}}})"),
                "pod_spec_options.envs.X: not valid UTF-8");
  ExpectInvalid(ParseStatus(R"({"job_name":"\udc00","job_execution_type":1})"),
                "job_name: not valid UTF-8");
}

}  // namespace
}  // namespace sluice
