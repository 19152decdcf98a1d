// The client's subcommands against a fake server: what they send, print and exit with.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "tests/unit/cli_fakes.h"

namespace sluice::cli::testing {
namespace {

using std::chrono::seconds;

TriggerOptions Options(const std::string& job) {
  TriggerOptions o;
  o.job = job;
  return o;
}

TEST(CliExitCodes, OneCodePerFinalStatus) {
  EXPECT_EQ(ExitCodeForJobStatus("SUCCESS"), 0);
  EXPECT_EQ(ExitCodeForJobStatus("FAILURE"), 1);
  EXPECT_EQ(ExitCodeForJobStatus("ABORTED"), 3);
  EXPECT_EQ(ExitCodeForJobStatus("ERROR"), 4);
  EXPECT_EQ(ExitCodeForJobStatus("PENDING"), std::nullopt);
  EXPECT_EQ(ExitCodeForJobStatus("TRIGGERED"), std::nullopt);
}

TEST(CliWait, ExitsWithTheCodeOfTheFinalStatus) {
  const std::pair<std::string, int> cases[] = {
      {"SUCCESS", 0}, {"FAILURE", 1}, {"ABORTED", 3}, {"ERROR", 4}};
  for (const auto& [status, code] : cases) {
    ClientFixture f;
    f.transport.Answer(200, ExecutionJson("e1", "PENDING"));
    f.transport.Answer(200, ExecutionJson("e1", status));
    EXPECT_EQ(Wait(f.api, "e1", std::nullopt, OutputFormat::kHuman, f.io), code) << status;
    EXPECT_EQ(f.out.str(), "e1 " + status + "\n");
  }
}

TEST(CliWait, LongPollsWithTheKnownStatus) {
  ClientFixture f;
  f.transport.Answer(200, ExecutionJson("e1", "TRIGGERED"));
  f.transport.Answer(200, ExecutionJson("e1", "PENDING"));
  f.transport.Answer(200, ExecutionJson("e1", "SUCCESS"));
  ASSERT_EQ(Wait(f.api, "e1", std::nullopt, OutputFormat::kHuman, f.io), 0);
  ASSERT_EQ(f.transport.calls.size(), 3u);
  EXPECT_EQ(f.transport.calls[0].target, "/v1/executions/e1?wait=30s");
  EXPECT_EQ(f.transport.calls[1].target, "/v1/executions/e1?wait=30s&known_status=TRIGGERED");
  EXPECT_EQ(f.transport.calls[2].target, "/v1/executions/e1?wait=30s&known_status=PENDING");
  EXPECT_TRUE(f.timer.sleeps.empty()) << "a status that changed is asked again at once";
  EXPECT_NE(f.err.str().find("waiting: e1 PENDING 0s"), std::string::npos) << f.err.str();
}

TEST(CliWait, PollsEverySecondWhenTheServerIgnoresTheLongPoll) {
  ClientFixture f;
  for (int i = 0; i < 3; ++i) f.transport.Answer(200, ExecutionJson("e1", "PENDING"));
  f.transport.Answer(200, ExecutionJson("e1", "SUCCESS"));
  ASSERT_EQ(Wait(f.api, "e1", std::nullopt, OutputFormat::kHuman, f.io), 0);
  EXPECT_EQ(f.timer.sleeps, (std::vector<Duration>{seconds(1), seconds(1)}));
}

TEST(CliWait, TimesOutWithExitCode5) {
  ClientFixture f;
  for (int i = 0; i < 3; ++i) f.transport.Answer(200, ExecutionJson("e1", "PENDING"));
  EXPECT_EQ(Wait(f.api, "e1", seconds(2), OutputFormat::kHuman, f.io), kExitTimeout);
  EXPECT_EQ(f.transport.calls[0].target, "/v1/executions/e1?wait=2s");
  EXPECT_NE(f.err.str().find("timed out"), std::string::npos) << f.err.str();
}

TEST(CliWait, AnApiErrorExits2WithTheMessage) {
  ClientFixture f;
  f.transport.Answer(404, R"({"code":5,"message":"no execution with id \"e9\"","details":[]})");
  EXPECT_EQ(Wait(f.api, "e9", std::nullopt, OutputFormat::kHuman, f.io), kExitUsage);
  EXPECT_EQ(f.err.str(), "sluice: no execution with id \"e9\"\n");
  EXPECT_EQ(f.out.str(), "");
}

TEST(CliTrigger, PrintsTheIdAndExits0OnceAccepted) {
  ClientFixture f;
  f.transport.Answer(200, ExecutionJson("e1", "TRIGGERED"));
  EXPECT_EQ(Trigger(f.api, Options("hello"), f.io), 0);
  EXPECT_EQ(f.out.str(), "e1\n");
  ASSERT_EQ(f.transport.calls.size(), 1u);
  EXPECT_EQ(f.transport.calls[0].method, "POST");
  EXPECT_EQ(f.transport.calls[0].target, "/v1/executions");
  EXPECT_EQ(
      f.transport.calls[0].body,
      R"({"job_name":"hello","job_execution_type":"PERIODIC","pod_spec_options":{"envs":{}}})");
  EXPECT_EQ(f.transport.HeaderOf(0, "Content-Type"), "application/json");
}

TEST(CliTrigger, AlwaysSendsAnIdempotencyKeyAndKeepsItAcrossRetries) {
  ClientFixture f;
  f.transport.Answer(503, R"({"code":14,"message":"Kafka is slow","details":[]})",
                     {{"retry-after", "3"}});
  f.transport.Answer(200, ExecutionJson("e1", "TRIGGERED"));
  EXPECT_EQ(Trigger(f.api, Options("hello"), f.io), 0);
  ASSERT_EQ(f.transport.calls.size(), 2u);
  std::string key = f.transport.HeaderOf(0, "Idempotency-Key");
  EXPECT_GE(key.size(), 32u);
  EXPECT_EQ(f.transport.HeaderOf(1, "Idempotency-Key"), key);
  EXPECT_EQ(f.timer.sleeps, std::vector<Duration>{seconds(3)});

  ClientFixture g;
  g.transport.Answer(200, ExecutionJson("e2", "TRIGGERED"));
  EXPECT_EQ(Trigger(g.api, Options("hello"), g.io), 0);
  EXPECT_NE(g.transport.HeaderOf(0, "Idempotency-Key"), key) << "a new key per invocation";
}

TEST(CliTrigger, SendsTheUsersIdempotencyKey) {
  ClientFixture f;
  f.transport.Answer(200, ExecutionJson("e1", "TRIGGERED"));
  TriggerOptions o = Options("hello");
  o.idempotency_key = "release-4.18.8";
  EXPECT_EQ(Trigger(f.api, o, f.io), 0);
  EXPECT_EQ(f.transport.HeaderOf(0, "Idempotency-Key"), "release-4.18.8");
}

TEST(CliTrigger, WaitExitsWithTheFinalStatusAndJsonIsOneDocument) {
  ClientFixture f;
  f.transport.Answer(200, ExecutionJson("e1", "TRIGGERED"));
  f.transport.Answer(200, ExecutionJson("e1", "FAILURE"));
  TriggerOptions o = Options("hello");
  o.wait = true;
  o.output = OutputFormat::kJson;
  EXPECT_EQ(Trigger(f.api, o, f.io), kExitFailure);
  rapidjson::Document doc;
  doc.Parse(f.out.str().c_str());
  ASSERT_FALSE(doc.HasParseError()) << f.out.str();
  EXPECT_STREQ(doc["job_status"].GetString(), "FAILURE");
  EXPECT_STREQ(doc["id"].GetString(), "e1");
}

TEST(CliTrigger, FollowStreamsTheLogAndResumesWhereTheConnectionBroke) {
  ClientFixture f;
  f.transport.Answer(200, ExecutionJson("e1", "TRIGGERED"));
  f.transport.AnswerBroken("line 1\nli");
  f.transport.Answer(200, "ne 2\n");
  f.transport.Answer(200, ExecutionJson("e1", "SUCCESS"));
  TriggerOptions o = Options("hello");
  o.follow = true;
  EXPECT_EQ(Trigger(f.api, o, f.io), 0);
  EXPECT_EQ(f.out.str(), "line 1\nline 2\n");
  ASSERT_EQ(f.transport.calls.size(), 4u);
  EXPECT_EQ(f.transport.calls[1].target, "/v1/executions/e1/log?follow=true&offset=0");
  EXPECT_EQ(f.transport.calls[2].target, "/v1/executions/e1/log?follow=true&offset=9");
  EXPECT_NE(f.err.str().find("e1 SUCCESS"), std::string::npos) << f.err.str();
}

TEST(CliTrigger, FollowGivesUpOnAStreamThatKeepsBreakingEmpty) {
  ClientFixture f;
  f.transport.Answer(200, ExecutionJson("e1", "TRIGGERED"));
  for (int i = 0; i < 5; ++i) f.transport.AnswerBroken("");
  TriggerOptions o = Options("hello");
  o.follow = true;
  EXPECT_EQ(Trigger(f.api, o, f.io), kExitUsage);
  EXPECT_NE(f.err.str().find("keeps breaking"), std::string::npos) << f.err.str();
}

TEST(CliTrigger, TheApisRefusalExits2WithItsMessage) {
  ClientFixture f;
  f.transport.Answer(
      400, R"({"code":3,"message":"pod_spec_options.envs.PATH: not allowed","details":[]})");
  TriggerOptions o = Options("hello");
  o.env = {"PATH=/tmp"};
  EXPECT_EQ(Trigger(f.api, o, f.io), kExitUsage);
  EXPECT_EQ(f.err.str(), "sluice: pod_spec_options.envs.PATH: not allowed\n");
}

TEST(CliTriggerBody, EnvRefsAndType) {
  TriggerOptions o = Options("post");
  o.env = {"A=1", "B=x=y", "C="};
  auto body = TriggerBody(o, R"({"org":"o","repo":"r","base_ref":"main"})");
  ASSERT_TRUE(body.ok()) << body.status().message();
  EXPECT_EQ(
      *body,
      R"({"job_name":"post","job_execution_type":"POSTSUBMIT","pod_spec_options":)"
      R"({"envs":{"A":"1","B":"x=y","C":""}},"refs":{"org":"o","repo":"r","base_ref":"main"}})");
  o.type = "presubmit";
  EXPECT_NE(TriggerBody(o, "{}")->find("\"PRESUBMIT\""), std::string::npos);
  EXPECT_FALSE(TriggerBody(o, "[1]").ok());
  EXPECT_FALSE(TriggerBody(o, "{").ok());
}

TEST(CliEnv, RefusesItemsWithoutEqualsEmptyNamesAndRepeats) {
  EXPECT_TRUE(ParseEnv({"A=1", "B="}).ok());
  const std::pair<std::vector<std::string>, std::string> refused[] = {
      {{"A"}, "--env A: expected NAME=VALUE"},
      {{"=1"}, "--env =1: the name is empty"},
      {{"A=1", "A=2"}, "--env A is given twice"},
  };
  for (const auto& [items, message] : refused) {
    auto env = ParseEnv(items);
    ASSERT_FALSE(env.ok()) << items[0];
    EXPECT_EQ(env.status().message(), message);
  }
  ClientFixture f;
  TriggerOptions o = Options("hello");
  o.env = {"NOEQUALS"};
  EXPECT_EQ(Trigger(f.api, o, f.io), kExitUsage);
  EXPECT_TRUE(f.transport.calls.empty()) << "refused before any call";
}

TEST(CliGet, PrintsAlignedFieldsOrTheApisJson) {
  ClientFixture f;
  f.transport.Answer(200, ExecutionJson("e1", "SUCCESS"));
  EXPECT_EQ(Get(f.api, "e1", OutputFormat::kHuman, f.io), 0);
  EXPECT_EQ(f.out.str(),
            "ID:       e1\n"
            "Job:      hello\n"
            "Type:     PERIODIC\n"
            "Status:   SUCCESS\n"
            "Created:  2026-11-23T10:00:00.123Z\n"
            "URL:      http://x/v1/executions/e1\n");

  ClientFixture g;
  g.transport.Answer(200, ExecutionJson("e1", "SUCCESS"));
  EXPECT_EQ(Get(g.api, "e1", OutputFormat::kJson, g.io), 0);
  EXPECT_EQ(g.out.str(), ExecutionJson("e1", "SUCCESS") + "\n");
}

std::string Page(const std::vector<std::string>& executions, const std::string& next) {
  std::string s = "{\"job_execution\":[";
  for (size_t i = 0; i < executions.size(); ++i) s += (i ? "," : "") + executions[i];
  return s + "],\"next_page_token\":\"" + next + "\"}";
}

TEST(CliList, PrintsATableAndSaysWhenThereIsMore) {
  ClientFixture f;
  f.transport.Answer(200, Page({ExecutionJson("e1", "SUCCESS", "hello"),
                                ExecutionJson("e22", "FAILURE", "nightly-build")},
                               "tok"));
  ListOptions o;
  o.job = "hello";
  o.status = "SUCCESS";
  o.page_size = 2;
  EXPECT_EQ(List(f.api, o, f.io), 0);
  EXPECT_EQ(f.transport.calls[0].target,
            "/v1/executions?job_name=hello&status=SUCCESS&page_size=2");
  EXPECT_EQ(f.out.str(),
            "ID   JOB            TYPE      STATUS   CREATED\n"
            "e1   hello          PERIODIC  SUCCESS  2026-11-23T10:00:00.123Z\n"
            "e22  nightly-build  PERIODIC  FAILURE  2026-11-23T10:00:00.123Z\n");
  EXPECT_NE(f.err.str().find("--all"), std::string::npos);
}

TEST(CliList, AllFollowsPageTokensIntoOneJsonDocument) {
  ClientFixture f;
  f.transport.Answer(200, Page({ExecutionJson("e1", "SUCCESS")}, "p2"));
  f.transport.Answer(200, Page({ExecutionJson("e2", "SUCCESS")}, ""));
  ListOptions o;
  o.all = true;
  o.output = OutputFormat::kJson;
  EXPECT_EQ(List(f.api, o, f.io), 0);
  EXPECT_EQ(f.transport.calls[1].target, "/v1/executions?page_token=p2");
  rapidjson::Document doc;
  doc.Parse(f.out.str().c_str());
  ASSERT_FALSE(doc.HasParseError()) << f.out.str();
  ASSERT_EQ(doc["job_execution"].Size(), 2u);
  EXPECT_STREQ(doc["job_execution"][1]["id"].GetString(), "e2");
  EXPECT_STREQ(doc["next_page_token"].GetString(), "");
}

TEST(CliList, AServerRepeatingAPageTokenIsRefused) {
  ClientFixture f;
  f.transport.Answer(200, Page({}, "same"));
  f.transport.Answer(200, Page({}, "same"));
  ListOptions o;
  o.all = true;
  EXPECT_EQ(List(f.api, o, f.io), kExitUsage);
}

TEST(CliAbortAndLogs, AbortPrintsTheStatusAndLogsTheBody) {
  ClientFixture f;
  f.transport.Answer(202, ExecutionJson("e1", "PENDING"));
  EXPECT_EQ(Abort(f.api, "e1", OutputFormat::kHuman, f.io), 0);
  EXPECT_EQ(f.transport.calls[0].method, "POST");
  EXPECT_EQ(f.transport.calls[0].target, "/v1/executions/e1/abort");
  EXPECT_EQ(f.out.str(), "abort requested: e1 (PENDING)\n");

  ClientFixture g;
  g.transport.Answer(409, R"({"code":9,"message":"execution e1 already ended","details":[]})");
  EXPECT_EQ(Abort(g.api, "e1", OutputFormat::kHuman, g.io), kExitUsage);

  ClientFixture h;
  h.transport.Answer(200, "hello\n\x1b[31mred\n");
  EXPECT_EQ(Logs(h.api, "e1", false, h.io), 0);
  EXPECT_EQ(h.out.str(), "hello\n\x1b[31mred\n") << "a log is printed as the job wrote it";
}

}  // namespace
}  // namespace sluice::cli::testing
