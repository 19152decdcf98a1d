// The client's Api: which answers it retries, how long it waits, and what it makes of errors.

#include <gtest/gtest.h>

#include "tests/unit/cli_fakes.h"

namespace sluice::cli::testing {
namespace {

using std::chrono::seconds;

constexpr char kUnavailable[] = R"({"code":14,"message":"Kafka is unavailable","details":[]})";

HttpCall Post() {
  return {"POST", "/v1/executions", {"Idempotency-Key: k-1"}, "{\"job_name\":\"hello\"}", {}};
}

TEST(CliApi, Retries503AfterRetryAfterWithTheSameRequest) {
  ClientFixture f;
  f.transport.Answer(503, kUnavailable, {{"retry-after", "2"}});
  f.transport.Answer(200, ExecutionJson("e1", "TRIGGERED"));
  auto answer = f.api.Call(Post());
  ASSERT_TRUE(answer.ok()) << answer.status().message();
  ASSERT_EQ(f.transport.calls.size(), 2u);
  EXPECT_EQ(f.transport.HeaderOf(0, "Idempotency-Key"), "k-1");
  EXPECT_EQ(f.transport.HeaderOf(1, "Idempotency-Key"), "k-1");
  EXPECT_EQ(f.transport.calls[1].body, f.transport.calls[0].body);
  EXPECT_EQ(f.timer.sleeps, std::vector<Duration>{seconds(2)});
}

TEST(CliApi, Retries429AndWaitsOneSecondWithoutRetryAfter) {
  ClientFixture f;
  f.transport.Answer(429, R"({"code":8,"message":"slow down","details":[]})");
  f.transport.Answer(200, ExecutionJson("e1", "TRIGGERED"));
  ASSERT_TRUE(f.api.Call(Post()).ok());
  EXPECT_EQ(f.timer.sleeps, std::vector<Duration>{seconds(1)});
}

TEST(CliApi, GivesUpAfterFiveTriesWithTheServersMessage) {
  ClientFixture f;
  for (int i = 0; i < Api::kMaxTries; ++i) {
    f.transport.Answer(503, kUnavailable, {{"retry-after", "1"}});
  }
  auto answer = f.api.Call(Post());
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), Code::kUnavailable);
  EXPECT_NE(answer.status().message().find("Kafka is unavailable"), std::string::npos);
  EXPECT_EQ(f.transport.calls.size(), static_cast<size_t>(Api::kMaxTries));
  EXPECT_EQ(f.timer.sleeps.size(), static_cast<size_t>(Api::kMaxTries - 1));
}

TEST(CliApi, DoesNotSleepPastTheDeadline) {
  ClientFixture f;
  f.transport.Answer(503, kUnavailable, {{"retry-after", "10"}});
  auto answer = f.api.Call(Post(), f.timer.Now() + seconds(5));
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(f.transport.calls.size(), 1u);
  EXPECT_TRUE(f.timer.sleeps.empty());
}

TEST(CliApi, ARetryAfterIsCappedAt30Seconds) {
  ClientFixture f;
  f.transport.Answer(503, kUnavailable, {{"retry-after", "86400"}});
  f.transport.Answer(200, ExecutionJson("e1", "TRIGGERED"));
  ASSERT_TRUE(f.api.Call(Post()).ok());
  EXPECT_EQ(f.timer.sleeps, std::vector<Duration>{seconds(30)});
}

TEST(CliApi, OtherErrorsAreNotRetriedAndCarryTheBodysCodeAndMessage) {
  struct Case {
    long http;
    std::string body;
    Code code;
    std::string message;
  };
  const Case cases[] = {
      {400, R"({"code":3,"message":"job_name: must be set","details":[]})", Code::kInvalidArgument,
       "job_name: must be set"},
      {404, R"({"code":5,"message":"no execution with id \"x\"","details":[]})", Code::kNotFound,
       "no execution with id \"x\""},
      {409, R"({"code":9,"message":"already ended","details":[]})", Code::kFailedPrecondition,
       "already ended"},
      {502, "<html>bad gateway</html>", Code::kUnknown, "HTTP 502: <html>bad gateway</html>"},
  };
  for (const Case& c : cases) {
    ClientFixture f;
    f.transport.Answer(c.http, c.body);
    auto answer = f.api.Call(Post());
    ASSERT_FALSE(answer.ok()) << c.http;
    EXPECT_EQ(answer.status().code(), c.code) << c.http;
    EXPECT_EQ(answer.status().message(), c.message) << c.http;
    EXPECT_EQ(f.transport.calls.size(), 1u) << c.http;
  }
}

TEST(CliApi, ATransportErrorSaysTheServerCannotBeReached) {
  ClientFixture f;
  f.transport.Answer(0, "");
  f.transport.answers.back().error = "Couldn't connect to server";
  auto answer = f.api.Call(Post());
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().message(), "cannot reach the server: Couldn't connect to server");
}

TEST(CliApi, TargetsArePercentEncoded) {
  EXPECT_EQ(ExecutionsTarget(), "/v1/executions");
  EXPECT_EQ(ExecutionsTarget("a/b?c"), "/v1/executions/a%2Fb%3Fc");
  EXPECT_EQ(ExecutionsTarget("e1", "log", {{"follow", "true"}, {"offset", "12"}}),
            "/v1/executions/e1/log?follow=true&offset=12");
  EXPECT_EQ(ExecutionsTarget("", "", {{"job_name", "a b&c"}}), "/v1/executions?job_name=a%20b%26c");
}

}  // namespace
}  // namespace sluice::cli::testing
