// The live reads of one execution end to end (issue 13): the long poll of GET /v1/executions/{id}
// (?wait=, known_status, If-None-Match), its status changes as Server-Sent Events, and its log
// followed as it grows, resumed from an offset, or read by Range. A real gateway and worker on
// an embedded broker (or the kafka tier's broker), over HTTP.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

constexpr char kLiveJobs[] =
    "  - {name: ticker, type: periodic,\n"
    "     command: [sh, -c, 'for i in 1 2 3 4 5; do echo \"line $i\"; sleep 0.3; done']}\n"
    "  - {name: long, type: periodic, command: [sh, -c, 'echo started; sleep 60']}\n";

class LiveStatus : public OneDeploymentSuite<LiveStatus> {
 public:
  static constexpr const char* kJobs = kLiveJobs;

 protected:
  static std::string Url(const std::string& id, const std::string& rest = "") {
    return gateway_->url() + "/v1/executions/" + id + rest;
  }
  HttpResponse Get(const std::string& url, std::vector<std::string> headers = {}) {
    headers.push_back(std::string("Authorization: Bearer ") + kAliceToken);
    return http_.Request("GET", url, headers);
  }
  static std::string JobStatus(const HttpResponse& r) {
    rapidjson::Document d = r.Json();
    if (!d.IsObject() || !d.HasMember("job_status")) return "";
    return d["job_status"].GetString();
  }

  HttpClient http_;
};

TEST_F(LiveStatus, ALongPollAnswersOnceTheStatusIsNotTheKnownOneUntilTheEnd) {
  std::string id = TriggerPeriodic(http_, *gateway_, "ticker");
  ASSERT_FALSE(id.empty());
  std::string known = "TRIGGERED";
  std::vector<std::string> seen;
  // Each answer moves on from the status named; TRIGGERED, PENDING, SUCCESS take at most 2 polls
  // past the first, and one more answers at once once the status is terminal.
  for (int i = 0; i < 6 && known != "SUCCESS"; ++i) {
    HttpResponse r = Get(Url(id, "?wait=30s&known_status=" + known));
    ASSERT_EQ(r.status, 200) << r.body;
    std::string now = JobStatus(r);
    EXPECT_EQ(r.headers["etag"], "\"" + now + "\"");
    if (now != known) seen.push_back(now);
    known = now;
  }
  EXPECT_EQ(known, "SUCCESS");
  EXPECT_LE(seen.size(), 2u);  // PENDING may pass unseen; nothing else comes between
  // On a terminal status there is nothing to wait for: the same answer at once.
  HttpResponse again = Get(Url(id, "?wait=30s&known_status=SUCCESS"));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(JobStatus(again), "SUCCESS");
}

TEST_F(LiveStatus, ALongPollThatSeesNoChangeAnswersTheStateAtItsTimeout) {
  std::string id = TriggerPeriodic(http_, *gateway_, "long");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitFor([&] { return StatusOf(http_, *gateway_, id) == "PENDING"; }));
  HttpResponse r = Get(Url(id, "?wait=1s"), {"If-None-Match: \"PENDING\""});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JobStatus(r), "PENDING");
  EXPECT_EQ(http_.Post(Url(id, "/abort"), kAliceToken, "").status, 202);
  EXPECT_EQ(WaitForEnd(http_, *gateway_, id), "ABORTED");
}

TEST_F(LiveStatus, AConditionalGetOfAnUnchangedStatusIs304) {
  std::string id = TriggerPeriodic(http_, *gateway_, "ticker");
  ASSERT_EQ(WaitForEnd(http_, *gateway_, id), "SUCCESS");
  HttpResponse same = Get(Url(id), {"If-None-Match: \"SUCCESS\""});
  EXPECT_EQ(same.status, 304);
  EXPECT_EQ(same.headers["etag"], "\"SUCCESS\"");
  EXPECT_TRUE(same.body.empty());
  EXPECT_EQ(Get(Url(id), {"If-None-Match: \"PENDING\""}).status, 200);
}

TEST_F(LiveStatus, EventsCarryEachStatusChangeInOrderAndEndAfterTheTerminalOne) {
  std::string id = TriggerPeriodic(http_, *gateway_, "ticker");
  ASSERT_FALSE(id.empty());
  HttpResponse r = Get(Url(id, "/events"));  // returns once the stream has ended
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "text/event-stream");
  std::vector<std::string> ids;
  size_t at = 0;
  while ((at = r.body.find("event: status\nid: ", at)) != std::string::npos) {
    at += 18;
    std::string status = r.body.substr(at, r.body.find('\n', at) - at);
    size_t data = r.body.find("data: ", at);
    ASSERT_NE(data, std::string::npos);
    std::string json = r.body.substr(data + 6, r.body.find('\n', data) - data - 6);
    EXPECT_NE(json.find("\"job_status\":\"" + status + "\""), std::string::npos) << json;
    ids.push_back(status);
  }
  ASSERT_FALSE(ids.empty()) << r.body;
  EXPECT_EQ(ids.back(), "SUCCESS") << r.body;
  const std::vector<std::string> order = {"TRIGGERED", "PENDING", "SUCCESS"};
  size_t last = 0;
  for (const std::string& s : ids) {
    auto pos = std::find(order.begin(), order.end(), s);
    ASSERT_NE(pos, order.end()) << s;
    size_t index = static_cast<size_t>(pos - order.begin());
    EXPECT_GE(index, last) << r.body;  // forward only, each once
    last = index + 1;
  }
}

TEST_F(LiveStatus, AFollowedLogHasEveryLineAndEndsWithTheExecution) {
  std::string id = TriggerPeriodic(http_, *gateway_, "ticker");
  ASSERT_FALSE(id.empty());
  HttpResponse followed = Get(Url(id, "/log?follow=true"));
  ASSERT_EQ(followed.status, 200) << followed.body;
  for (int i = 1; i <= 5; ++i) {
    EXPECT_NE(followed.body.find("line " + std::to_string(i) + "\n"), std::string::npos)
        << followed.body;
  }
  EXPECT_NE(followed.body.find("finished: SUCCESS"), std::string::npos) << followed.body;
  EXPECT_EQ(StatusOf(http_, *gateway_, id), "SUCCESS");
  HttpResponse whole = Get(Url(id, "/log"));
  EXPECT_EQ(followed.body, whole.body);

  // Resumed from an offset: the rest, and nothing before it.
  size_t offset = whole.body.find("line 3");
  ASSERT_NE(offset, std::string::npos);
  HttpResponse rest = Get(Url(id, "/log?follow=true&offset=" + std::to_string(offset)));
  EXPECT_EQ(rest.body, whole.body.substr(offset));
}

TEST_F(LiveStatus, ALogIsReadByRange) {
  std::string id = TriggerPeriodic(http_, *gateway_, "ticker");
  ASSERT_EQ(WaitForEnd(http_, *gateway_, id), "SUCCESS");
  HttpResponse whole = Get(Url(id, "/log"));
  ASSERT_GT(whole.body.size(), 10u);
  EXPECT_EQ(whole.headers["accept-ranges"], "bytes");
  std::string size = std::to_string(whole.body.size());

  HttpResponse head = Get(Url(id, "/log"), {"Range: bytes=0-3"});
  EXPECT_EQ(head.status, 206);
  EXPECT_EQ(head.body, whole.body.substr(0, 4));
  EXPECT_EQ(head.headers["content-range"], "bytes 0-3/" + size);

  HttpResponse tail = Get(Url(id, "/log"), {"Range: bytes=-5"});
  EXPECT_EQ(tail.status, 206);
  EXPECT_EQ(tail.body, whole.body.substr(whole.body.size() - 5));

  HttpResponse past = Get(Url(id, "/log"), {"Range: bytes=" + size + "-"});
  EXPECT_EQ(past.status, 416);
  EXPECT_EQ(past.headers["content-range"], "bytes */" + size);
}

TEST_F(LiveStatus, MalformedLiveParametersAre400AndUnknownExecutions404) {
  std::string id = TriggerPeriodic(http_, *gateway_, "ticker");
  ASSERT_FALSE(id.empty());
  struct Case {
    std::string rest;
    long status;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"?wait=soon", 400, "wait:"},
           {"?wait=5s&known_status=DONE", 400, "known_status:"},
           {"/log?follow=maybe", 400, "follow:"},
           {"/log?offset=-1", 400, "offset:"},
       }) {
    HttpResponse r = Get(Url(id, c.rest));
    EXPECT_EQ(r.status, c.status) << c.rest << ": " << r.body;
    EXPECT_NE(r.body.find(c.says), std::string::npos) << c.rest << ": " << r.body;
  }
  for (const char* rest : {"/events", "/log?follow=true", "?wait=5s"}) {
    HttpResponse r = Get(Url("no-such-execution", rest));
    EXPECT_EQ(r.status, 404) << rest << ": " << r.body;
  }
}

}  // namespace
}  // namespace sluice::testing
