#include "gateway/gateway_service.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "common/execution_id.h"
#include "common/json_codec.h"
#include "fakes.h"
#include "gateway/api.h"
#include "gateway/gateway_metrics.h"
#include "tests/unit/reply_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

constexpr const char* kResults = "sluice.results";
constexpr const char* kRequests = "sluice.requests";
constexpr const char* kControl = "sluice.control";
constexpr const char* kPublicUrl = "https://sluice.example";

const std::string kPeriodicBody = R"({"job_name":"periodic-echo","job_execution_type":"1"})";
const std::string kOverrideBody =
    R"({"job_name":"periodic-echo","job_execution_type":"PERIODIC",)"
    R"("pod_spec_options":{"envs":{"RELEASE_IMAGE_LATEST":"quay.io/x:4.18"}}})";

ClientConfig Client(std::string name, std::string_view token, std::vector<std::string> allow) {
  ClientConfig c;
  c.name = std::move(name);
  c.token_sha256 = Sha256Hex(token);
  c.allow_jobs = std::move(allow);
  return c;
}

JobConfig Job(std::string name, JobType type) {
  JobConfig j;
  j.name = std::move(name);
  j.type = type;
  j.command = {"true"};
  j.allow_env_override = {"RELEASE_IMAGE_LATEST", "MULTISTAGE_PARAM_OVERRIDE_*"};
  return j;
}

// The error body of the contract: {"code": <code>, "message": "...", "details": []}.
void ExpectError(const ApiReply& reply, int http, Code code) {
  EXPECT_EQ(reply.status, http) << reply.body;
  EXPECT_EQ(reply.content_type, "application/json");
  rapidjson::Document doc = Json(reply.body);
  ASSERT_TRUE(doc.IsObject()) << reply.body;
  ASSERT_TRUE(doc.HasMember("code") && doc["code"].IsInt()) << reply.body;
  EXPECT_EQ(doc["code"].GetInt(), static_cast<int>(code)) << reply.body;
  ASSERT_TRUE(doc.HasMember("message") && doc["message"].IsString()) << reply.body;
  EXPECT_GT(doc["message"].GetStringLength(), 0u);
  ASSERT_TRUE(doc.HasMember("details") && doc["details"].IsArray()) << reply.body;
  EXPECT_TRUE(doc["details"].Empty());
}

class GatewayServiceTest : public ::testing::Test {
 protected:
  GatewayServiceTest() : service_(config_, publisher_, view_, clock_) {}

  void SetUp() override {
    char tmpl[] = "/tmp/sluice-gateway-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    artifacts_ = tmpl;
    config_.worker.artifacts = artifacts_;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(artifacts_, ec);
  }

  static Config MakeConfig() {
    Config c;
    c.gateway.public_url = kPublicUrl;
    c.gateway.max_body_bytes = 4096;
    c.clients.push_back(Client("ci", "t", {"periodic-*", "post-*"}));
    c.clients.push_back(Client("ci2", "t2", {"periodic-*"}));
    c.clients.push_back(Client("other", "u", {"secret-*"}));
    ClientConfig limited = Client("limited", "l", {"periodic-*"});
    limited.rate_limit.per_second = 1;
    limited.rate_limit.burst = 1;
    c.clients.push_back(limited);
    c.jobs.push_back(Job("periodic-echo", JobType::kPeriodic));
    c.jobs.push_back(Job("post-build", JobType::kPostsubmit));
    c.jobs.push_back(Job("secret-job", JobType::kPeriodic));
    return c;
  }

  static ApiRequest Request(std::string method, std::string path, std::string token = "t") {
    ApiRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    if (!token.empty()) r.authorization = "Bearer " + token;
    return r;
  }
  static ApiRequest Post(std::string path, std::string body, std::string token = "t") {
    ApiRequest r = Request("POST", std::move(path), std::move(token));
    r.content_type = "application/json";
    r.body = std::move(body);
    return r;
  }
  static ApiRequest Get(std::string path, std::string token = "t") {
    return Request("GET", std::move(path), std::move(token));
  }

  // Hands the request to the service; the returned list fills as the service replies.
  std::shared_ptr<std::vector<ApiReply>> Send(const ApiRequest& request) {
    return sluice::Send(service_, request);
  }
  // For calls that answer without Kafka: exactly one reply, at once.
  ApiReply Call(const ApiRequest& request) { return sluice::Call(service_, request); }

  // Creates an execution through the API, acknowledges both records and feeds the TRIGGERED
  // record into the status view, as the results topic would (applying it twice is harmless).
  // Returns the execution.
  Execution CreateAndSeeInView(const ApiRequest& request) {
    size_t first = publisher_.size();
    auto replies = Send(request);
    EXPECT_EQ(publisher_.size(), first + 2);
    publisher_.CompleteAll();
    EXPECT_EQ(replies->size(), 1u);
    EXPECT_EQ(replies->empty() ? 0 : replies->front().status, 200);
    auto results = publisher_.records();
    for (size_t i = first; i < results.size(); ++i) {
      if (results[i].topic != kResults) continue;
      StatusOr<Execution> e = DecodeExecutionRecord(results[i].value);
      EXPECT_TRUE(e.ok());
      if (!e.ok()) break;
      view_.store().Apply(*e);
      return *e;
    }
    ADD_FAILURE() << "no results record";
    return Execution{};
  }

  // An execution as a worker would have recorded it, straight into the view.
  Execution Stored(const std::string& job, JobStatus status, int created_second,
                   std::string id = "") {
    Execution e;
    e.id = id.empty() ? NewExecutionIdV7(TestEpoch() + seconds(created_second)) : id;
    e.job_name = job;
    e.job_type = config_.FindJob(job) ? config_.FindJob(job)->type : JobType::kPeriodic;
    e.job_status = status;
    e.gcs_path = ArtifactsPathFor(artifacts_, job, e.id);
    e.create_time = TestEpoch() + seconds(created_second);
    if (status != JobStatus::kTriggered) {
      e.attempt = 1;
      e.worker = "w1";
      e.start_time = *e.create_time + seconds(1);
      e.heartbeat_time = e.start_time;
    }
    if (IsTerminal(status)) e.completion_time = *e.create_time + seconds(5);
    e.client = "ci";
    view_.store().Apply(e);
    return e;
  }

  std::string artifacts_;
  Config config_ = MakeConfig();
  FakePublisher publisher_;
  FakeStatusView view_;
  ManualClock clock_;
  GatewayService service_;
};

// ---- POST /v1/executions -------------------------------------------------------------------

TEST_F(GatewayServiceTest, CreatePublishesTheTriggeredRecordAndTheTriggerKeyedByTheId) {
  auto replies = Send(Post("/v1/executions", kOverrideBody));
  EXPECT_TRUE(replies->empty()) << "no reply before Kafka acknowledges";
  ASSERT_EQ(publisher_.size(), 2u);
  auto results_index = publisher_.OnlyIndexOn(kResults);
  auto requests_index = publisher_.OnlyIndexOn(kRequests);
  ASSERT_TRUE(results_index && requests_index);
  auto records = publisher_.records();
  const std::string& id = records[*results_index].key;
  EXPECT_TRUE(IsExecutionId(id)) << id;
  EXPECT_EQ(records[*requests_index].key, id);

  StatusOr<Execution> e = DecodeExecutionRecord(records[*results_index].value);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->id, id);
  EXPECT_EQ(e->job_name, "periodic-echo");
  EXPECT_EQ(e->job_type, JobType::kPeriodic);
  EXPECT_EQ(e->job_status, JobStatus::kTriggered);
  EXPECT_EQ(e->create_time, clock_.Now());
  EXPECT_EQ(e->gcs_path, ArtifactsPathFor(artifacts_, "periodic-echo", id));
  EXPECT_EQ(e->client, "ci");
  EXPECT_EQ(e->pod_spec_options.envs.at("RELEASE_IMAGE_LATEST"), "quay.io/x:4.18");
  EXPECT_EQ(e->pod_spec_options.annotations.at("sluice.io/user"), "ci");
  EXPECT_EQ(e->pod_spec_options.annotations.at("sluice.io/source"), "api");

  StatusOr<Trigger> t = DecodeTrigger(records[*requests_index].value);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->id, id);
  EXPECT_EQ(t->job_name, "periodic-echo");
  EXPECT_EQ(t->job_type, JobType::kPeriodic);
  EXPECT_EQ(t->client, "ci");
  EXPECT_EQ(t->fingerprint, e->fingerprint);
  EXPECT_FALSE(t->fingerprint.empty());
  EXPECT_EQ(t->pod_spec_options, e->pod_spec_options);
}

TEST_F(GatewayServiceTest, CreateRepliesOnlyOnceBothRecordsAreAcknowledged) {
  struct Case {
    std::string name;
    bool results_first;
  };
  for (const Case& c :
       {Case{"results acknowledged first", true}, Case{"trigger acknowledged first", false}}) {
    SCOPED_TRACE(c.name);
    size_t base = publisher_.size();
    auto replies = Send(Post("/v1/executions", kPeriodicBody));
    ASSERT_EQ(publisher_.size(), base + 2);
    EXPECT_EQ(service_.in_flight(), 1);
    size_t results = publisher_.records()[base].topic == kResults ? base : base + 1;
    size_t requests = results == base ? base + 1 : base;
    std::string id = publisher_.records()[results].key;

    publisher_.Complete(c.results_first ? results : requests);
    EXPECT_TRUE(replies->empty()) << "replied after one acknowledgement of two";
    publisher_.Complete(c.results_first ? requests : results);
    ASSERT_EQ(replies->size(), 1u);
    const ApiReply& reply = replies->front();
    EXPECT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(reply.content_type, "application/json");
    std::optional<std::string> location = Header(reply, "Location");
    ASSERT_TRUE(location.has_value());
    EXPECT_TRUE(location->ends_with("/v1/executions/" + id)) << *location;
    rapidjson::Document body = Json(reply.body);
    EXPECT_EQ(Str(body, "id"), id);
    EXPECT_EQ(Str(body, "job_name"), "periodic-echo");
    EXPECT_EQ(Str(body, "job_type"), "PERIODIC");
    EXPECT_EQ(Str(body, "job_status"), "TRIGGERED");
    EXPECT_EQ(Str(body, "job_url"), std::string(kPublicUrl) + "/v1/executions/" + id);
    EXPECT_EQ(Str(body, "create_time"), FormatRfc3339(clock_.Now()));
    EXPECT_EQ(service_.in_flight(), 0);
  }
}

// librdkafka may report a message timeout long after message.timeout.ms when no broker is up;
// the gateway keeps the contract's deadline itself.
TEST_F(GatewayServiceTest, CreateAnswers503WhenKafkaDoesNotAcknowledgeWithinTheDeadline) {
  config_.gateway.request_timeout = std::chrono::milliseconds(200);
  std::mutex mutex;
  std::vector<ApiReply> replies;
  auto started = std::chrono::steady_clock::now();
  service_.Handle(Post("/v1/executions", kPeriodicBody), [&](ApiReply r) {
    std::lock_guard<std::mutex> lock(mutex);
    replies.push_back(std::move(r));
  });
  ASSERT_EQ(publisher_.size(), 2u);  // published, never acknowledged
  auto answered = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return !replies.empty();
  };
  auto until = started + std::chrono::seconds(10);
  while (!answered() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(answered()) << "no answer at all without an acknowledgement";
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(200));
  {
    std::lock_guard<std::mutex> lock(mutex);
    ExpectError(replies.front(), 503, Code::kUnavailable);
    EXPECT_TRUE(Header(replies.front(), "Retry-After").has_value());
  }
  EXPECT_EQ(service_.in_flight(), 0);
  publisher_.CompleteAll();  // a late acknowledgement does not answer a second time
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_EQ(replies.size(), 1u);
}

TEST_F(GatewayServiceTest, AnAcknowledgedCreateIsReadableAtOnceOnTheSameGateway) {
  auto replies = Send(Post("/v1/executions", kPeriodicBody));
  ASSERT_EQ(publisher_.size(), 2u);
  std::string id = publisher_.records()[0].key;
  ExpectError(Call(Get("/v1/executions/" + id)), 404, Code::kNotFound);  // not acknowledged yet
  publisher_.CompleteAll();
  ASSERT_EQ(replies->size(), 1u);
  ApiReply got = Call(Get("/v1/executions/" + id));
  EXPECT_EQ(got.status, 200) << "the client that was told 200 cannot read its execution";
  EXPECT_EQ(Str(Json(got.body), "job_status"), "TRIGGERED");
}

TEST_F(GatewayServiceTest, ARefusedCreateLeavesNoExecutionBehind) {
  auto replies = Send(Post("/v1/executions", kPeriodicBody));
  ASSERT_EQ(publisher_.size(), 2u);
  std::string id = publisher_.records()[0].key;
  publisher_.CompleteAll(Unavailable("Local: Message timed out"));
  ASSERT_EQ(replies->size(), 1u);
  EXPECT_EQ(replies->front().status, 503);
  ExpectError(Call(Get("/v1/executions/" + id)), 404, Code::kNotFound);
}

TEST_F(GatewayServiceTest, CreateAnswers503WithRetryAfterWhenKafkaRefusesEitherRecord) {
  const Status timed_out = Unavailable("delivery failed: Local: Message timed out");
  struct Case {
    std::string name;
    bool results_ok;
    bool requests_ok;
  };
  const Case cases[] = {
      {"results record refused", false, true},
      {"trigger refused", true, false},
      {"both refused", false, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    size_t base = publisher_.size();
    auto replies = Send(Post("/v1/executions", kPeriodicBody));
    ASSERT_EQ(publisher_.size(), base + 2);
    for (size_t i = base; i < base + 2; ++i) {
      bool ok = publisher_.records()[i].topic == kResults ? c.results_ok : c.requests_ok;
      publisher_.Complete(i, ok ? Status::Ok() : timed_out);
    }
    ASSERT_EQ(replies->size(), 1u);
    ExpectError(replies->front(), 503, Code::kUnavailable);
    std::optional<std::string> retry_after = Header(replies->front(), "Retry-After");
    ASSERT_TRUE(retry_after.has_value());
    EXPECT_GT(std::stoi(*retry_after), 0);
    EXPECT_FALSE(Header(replies->front(), "Location").has_value());
    EXPECT_EQ(service_.in_flight(), 0);
  }
}

TEST_F(GatewayServiceTest, CreateAnswers503WhenThePublisherFailsAtOnce) {
  publisher_.FailImmediately(Unavailable("Local: Queue full"));
  ApiReply reply = Call(Post("/v1/executions", kPeriodicBody));
  ExpectError(reply, 503, Code::kUnavailable);
  EXPECT_TRUE(Header(reply, "Retry-After").has_value());
  EXPECT_EQ(service_.in_flight(), 0);
}

TEST_F(GatewayServiceTest, ABadRequestIsRefusedBeforeAnythingIsPublished) {
  struct Case {
    std::string name;
    ApiRequest request;
    int http;
    Code code;
    std::string message_names;  // a word the message must contain; "" = not checked
  };
  ApiRequest no_auth = Post("/v1/executions", kPeriodicBody, "");
  ApiRequest bad_token = Post("/v1/executions", kPeriodicBody, "not-a-known-token");
  ApiRequest basic = Post("/v1/executions", kPeriodicBody);
  basic.authorization = "Basic dDp0";
  ApiRequest xml = Post("/v1/executions", "<job/>");
  xml.content_type = "application/xml";
  ApiRequest multipart = Post("/v1/executions", kPeriodicBody);
  multipart.content_type = "multipart/form-data; boundary=xyz";
  ApiRequest too_big = Post("/v1/executions", kPeriodicBody + std::string(5000, ' '));
  ApiRequest bad_key = Post("/v1/executions", kPeriodicBody);
  bad_key.idempotency_key = "has a space";
  ApiRequest long_key = Post("/v1/executions", kPeriodicBody);
  long_key.idempotency_key = std::string(256, 'k');
  const std::string sha(40, 'a');

  const Case cases[] = {
      {"no Authorization", no_auth, 401, Code::kUnauthenticated, ""},
      {"unknown token", bad_token, 401, Code::kUnauthenticated, ""},
      {"not a bearer token", basic, 401, Code::kUnauthenticated, ""},
      {"XML", xml, 415, Code::kInvalidArgument, "Content-Type"},
      {"multipart", multipart, 415, Code::kInvalidArgument, "Content-Type"},
      {"body over the limit", too_big, 413, Code::kInvalidArgument, ""},
      {"malformed JSON", Post("/v1/executions", "{\"job_name\":"), 400, Code::kInvalidArgument,
       "JSON"},
      {"not an object", Post("/v1/executions", "[1,2]"), 400, Code::kInvalidArgument, ""},
      {"unknown field",
       Post("/v1/executions", R"({"job_name":"periodic-echo","job_execution_type":1,"color":1})"),
       400, Code::kInvalidArgument, "color"},
      {"missing job_execution_type", Post("/v1/executions", R"({"job_name":"periodic-echo"})"), 400,
       Code::kInvalidArgument, "job_execution_type"},
      {"wrong type of job_name", Post("/v1/executions", R"({"job_name":7,"job_execution_type":1})"),
       400, Code::kInvalidArgument, "job_name"},
      {"type mismatch",
       Post("/v1/executions", R"({"job_name":"periodic-echo","job_execution_type":"POSTSUBMIT"})"),
       400, Code::kInvalidArgument, "job_execution_type"},
      {"refs on a periodic job",
       Post("/v1/executions",
            R"({"job_name":"periodic-echo","job_execution_type":1,"refs":{"org":"o","repo":"r"}})"),
       400, Code::kInvalidArgument, "refs"},
      {"postsubmit without base_sha",
       Post("/v1/executions", R"({"job_name":"post-build","job_execution_type":2,)"
                              R"("refs":{"org":"o","repo":"r","base_ref":"main"}})"),
       400, Code::kInvalidArgument, "base_sha"},
      {"env not allowed",
       Post("/v1/executions", R"({"job_name":"periodic-echo","job_execution_type":1,)"
                              R"("pod_spec_options":{"envs":{"LD_PRELOAD":"/x.so"}}})"),
       400, Code::kInvalidArgument, "LD_PRELOAD"},
      {"reserved label",
       Post("/v1/executions", R"({"job_name":"periodic-echo","job_execution_type":1,)"
                              R"("pod_spec_options":{"labels":{"sluice.io/user":"root"}}})"),
       400, Code::kInvalidArgument, "sluice.io/"},
      {"reserved annotation",
       Post("/v1/executions", R"({"job_name":"periodic-echo","job_execution_type":1,)"
                              R"("pod_spec_options":{"annotations":{"sluice.io/source":"cron"}}})"),
       400, Code::kInvalidArgument, "sluice.io/"},
      {"path and body name different jobs",
       Post("/v1/executions/periodic-echo", R"({"job_name":"periodic-x","job_execution_type":1})"),
       400, Code::kInvalidArgument, "job_name"},
      {"job not allowed for this client",
       Post("/v1/executions", R"({"job_name":"secret-job","job_execution_type":1})"), 403,
       Code::kPermissionDenied, ""},
      {"allowed pattern but no such job",
       Post("/v1/executions", R"({"job_name":"periodic-nope","job_execution_type":1})"), 404,
       Code::kNotFound, ""},
      {"bad Idempotency-Key", bad_key, 400, Code::kInvalidArgument, "Idempotency-Key"},
      {"Idempotency-Key too long", long_key, 400, Code::kInvalidArgument, "Idempotency-Key"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ApiReply reply = Call(c.request);
    ExpectError(reply, c.http, c.code);
    if (!c.message_names.empty()) {
      EXPECT_NE(reply.body.find(c.message_names), std::string::npos) << reply.body;
    }
    EXPECT_EQ(publisher_.size(), 0u) << "published for a bad request";
  }
  EXPECT_EQ(service_.in_flight(), 0);
}

TEST_F(GatewayServiceTest, AGoodRequestInFlightIsNotDisturbedByBadOnes) {
  auto good = Send(Post("/v1/executions", kPeriodicBody));
  ASSERT_EQ(publisher_.size(), 2u);
  EXPECT_EQ(Call(Post("/v1/executions", "{")).status, 400);
  EXPECT_EQ(Call(Post("/v1/executions", kPeriodicBody, "nope")).status, 401);
  EXPECT_EQ(Call(Post("/v1/executions", kPeriodicBody + std::string(5000, ' '))).status, 413);
  EXPECT_TRUE(good->empty());
  EXPECT_EQ(publisher_.size(), 2u);
  publisher_.CompleteAll();
  ASSERT_EQ(good->size(), 1u);
  EXPECT_EQ(good->front().status, 200);
}

TEST_F(GatewayServiceTest, ABodyExactlyAtTheLimitIsAccepted) {
  std::string body = kPeriodicBody;
  body.append(config_.gateway.max_body_bytes - body.size(), ' ');
  ASSERT_EQ(body.size(), config_.gateway.max_body_bytes);
  Send(Post("/v1/executions", body));
  EXPECT_EQ(publisher_.size(), 2u);
  ExpectError(Call(Post("/v1/executions", body + " ")), 413, Code::kInvalidArgument);
  EXPECT_EQ(publisher_.size(), 2u);
}

// ---- Input hygiene and the 2xx size promise (issue 11) -------------------------------------

std::string MessageOf(const ApiReply& reply) {
  rapidjson::Document doc = Json(reply.body);
  return doc.IsObject() && doc.HasMember("message") && doc["message"].IsString()
             ? doc["message"].GetString()
             : "";
}

TEST_F(GatewayServiceTest, AnEnvValueThatIsNotUtf8Is400NamingTheVariable) {
  const std::string bodies[] = {
      "{\"job_name\":\"periodic-echo\",\"job_execution_type\":1,"
      "\"pod_spec_options\":{\"envs\":{\"RELEASE_IMAGE_LATEST\":\"\xff\xfe\xc0\xaf\"}}}",
      R"({"job_name":"periodic-echo","job_execution_type":1,)"
      R"("pod_spec_options":{"envs":{"RELEASE_IMAGE_LATEST":"\udc00"}}})",
  };
  for (const std::string& body : bodies) {
    ApiReply reply = Call(Post("/v1/executions", body));
    ExpectError(reply, 400, Code::kInvalidArgument);
    EXPECT_EQ(
        MessageOf(reply).rfind("pod_spec_options.envs.RELEASE_IMAGE_LATEST: not valid UTF-8", 0),
        0u)
        << reply.body;
  }
  EXPECT_EQ(publisher_.size(), 0u);
}

TEST_F(GatewayServiceTest, AnEnvValueOverTheLimitIs400NamingTheVariableAndTheLimit) {
  config_.gateway.max_body_bytes = 4 * 1024 * 1024;
  std::string value(config_.gateway.max_env_value_bytes + 1, 'x');
  ApiReply reply =
      Call(Post("/v1/executions", R"({"job_name":"periodic-echo","job_execution_type":1,)"
                                  R"("pod_spec_options":{"envs":{"RELEASE_IMAGE_LATEST":")" +
                                      value + R"("}}})"));
  ExpectError(reply, 400, Code::kInvalidArgument);
  std::string message = MessageOf(reply);
  EXPECT_EQ(message.rfind("pod_spec_options.envs.RELEASE_IMAGE_LATEST:", 0), 0u) << message;
  EXPECT_NE(message.find("131072"), std::string::npos) << message;
  EXPECT_NE(message.find("max_env_value_bytes"), std::string::npos) << message;
  EXPECT_LT(message.size(), 400u);
  EXPECT_EQ(publisher_.size(), 0u);

  // At the limit it is accepted.
  value.pop_back();
  Send(Post("/v1/executions", R"({"job_name":"periodic-echo","job_execution_type":1,)"
                              R"("pod_spec_options":{"envs":{"RELEASE_IMAGE_LATEST":")" +
                                  value + R"("}}})"));
  EXPECT_EQ(publisher_.size(), 2u);
}

TEST_F(GatewayServiceTest, TheIssuesJustUnderTheBodyLimitEnvValueIs400NotA200ThatNeverRuns) {
  // Issue 11, case 2: answered 200 TRIGGERED, then the worker's claim was refused by Kafka
  // forever. Now the gateway refuses it, and nothing is published.
  config_.gateway.max_body_bytes = GatewayConfig().max_body_bytes;
  config_.jobs.push_back(Job("periodic-to-trigger", JobType::kPeriodic));
  ApiReply reply =
      Call(Post("/v1/executions", R"({"job_name":"periodic-to-trigger","job_execution_type":"1",)"
                                  R"("pod_spec_options":{"envs":{"RELEASE_IMAGE_LATEST":")" +
                                      std::string(1048298, 'x') + R"("}}})"));
  ExpectError(reply, 400, Code::kInvalidArgument);
  EXPECT_NE(MessageOf(reply).find("RELEASE_IMAGE_LATEST"), std::string::npos) << reply.body;
  for (size_t bytes : {200 * 1024, 990000}) {
    reply =
        Call(Post("/v1/executions", R"({"job_name":"periodic-to-trigger","job_execution_type":"1",)"
                                    R"("pod_spec_options":{"envs":{"RELEASE_IMAGE_LATEST":")" +
                                        std::string(bytes, 'x') + R"("}}})"));
    ExpectError(reply, 400, Code::kInvalidArgument);
  }
  EXPECT_EQ(publisher_.size(), 0u);
}

TEST_F(GatewayServiceTest, EnvNamesAndValuesOverTheTotalLimitAre400NamingTheLimit) {
  config_.gateway.max_body_bytes = 4 * 1024 * 1024;
  std::string value(100 * 1024, 'x');
  std::string body = R"({"job_name":"periodic-echo","job_execution_type":1,"pod_spec_options":)"
                     R"({"envs":{"MULTISTAGE_PARAM_OVERRIDE_A":")" +
                     value + R"(","MULTISTAGE_PARAM_OVERRIDE_B":")" + value +
                     R"(","MULTISTAGE_PARAM_OVERRIDE_C":")" + value + R"("}}})";
  ApiReply reply = Call(Post("/v1/executions", body));
  ExpectError(reply, 400, Code::kInvalidArgument);
  std::string message = MessageOf(reply);
  EXPECT_EQ(message.rfind("pod_spec_options.envs: names and values add up to", 0), 0u) << message;
  EXPECT_NE(message.find("262144"), std::string::npos) << message;
  EXPECT_EQ(publisher_.size(), 0u);
}

TEST_F(GatewayServiceTest, ARecordLargerThanKafkaTakesIs413NamingTheLimitAndTheField) {
  config_.gateway.max_body_bytes = 4 * 1024 * 1024;
  std::string value(kMaxRecordBytes, 'a');
  ApiReply reply =
      Call(Post("/v1/executions", R"({"job_name":"periodic-echo","job_execution_type":1,)"
                                  R"("pod_spec_options":{"annotations":{"big":")" +
                                      value + R"("}}})"));
  ExpectError(reply, 413, Code::kInvalidArgument);
  std::string message = MessageOf(reply);
  EXPECT_NE(message.find(std::to_string(kMaxRecordBytes)), std::string::npos) << message;
  EXPECT_NE(message.find("pod_spec_options.annotations.big"), std::string::npos) << message;
  EXPECT_EQ(publisher_.size(), 0u);
  EXPECT_EQ(service_.in_flight(), 0);
}

TEST_F(GatewayServiceTest, ARecordThatLeavesTooLittleRoomForTheWorkersRecordsIs413) {
  // The trigger alone would fit; the status record must also leave room for the worker's claim,
  // heartbeats and terminal state, which carry the same fields.
  config_.gateway.max_body_bytes = 4 * 1024 * 1024;
  std::string value(kMaxRecordBytes - kRecordOverheadBytes - kWorkerRecordReserveBytes / 2, 'a');
  ApiReply reply =
      Call(Post("/v1/executions", R"({"job_name":"periodic-echo","job_execution_type":1,)"
                                  R"("pod_spec_options":{"annotations":{"big":")" +
                                      value + R"("}}})"));
  ExpectError(reply, 413, Code::kInvalidArgument);
  EXPECT_NE(MessageOf(reply).find("status record"), std::string::npos) << reply.body;
  EXPECT_EQ(publisher_.size(), 0u);
}

TEST_F(GatewayServiceTest, TheLargestAcceptedBodyMakesRecordsThatFit) {
  // The default body limit filled with one annotation: accepted, and both records fit with the
  // worker's reserve to spare.
  config_.gateway.max_body_bytes = GatewayConfig().max_body_bytes;
  std::string head = R"({"job_name":"periodic-echo","job_execution_type":1,)"
                     R"("pod_spec_options":{"annotations":{"big":")";
  std::string tail = R"("}}})";
  std::string body =
      head + std::string(config_.gateway.max_body_bytes - head.size() - tail.size(), 'a') + tail;
  Send(Post("/v1/executions", body));
  ASSERT_EQ(publisher_.size(), 2u);
  for (const auto& record : publisher_.records()) {
    EXPECT_LE(record.key.size() + record.value.size() + kWorkerRecordReserveBytes,
              kMaxRecordBytes - kRecordOverheadBytes);
  }
}

TEST_F(GatewayServiceTest, A900KbJobNameGetsAShort404) {
  config_.gateway.max_body_bytes = 1024 * 1024;
  std::string name = "periodic-" + std::string(900 * 1000, 'x');
  ApiReply reply =
      Call(Post("/v1/executions", R"({"job_name":")" + name + R"(","job_execution_type":1})"));
  ExpectError(reply, 404, Code::kNotFound);
  EXPECT_LT(reply.body.size(), 500u);
  EXPECT_NE(MessageOf(reply).find("periodic-xxx"), std::string::npos) << reply.body;
  EXPECT_NE(MessageOf(reply).find("\xE2\x80\xA6"), std::string::npos) << reply.body;
}

TEST_F(GatewayServiceTest, A100KibIdGetsAShort404) {
  std::string id(100 * 1024, '7');
  for (const ApiRequest& request :
       {Get("/v1/executions/" + id), Get("/v1/executions/" + id + "/log"),
        Post("/v1/executions/" + id + "/abort", "")}) {
    SCOPED_TRACE(request.method + " " + request.path.substr(0, 20));
    ApiReply reply = Call(request);
    ExpectError(reply, 404, Code::kNotFound);
    EXPECT_LT(reply.body.size(), 500u);
  }
}

TEST_F(GatewayServiceTest, UnknownRoutesAndQueryParametersEchoShortly) {
  std::string long_text(100 * 1024, 'q');
  ApiReply route = Call(Get("/v1/" + long_text));
  ExpectError(route, 404, Code::kNotFound);
  EXPECT_LT(route.body.size(), 600u);
  ApiRequest list = Get("/v1/executions");
  list.query[long_text] = "1";
  ApiReply query = Call(list);
  ExpectError(query, 400, Code::kInvalidArgument);
  EXPECT_LT(query.body.size(), 600u);
  ApiRequest status = Get("/v1/executions");
  status.query["status"] = long_text;
  EXPECT_LT(Call(status).body.size(), 600u);
  ApiReply method = Call(Request(long_text, "/v1/executions"));
  EXPECT_EQ(method.status, 405);
  EXPECT_LT(method.body.size(), 600u);
}

TEST_F(GatewayServiceTest, UnauthenticatedAnswersCarryWwwAuthenticateAndNeverEchoTheToken) {
  ApiReply reply = Call(Post("/v1/executions", kPeriodicBody, "sekrit-token-value"));
  ExpectError(reply, 401, Code::kUnauthenticated);
  std::optional<std::string> challenge = Header(reply, "WWW-Authenticate");
  ASSERT_TRUE(challenge.has_value());
  EXPECT_TRUE(Lower(*challenge).starts_with("bearer")) << *challenge;
  EXPECT_EQ(reply.body.find("sekrit"), std::string::npos) << reply.body;
}

TEST_F(GatewayServiceTest, CurlsDefaultContentTypeAndNoContentTypeAreAccepted) {
  for (std::string content_type :
       {"application/x-www-form-urlencoded", "", "application/json; charset=utf-8"}) {
    SCOPED_TRACE("Content-Type: " + content_type);
    size_t base = publisher_.size();
    ApiRequest r = Post("/v1/executions", kPeriodicBody);
    r.content_type = content_type;
    auto replies = Send(r);
    EXPECT_EQ(publisher_.size(), base + 2);
    publisher_.CompleteAll();
    ASSERT_EQ(replies->size(), 1u);
    EXPECT_EQ(replies->front().status, 200) << replies->front().body;
  }
}

TEST_F(GatewayServiceTest, ThePathFormNamesTheJob) {
  auto replies = Send(Post("/v1/executions/periodic-echo", R"({"job_execution_type":"PERIODIC"})"));
  ASSERT_EQ(publisher_.size(), 2u);
  auto requests = publisher_.OnlyIndexOn(kRequests);
  ASSERT_TRUE(requests.has_value());
  StatusOr<Trigger> t = DecodeTrigger(publisher_.records()[*requests].value);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->job_name, "periodic-echo");
  publisher_.CompleteAll();
  ASSERT_EQ(replies->size(), 1u);
  EXPECT_EQ(replies->front().status, 200);
}

TEST_F(GatewayServiceTest, ARateLimitedClientGets429WithRetryAfterAndNothingIsPublished) {
  auto first = Send(Post("/v1/executions", kPeriodicBody, "l"));
  EXPECT_EQ(publisher_.size(), 2u);
  ApiReply second = Call(Post("/v1/executions", kPeriodicBody, "l"));
  ExpectError(second, 429, Code::kResourceExhausted);
  std::optional<std::string> retry_after = Header(second, "Retry-After");
  ASSERT_TRUE(retry_after.has_value());
  EXPECT_GE(std::stoi(*retry_after), 1);
  EXPECT_EQ(publisher_.size(), 2u);
  // Another client is not held back.
  Send(Post("/v1/executions", kPeriodicBody, "t"));
  EXPECT_EQ(publisher_.size(), 4u);
  // Once the bucket refills the client is served again.
  clock_.Advance(seconds(1));
  Send(Post("/v1/executions", kPeriodicBody, "l"));
  EXPECT_EQ(publisher_.size(), 6u);
}

TEST_F(GatewayServiceTest, TooManyTriggersWaitingForKafkaGet429) {
  config_.gateway.max_in_flight = 1;
  auto first = Send(Post("/v1/executions", kPeriodicBody));
  ASSERT_EQ(publisher_.size(), 2u);
  ApiReply second = Call(Post("/v1/executions", kPeriodicBody));
  ExpectError(second, 429, Code::kResourceExhausted);
  EXPECT_TRUE(Header(second, "Retry-After").has_value());
  EXPECT_EQ(publisher_.size(), 2u);
  publisher_.CompleteAll();
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ(first->front().status, 200);
  Send(Post("/v1/executions", kPeriodicBody));
  EXPECT_EQ(publisher_.size(), 4u) << "room again once the first was acknowledged";
}

// ---- Idempotency-Key -------------------------------------------------------------------------

TEST_F(GatewayServiceTest, IdempotencyKeyDerivesTheExecutionIdFromClientAndKey) {
  ApiRequest r = Post("/v1/executions", kPeriodicBody);
  r.idempotency_key = "nightly-2026-11-23";
  Send(r);
  ASSERT_EQ(publisher_.size(), 2u);
  std::string want = ExecutionIdForIdempotencyKey("ci", "nightly-2026-11-23");
  for (const auto& record : publisher_.records()) EXPECT_EQ(record.key, want);
}

TEST_F(GatewayServiceTest, IdempotencyKeyReplayAnswersTheKnownExecutionWithoutPublishing) {
  ApiRequest r = Post("/v1/executions", kOverrideBody);
  r.idempotency_key = "k-1";
  Execution first = CreateAndSeeInView(r);
  ASSERT_EQ(publisher_.size(), 2u);

  clock_.Advance(seconds(30));
  ApiReply again = Call(r);
  EXPECT_EQ(again.status, 200) << again.body;
  rapidjson::Document body = Json(again.body);
  EXPECT_EQ(Str(body, "id"), first.id);
  EXPECT_EQ(Str(body, "create_time"), FormatRfc3339(*first.create_time));
  EXPECT_EQ(publisher_.size(), 2u) << "a replay must not publish";

  // Later the execution has progressed; the replay answers its current state.
  Execution done = first;
  done.job_status = JobStatus::kSuccess;
  done.attempt = 1;
  done.worker = "w1";
  done.completion_time = clock_.Now();
  view_.store().Apply(done);
  ApiReply later = Call(r);
  EXPECT_EQ(later.status, 200);
  EXPECT_EQ(Str(Json(later.body), "job_status"), "SUCCESS");
  EXPECT_EQ(publisher_.size(), 2u);
}

// A client that retries a create whose first answer it lost must get the same answer, including
// the Location header that every successful create carries.
TEST_F(GatewayServiceTest, IdempotencyKeyReplayCarriesLocationLikeTheOriginalCreate) {
  ApiRequest r = Post("/v1/executions", kPeriodicBody);
  r.idempotency_key = "k-location";
  Execution first = CreateAndSeeInView(r);
  ApiReply again = Call(r);
  EXPECT_EQ(again.status, 200);
  std::optional<std::string> location = Header(again, "Location");
  ASSERT_TRUE(location.has_value()) << "replay of a create answers without Location";
  EXPECT_TRUE(location->ends_with("/v1/executions/" + first.id)) << *location;
}

TEST_F(GatewayServiceTest, IdempotencyKeyReusedForADifferentRequestIs409) {
  ApiRequest r = Post("/v1/executions", kPeriodicBody);
  r.idempotency_key = "k-2";
  CreateAndSeeInView(r);
  ApiRequest different = Post("/v1/executions", kOverrideBody);
  different.idempotency_key = "k-2";
  ApiReply reply = Call(different);
  ExpectError(reply, 409, Code::kFailedPrecondition);
  EXPECT_NE(reply.body.find("Idempotency-Key"), std::string::npos) << reply.body;
  EXPECT_EQ(publisher_.size(), 2u);
}

TEST_F(GatewayServiceTest, TheSameKeyFromAnotherClientIsAnotherExecution) {
  ApiRequest r = Post("/v1/executions", kPeriodicBody);
  r.idempotency_key = "shared-key";
  Execution mine = CreateAndSeeInView(r);
  ApiRequest theirs = Post("/v1/executions", kPeriodicBody, "t2");
  theirs.idempotency_key = "shared-key";
  auto replies = Send(theirs);
  ASSERT_EQ(publisher_.size(), 4u) << "the other client's key must not hit this execution";
  EXPECT_EQ(publisher_.records()[2].key, ExecutionIdForIdempotencyKey("ci2", "shared-key"));
  EXPECT_NE(publisher_.records()[2].key, mine.id);
}

// ---- GET /v1/executions/{id} -----------------------------------------------------------------

TEST_F(GatewayServiceTest, GetAnswersTheExecutionFromTheView) {
  Execution e = Stored("periodic-echo", JobStatus::kSuccess, 1);
  ApiReply reply = Call(Get("/v1/executions/" + e.id));
  ASSERT_EQ(reply.status, 200) << reply.body;
  rapidjson::Document body = Json(reply.body);
  EXPECT_EQ(Str(body, "id"), e.id);
  EXPECT_EQ(Str(body, "job_status"), "SUCCESS");
  EXPECT_EQ(Str(body, "gcs_path"), e.gcs_path);
  EXPECT_EQ(Str(body, "start_time"), FormatRfc3339(*e.start_time));
  EXPECT_EQ(Str(body, "completion_time"), FormatRfc3339(*e.completion_time));
  EXPECT_EQ(Str(body, "job_url"), std::string(kPublicUrl) + "/v1/executions/" + e.id);
}

TEST_F(GatewayServiceTest, GetOfAnUnknownOrHiddenExecutionIs404) {
  Execution secret = Stored("secret-job", JobStatus::kSuccess, 1);
  struct Case {
    std::string name;
    std::string path;
    std::string token;
  };
  const Case cases[] = {
      {"unknown id", "/v1/executions/0190f3a2-7b1c-7d2e-8f3a-0123456789ab", "t"},
      {"not an id", "/v1/executions/not-an-id", "t"},
      {"a job this client may not use", "/v1/executions/" + secret.id, "t"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectError(Call(Get(c.path, c.token)), 404, Code::kNotFound);
  }
  EXPECT_EQ(Call(Get("/v1/executions/" + secret.id, "u")).status, 200)
      << "the client allowed to use secret-job sees it";
}

TEST_F(GatewayServiceTest, ReadsNeedAuthenticationToo) {
  Execution e = Stored("periodic-echo", JobStatus::kSuccess, 1);
  for (std::string path : {"/v1/executions/" + e.id, std::string("/v1/executions"),
                           "/v1/executions/" + e.id + "/log"}) {
    SCOPED_TRACE(path);
    ApiReply reply = Call(Get(path, ""));
    ExpectError(reply, 401, Code::kUnauthenticated);
    EXPECT_TRUE(Header(reply, "WWW-Authenticate").has_value());
  }
}

// ---- GET /v1/executions ----------------------------------------------------------------------

std::vector<std::string> ListedIds(const ApiReply& reply, std::string* next_page_token = nullptr) {
  std::vector<std::string> ids;
  rapidjson::Document doc = Json(reply.body);
  EXPECT_TRUE(doc.IsObject() && doc.HasMember("job_execution") && doc["job_execution"].IsArray())
      << reply.body;
  EXPECT_TRUE(doc.HasMember("next_page_token") && doc["next_page_token"].IsString()) << reply.body;
  if (!doc.IsObject() || !doc.HasMember("job_execution")) return ids;
  for (const auto& e : doc["job_execution"].GetArray()) ids.push_back(Str(e, "id"));
  if (next_page_token) *next_page_token = Str(doc, "next_page_token");
  return ids;
}

ApiRequest ListRequest(std::map<std::string, std::string> query, std::string token = "t") {
  ApiRequest r;
  r.method = "GET";
  r.path = "/v1/executions";
  r.query = std::move(query);
  r.authorization = "Bearer " + token;
  return r;
}

TEST_F(GatewayServiceTest, ListIsNewestFirstFilteredAndOnlyShowsVisibleJobs) {
  Execution a = Stored("periodic-echo", JobStatus::kSuccess, 1);
  Execution b = Stored("post-build", JobStatus::kPending, 2);
  Execution s1 = Stored("secret-job", JobStatus::kSuccess, 3);
  Execution c = Stored("periodic-echo", JobStatus::kFailure, 4);
  Execution d = Stored("periodic-echo", JobStatus::kSuccess, 5);
  Execution s2 = Stored("secret-job", JobStatus::kError, 6);
  struct Case {
    std::string name;
    std::map<std::string, std::string> query;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"everything visible", {}, {d.id, c.id, b.id, a.id}},
      {"job_name", {{"job_name", "periodic-echo"}}, {d.id, c.id, a.id}},
      {"status", {{"status", "SUCCESS"}}, {d.id, a.id}},
      {"job_name and status", {{"job_name", "periodic-echo"}, {"status", "FAILURE"}}, {c.id}},
      {"empty filters mean any", {{"job_name", ""}, {"status", ""}}, {d.id, c.id, b.id, a.id}},
      {"no match", {{"status", "ABORTED"}}, {}},
  };
  for (const Case& cs : cases) {
    SCOPED_TRACE(cs.name);
    ApiReply reply = Call(ListRequest(cs.query));
    ASSERT_EQ(reply.status, 200) << reply.body;
    std::string token = "unset";
    EXPECT_EQ(ListedIds(reply, &token), cs.want);
    EXPECT_EQ(token, "");
  }
  EXPECT_EQ(ListedIds(Call(ListRequest({}, "u"))), (std::vector<std::string>{s2.id, s1.id}));
}

TEST_F(GatewayServiceTest, ListPagesReturnEachExecutionExactlyOnce) {
  std::vector<std::string> want;
  for (int i = 0; i < 7; ++i)
    want.insert(want.begin(), Stored("periodic-echo", JobStatus::kSuccess, i).id);
  Stored("secret-job", JobStatus::kSuccess, 100);  // newest, but hidden from this client
  for (int page_size : {1, 2, 3, 7, 500}) {
    SCOPED_TRACE("page_size " + std::to_string(page_size));
    std::vector<std::string> got;
    std::map<std::string, std::string> query{{"page_size", std::to_string(page_size)}};
    int pages = 0;
    for (; pages < 20; ++pages) {
      ApiReply reply = Call(ListRequest(query));
      ASSERT_EQ(reply.status, 200) << reply.body;
      std::string token;
      std::vector<std::string> ids = ListedIds(reply, &token);
      EXPECT_LE(ids.size(), static_cast<size_t>(page_size));
      got.insert(got.end(), ids.begin(), ids.end());
      if (token.empty()) break;
      query["page_token"] = token;
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(pages + 1, (7 + page_size - 1) / page_size) << "pages, the last without a token";
  }
}

TEST_F(GatewayServiceTest, ListRefusesBadParameters) {
  struct Case {
    std::string name;
    std::map<std::string, std::string> query;
    std::string message_names;
  };
  const Case cases[] = {
      {"page_size 0", {{"page_size", "0"}}, "page_size"},
      {"page_size over the maximum", {{"page_size", "501"}}, "page_size"},
      {"page_size negative", {{"page_size", "-1"}}, "page_size"},
      {"page_size not a number", {{"page_size", "ten"}}, "page_size"},
      {"page_size empty", {{"page_size", ""}}, "page_size"},
      {"page_size huge", {{"page_size", "99999999999999999999"}}, "page_size"},
      {"unknown status", {{"status", "DONE"}}, "status"},
      {"page_token garbage", {{"page_token", "not-a-token"}}, "page_token"},
      {"unknown parameter", {{"color", "red"}}, "color"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ApiReply reply = Call(ListRequest(c.query));
    ExpectError(reply, 400, Code::kInvalidArgument);
    EXPECT_NE(reply.body.find(c.message_names), std::string::npos) << reply.body;
  }
}

TEST_F(GatewayServiceTest, ListingAJobTheClientMayNotUseRevealsNothing) {
  Stored("secret-job", JobStatus::kSuccess, 1);
  ApiReply reply = Call(ListRequest({{"job_name", "secret-job"}}));
  ExpectError(reply, 403, Code::kPermissionDenied);
}

// ---- POST /v1/executions/{id}/abort ----------------------------------------------------------

TEST_F(GatewayServiceTest, AbortOfAnEndedExecutionIs409AndPublishesNothing) {
  for (JobStatus status :
       {JobStatus::kSuccess, JobStatus::kFailure, JobStatus::kAborted, JobStatus::kError}) {
    SCOPED_TRACE(JobStatusName(status));
    Execution e = Stored("periodic-echo", status, 1);
    ApiReply reply = Call(Post("/v1/executions/" + e.id + "/abort", ""));
    ExpectError(reply, 409, Code::kFailedPrecondition);
    EXPECT_NE(reply.body.find(JobStatusName(status)), std::string::npos) << reply.body;
  }
  EXPECT_EQ(publisher_.size(), 0u);
}

TEST_F(GatewayServiceTest, AbortPublishesToTheControlTopicAndAnswers202AfterTheAck) {
  for (JobStatus status : {JobStatus::kTriggered, JobStatus::kPending}) {
    SCOPED_TRACE(JobStatusName(status));
    Execution e = Stored("periodic-echo", status, 1);
    size_t base = publisher_.size();
    auto replies = Send(Post("/v1/executions/" + e.id + "/abort", ""));
    ASSERT_EQ(publisher_.size(), base + 1);
    FakePublisher::Record record = publisher_.records()[base];
    EXPECT_EQ(record.topic, kControl);
    EXPECT_EQ(record.key, e.id);
    StatusOr<AbortRequest> abort = DecodeAbortRequest(record.value);
    ASSERT_TRUE(abort.ok()) << record.value;
    EXPECT_EQ(abort->id, e.id);
    EXPECT_EQ(abort->requested_by, "ci");
    EXPECT_TRUE(replies->empty()) << "no reply before Kafka acknowledges the abort";
    publisher_.Complete(base);
    ASSERT_EQ(replies->size(), 1u);
    EXPECT_EQ(replies->front().status, 202) << replies->front().body;
    EXPECT_EQ(Str(Json(replies->front().body), "id"), e.id);
  }
}

TEST_F(GatewayServiceTest, AbortNotAcknowledgedIs503WithRetryAfter) {
  Execution e = Stored("periodic-echo", JobStatus::kPending, 1);
  auto replies = Send(Post("/v1/executions/" + e.id + "/abort", ""));
  ASSERT_EQ(publisher_.size(), 1u);
  publisher_.Complete(0, Unavailable("Local: Message timed out"));
  ASSERT_EQ(replies->size(), 1u);
  ExpectError(replies->front(), 503, Code::kUnavailable);
  EXPECT_TRUE(Header(replies->front(), "Retry-After").has_value());
}

TEST_F(GatewayServiceTest, AbortOfAnUnknownOrHiddenExecutionIs404) {
  Execution secret = Stored("secret-job", JobStatus::kPending, 1);
  ExpectError(Call(Post("/v1/executions/0190f3a2-7b1c-7d2e-8f3a-0123456789ab/abort", "")), 404,
              Code::kNotFound);
  ExpectError(Call(Post("/v1/executions/" + secret.id + "/abort", "")), 404, Code::kNotFound);
  EXPECT_EQ(publisher_.size(), 0u);
}

// ---- GET /v1/executions/{id}/log -------------------------------------------------------------

TEST_F(GatewayServiceTest, LogIsTheBuildLogAsPlainText) {
  Execution e = Stored("periodic-echo", JobStatus::kSuccess, 1);
  fs::create_directories(e.gcs_path);
  std::ofstream(e.gcs_path + "/build-log.txt") << "line one\nline two\n";
  ApiReply reply = Call(Get("/v1/executions/" + e.id + "/log"));
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.content_type.starts_with("text/plain")) << reply.content_type;
  EXPECT_EQ(reply.body, "line one\nline two\n");
}

TEST_F(GatewayServiceTest, LogOfAnExecutionNotStartedYetIsEmpty) {
  Execution e = Stored("periodic-echo", JobStatus::kTriggered, 1);
  ApiReply reply = Call(Get("/v1/executions/" + e.id + "/log"));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "");
}

TEST_F(GatewayServiceTest, LogOfAHiddenExecutionIs404) {
  Execution e = Stored("secret-job", JobStatus::kSuccess, 1);
  fs::create_directories(e.gcs_path);
  std::ofstream(e.gcs_path + "/build-log.txt") << "secret output\n";
  ApiReply reply = Call(Get("/v1/executions/" + e.id + "/log"));
  ExpectError(reply, 404, Code::kNotFound);
  EXPECT_EQ(reply.body.find("secret output"), std::string::npos);
}

// ---- health, readiness, routing --------------------------------------------------------------

TEST_F(GatewayServiceTest, ReadyOnlyWhenTheViewIsCaughtUpAndKafkaIsReachable) {
  struct Case {
    bool caught_up;
    bool reachable;
    int want;
  };
  const Case cases[] = {
      {false, false, 503},
      {false, true, 503},
      {true, false, 503},
      {true, true, 200},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string("caught_up=") + (c.caught_up ? "yes" : "no") +
                 " reachable=" + (c.reachable ? "yes" : "no"));
    view_.SetCaughtUp(c.caught_up);
    publisher_.SetReachable(c.reachable);
    ApiReply ready = Call(Request("GET", "/readyz", ""));
    EXPECT_EQ(ready.status, c.want) << ready.body;
    if (c.want == 503) {
      ExpectError(ready, 503, Code::kUnavailable);
      EXPECT_TRUE(Header(ready, "Retry-After").has_value());
    }
    EXPECT_EQ(Call(Request("GET", "/healthz", "")).status, 200) << "alive regardless";
  }
}

TEST_F(GatewayServiceTest, AnUnknownRouteIsA404InTheErrorFormat) {
  for (std::string path :
       {"/index.html", "/ui", "/v1", "/v2/executions", "/v1/executions/x/y/z", "/v1/execution", "/metricz"}) {
    SCOPED_TRACE(path);
    ExpectError(Call(Request("GET", path)), 404, Code::kNotFound);
  }
}

TEST_F(GatewayServiceTest, MetricsAnswersThePrometheusTextFormatWithoutAToken) {
  GatewayMetrics::Get();  // registered by main at start-up
  ApiReply reply = Call(Request("GET", "/metrics", ""));
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(reply.body.find("# TYPE sluice_http_requests_total counter\n"), std::string::npos)
      << reply.body;
}

struct WrongMethod {
  std::string method;
  std::string path;
};
const WrongMethod kWrongMethods[] = {
    {"DELETE", "/v1/executions"},
    {"PUT", "/v1/executions"},
    {"PUT", "/v1/executions/0190f3a2-7b1c-7d2e-8f3a-0123456789ab"},
    {"DELETE", "/v1/executions/0190f3a2-7b1c-7d2e-8f3a-0123456789ab"},
    {"GET", "/v1/executions/0190f3a2-7b1c-7d2e-8f3a-0123456789ab/abort"},
    {"POST", "/v1/executions/0190f3a2-7b1c-7d2e-8f3a-0123456789ab/log"},
    {"POST", "/healthz"},
    {"POST", "/readyz"},
};

TEST_F(GatewayServiceTest, AWrongMethodIsA405InTheErrorFormat) {
  for (const WrongMethod& c : kWrongMethods) {
    SCOPED_TRACE(c.method + " " + c.path);
    ApiReply reply = Call(Request(c.method, c.path));
    EXPECT_EQ(reply.status, 405) << reply.body;
    rapidjson::Document doc = Json(reply.body);
    EXPECT_TRUE(doc.IsObject() && doc.HasMember("code") && doc.HasMember("message") &&
                doc.HasMember("details"))
        << reply.body;
  }
  EXPECT_EQ(publisher_.size(), 0u);
}

// RFC 9110 section 15.5.6: "The origin server MUST generate an Allow header field in a 405
// response containing a list of the target resource's currently supported methods."
TEST_F(GatewayServiceTest, A405NamesTheAllowedMethodsInAnAllowHeader) {
  std::vector<std::string> without_allow;
  for (const WrongMethod& c : kWrongMethods) {
    ApiReply reply = Call(Request(c.method, c.path));
    ASSERT_EQ(reply.status, 405) << c.method << " " << c.path;
    std::optional<std::string> allow = Header(reply, "Allow");
    if (!allow || allow->empty()) without_allow.push_back(c.method + " " + c.path);
  }
  EXPECT_TRUE(without_allow.empty()) << "405 without an Allow header for " << without_allow.size()
                                     << " requests, e.g. " << without_allow.front();
}

}  // namespace
}  // namespace sluice
