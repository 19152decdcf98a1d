// Inputs the fuzz targets of tests/fuzz found, each kept as the test of its fix. The name of each
// test says what the input was; the comment says which target found it.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdlib>
#include <string>

#include "common/clock.h"
#include "common/config.h"
#include "common/git_delivery.h"
#include "common/json_codec.h"
#include "gateway/git_event.h"
#include "gateway/gitlab_trigger.h"
#include "gateway/webhooks.h"
#include "tests/unit/reply_helpers.h"

namespace sluice {
namespace {

using std::chrono::minutes;

const TimePoint kNow = TimePoint(std::chrono::seconds(1795000000));

// fuzz_config: the year 4054 overflowed TimePoint's 64-bit nanoseconds (UBSan: signed integer
// overflow in std::chrono::duration_cast), so a secret's expiry read as some other time. The same
// parser reads client query parameters (since=, updated_after=).
TEST(FuzzRegressions, Rfc3339TimeAfterTheYear2262IsRefused) {
  EXPECT_FALSE(ParseRfc3339("4054-01-01T00:00:00Z").has_value());
  EXPECT_FALSE(ParseRfc3339("9999-12-31T23:59:59.999Z").has_value());
  EXPECT_FALSE(ParseRfc3339("2263-01-01T00:00:00Z").has_value());
  std::optional<TimePoint> last_good = ParseRfc3339("2262-01-01T00:00:00Z");
  ASSERT_TRUE(last_good.has_value());
  EXPECT_EQ(FormatRfc3339(*last_good), "2262-01-01T00:00:00.000Z");
}

TEST(FuzzRegressions, WebhookSecretExpiringInTheYear4054IsAConfigError) {
  setenv("SLUICE_FUZZ_REGRESSION_SECRET", "s3cret", 1);
  StatusOr<Config> config = LoadConfigText(R"(
webhooks:
  github: {secrets: {"*": [{token_env: SLUICE_FUZZ_REGRESSION_SECRET, expires: "4054-01-01T00:00:00Z"}]}}
)");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("expires"), std::string::npos)
      << config.status().message();
}

// fuzz_webhook_signature: a Standard Webhooks timestamp of 10 to 12 digits overflowed TimePoint
// (UBSan: signed integer overflow), before any secret was tried.
TEST(FuzzRegressions, StandardWebhooksTimestampOfElevenDigitsIsTooFarFromNow) {
  std::vector<WebhookSecret> secrets = {Secret("whsec_c2VjcmV0LWtleQ==")};
  for (const char* timestamp : {"9715000000", "999999999999"}) {
    HeaderMap headers = {{"webhook-id", "msg_2fuzz"},
                         {"webhook-timestamp", timestamp},
                         {"webhook-signature", "v1,xxVkMSV1IdcLLlFjfGyYlTHjAQmgEgcc="}};
    Status s = VerifyGitEvent(GitHost::kGitLab, {&secrets[0]}, headers, "{}", kNow, minutes(5));
    EXPECT_EQ(s.code(), Code::kUnauthenticated) << timestamp;
    EXPECT_NE(s.message().find("away from now"), std::string::npos) << s.message();
  }
}

// fuzz_gitlab_params: a parameter named "token\0..." (from the query string's %00, or JSON's
// \u0000) was cut at the NUL when TRIGGER_PAYLOAD was written, and so appeared there as "token".
TEST(FuzzRegressions, ParameterWithANulInItsNameKeepsItsWholeNameInThePayload) {
  TriggerRequest request;
  request.query = ParseUrlEncoded("token=glptt-abc&ref=main&token%00x=glptt-abc");
  request.content_type = "application/json";
  request.body = R"({"variables": {"A": "1"}, "ref\u0000z": "x"})";
  request.project_id = "9";
  TriggerParamsResult result = ReadTriggerParams(request);
  ASSERT_FALSE(result.error) << result.error->body;
  rapidjson::Document payload;
  payload.Parse(result.params.payload_json.c_str(), result.params.payload_json.size());
  ASSERT_FALSE(payload.HasParseError()) << result.params.payload_json;
  EXPECT_FALSE(payload.HasMember("token")) << result.params.payload_json;
  EXPECT_TRUE(payload.HasMember(rapidjson::Value(rapidjson::StringRef("token\0x", 7))))
      << result.params.payload_json;
  EXPECT_TRUE(payload.HasMember(rapidjson::Value(rapidjson::StringRef("ref\0z", 5))))
      << result.params.payload_json;
  ASSERT_TRUE(payload["ref"].IsString());
  EXPECT_EQ(std::string(payload["ref"].GetString()), "main");
}

// fuzz_gitlab_params (found in a CI run): a JSON body with a number beyond a double's range
// ("787406741284e302") was read as infinity, and TRIGGER_PAYLOAD, which no writer can give an
// infinity, came out cut short: not JSON. Such a body is now not valid JSON.
TEST(FuzzRegressions, ANumberBeyondADoublesRangeIsNotValidJson) {
  rapidjson::Document doc;
  Status parsed = ParseJson(R"({"object_kin*":787406741284e302})", doc);
  EXPECT_EQ(parsed.code(), Code::kInvalidArgument);
  EXPECT_NE(parsed.message().find("object_kin*"), std::string::npos) << parsed.message();
  TriggerRequest request;
  request.query = ParseUrlEncoded("token=glptt-abc&ref=main");
  request.body = R"({"a":1e400})";
  request.project_id = "9";
  TriggerParamsResult result = ReadTriggerParams(request);
  if (!result.error) {
    rapidjson::Document payload;
    payload.Parse(result.params.payload_json.c_str(), result.params.payload_json.size());
    EXPECT_FALSE(payload.HasParseError()) << result.params.payload_json;
  }
}

// fuzz_git_event: a delivery whose headers were not UTF-8 (a User-Agent of 0xff bytes) was
// written to the events topic as it came, and the record could not be read back (its reader
// rejects invalid UTF-8): a delivery answered 2xx and then skipped by every reader.
TEST(FuzzRegressions, DeliveryHeadersThatAreNotUtf8DoNotMakeAnUnreadableRecord) {
  std::string body =
      R"({"ref": "refs/heads/main", "after": "28e1879d029cb852e4844d9c718537df08844e03",
                         "repository": {"full_name": "acme/widget"}, "pusher": {"login": "a"}})";
  HeaderMap headers = {{"x-gitea-event", "push"},
                       {"x-gitea-delivery", "72d3162e"},
                       {"user-agent", "Gitea \xff\xfe"}};
  StatusOr<GitEvent> event = ParseGitEvent(GitHost::kGitea, headers, "application/json", body);
  ASSERT_TRUE(event.ok()) << event.status().message();
  DeliveryRecord record;
  record.event = *event;
  record.received_at = kNow;
  record.content_type = "application/json";
  record.headers = DescriptiveHeaders(headers);
  record.body = body;
  EXPECT_EQ(record.headers.count("user-agent"), 0u);
  EXPECT_EQ(record.headers.count("x-gitea-delivery"), 1u);
  StatusOr<DeliveryRecord> decoded = DecodeDeliveryRecord(EncodeDeliveryRecord(record));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->event, record.event);
}

TEST(FuzzRegressions, DeliveryIdOrEventTypeThatIsNotUtf8IsRefused) {
  std::string body = R"({"ref": "refs/heads/main", "repository": {"full_name": "acme/widget"}})";
  for (const HeaderMap& headers :
       {HeaderMap{{"x-github-event", "push"}, {"x-github-delivery", "id-\xc0\xaf"}},
        HeaderMap{{"x-github-event", "push\xff"}, {"x-github-delivery", "id-1"}}}) {
    StatusOr<GitEvent> event = ParseGitEvent(GitHost::kGitHub, headers, "application/json", body);
    ASSERT_FALSE(event.ok());
    EXPECT_EQ(event.status().code(), Code::kInvalidArgument);
    EXPECT_NE(event.status().message().find("UTF-8"), std::string::npos)
        << event.status().message();
  }
  StatusOr<GitEvent> event = ParseGitEvent(GitHost::kGitHub, {{"x-github-event", "push"}},
                                           "application/json; charset=\xff", body);
  EXPECT_EQ(event.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace sluice
