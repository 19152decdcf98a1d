// The executions API of issue 2 end to end: a real gateway and worker on an embedded broker,
// spoken to over HTTP. The tests share one deployment; each uses jobs of its own so that none
// sees another's executions.

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "tests/integration/api_helpers.h"
#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

constexpr char kListJobs[] =
    "  - {name: hello, type: periodic, command: [sh, -c, 'echo hello from $JOB_NAME']}\n"
    "  - {name: env-echo, type: periodic, command: [sh, -c, 'echo GREETING=$GREETING'],\n"
    "     env: {GREETING: from-job}, allow_env_override: [GREETING]}\n"
    "  - {name: post, type: postsubmit,\n"
    "     command: [sh, -c, 'echo owner=$REPO_OWNER repo=$REPO_NAME base_sha=$PULL_BASE_SHA']}\n"
    "  - {name: fails, type: periodic, command: [sh, -c, 'echo about to fail; exit 3']}\n"
    "  - {name: too-slow, type: periodic, timeout: 1s, command: [sleep, '30']}\n"
    "  - {name: long, type: periodic, command: [sh, -c, 'echo started; sleep 60']}\n"
    "  - {name: list-a, type: periodic, command: ['true']}\n"
    "  - {name: list-b, type: periodic, command: ['true']}\n"
    "  - {name: list-page, type: periodic, command: ['true']}\n"
    "  - {name: list-ok, type: periodic, command: ['true']}\n"
    "  - {name: list-fail, type: periodic, command: ['false']}\n"
    "  - {name: alice-only, type: periodic, command: ['true']}\n"
    "  - {name: bob-job, type: periodic, command: ['true']}\n";

constexpr char kSha[] = "5bd40dc1b1a3d9c0bb8e2f3f8d4c7a6e1f2b3c4d";

class ExecutionsApi : public OneDeploymentSuite<ExecutionsApi> {
 public:
  static constexpr const char* kJobs = kListJobs;

 protected:
  static SluiceProcess& gateway() { return *gateway_; }
  static std::string List(const std::string& query) {
    return gateway().url() + "/v1/executions" + query;
  }
  // Triggers `job` and waits until its execution has ended; returns the id.
  std::string RunToEnd(const std::string& job, const std::string& want_status) {
    std::string id = TriggerPeriodic(http_, gateway(), job);
    EXPECT_FALSE(id.empty());
    if (id.empty()) return "";
    EXPECT_EQ(WaitForEnd(http_, gateway(), id), want_status) << id;
    return id;
  }
  // Waits until GET /v1/executions?job_name=<job> lists `n` executions; returns the last answer.
  HttpResponse WaitForListed(const std::string& job, size_t n) {
    HttpResponse r;
    WaitFor([&] {
      r = http_.Get(List("?job_name=" + job + "&page_size=500"), kAliceToken);
      return r.status == 200 && ListedIds(r).size() == n;
    });
    return r;
  }

  HttpClient http_;
};

const std::regex kUuidV7("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
const std::regex kRfc3339(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$)");

TEST_F(ExecutionsApi, PostAnswersTriggeredWithLocationUuidV7AndWhoTriggered) {
  HttpResponse r = PostExecution(http_, gateway(), PeriodicBody("hello"));

  ASSERT_EQ(r.status, 200) << r.body << r.error;
  rapidjson::Document e = r.Json();
  ASSERT_TRUE(e.IsObject()) << r.body;
  std::string id = StringField(e, "id");
  EXPECT_TRUE(std::regex_match(id, kUuidV7)) << "not a UUID v7: " << id;
  EXPECT_EQ(StringField(e, "job_status"), "TRIGGERED");
  EXPECT_EQ(StringField(e, "job_name"), "hello");
  EXPECT_EQ(StringField(e, "job_type"), "PERIODIC");
  EXPECT_EQ(Header(r, "location"), "/v1/executions/" + id);
  EXPECT_TRUE(std::regex_match(StringField(e, "create_time"), kRfc3339)) << r.body;
  EXPECT_FALSE(HasField(e, "start_time")) << "not started yet: " << r.body;
  EXPECT_FALSE(HasField(e, "completion_time")) << "not ended yet: " << r.body;
  ASSERT_TRUE(HasField(e, "pod_spec_options")) << r.body;
  const rapidjson::Value& annotations = e["pod_spec_options"]["annotations"];
  EXPECT_EQ(StringField(annotations, "sluice.io/user"), "alice") << r.body;
  EXPECT_EQ(StringField(annotations, "sluice.io/source"), "api") << r.body;
}

TEST_F(ExecutionsApi, TriggeredJobReachesSuccessWithItsLogReadable) {
  std::string id = RunToEnd("hello", "SUCCESS");

  HttpResponse log = http_.Get(ExecutionUrl(gateway(), id) + "/log", kAliceToken);
  EXPECT_EQ(log.status, 200) << log.body;
  EXPECT_NE(Header(log, "content-type").find("text/plain"), std::string::npos)
      << Header(log, "content-type");
  EXPECT_NE(log.body.find("hello from hello"), std::string::npos) << log.body;
}

TEST_F(ExecutionsApi, JobExecutionTypeAcceptsNumberQuotedNumberAndName) {
  for (const char* type : {"1", "\"1\"", "\"PERIODIC\""}) {
    SCOPED_TRACE(type);
    HttpResponse r = PostExecution(
        http_, gateway(),
        std::string("{\"job_name\": \"hello\", \"job_execution_type\": ") + type + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(StringField(r, "job_type"), "PERIODIC") << r.body;
    EXPECT_EQ(StringField(r, "job_status"), "TRIGGERED") << r.body;
  }
}

TEST_F(ExecutionsApi, PathFormNamesTheJobWhenTheBodyOmitsJobName) {
  HttpResponse r = http_.Post(gateway().url() + "/v1/executions/hello", kAliceToken,
                              "{\"job_execution_type\": \"PERIODIC\"}");

  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(StringField(r, "job_name"), "hello");
  std::string id = StringField(r, "id");
  EXPECT_EQ(Header(r, "location"), "/v1/executions/" + id);
  EXPECT_EQ(WaitForEnd(http_, gateway(), id), "SUCCESS");
  EXPECT_NE(LogOf(http_, gateway(), id).find("hello from hello"), std::string::npos);
}

TEST_F(ExecutionsApi, EnvOverrideReachesTheJobAndWinsOverTheJobEnv) {
  std::string plain = RunToEnd("env-echo", "SUCCESS");
  HttpResponse r =
      PostExecution(http_, gateway(),
                    "{\"job_name\": \"env-echo\", \"job_execution_type\": 1, "
                    "\"pod_spec_options\": {\"envs\": {\"GREETING\": \"from-request\"}}}");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string overridden = StringField(r, "id");
  ASSERT_EQ(WaitForEnd(http_, gateway(), overridden), "SUCCESS");

  EXPECT_NE(LogOf(http_, gateway(), plain).find("GREETING=from-job"), std::string::npos);
  std::string log = LogOf(http_, gateway(), overridden);
  EXPECT_NE(log.find("GREETING=from-request"), std::string::npos) << log;
  EXPECT_EQ(log.find("GREETING=from-job"), std::string::npos) << log;
  rapidjson::Document e = GetExecution(http_, gateway(), overridden);
  ASSERT_TRUE(e.IsObject());
  EXPECT_EQ(StringField(e["pod_spec_options"]["envs"], "GREETING"), "from-request");
}

TEST_F(ExecutionsApi, PostsubmitRefsReachTheJobEnvironment) {
  HttpResponse r = PostExecution(
      http_, gateway(),
      std::string("{\"job_name\": \"post\", \"job_execution_type\": \"POSTSUBMIT\", \"refs\": ") +
          "{\"org\": \"acme\", \"repo\": \"widget\", \"base_ref\": \"main\", \"base_sha\": \"" +
          kSha + "\"}}");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string id = StringField(r, "id");

  ASSERT_EQ(WaitForEnd(http_, gateway(), id), "SUCCESS");
  std::string log = LogOf(http_, gateway(), id);
  EXPECT_NE(log.find(std::string("owner=acme repo=widget base_sha=") + kSha), std::string::npos)
      << log;
  rapidjson::Document e = GetExecution(http_, gateway(), id);
  ASSERT_TRUE(e.IsObject() && HasField(e, "refs"));
  EXPECT_EQ(StringField(e, "job_type"), "POSTSUBMIT");
  EXPECT_EQ(StringField(e["refs"], "org"), "acme");
  EXPECT_EQ(StringField(e["refs"], "base_sha"), kSha);
}

TEST_F(ExecutionsApi, FinishedExecutionHasTimesGcsPathAndJobUrl) {
  std::string id = RunToEnd("hello", "SUCCESS");

  rapidjson::Document e = GetExecution(http_, gateway(), id);
  ASSERT_TRUE(e.IsObject());
  EXPECT_EQ(StringField(e, "id"), id);
  EXPECT_EQ(StringField(e, "job_name"), "hello");
  EXPECT_EQ(StringField(e, "job_type"), "PERIODIC");
  EXPECT_EQ(StringField(e, "job_status"), "SUCCESS");
  std::string created = StringField(e, "create_time");
  std::string started = StringField(e, "start_time");
  std::string completed = StringField(e, "completion_time");
  EXPECT_TRUE(std::regex_match(created, kRfc3339)) << created;
  EXPECT_TRUE(std::regex_match(started, kRfc3339)) << started;
  EXPECT_TRUE(std::regex_match(completed, kRfc3339)) << completed;
  auto c = ParseRfc3339(created), s = ParseRfc3339(started), f = ParseRfc3339(completed);
  ASSERT_TRUE(c && s && f);
  EXPECT_LE(*c, *s);
  EXPECT_LE(*s, *f);
  std::string gcs_path = StringField(e, "gcs_path");
  EXPECT_TRUE(gcs_path.ends_with("/hello/" + id)) << gcs_path;
  EXPECT_EQ(StringField(e, "job_url"), "http://gateway.test/v1/executions/" + id);
  const rapidjson::Value& annotations = e["pod_spec_options"]["annotations"];
  EXPECT_EQ(StringField(annotations, "sluice.io/user"), "alice");
  EXPECT_EQ(StringField(annotations, "sluice.io/source"), "api");
}

TEST_F(ExecutionsApi, NonZeroExitEndsFailureWithMessage) {
  std::string id = RunToEnd("fails", "FAILURE");

  rapidjson::Document e = GetExecution(http_, gateway(), id);
  std::string message = StringField(e, "message");
  EXPECT_NE(message.find('3'), std::string::npos)
      << "message should give the exit code: " << message;
  EXPECT_TRUE(HasField(e, "completion_time"));
  EXPECT_NE(LogOf(http_, gateway(), id).find("about to fail"), std::string::npos);
}

TEST_F(ExecutionsApi, TimeoutEndsFailureSayingItTimedOut) {
  std::string id = RunToEnd("too-slow", "FAILURE");

  rapidjson::Document e = GetExecution(http_, gateway(), id);
  EXPECT_NE(StringField(e, "message").find("timed out"), std::string::npos)
      << StringField(e, "message");
}

TEST_F(ExecutionsApi, AbortOfRunningJobEndsAbortedAndSecondAbortConflicts) {
  std::string id = TriggerPeriodic(http_, gateway(), "long");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitForStatus(http_, gateway(), id, "PENDING"));
  ASSERT_TRUE(WaitForLog(http_, gateway(), id, "started"));

  HttpResponse abort = http_.Post(ExecutionUrl(gateway(), id) + "/abort", kAliceToken, "");
  EXPECT_EQ(abort.status, 202) << abort.body;
  EXPECT_EQ(StringField(abort, "id"), id) << abort.body;
  EXPECT_EQ(WaitForEnd(http_, gateway(), id, std::chrono::seconds(30)), "ABORTED");

  HttpResponse again = http_.Post(ExecutionUrl(gateway(), id) + "/abort", kAliceToken, "");
  ExpectErrorBody(again, 409, kFailedPreconditionCode);
}

TEST_F(ExecutionsApi, AbortOfUnknownExecutionIsNotFound) {
  HttpResponse r = http_.Post(
      ExecutionUrl(gateway(), "01900000-0000-7000-8000-000000000000") + "/abort", kAliceToken, "");
  ExpectErrorBody(r, 404, kNotFoundCode);
}

TEST_F(ExecutionsApi, ListIsNewestFirstAndFiltersByJobName) {
  std::vector<std::string> a;  // in trigger order
  std::vector<std::string> b;
  for (int i = 0; i < 3; ++i) a.push_back(TriggerPeriodic(http_, gateway(), "list-a"));
  for (int i = 0; i < 2; ++i) b.push_back(TriggerPeriodic(http_, gateway(), "list-b"));

  HttpResponse r = WaitForListed("list-a", 3);
  EXPECT_EQ(ListedIds(r), (std::vector<std::string>{a[2], a[1], a[0]})) << r.body;
  EXPECT_EQ(StringField(r, "next_page_token"), "") << r.body;
  r = WaitForListed("list-b", 2);
  EXPECT_EQ(ListedIds(r), (std::vector<std::string>{b[1], b[0]})) << r.body;

  // Unfiltered, the five appear in the same newest-first order among all others.
  HttpResponse all = http_.Get(List("?page_size=500"), kAliceToken);
  ASSERT_EQ(all.status, 200) << all.body;
  std::vector<std::string> listed = ListedIds(all);
  std::vector<std::string> ours;
  std::set<std::string> wanted = {a[0], a[1], a[2], b[0], b[1]};
  for (const std::string& id : listed) {
    if (wanted.count(id)) ours.push_back(id);
  }
  EXPECT_EQ(ours, (std::vector<std::string>{b[1], b[0], a[2], a[1], a[0]})) << all.body;
}

TEST_F(ExecutionsApi, ListFiltersByStatus) {
  std::string ok = RunToEnd("list-ok", "SUCCESS");
  std::string failed = RunToEnd("list-fail", "FAILURE");

  HttpResponse failures = http_.Get(List("?status=FAILURE&page_size=500"), kAliceToken);
  ASSERT_EQ(failures.status, 200) << failures.body;
  rapidjson::Document doc = failures.Json();
  std::vector<std::string> ids;
  for (const auto& e : doc["job_execution"].GetArray()) {
    EXPECT_EQ(StringField(e, "job_status"), "FAILURE") << StringField(e, "id");
    ids.push_back(StringField(e, "id"));
  }
  EXPECT_NE(std::find(ids.begin(), ids.end(), failed), ids.end()) << failures.body;
  EXPECT_EQ(std::find(ids.begin(), ids.end(), ok), ids.end()) << failures.body;

  HttpResponse both = http_.Get(List("?job_name=list-fail&status=FAILURE"), kAliceToken);
  EXPECT_EQ(ListedIds(both), std::vector<std::string>{failed}) << both.body;
  HttpResponse none = http_.Get(List("?job_name=list-fail&status=SUCCESS"), kAliceToken);
  EXPECT_EQ(none.status, 200) << none.body;
  EXPECT_TRUE(ListedIds(none).empty()) << none.body;
}

TEST_F(ExecutionsApi, ListPagesReturnEveryExecutionExactlyOnce) {
  std::vector<std::string> triggered;
  for (int i = 0; i < 7; ++i) triggered.push_back(TriggerPeriodic(http_, gateway(), "list-page"));
  WaitForListed("list-page", 7);

  std::vector<std::string> seen;
  std::vector<size_t> page_sizes;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    HttpResponse r =
        http_.Get(List("?job_name=list-page&page_size=3&page_token=" + token), kAliceToken);
    ASSERT_EQ(r.status, 200) << r.body;
    std::vector<std::string> ids = ListedIds(r);
    page_sizes.push_back(ids.size());
    seen.insert(seen.end(), ids.begin(), ids.end());
    token = StringField(r, "next_page_token");
    if (token.empty()) break;
  }

  EXPECT_EQ(page_sizes, (std::vector<size_t>{3, 3, 1}));
  std::vector<std::string> newest_first(triggered.rbegin(), triggered.rend());
  EXPECT_EQ(seen, newest_first);
}

TEST_F(ExecutionsApi, ListRejectsBadQueryParameters) {
  struct Case {
    const char* query;
    const char* names;  // the message names the parameter
  };
  const Case cases[] = {
      {"?status=DONE", "status"},
      {"?status=success", "status"},
      {"?page_size=0", "page_size"},
      {"?page_size=-1", "page_size"},
      {"?page_size=abc", "page_size"},
      {"?page_size=100000", "page_size"},
      {"?page_token=garbage", "page_token"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.query);
    HttpResponse r = http_.Get(List(c.query), kAliceToken);
    ExpectErrorBody(r, 400, kInvalidArgumentCode);
    EXPECT_NE(StringField(r, "message").find(c.names), std::string::npos) << r.body;
  }
}

TEST_F(ExecutionsApi, ClientSeesOnlyExecutionsOfJobsItMayTrigger) {
  std::string alices = TriggerPeriodic(http_, gateway(), "alice-only");
  std::string bobs = TriggerPeriodic(http_, gateway(), "bob-job", kBobToken);
  ASSERT_FALSE(alices.empty());
  ASSERT_FALSE(bobs.empty());
  ASSERT_EQ(WaitForEnd(http_, gateway(), alices), "SUCCESS");
  ASSERT_EQ(WaitForEnd(http_, gateway(), bobs), "SUCCESS");

  HttpResponse listed = http_.Get(List("?page_size=500"), kBobToken);
  ASSERT_EQ(listed.status, 200) << listed.body;
  rapidjson::Document doc = listed.Json();
  std::vector<std::string> ids;
  for (const auto& e : doc["job_execution"].GetArray()) {
    EXPECT_TRUE(StringField(e, "job_name").starts_with("bob-")) << StringField(e, "job_name");
    ids.push_back(StringField(e, "id"));
  }
  EXPECT_NE(std::find(ids.begin(), ids.end(), bobs), ids.end()) << listed.body;
  EXPECT_EQ(std::find(ids.begin(), ids.end(), alices), ids.end()) << listed.body;

  ExpectErrorBody(http_.Get(ExecutionUrl(gateway(), alices), kBobToken), 404, kNotFoundCode);
  ExpectErrorBody(http_.Get(ExecutionUrl(gateway(), alices) + "/log", kBobToken), 404,
                  kNotFoundCode);
  ExpectErrorBody(http_.Post(ExecutionUrl(gateway(), alices) + "/abort", kBobToken, ""), 404,
                  kNotFoundCode);
  EXPECT_EQ(StatusOf(http_, gateway(), bobs, kBobToken), "SUCCESS");
  EXPECT_EQ(StatusOf(http_, gateway(), bobs, kAliceToken), "SUCCESS") << "alice may use every job";
}

TEST_F(ExecutionsApi, ConnectionIsKeptAliveAcrossRequests) {
  HttpClient http;
  std::vector<HttpResponse> answers;
  answers.push_back(http.Get(gateway().url() + "/healthz", ""));
  answers.push_back(PostExecution(http, gateway(), PeriodicBody("hello")));
  std::string id = StringField(answers.back(), "id");
  answers.push_back(http.Get(List("?job_name=hello"), kAliceToken));
  answers.push_back(http.Get(gateway().url() + "/readyz", ""));
  EXPECT_TRUE(WaitFor([&] { return StatusOf(http, gateway(), id) == "SUCCESS"; }));

  for (const HttpResponse& r : answers) {
    EXPECT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_NE(Header(r, "connection"), "close");
  }
  // An error answer keeps the connection too.
  HttpResponse refused = http.Get(List("?status=DONE"), kAliceToken);
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(Header(refused, "connection"), "close");
  EXPECT_EQ(http.Get(gateway().url() + "/healthz", "").status, 200);
  EXPECT_EQ(http.connects(), 1);
}

}  // namespace
}  // namespace sluice::testing
