#include "common/json_codec.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "execution_expect.h"
#include "fakes.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kSha1(40, 'a');
const std::string kSha2(40, 'b');

Refs FullRefs() {
  Refs r;
  r.org = "openshift";
  r.repo = "assisted-installer";
  r.repo_link = "https://github.com/openshift/assisted-installer";
  r.base_ref = "release-4.12";
  r.base_sha = kSha1;
  r.base_link = "https://github.com/openshift/assisted-installer/commit/" + kSha1;
  r.path_alias = "github.com/openshift/assisted-installer";
  r.clone_uri = "https://github.com/openshift/assisted-installer.git";
  Pull p1;
  p1.number = 17;
  p1.author = "alice";
  p1.sha = kSha2;
  p1.title = "Fix \"quotes\" and unicode \xc3\xa9";
  p1.ref = "refs/pull/17/head";
  p1.link = "https://github.com/openshift/assisted-installer/pull/17";
  p1.commit_link = "https://github.com/openshift/assisted-installer/pull/17/commits/" + kSha2;
  p1.author_link = "https://github.com/alice";
  Pull p2;
  p2.number = 18;
  p2.sha = kSha1;
  r.pulls = {p1, p2};
  return r;
}

PodSpecOptions FullPodSpecOptions() {
  PodSpecOptions p;
  p.envs = {{"RELEASE_IMAGE_LATEST", "quay.io/x:4.18"}, {"MULTISTAGE_PARAM_OVERRIDE_A", "1"}};
  p.labels = {{"team", "installer"}};
  p.annotations = {{"sluice.io/user", "release-bot"}, {"sluice.io/source", "api"}};
  return p;
}

Execution FullExecution() {
  Execution e;
  e.id = "0190f3a2-7b1c-7d2e-8f3a-0123456789ab";
  e.job_name = "branch-ci-images";
  e.job_type = JobType::kPresubmit;
  e.job_status = JobStatus::kFailure;
  e.refs = FullRefs();
  e.pod_spec_options = FullPodSpecOptions();
  e.gcs_path = "/var/lib/sluice/artifacts/branch-ci-images/0190f3a2-7b1c-7d2e-8f3a-0123456789ab";
  e.create_time = TestEpoch() + milliseconds(1);
  e.start_time = TestEpoch() + seconds(2) + milliseconds(20);
  e.completion_time = TestEpoch() + seconds(90) + milliseconds(999);
  e.message = "the job's command ended with exit code 3";
  e.client = "release-bot";
  e.fingerprint = std::string(64, 'f');
  e.worker = "worker-1";
  e.attempt = 2;
  e.heartbeat_time = TestEpoch() + seconds(85);
  return e;
}

rapidjson::Document Parse(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  EXPECT_FALSE(doc.HasParseError()) << json;
  return doc;
}

std::set<std::string> MemberNames(const rapidjson::Value& v) {
  std::set<std::string> names;
  for (const auto& m : v.GetObject()) names.insert(m.name.GetString());
  return names;
}

TEST(ExecutionRecordTest, RoundTripsEveryField) {
  Execution e = FullExecution();
  StatusOr<Execution> back = DecodeExecutionRecord(EncodeExecutionRecord(e));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameExecution(*back, e);
}

TEST(ExecutionRecordTest, RoundTripsAMinimalTriggeredRecordWithoutInventingFields) {
  Execution e;
  e.id = "0190f3a2-7b1c-7d2e-8f3a-0123456789ab";
  e.job_name = "periodic-to-trigger";
  e.job_type = JobType::kPeriodic;
  e.job_status = JobStatus::kTriggered;
  e.create_time = TestEpoch();
  StatusOr<Execution> back = DecodeExecutionRecord(EncodeExecutionRecord(e));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameExecution(*back, e);
  EXPECT_FALSE(back->refs.has_value());
  EXPECT_FALSE(back->start_time.has_value());
  EXPECT_FALSE(back->completion_time.has_value());
  EXPECT_FALSE(back->heartbeat_time.has_value());
}

TEST(ExecutionRecordTest, RoundTripsEveryStatusAndType) {
  for (JobStatus status : {JobStatus::kTriggered, JobStatus::kPending, JobStatus::kSuccess,
                           JobStatus::kFailure, JobStatus::kAborted, JobStatus::kError}) {
    for (JobType type : {JobType::kPeriodic, JobType::kPostsubmit, JobType::kPresubmit}) {
      Execution e = FullExecution();
      e.job_status = status;
      e.job_type = type;
      StatusOr<Execution> back = DecodeExecutionRecord(EncodeExecutionRecord(e));
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      EXPECT_EQ(back->job_status, status);
      EXPECT_EQ(back->job_type, type);
    }
  }
}

TEST(ExecutionRecordTest, DecodingGarbageFails) {
  const std::string cases[] = {
      "",
      "not json",
      "{",
      "[]",
      "\"a string\"",
      "42",
      "{}",
      R"({"id":"x","job_type":"PERIODIC"})",
      R"({"id":"x","job_status":"SUCCESS"})",
      R"({"job_type":"PERIODIC","job_status":"SUCCESS"})",
      R"({"id":"x","job_type":"BATCH","job_status":"SUCCESS"})",
      R"({"id":"x","job_type":"PERIODIC","job_status":"DONE"})",
      R"({"id":7,"job_type":"PERIODIC","job_status":"SUCCESS"})",
  };
  for (const std::string& json : cases) {
    SCOPED_TRACE(json);
    StatusOr<Execution> got = DecodeExecutionRecord(json);
    EXPECT_FALSE(got.ok());
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), Code::kInvalidArgument);
    }
  }
}

TEST(ExecutionRecordTest, IgnoresUnknownFieldsFromNewerWriters) {
  std::string json = EncodeExecutionRecord(FullExecution());
  json.insert(1, R"("added_in_v2":{"nested":[1,2,3]},)");
  StatusOr<Execution> back = DecodeExecutionRecord(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameExecution(*back, FullExecution());
}

Trigger FullTrigger() {
  Trigger t;
  t.id = "0190f3a2-7b1c-7d2e-8f3a-0123456789ab";
  t.job_name = "branch-ci-images";
  t.job_type = JobType::kPresubmit;
  t.refs = FullRefs();
  t.pod_spec_options = FullPodSpecOptions();
  t.create_time = TestEpoch() + milliseconds(456);
  t.client = "release-bot";
  t.fingerprint = std::string(64, 'e');
  return t;
}

TEST(TriggerTest, RoundTripsEveryField) {
  Trigger t = FullTrigger();
  StatusOr<Trigger> back = DecodeTrigger(EncodeTrigger(t));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, t.id);
  EXPECT_EQ(back->job_name, t.job_name);
  EXPECT_EQ(back->job_type, t.job_type);
  EXPECT_EQ(back->refs, t.refs);
  EXPECT_EQ(back->pod_spec_options, t.pod_spec_options);
  EXPECT_EQ(back->create_time, t.create_time);
  EXPECT_EQ(back->client, t.client);
  EXPECT_EQ(back->fingerprint, t.fingerprint);
}

TEST(TriggerTest, RoundTripsAPeriodicTriggerWithoutRefs) {
  Trigger t = FullTrigger();
  t.job_type = JobType::kPeriodic;
  t.refs.reset();
  t.pod_spec_options = {};
  StatusOr<Trigger> back = DecodeTrigger(EncodeTrigger(t));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FALSE(back->refs.has_value());
  EXPECT_EQ(back->pod_spec_options, PodSpecOptions{});
  EXPECT_EQ(back->job_type, JobType::kPeriodic);
}

TEST(TriggerTest, DecodingGarbageFails) {
  const std::string cases[] = {
      "",
      "nope",
      "[1]",
      "{}",
      R"({"id":"x","job_name":"j","job_type":"PERIODIC"})",  // no create_time
      R"({"id":"x","job_name":"j","create_time":"2026-11-23T10:00:00.000Z"})",
      R"({"id":"x","job_type":"PERIODIC","create_time":"2026-11-23T10:00:00.000Z"})",
      R"({"job_name":"j","job_type":"PERIODIC","create_time":"2026-11-23T10:00:00.000Z"})",
      R"({"id":"x","job_name":"j","job_type":"PERIODIC","create_time":"yesterday"})",
  };
  for (const std::string& json : cases) {
    SCOPED_TRACE(json);
    EXPECT_FALSE(DecodeTrigger(json).ok());
  }
}

TEST(ExecutionApiJsonTest, UsesProwsFieldNames) {
  Execution e = FullExecution();
  rapidjson::Document doc = Parse(ExecutionApiJson(e, "https://sluice.example.com"));
  ASSERT_TRUE(doc.IsObject());
  std::set<std::string> names = MemberNames(doc);
  for (const char* field :
       {"id", "job_name", "job_type", "job_status", "refs", "pod_spec_options", "gcs_path",
        "create_time", "start_time", "completion_time", "job_url"}) {
    EXPECT_TRUE(names.count(field)) << "missing " << field;
  }
  EXPECT_EQ(std::string(doc["id"].GetString()), e.id);
  EXPECT_EQ(std::string(doc["job_name"].GetString()), "branch-ci-images");
  EXPECT_EQ(std::string(doc["job_type"].GetString()), "PRESUBMIT");
  EXPECT_EQ(std::string(doc["job_status"].GetString()), "FAILURE");
  EXPECT_EQ(std::string(doc["gcs_path"].GetString()), e.gcs_path);
  EXPECT_EQ(std::string(doc["create_time"].GetString()), "2026-11-23T10:00:00.001Z");
  EXPECT_EQ(std::string(doc["start_time"].GetString()), "2026-11-23T10:00:02.020Z");
  EXPECT_EQ(std::string(doc["completion_time"].GetString()), "2026-11-23T10:01:30.999Z");
  EXPECT_EQ(std::string(doc["job_url"].GetString()),
            "https://sluice.example.com/v1/executions/" + e.id);

  const rapidjson::Value& refs = doc["refs"];
  EXPECT_EQ(std::string(refs["org"].GetString()), "openshift");
  EXPECT_EQ(std::string(refs["base_sha"].GetString()), kSha1);
  ASSERT_TRUE(refs["pulls"].IsArray());
  ASSERT_EQ(refs["pulls"].Size(), 2u);
  EXPECT_EQ(refs["pulls"][0]["number"].GetInt(), 17);
  EXPECT_EQ(std::string(refs["pulls"][0]["sha"].GetString()), kSha2);
  const rapidjson::Value& pso = doc["pod_spec_options"];
  EXPECT_EQ(std::string(pso["envs"]["RELEASE_IMAGE_LATEST"].GetString()), "quay.io/x:4.18");
  EXPECT_EQ(std::string(pso["labels"]["team"].GetString()), "installer");
  EXPECT_EQ(std::string(pso["annotations"]["sluice.io/user"].GetString()), "release-bot");
}

TEST(ExecutionApiJsonTest, ShowsWhoRanItButKeepsTheClaimsBookkeepingOutOfTheApi) {
  Execution e = FullExecution();
  e.takes_over = LeaseTakeover{"w0", 1, e.create_time};
  e.job_token_sha256 = std::string(64, 'a');
  rapidjson::Document doc = Parse(ExecutionApiJson(e, "http://localhost:8080"));
  std::set<std::string> names = MemberNames(doc);
  for (const char* internal : {"fingerprint", "takes_over", "job_token_sha256"}) {
    EXPECT_FALSE(names.count(internal)) << internal << " leaks into the API";
  }
  // What the dashboard's timeline and filters show.
  ASSERT_TRUE(names.count("client") && names.count("worker") && names.count("attempt"));
  EXPECT_EQ(std::string(doc["client"].GetString()), e.client);
  EXPECT_EQ(std::string(doc["source"].GetString()), "api");
  EXPECT_EQ(std::string(doc["worker"].GetString()), e.worker);
  EXPECT_EQ(doc["attempt"].GetInt(), e.attempt);
}

TEST(ExecutionApiJsonTest, OmitsTimesThatAreNotKnownYet) {
  Execution e = FullExecution();
  e.job_status = JobStatus::kTriggered;
  e.start_time.reset();
  e.completion_time.reset();
  e.refs.reset();
  rapidjson::Document doc = Parse(ExecutionApiJson(e, "http://localhost:8080"));
  EXPECT_TRUE(doc.HasMember("create_time"));
  EXPECT_FALSE(doc.HasMember("start_time"));
  EXPECT_FALSE(doc.HasMember("completion_time"));
  EXPECT_FALSE(doc.HasMember("refs")) << "a periodic execution has no refs";
  EXPECT_EQ(std::string(doc["job_status"].GetString()), "TRIGGERED");
}

TEST(ExecutionApiJsonTest, JobUrlDoesNotDoubleTheSlashOfAPublicUrlEndingInOne) {
  Execution e = FullExecution();
  rapidjson::Document doc = Parse(ExecutionApiJson(e, "http://localhost:8080/"));
  EXPECT_EQ(std::string(doc["job_url"].GetString()), "http://localhost:8080/v1/executions/" + e.id);
}

TEST(ParseJsonTest, RefusesDeeplyNestedInputWithoutCrashing) {
  const std::string cases[] = {
      std::string(100000, '['),
      std::string(100000, '[') + std::string(100000, ']'),
      std::string(100000, '{'),
      R"({"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}",
  };
  for (const std::string& text : cases) {
    SCOPED_TRACE(text.substr(0, 10) + "... (" + std::to_string(text.size()) + " bytes)");
    rapidjson::Document doc;
    Status s = ParseJson(text, doc);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
  }
}

TEST(ParseJsonTest, DecodersRefuseDeeplyNestedRecordsWithoutCrashing) {
  std::string deep = R"({"id":"x","job_type":"PERIODIC","job_status":"SUCCESS","extra":)" +
                     std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_FALSE(DecodeExecutionRecord(deep).ok());
  EXPECT_FALSE(DecodeTrigger(deep).ok());
}

TEST(ParseJsonTest, AcceptsOrdinaryNesting) {
  std::string text = std::string(10, '[') + std::string(10, ']');
  rapidjson::Document doc;
  EXPECT_TRUE(ParseJson(text, doc).ok());
  std::string brackets_in_strings = R"({"a":")" + std::string(1000, '[') + R"("})";
  EXPECT_TRUE(ParseJson(brackets_in_strings, doc).ok());
}

TEST(ParseJsonTest, NamesTheProblemOfInvalidJson) {
  rapidjson::Document doc;
  Status s = ParseJson(R"({"job_name": })", doc);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("not valid JSON"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("offset"), std::string::npos) << s.message();
}

TEST(ParseJsonTest, RefusesInvalidUtf8BytesNamingTheField) {
  const std::string body =
      "{\"job_name\":\"j\",\"pod_spec_options\":{\"envs\":{\"X\":\"\xff\xfe\xc0\xaf\"}}}";
  rapidjson::Document doc;
  Status s = ParseJson(body, doc);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("pod_spec_options.envs.X: not valid UTF-8", 0), 0u) << s.message();
}

TEST(ParseJsonTest, RefusesAnEscapedLoneSurrogateNamingTheField) {
  for (const char* body : {R"({"envs":{"X":"\udc00"}})", R"({"envs":{"X":"a\udfffb"}})"}) {
    SCOPED_TRACE(body);
    rapidjson::Document doc;
    Status s = ParseJson(body, doc);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.message().rfind("envs.X: not valid UTF-8", 0), 0u) << s.message();
  }
}

TEST(ParseJsonTest, RefusesALoneHighSurrogateAndRawSurrogateBytes) {
  for (std::string body :
       {std::string(R"({"a":"\ud800"})"), std::string("{\"a\":\"\xed\xb0\x80\"}")}) {
    rapidjson::Document doc;
    EXPECT_FALSE(ParseJson(body, doc).ok()) << body;
  }
}

TEST(ParseJsonTest, NamesArrayElementsAndOddMemberNamesOfInvalidText) {
  rapidjson::Document doc;
  Status s = ParseJson(R"({"refs":{"pulls":[{"sha":"a"},{"sha":"\udc00"}]}})", doc);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind("refs.pulls[1].sha: not valid UTF-8", 0), 0u) << s.message();
  s = ParseJson(R"({"labels":{"app/x":"\udc00"}})", doc);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind(R"(labels."app/x": not valid UTF-8)", 0), 0u) << s.message();
  s = ParseJson("{\"envs\":{\"\xc0\xaf\":\"v\"}}", doc);
  ASSERT_FALSE(s.ok());
  // The member name itself is the offence: it is echoed with U+FFFD for each bad byte.
  EXPECT_EQ(s.message().rfind("envs.\"\xEF\xBF\xBD\xEF\xBF\xBD\": not valid UTF-8", 0), 0u)
      << s.message();
  s = ParseJson(R"("\udc00")", doc);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind("request body: not valid UTF-8", 0), 0u) << s.message();
}

TEST(ParseJsonTest, AcceptsMultibyteTextAndEscapedSurrogatePairs) {
  rapidjson::Document doc;
  Status s = ParseJson(R"({"a":"caf\u00e9 \ud83d\ude00","b":"日本 😀","c":"\u0000x"})", doc);
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(ParseJsonTest, DecodersRefuseRecordsWithInvalidUtf8) {
  std::string record =
      R"({"id":"x","job_type":"PERIODIC","job_status":"SUCCESS","job_name":"\udc00"})";
  EXPECT_FALSE(DecodeExecutionRecord(record).ok());
}

TEST(ErrorJsonTest, AMessageWithBytesThatAreNotUtf8IsServedAsText) {
  std::string body = ErrorJson(InvalidArgument("no job named \"\xff\xfe\""));
  rapidjson::Document doc;
  EXPECT_TRUE(ParseJson(body, doc).ok()) << body;
  EXPECT_NE(body.find("\xEF\xBF\xBD"), std::string::npos);
}

}  // namespace
}  // namespace sluice
