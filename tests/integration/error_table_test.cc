// Every row of the error table of issue 2, against a real gateway over HTTP. No worker runs: a
// refused request must be refused by the gateway alone, and an accepted one stays TRIGGERED.

#include <gtest/gtest.h>

#include <memory>
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

// A well-formed trigger of periodic-job of about `bytes` bytes.
std::string BodyOfSize(size_t bytes) {
  return Periodic("periodic-job", ", \"pod_spec_options\": {\"labels\": {\"big\": \"" +
                                      std::string(bytes, 'x') + "\"}}");
}

std::string OversizedBody() { return BodyOfSize(kMaxBodyBytes + 100); }

// One row of the error table: a request and the answer it must get. Rows are POSTs of a trigger
// as alice unless they say otherwise.
struct ErrorCase {
  std::string name;
  int http_status = 0;
  int code = 0;
  std::string message_names;  // a fragment the message must contain ("" = any)
  std::string body;
  std::string method = "POST";
  std::string path = "/v1/executions";
  std::string token = kAliceToken;
  std::vector<std::string> headers;

  ErrorCase As(std::string t) const {
    ErrorCase c = *this;
    c.token = std::move(t);
    return c;
  }
  ErrorCase With(std::string header) const {
    ErrorCase c = *this;
    c.headers.push_back(std::move(header));
    return c;
  }
  ErrorCase At(std::string m, std::string p) const {
    ErrorCase c = *this;
    c.method = std::move(m);
    c.path = std::move(p);
    return c;
  }
};

ErrorCase Row(std::string name, int http_status, int code, std::string names,
              std::string body = "") {
  ErrorCase c;
  c.name = std::move(name);
  c.http_status = http_status;
  c.code = code;
  c.message_names = std::move(names);
  c.body = std::move(body);
  return c;
}

constexpr char kUnknownId[] = "01900000-0000-7000-8000-000000000000";

std::vector<ErrorCase> ErrorRows() {
  const std::string unknown = std::string("/v1/executions/") + kUnknownId;
  const std::string refs = R"("refs": {"org": "o", "repo": "r", "base_ref": "main")";
  return {
      Row("no token", 401, kUnauthenticatedCode, "Authorization", Periodic("periodic-job")).As(""),
      Row("unknown token", 401, kUnauthenticatedCode, "", Periodic("periodic-job"))
          .As("not-a-known-token"),
      Row("no token on a read", 401, kUnauthenticatedCode, "").At("GET", "/v1/executions").As(""),
      Row("job not allowed for the client", 403, kPermissionDeniedCode, "periodic-job",
          Periodic("periodic-job"))
          .As(kBobToken),
      Row("allowed pattern but no such job", 404, kNotFoundCode, "no-such-job",
          Periodic("no-such-job")),
      Row("unknown execution id", 404, kNotFoundCode, kUnknownId).At("GET", unknown),
      Row("log of unknown execution id", 404, kNotFoundCode, "").At("GET", unknown + "/log"),
      Row("abort of unknown execution id", 404, kNotFoundCode, "").At("POST", unknown + "/abort"),
      Row("malformed JSON", 400, kInvalidArgumentCode, "JSON", R"({"job_name": "periodic-job",)"),
      Row("wrong type", 400, kInvalidArgumentCode, "job_name",
          R"({"job_name": 5, "job_execution_type": 1})"),
      Row("wrong type nested", 400, kInvalidArgumentCode, "pod_spec_options.envs.ALLOWED",
          Periodic("env-job", R"(, "pod_spec_options": {"envs": {"ALLOWED": 7}})")),
      Row("unknown field", 400, kInvalidArgumentCode, "colour",
          Periodic("periodic-job", R"(, "colour": "red")")),
      Row("missing job_name", 400, kInvalidArgumentCode, "job_name",
          R"({"job_execution_type": 1})"),
      Row("missing job_execution_type", 400, kInvalidArgumentCode, "job_execution_type",
          R"({"job_name": "periodic-job"})"),
      Row("job_execution_type not a type", 400, kInvalidArgumentCode, "job_execution_type",
          R"({"job_name": "periodic-job", "job_execution_type": "NIGHTLY"})"),
      Row("type mismatch", 400, kInvalidArgumentCode, "job_execution_type",
          R"({"job_name": "periodic-job", "job_execution_type": 2})"),
      Row("periodic with refs", 400, kInvalidArgumentCode, "refs",
          Periodic("periodic-job", R"(, "refs": {"org": "o", "repo": "r"})")),
      Row("postsubmit without base_sha", 400, kInvalidArgumentCode, "refs.base_sha",
          R"({"job_name": "post-job", "job_execution_type": "POSTSUBMIT", )" + refs + "}}"),
      Row("presubmit pull with a bad sha", 400, kInvalidArgumentCode, "refs.pulls[0].sha",
          R"({"job_name": "pre-job", "job_execution_type": 3, )" + refs + R"(, "base_sha": ")" +
              kSha + R"(", "pulls": [{"number": 7, "sha": "not-a-sha"}]}})"),
      Row("env name not allowed", 400, kInvalidArgumentCode, "NOT_ALLOWED",
          Periodic("env-job", R"(, "pod_spec_options": {"envs": {"NOT_ALLOWED": "x"}})")),
      Row("env name not a variable name", 400, kInvalidArgumentCode, "PARAM_A-B",
          Periodic("env-job", R"(, "pod_spec_options": {"envs": {"PARAM_A-B": "x"}})")),
      Row("reserved label", 400, kInvalidArgumentCode, "sluice.io/x",
          Periodic("periodic-job", R"(, "pod_spec_options": {"labels": {"sluice.io/x": "y"}})")),
      Row("reserved annotation", 400, kInvalidArgumentCode, "sluice.io/user",
          Periodic("periodic-job",
                   R"(, "pod_spec_options": {"annotations": {"sluice.io/user": "mallory"}})")),
      Row("path job differs from body job", 400, kInvalidArgumentCode, "job_name",
          Periodic("env-job"))
          .At("POST", "/v1/executions/periodic-job"),
      Row("Idempotency-Key too long", 400, kInvalidArgumentCode, "Idempotency-Key",
          Periodic("periodic-job"))
          .With("Idempotency-Key: " + std::string(300, 'k')),
      Row("unknown endpoint", 404, kNotFoundCode, "").At("GET", "/v2/executions"),
      Row("body over max_body_bytes", 413, kInvalidArgumentCode, "", OversizedBody()),
      Row("body far over max_body_bytes", 413, kInvalidArgumentCode, "", BodyOfSize(200 * 1024)),
      Row("XML content type", 415, kInvalidArgumentCode, "Content-Type", Periodic("periodic-job"))
          .With("Content-Type: application/xml"),
      Row("multipart content type", 415, kInvalidArgumentCode, "Content-Type",
          Periodic("periodic-job"))
          .With("Content-Type: multipart/form-data; boundary=xyz"),
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
    return http.Request(c.method, gateway().url() + c.path, headers, c.body, c.method == "POST");
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
    HttpClient http;  // a connection per row, so that one row cannot disturb the next
    HttpResponse r = Send(http, c);
    ExpectErrorBody(r, c.http_status, c.code);
    EXPECT_NE(StringField(r, "message").find(c.message_names), std::string::npos)
        << "the message should name " << c.message_names << ": " << r.body;
    if (!c.token.empty()) {
      EXPECT_EQ(r.body.find(c.token), std::string::npos) << "the token is echoed: " << r.body;
    }
    if (c.http_status == 401) {
      EXPECT_TRUE(Header(r, "www-authenticate").starts_with("Bearer"))
          << "WWW-Authenticate: \"" << Header(r, "www-authenticate") << "\"";
    }
  }
}

TEST_F(ErrorTable, RefusedRequestsWriteNoExecution) {
  for (const ErrorCase& c : ErrorRows()) {
    HttpClient http;
    Send(http, c);
  }
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

TEST_F(ErrorTable, GoodRequestAfterAnOversizedOneOnTheSameConnectionSucceeds) {
  for (size_t size : {kMaxBodyBytes + 100, size_t{200 * 1024}}) {
    SCOPED_TRACE(size);
    HttpClient http;
    HttpResponse refused = PostExecution(http, gateway(), BodyOfSize(size));
    ExpectErrorBody(refused, 413, kInvalidArgumentCode);

    for (int i = 0; i < 3; ++i) {
      HttpResponse accepted = PostExecution(http, gateway(), Periodic("interleaved"));
      EXPECT_EQ(accepted.status, 200) << accepted.body << accepted.error;
      EXPECT_EQ(StringField(accepted, "job_status"), "TRIGGERED") << accepted.body;
    }
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
      Row("malformed", 400, kInvalidArgumentCode, "", R"({"job_name": )"),
      Row("unknown field", 400, kInvalidArgumentCode, "", Periodic("interleaved", R"(, "x": 1)")),
      Row("oversized", 413, kInvalidArgumentCode, "", OversizedBody()),
      Row("far oversized", 413, kInvalidArgumentCode, "", BodyOfSize(200 * 1024)),
      Row("xml", 415, kInvalidArgumentCode, "", Periodic("interleaved"))
          .With("Content-Type: application/xml"),
      Row("unknown token", 401, kUnauthenticatedCode, "", Periodic("interleaved")).As("nope"),
      Row("reserved label", 400, kInvalidArgumentCode, "",
          Periodic("interleaved", R"(, "pod_spec_options": {"labels": {"sluice.io/a": "b"}})")),
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

// Its own deployment and its own broker, which goes down. On the kafka tier that broker is a
// one-broker cluster of this test's own: the tier's shared broker stays up for the tests that
// ctest -j2 runs beside this one (stopping it once failed a worker-failover test running
// alongside).
TEST(KafkaUnavailable, TriggerGets503WithRetryAfterAndSucceedsOnceKafkaIsBack) {
  std::unique_ptr<KafkaCluster> own = OwnKafkaOnTheKafkaTier();
  Deployment d(kJobs, "", "  request_timeout: 3s\n", "", own.get());
  SluiceProcess& gateway = d.StartGateway();
  HttpClient http;
  ASSERT_EQ(PostExecution(http, gateway, Periodic("periodic-job")).status, 200);

  d.SetKafkaDown(true);
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

  d.SetKafkaDown(false);
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
