#include "common/status.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

#include "common/json_codec.h"
#include "common/kafka.h"

namespace sluice {
namespace {

TEST(HttpStatusForTest, MapsEveryCanonicalCodeToTheHttpStatusOfTheContract) {
  struct Case {
    Code code;
    int http;
    const char* name;
  };
  const Case cases[] = {
      {Code::kOk, 200, "OK"},
      {Code::kCancelled, 499, "CANCELLED"},
      {Code::kUnknown, 500, "UNKNOWN"},
      {Code::kInvalidArgument, 400, "INVALID_ARGUMENT"},
      {Code::kDeadlineExceeded, 504, "DEADLINE_EXCEEDED"},
      {Code::kNotFound, 404, "NOT_FOUND"},
      {Code::kAlreadyExists, 409, "ALREADY_EXISTS"},
      {Code::kPermissionDenied, 403, "PERMISSION_DENIED"},
      {Code::kResourceExhausted, 429, "RESOURCE_EXHAUSTED"},
      {Code::kFailedPrecondition, 409, "FAILED_PRECONDITION"},
      {Code::kAborted, 409, "ABORTED"},
      {Code::kOutOfRange, 400, "OUT_OF_RANGE"},
      {Code::kUnimplemented, 501, "UNIMPLEMENTED"},
      {Code::kInternal, 500, "INTERNAL"},
      {Code::kUnavailable, 503, "UNAVAILABLE"},
      {Code::kDataLoss, 500, "DATA_LOSS"},
      {Code::kUnauthenticated, 401, "UNAUTHENTICATED"},
  };
  ASSERT_EQ(std::size(cases), 17u) << "every google.rpc.Code has a row";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(HttpStatusFor(c.code), c.http);
    EXPECT_STREQ(CodeName(c.code), c.name);
    EXPECT_EQ(Status(c.code, "m").http_status(), c.http);
  }
}

TEST(StatusTest, ConstructorsCarryTheirCanonicalCode) {
  struct Case {
    Status status;
    Code code;
    int http;
  };
  const Case cases[] = {
      {InvalidArgument("m"), Code::kInvalidArgument, 400},
      {NotFound("m"), Code::kNotFound, 404},
      {PermissionDenied("m"), Code::kPermissionDenied, 403},
      {Unauthenticated("m"), Code::kUnauthenticated, 401},
      {ResourceExhausted("m"), Code::kResourceExhausted, 429},
      {FailedPrecondition("m"), Code::kFailedPrecondition, 409},
      {Unavailable("m"), Code::kUnavailable, 503},
      {DeadlineExceeded("m"), Code::kDeadlineExceeded, 504},
      {Internal("m"), Code::kInternal, 500},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(CodeName(c.code));
    EXPECT_FALSE(c.status.ok());
    EXPECT_EQ(c.status.code(), c.code);
    EXPECT_EQ(c.status.http_status(), c.http);
    EXPECT_EQ(c.status.message(), "m");
    EXPECT_FALSE(c.status.retry_after_seconds().has_value());
  }
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  EXPECT_EQ(NotFound("no such job").ToString(), "NOT_FOUND: no such job");
}

TEST(StatusTest, WithHttpStatusOverridesTheHttpStatusButKeepsTheCode) {
  Status s = InvalidArgument("body too large").WithHttpStatus(413);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.http_status(), 413);
  EXPECT_EQ(s.message(), "body too large");
}

TEST(StatusTest, WithRetryAfterIsCarriedAlongsideTheCode) {
  Status s = Unavailable("kafka slow").WithRetryAfter(5);
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.http_status(), 503);
  ASSERT_TRUE(s.retry_after_seconds().has_value());
  EXPECT_EQ(*s.retry_after_seconds(), 5);
}

TEST(StatusOrTest, HoldsEitherAValueOrTheError) {
  StatusOr<int> value(42);
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 42);
  StatusOr<int> error(NotFound("gone"));
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), Code::kNotFound);
}

TEST(ErrorJsonTest, HasExactlyCodeMessageAndEmptyDetails) {
  struct Case {
    Status status;
    int code;
  };
  const Case cases[] = {
      {InvalidArgument("refs.pulls[0].sha: expected 40 hex digits"), 3},
      {Unauthenticated("missing Authorization header"), 16},
      {FailedPrecondition("already ended"), 9},
      {ResourceExhausted("slow down").WithRetryAfter(2), 8},
      {Unavailable("kafka").WithRetryAfter(5), 14},
      {InvalidArgument("quotes \" and \\ and\nnewline and \xc3\xa9"), 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.status.ToString());
    std::string body = ErrorJson(c.status);
    rapidjson::Document doc;
    doc.Parse(body.c_str(), body.size());
    ASSERT_FALSE(doc.HasParseError()) << body;
    ASSERT_TRUE(doc.IsObject());
    EXPECT_EQ(doc.MemberCount(), 3u) << body;
    ASSERT_TRUE(doc.HasMember("code") && doc["code"].IsInt()) << body;
    EXPECT_EQ(doc["code"].GetInt(), c.code);
    ASSERT_TRUE(doc.HasMember("message") && doc["message"].IsString()) << body;
    EXPECT_EQ(std::string(doc["message"].GetString(), doc["message"].GetStringLength()),
              c.status.message());
    ASSERT_TRUE(doc.HasMember("details") && doc["details"].IsArray()) << body;
    EXPECT_TRUE(doc["details"].Empty());
  }
}

TEST(KafkaStatusTest, MapsLibrdkafkaErrorsToCanonicalCodes) {
  struct Case {
    rd_kafka_resp_err_t err;
    Code code;
    int http;
  };
  const Case cases[] = {
      {RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, Code::kUnavailable, 503},
      {RD_KAFKA_RESP_ERR__TRANSPORT, Code::kUnavailable, 503},
      {RD_KAFKA_RESP_ERR__QUEUE_FULL, Code::kUnavailable, 503},
      {RD_KAFKA_RESP_ERR__TIMED_OUT, Code::kUnavailable, 503},
      {RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, Code::kUnavailable, 503},
      {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, Code::kUnavailable, 503},
      {RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, Code::kUnavailable, 503},
      {RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, Code::kUnavailable, 503},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(rd_kafka_err2name(c.err));
    Status s = KafkaStatus(c.err, "delivery failed");
    EXPECT_EQ(s.code(), c.code);
    EXPECT_EQ(s.http_status(), c.http);
    EXPECT_NE(s.message().find("delivery failed"), std::string::npos) << s.message();
  }
}

TEST(KafkaStatusTest, NoErrorIsOk) {
  EXPECT_TRUE(KafkaStatus(RD_KAFKA_RESP_ERR_NO_ERROR, "delivery").ok());
}

TEST(KafkaStatusTest, AnOversizedRecordIsTheClientsFaultNotAnOutage) {
  Status s = KafkaStatus(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, "delivery failed");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.http_status(), 413);
}

TEST(EchoValueTest, KeepsAShortValueAsItIs) {
  EXPECT_EQ(EchoValue("periodic-job"), "periodic-job");
  EXPECT_EQ(EchoValue(""), "");
  EXPECT_EQ(EchoValue(std::string(200, 'x')), std::string(200, 'x'));
}

TEST(EchoValueTest, CutsALongValueTo200CharactersAndAnEllipsis) {
  std::string echoed = EchoValue(std::string(900 * 1000, 'x'));
  EXPECT_EQ(echoed, std::string(200, 'x') + "\xE2\x80\xA6");
}

TEST(EchoValueTest, CountsCharactersNotBytes) {
  std::string e_acute = "\xC3\xA9";
  std::string value;
  for (int i = 0; i < 300; ++i) value += e_acute;
  std::string want;
  for (int i = 0; i < 200; ++i) want += e_acute;
  EXPECT_EQ(EchoValue(value), want + "\xE2\x80\xA6");
}

TEST(EchoValueTest, ReplacesBytesThatAreNotUtf8) {
  EXPECT_EQ(EchoValue("a\xff\xfe"
                      "b"),
            "a\xEF\xBF\xBD\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(EchoValue("\xed\xb0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace sluice
