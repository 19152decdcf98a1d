// Every row of the error table of issue 2, against a real gateway over HTTP. No worker runs: a
// refused request must be refused by the gateway alone, and an accepted one stays TRIGGERED.

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "tests/integration/api_helpers.h"
#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

constexpr char kJobs[] =
    "  - {name: periodic-job, type: periodic, command: ['true']}\n"
    "  - {name: post-job, type: postsubmit, command: ['true']}\n"
    "  - {name: pre-job, type: presubmit, command: ['true']}\n"
    "  - {name: env-job, type: periodic, command: ['true'], allow_env_override: [ALLOWED, "
    "'PARAM_*']}\n"
    "  - {name: interleaved, type: periodic, command: ['true']}\n"
    "  - {name: bob-job, type: periodic, command: ['true']}\n";

constexpr size_t kMaxBodyBytes = 2048;
constexpr char kSha[] = "5bd40dc1b1a3d9c0bb8e2f3f8d4c7a6e1f2b3c4d";

std::string Periodic(const std::string& job, const std::string& extra = "") {
  return "{\"job_name\": \"" + job + "\", \"job_execution_type\": 1" + extra + "}";
}

// A well-formed trigger of periodic-job that is larger than the gateway's max_body_bytes.
std::string OversizedBody() {
  return Periodic("periodic-job", ", \"pod_spec_options\": {\"labels\": {\"big\": \"" +
                                      std::string(kMaxBodyBytes + 100, 'x') + "\"}}");
}

struct ErrorCase {
  const char* name;
  const char* method;
  const char* path;  // below the gateway's URL
  std::string token;
  std::vector<std::string> headers;
  std::string body;
  int http_status;
  int code;
  const char* message_names;  // a fragment the message must contain ("" = any)
};

std::vector<ErrorCase> ErrorRows() {
  const std::string unknown_id = "01900000-0000-7000-8000-000000000000";
  return {
      {"no token",
       "POST",
       "/v1/executions",
       "",
       {},
       Periodic("periodic-job"),
       401,
       kUnauthenticatedCode,
       "Authorization"},
      {"unknown token",
       "POST",
       "/v1/executions",
       "not-a-known-token",
       {},
       Periodic("periodic-job"),
       401,
       kUnauthenticatedCode,
       ""},
      {"no token on a read", "GET", "/v1/executions", "", {}, "", 401, kUnauthenticatedCode, ""},
      {"job not allowed for the client",
       "POST",
       "/v1/executions",
       kBobToken,
       {},
       Periodic("periodic-job"),
       403,
       kPermissionDeniedCode,
       "periodic-job"},
      {"allowed pattern but no such job",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       Periodic("no-such-job"),
       404,
       kNotFoundCode,
       "no-such-job"},
      {"unknown execution id",
       "GET",
       "/v1/executions/01900000-0000-7000-8000-000000000000",
       kAliceToken,
       {},
       "",
       404,
       kNotFoundCode,
       "01900000-0000-7000-8000-000000000000"},
      {"log of unknown execution id",
       "GET",
       "/v1/executions/01900000-0000-7000-8000-000000000000/log",
       kAliceToken,
       {},
       "",
       404,
       kNotFoundCode,
       ""},
      {"malformed JSON",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       "{\"job_name\": \"periodic-job\",",
       400,
       kInvalidArgumentCode,
       "JSON"},
      {"wrong type",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       "{\"job_name\": 5, \"job_execution_type\": 1}",
       400,
       kInvalidArgumentCode,
       "job_name"},
      {"wrong type nested",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       Periodic("env-job", ", \"pod_spec_options\": {\"envs\": {\"ALLOWED\": 7}}"),
       400,
       kInvalidArgumentCode,
       "ALLOWED"},
      {"unknown field",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       Periodic("periodic-job", ", \"colour\": \"red\""),
       400,
       kInvalidArgumentCode,
       "colour"},
      {"missing job_name",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       "{\"job_execution_type\": 1}",
       400,
       kInvalidArgumentCode,
       "job_name"},
      {"missing job_execution_type",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       "{\"job_name\": \"periodic-job\"}",
       400,
       kInvalidArgumentCode,
       "job_execution_type"},
      {"type mismatch",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       "{\"job_name\": \"periodic-job\", \"job_execution_type\": 2}",
       400,
       kInvalidArgumentCode,
       "job_execution_type"},
      {"periodic with refs",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       Periodic("periodic-job", ", \"refs\": {\"org\": \"o\", \"repo\": \"r\"}"),
       400,
       kInvalidArgumentCode,
       "refs"},
      {"postsubmit without base_sha",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       "{\"job_name\": \"post-job\", \"job_execution_type\": \"POSTSUBMIT\", \"refs\": "
       "{\"org\": \"o\", \"repo\": \"r\", \"base_ref\": \"main\"}}",
       400,
       kInvalidArgumentCode,
       "refs.base_sha"},
      {"presubmit pull with a bad sha",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       std::string("{\"job_name\": \"pre-job\", \"job_execution_type\": 3, \"refs\": {\"org\": "
                   "\"o\", \"repo\": \"r\", \"base_ref\": \"main\", \"base_sha\": \"") +
           kSha + "\", \"pulls\": [{\"number\": 7, \"sha\": \"not-a-sha\"}]}}",
       400,
       kInvalidArgumentCode,
       "refs.pulls[0].sha"},
      {"env name not allowed",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       Periodic("env-job", ", \"pod_spec_options\": {\"envs\": {\"NOT_ALLOWED\": \"x\"}}"),
       400,
       kInvalidArgumentCode,
       "NOT_ALLOWED"},
      {"env name not a variable name",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       Periodic("env-job", ", \"pod_spec_options\": {\"envs\": {\"PARAM_A-B\": \"x\"}}"),
       400,
       kInvalidArgumentCode,
       "PARAM_A-B"},
      {"reserved label",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       Periodic("periodic-job", ", \"pod_spec_options\": {\"labels\": {\"sluice.io/x\": \"y\"}}"),
       400,
       kInvalidArgumentCode,
       "sluice.io/x"},
      {"reserved annotation",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       Periodic("periodic-job",
                ", \"pod_spec_options\": {\"annotations\": {\"sluice.io/user\": \"mallory\"}}"),
       400,
       kInvalidArgumentCode,
       "sluice.io/user"},
      {"body over max_body_bytes",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       OversizedBody(),
       413,
       kInvalidArgumentCode,
       ""},
      {"XML content type",
       "POST",
       "/v1/executions",
       kAliceToken,
       {"Content-Type: application/xml"},
       Periodic("periodic-job"),
       415,
       kInvalidArgumentCode,
       "Content-Type"},
      {"multipart content type",
       "POST",
       "/v1/executions",
       kAliceToken,
       {"Content-Type: multipart/form-data; boundary=xyz"},
       Periodic("periodic-job"),
       415,
       kInvalidArgumentCode,
       "Content-Type"},
      {"path job differs from body job",
       "POST",
       "/v1/executions/periodic-job",
       kAliceToken,
       {},
       Periodic("env-job"),
       400,
       kInvalidArgumentCode,
       "job_name"},
      {"abort of unknown execution id",
       "POST",
       "/v1/executions/01900000-0000-7000-8000-000000000000/abort",
       kAliceToken,
       {},
       "",
       404,
       kNotFoundCode,
       ""},
  };
}

class ErrorTable : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    deployment_ =
        new Deployment(kJobs, "", "  max_body_bytes: " + std::to_string(kMaxBodyBytes) + "\n");
    gateway_ = &deployment_->StartGateway();
  }
  static void TearDownTestSuite() {
    delete deployment_;
    deployment_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(gateway().port(), 0) << "the gateway did not start"; }
  static SluiceProcess& gateway() { return *gateway_; }

  static HttpResponse Send(HttpClient& http, const ErrorCase& c) {
    std::vector<std::string> headers = c.headers;
    if (!c.token.empty()) headers.push_back("Authorization: Bearer " + c.token);
    return http.Request(c.method, gateway().url() + c.path, headers, c.body,
                        std::string(c.method) == "POST");
  }

  static Deployment* deployment_;
  static SluiceProcess* gateway_;
  HttpClient http_;
};

Deployment* ErrorTable::deployment_ = nullptr;
SluiceProcess* ErrorTable::gateway_ = nullptr;

TEST_F(ErrorTable, EveryRowAnswersItsStatusCodeAndAJsonErrorNamingTheField) {
  for (const ErrorCase& c : ErrorRows()) {
    SCOPED_TRACE(c.name);
    HttpResponse r = Send(http_, c);
    ExpectErrorBody(r, c.http_status, c.code);
    EXPECT_NE(StringField(r, "message").find(c.message_names), std::string::npos)
        << "the message should name " << c.message_names << ": " << r.body;
    if (!c.token.empty()) {
      EXPECT_EQ(r.body.find(c.token), std::string::npos) << "the token is echoed: " << r.body;
    }
    if (c.http_status == 401) {
      EXPECT_TRUE(Header(r, "www-authenticate").starts_with("Bearer"))
          << Header(r, "www-authenticate");
    }
  }
}

TEST_F(ErrorTable, RefusedRequestsWriteNoExecution) {
  for (const ErrorCase& c : ErrorRows()) Send(http_, c);
  // Anything the refused requests had written would be in the view by the time a later accepted
  // trigger is.
  HttpResponse marker = PostExecution(http_, gateway(), Periodic("interleaved"));
  ASSERT_EQ(marker.status, 200) << marker.body;
  ASSERT_TRUE(WaitFor(
      [&] { return StatusOf(http_, gateway(), StringField(marker, "id")) == "TRIGGERED"; }));

  HttpResponse r = http_.Get(gateway().url() + "/v1/executions?page_size=500", kAliceToken);
  ASSERT_EQ(r.status, 200) << r.body;
  // Executions of the other tests of this suite may be listed, but none of the refused jobs.
  for (const std::string& id : ListedIds(r)) {
    HttpResponse e = http_.Get(ExecutionUrl(gateway(), id), kAliceToken);
    EXPECT_EQ(StringField(e, "job_name"), "interleaved") << e.body;
  }
}

TEST_F(ErrorTable, FormUrlEncodedJsonBodyAsCurlDashDSendsItIsAccepted) {
  HttpResponse r = PostExecution(http_, gateway(), Periodic("interleaved"),
                                 {"Content-Type: application/x-www-form-urlencoded"});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(StringField(r, "job_status"), "TRIGGERED") << r.body;
}

TEST_F(ErrorTable, BadRequestsInterleavedWithGoodOnesNeverDisturbThem) {
  const std::vector<ErrorCase> bad = {
      {"malformed", "POST", "/v1/executions", kAliceToken, {}, "{\"job_name\": ", 400, 0, ""},
      {"unknown field",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       Periodic("interleaved", ", \"x\": 1"),
       400,
       0,
       ""},
      {"oversized", "POST", "/v1/executions", kAliceToken, {}, OversizedBody(), 413, 0, ""},
      {"xml",
       "POST",
       "/v1/executions",
       kAliceToken,
       {"Content-Type: application/xml"},
       Periodic("interleaved"),
       415,
       0,
       ""},
      {"unknown token", "POST", "/v1/executions", "nope", {}, Periodic("interleaved"), 401, 0, ""},
      {"reserved label",
       "POST",
       "/v1/executions",
       kAliceToken,
       {},
       Periodic("interleaved", ", \"pod_spec_options\": {\"labels\": {\"sluice.io/a\": \"b\"}}"),
       400,
       0,
       ""},
  };
  constexpr int kPerThread = 20;  // half good, half bad
  struct Outcome {
    std::vector<std::string> good_ids;
    std::vector<std::string> failures;
  };
  Outcome outcomes[2];
  auto fire = [&](int thread) {
    HttpClient http;
    for (int i = 0; i < kPerThread; ++i) {
      if ((i + thread) % 2 == 0) {
        HttpResponse r = PostExecution(http, gateway(), Periodic("interleaved"));
        if (r.status == 200) {
          outcomes[thread].good_ids.push_back(StringField(r, "id"));
        } else {
          outcomes[thread].failures.push_back("good request got " + std::to_string(r.status) +
                                              ": " + r.body + r.error);
        }
      } else {
        const ErrorCase& c = bad[(i / 2 + thread) % bad.size()];
        HttpResponse r = Send(http, c);
        if (r.status != c.http_status) {
          outcomes[thread].failures.push_back(std::string(c.name) + " got " +
                                              std::to_string(r.status) + ": " + r.body + r.error);
        }
      }
    }
  };
  std::thread first(fire, 0);
  std::thread second(fire, 1);
  first.join();
  second.join();

  std::set<std::string> good;
  for (const Outcome& o : outcomes) {
    for (const std::string& f : o.failures) ADD_FAILURE() << f;
    good.insert(o.good_ids.begin(), o.good_ids.end());
  }
  EXPECT_EQ(good.size(), static_cast<size_t>(kPerThread));
  for (const std::string& id : good) {
    EXPECT_TRUE(WaitFor([&] { return StatusOf(http_, gateway(), id) == "TRIGGERED"; }))
        << "accepted execution " << id << " is not readable";
  }
}

// Its own deployment: the limit is part of the client's configuration.
TEST(RateLimit, ClientOverItsRateGets429WithRetryAfter) {
  std::string clients = "  - {name: alice, token_sha256: \"" + Sha256Hex(kAliceToken) +
                        "\", allow_jobs: [\"*\"], rate_limit: {per_second: 0.01, burst: 2}}\n"
                        "  - {name: bob, token_sha256: \"" +
                        Sha256Hex(kBobToken) + "\", allow_jobs: [\"bob-*\"]}\n";
  Deployment d(kJobs, "", "", clients);
  SluiceProcess& gateway = d.StartGateway();
  HttpClient http;

  EXPECT_EQ(PostExecution(http, gateway, Periodic("periodic-job")).status, 200);
  EXPECT_EQ(PostExecution(http, gateway, Periodic("periodic-job")).status, 200);
  HttpResponse third = PostExecution(http, gateway, Periodic("periodic-job"));

  ExpectErrorBody(third, 429, kResourceExhaustedCode);
  std::string retry_after = Header(third, "retry-after");
  ASSERT_FALSE(retry_after.empty()) << "no Retry-After header";
  EXPECT_GE(std::stoi(retry_after), 1) << retry_after;
  // The limit is alice's alone.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(PostExecution(http, gateway, Periodic("bob-job"), {}, kBobToken).status, 200);
  }
}

// Its own deployment: the broker goes down.
TEST(KafkaUnavailable, TriggerGets503WithRetryAfterAndSucceedsOnceKafkaIsBack) {
  Deployment d(kJobs, "", "  request_timeout: 3s\n");
  SluiceProcess& gateway = d.StartGateway();
  HttpClient http;
  ASSERT_EQ(PostExecution(http, gateway, Periodic("periodic-job")).status, 200);

  d.broker().SetDown(true);
  HttpResponse refused = PostExecution(http, gateway, Periodic("periodic-job"));
  ExpectErrorBody(refused, 503, kUnavailableCode);
  EXPECT_FALSE(Header(refused, "retry-after").empty()) << "no Retry-After header";
  HttpResponse ready;
  EXPECT_TRUE(WaitFor(
      [&] {
        ready = http.Get(gateway.url() + "/readyz", "");
        return ready.status == 503;
      },
      std::chrono::seconds(60)))
      << "/readyz still answers " << ready.status << " " << ready.body;
  ExpectErrorBody(ready, 503, kUnavailableCode);

  d.broker().SetDown(false);
  HttpResponse accepted;
  EXPECT_TRUE(WaitFor(
      [&] {
        accepted = PostExecution(http, gateway, Periodic("periodic-job"));
        return accepted.status == 200;
      },
      std::chrono::seconds(90)))
      << "after Kafka came back a trigger still gets " << accepted.status << " " << accepted.body
      << "\n"
      << gateway.Log();
  EXPECT_TRUE(WaitFor([&] { return http.Get(gateway.url() + "/readyz", "").status == 200; },
                      std::chrono::seconds(60)));
  std::string id = StringField(accepted, "id");
  EXPECT_TRUE(WaitFor([&] { return StatusOf(http, gateway, id) == "TRIGGERED"; }));
}

}  // namespace
}  // namespace sluice::testing
