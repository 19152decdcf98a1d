#include "gateway/http_connection.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

namespace sluice {
namespace {

using namespace std::chrono_literals;

class FakeSocket final : public HttpSocket {
 public:
  ssize_t Send(std::string_view bytes) override {
    if (broken) return kBroken;
    size_t n = std::min(bytes.size(), capacity);
    if (n == 0) return kWouldBlock;
    capacity -= n;
    sent.append(bytes.substr(0, n));
    return static_cast<ssize_t>(n);
  }
  void WantWritable(bool on) override { writable = on; }
  void WantReadable(bool on) override { readable = on; }
  void ShutdownWrite() override { write_shut = true; }
  void Close() override { closed = true; }

  std::string sent;
  size_t capacity = SIZE_MAX;
  bool broken = false;
  bool writable = false;
  bool readable = true;
  bool write_shut = false;
  bool closed = false;
};

// An app whose answers the test releases by hand, in any order, as Kafka would.
struct FakeApp {
  HttpApp app;
  std::vector<ApiRequest> requests;
  std::deque<ReplyFn> replies;
  bool answer_at_once = false;
  Status admission = Status::Ok();

  FakeApp() {
    app.max_body_bytes = [](std::string_view path) -> size_t {
      return path.starts_with("/hooks/") ? 5000 : 100;
    };
    app.admit = [this](const ApiRequest&) { return admission; };
    app.handle = [this](ApiRequest r, ReplyFn reply) {
      requests.push_back(r);
      if (answer_at_once) return reply(JsonReply(200, "{\"path\":\"" + r.path + "\"}"));
      replies.push_back(std::move(reply));
    };
  }
};

struct Fixture {
  FakeApp fake;
  FakeSocket socket;
  MonoTime now = MonoTime{} + 1h;
  std::vector<std::pair<uint64_t, ApiReply>> posted;
  HttpConnectionSettings settings;
  std::unique_ptr<HttpConnection> conn;

  Fixture() {
    settings.header_timeout = 10s;
    settings.body_timeout = 60s;
    settings.idle_timeout = 60s;
    conn = std::make_unique<HttpConnection>(
        settings, fake.app, socket,
        [this](uint64_t seq) {
          return [this, seq](ApiReply r) { conn->OnReply(seq, std::move(r), now); };
        },
        now);
  }
  void Send(std::string_view bytes) { conn->OnInput(bytes, now); }
};

int CountOf(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(HttpConnection, AnswersPipelinedRequestsInOrderWhateverOrderTheirRepliesCome) {
  Fixture f;
  f.Send(
      "POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"
      "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /third HTTP/1.1\r\nHost: a\r\n\r\n");
  // The second request is not even parsed until the first is answered.
  ASSERT_EQ(f.fake.requests.size(), 1u);
  EXPECT_EQ(f.fake.requests[0].path, "/slow");
  EXPECT_EQ(f.fake.requests[0].body, "{}");
  f.fake.replies.front()(JsonReply(200, "first"));
  f.fake.replies.pop_front();
  ASSERT_EQ(f.fake.requests.size(), 2u);
  f.fake.replies.front()(JsonReply(404, "second"));
  f.fake.replies.pop_front();
  ASSERT_EQ(f.fake.requests.size(), 3u);
  f.fake.replies.front()(JsonReply(200, "third"));
  size_t a = f.socket.sent.find("first");
  size_t b = f.socket.sent.find("second");
  size_t c = f.socket.sent.find("third");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(c, std::string::npos);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(CountOf(f.socket.sent, "HTTP/1.1 "), 3);
  EXPECT_FALSE(f.socket.write_shut);
}

TEST(HttpConnection, AnswersSynchronousRepliesForEveryPipelinedRequest) {
  Fixture f;
  f.fake.answer_at_once = true;
  std::string three;
  for (int i = 0; i < 3; ++i)
    three += "GET /r" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n";
  f.Send(three);
  EXPECT_EQ(f.fake.requests.size(), 3u);
  EXPECT_EQ(CountOf(f.socket.sent, "HTTP/1.1 200 OK"), 3);
  EXPECT_LT(f.socket.sent.find("/r0"), f.socket.sent.find("/r1"));
  EXPECT_LT(f.socket.sent.find("/r1"), f.socket.sent.find("/r2"));
}

TEST(HttpConnection, ASecondReplyForOneRequestIsDropped) {
  Fixture f;
  f.Send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
  ReplyFn reply = f.fake.replies.front();
  reply(JsonReply(200, "once"));
  reply(JsonReply(500, "twice"));
  EXPECT_EQ(CountOf(f.socket.sent, "HTTP/1.1 "), 1);
}

TEST(HttpConnection, RefusesADeclaredLengthOverTheRouteLimitBeforeTheBody) {
  Fixture f;
  f.Send("POST /v1/executions HTTP/1.1\r\nHost: a\r\nContent-Length: 58720256\r\n\r\n");
  EXPECT_TRUE(f.fake.requests.empty());
  EXPECT_EQ(f.socket.sent.rfind("HTTP/1.1 413 ", 0), 0u) << f.socket.sent;
  EXPECT_NE(f.socket.sent.find("Connection: close"), std::string::npos);
  EXPECT_NE(f.socket.sent.find("\"message\":\"request body of 58720256 bytes is larger than the "
                               "limit of 100 bytes\""),
            std::string::npos)
      << f.socket.sent;
  EXPECT_TRUE(f.socket.write_shut);
  // The client's body still arriving is read and dropped, up to a bound, then the door shuts.
  f.Send(std::string(512 * 1024, 'a'));
  EXPECT_FALSE(f.socket.closed);
  f.Send(std::string(600 * 1024, 'a'));
  EXPECT_TRUE(f.socket.closed);
}

TEST(HttpConnection, WebhookRoutesHaveTheirOwnLimit) {
  Fixture f;
  f.Send("POST /hooks/github HTTP/1.1\r\nHost: a\r\nContent-Length: 4000\r\n\r\n");
  f.Send(std::string(4000, 'a'));
  ASSERT_EQ(f.fake.requests.size(), 1u);
  EXPECT_EQ(f.fake.requests[0].body.size(), 4000u);
}

TEST(HttpConnection, AnswersExpectContinueWhenAdmitted) {
  Fixture f;
  f.Send(
      "POST /v1/executions HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
      "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(f.socket.sent, "HTTP/1.1 100 Continue\r\n\r\n");
  f.Send("{}");
  ASSERT_EQ(f.fake.requests.size(), 1u);
}

TEST(HttpConnection, AnswersExpectContinueWithTheFinalErrorWhenRefused) {
  Fixture f;
  f.fake.admission = Unauthenticated("missing bearer token");
  f.Send(
      "POST /v1/executions HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
      "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(f.socket.sent.rfind("HTTP/1.1 401 ", 0), 0u) << f.socket.sent;
  EXPECT_EQ(f.socket.sent.find("100 Continue"), std::string::npos);
  EXPECT_TRUE(f.fake.requests.empty());
}

TEST(HttpConnection, AnswersExpectContinueOverTheLimitWith413) {
  Fixture f;
  f.Send(
      "POST /v1/executions HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n"
      "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(f.socket.sent.rfind("HTTP/1.1 413 ", 0), 0u) << f.socket.sent;
}

TEST(HttpConnection, FramingErrorsAreJsonAndClose) {
  Fixture f;
  f.Send("POST /v1/executions HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n");
  EXPECT_EQ(f.socket.sent.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << f.socket.sent;
  EXPECT_NE(f.socket.sent.find("Content-Type: application/json"), std::string::npos);
  EXPECT_NE(f.socket.sent.find("{\"code\":3,\"message\":\"Content-Length"), std::string::npos)
      << f.socket.sent;
  EXPECT_NE(f.socket.sent.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(f.socket.write_shut);
  // Later requests on that connection are not read.
  f.Send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_TRUE(f.fake.requests.empty());
}

TEST(HttpConnection, ShortContentLengthLeavesTheRestToBeParsedAsTheNextRequest) {
  Fixture f;
  f.fake.answer_at_once = true;
  f.Send("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}junk-that-is-not-http\r\n\r\n");
  ASSERT_EQ(f.fake.requests.size(), 1u);
  EXPECT_EQ(f.fake.requests[0].body, "{}");
  EXPECT_EQ(CountOf(f.socket.sent, "HTTP/1.1 200"), 1);
  EXPECT_EQ(CountOf(f.socket.sent, "HTTP/1.1 400"), 1);
}

TEST(HttpConnection, TimesOutSlowHeadersWith408) {
  Fixture f;
  f.Send("GET /healthz HTTP/1.1\r\nHost: a\r\n");
  f.now += 9s;
  f.conn->OnTick(f.now);
  EXPECT_TRUE(f.socket.sent.empty());
  f.Send("X-Drip: 1\r\n");  // a byte now and then does not reset the header deadline
  f.now += 2s;
  f.conn->OnTick(f.now);
  EXPECT_EQ(f.socket.sent.rfind("HTTP/1.1 408 ", 0), 0u) << f.socket.sent;
  f.now += 3s;
  f.conn->OnTick(f.now);
  EXPECT_TRUE(f.socket.closed);
}

TEST(HttpConnection, TimesOutASlowBodyWith408) {
  Fixture f;
  f.Send("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 50\r\n\r\n{");
  f.now += 59s;
  f.conn->OnTick(f.now);
  EXPECT_TRUE(f.socket.sent.empty());
  f.now += 2s;
  f.conn->OnTick(f.now);
  EXPECT_EQ(f.socket.sent.rfind("HTTP/1.1 408 ", 0), 0u) << f.socket.sent;
}

TEST(HttpConnection, ClosesAnIdleConnection) {
  Fixture f;
  f.fake.answer_at_once = true;
  f.Send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
  f.now += 59s;
  f.conn->OnTick(f.now);
  EXPECT_FALSE(f.socket.closed);
  f.now += 2s;
  f.conn->OnTick(f.now);
  EXPECT_TRUE(f.socket.closed);
}

TEST(HttpConnection, WaitsForAReplyWithoutATimeoutOfItsOwn) {
  Fixture f;
  f.Send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
  f.now += 600s;
  f.conn->OnTick(f.now);
  EXPECT_FALSE(f.socket.closed);
  f.fake.replies.front()(JsonReply(200, "late"));
  EXPECT_NE(f.socket.sent.find("late"), std::string::npos);
}

TEST(HttpConnection, StopsReadingWhileASlowReaderHasNotTakenItsAnswer) {
  Fixture f;
  f.fake.answer_at_once = true;
  f.socket.capacity = 10;
  f.Send("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(f.fake.requests.size(), 1u);  // /b waits until /a's answer is out
  EXPECT_TRUE(f.socket.writable);
  f.socket.capacity = SIZE_MAX;
  f.conn->OnWritable(f.now);
  EXPECT_EQ(f.fake.requests.size(), 2u);
  EXPECT_FALSE(f.socket.writable);
  EXPECT_EQ(CountOf(f.socket.sent, "HTTP/1.1 200"), 2);
}

TEST(HttpConnection, DropsAClientThatNeverReadsItsAnswers) {
  Fixture f;
  f.fake.answer_at_once = true;
  f.socket.capacity = 0;
  f.Send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
  f.now += 61s;
  f.conn->OnTick(f.now);
  EXPECT_TRUE(f.socket.closed);
}

TEST(HttpConnection, PausesReadingWhenTooMuchIsPipelinedAheadAndClosesPastTheReadAhead) {
  Fixture f;
  f.settings.max_buffered_input = 1000;
  f.settings.max_read_ahead = 2000;
  f.conn = std::make_unique<HttpConnection>(
      f.settings, f.fake.app, f.socket, [](uint64_t) { return [](ApiReply) {}; }, f.now);
  f.Send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
  f.Send(std::string(1500, 'x'));
  EXPECT_FALSE(f.socket.readable);
  EXPECT_FALSE(f.socket.closed);
  f.Send(std::string(600, 'x'));
  EXPECT_TRUE(f.socket.closed);
}

TEST(HttpConnection, RefusesAConnectionOverTheCapWithRetryAfter) {
  Fixture f;
  f.conn->Refuse(Unavailable("too many connections").WithRetryAfter(1), f.now);
  EXPECT_EQ(f.socket.sent.rfind("HTTP/1.1 503 ", 0), 0u);
  EXPECT_NE(f.socket.sent.find("Retry-After: 1"), std::string::npos);
  EXPECT_TRUE(f.socket.write_shut);
}

TEST(HttpConnection, ReturnsTheClientsRequestIdOrDrawsOne) {
  Fixture f;
  f.fake.answer_at_once = true;
  f.Send("GET /a HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc-123\r\n\r\n");
  EXPECT_NE(f.socket.sent.find("X-Request-Id: abc-123\r\n"), std::string::npos);
  EXPECT_EQ(f.fake.requests[0].request_id, "abc-123");
  f.Send("GET /a HTTP/1.1\r\nHost: a\r\nX-Request-Id: bad id\r\n\r\n");
  EXPECT_EQ(f.fake.requests[1].request_id.size(), 32u);
  EXPECT_NE(f.fake.requests[1].request_id, "bad id");
}

TEST(HttpConnection, HeadAnswersCarryNoBody) {
  Fixture f;
  f.fake.answer_at_once = true;
  f.Send("HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_NE(f.socket.sent.find("Content-Length: "), std::string::npos);
  EXPECT_TRUE(f.socket.sent.ends_with("\r\n\r\n"));
}

TEST(HttpConnection, AnswersAtMostItsShareOfPipelinedRequestsPerTurn) {
  Fixture f;
  f.fake.answer_at_once = true;
  uint64_t turn = 1;
  f.conn->SetTurnCounter(&turn);
  std::string many;
  for (int i = 0; i < 40; ++i) many += "GET /r HTTP/1.1\r\nHost: a\r\n\r\n";
  f.Send(many);
  EXPECT_EQ(f.fake.requests.size(), 16u);
  EXPECT_TRUE(f.conn->HasDeferredWork());
  ++turn;
  f.conn->Resume(f.now);
  EXPECT_EQ(f.fake.requests.size(), 32u);
  ++turn;
  f.conn->Resume(f.now);
  EXPECT_EQ(f.fake.requests.size(), 40u);
  EXPECT_FALSE(f.conn->HasDeferredWork());
  EXPECT_EQ(CountOf(f.socket.sent, "HTTP/1.1 200"), 40);
}

TEST(HttpConnection, RefusesALargeBodyOverTheServersBudgetWith503) {
  Fixture f;
  size_t held = 0;
  f.fake.app.reserve_body = [&](size_t n) {
    if (held + n > 4500) return false;
    held += n;
    return true;
  };
  f.fake.app.release_body = [&](size_t n) { held -= n; };
  FakeSocket other_socket;
  HttpConnection other(
      f.settings, f.fake.app, other_socket, [](uint64_t) { return [](ApiReply) {}; }, f.now);
  other.OnInput("POST /hooks/github HTTP/1.1\r\nHost: a\r\nContent-Length: 4000\r\n\r\n", f.now);
  EXPECT_EQ(held, 0u);  // 64 KiB and below are not counted
  f.fake.app.max_body_bytes = [](std::string_view) -> size_t { return 1 << 20; };
  FakeSocket big_socket;
  auto big = std::make_unique<HttpConnection>(
      f.settings, f.fake.app, big_socket, [](uint64_t) { return [](ApiReply) {}; }, f.now);
  f.fake.app.reserve_body = [&](size_t n) {
    if (held + n > 200000) return false;
    held += n;
    return true;
  };
  big->OnInput("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 150000\r\n\r\n", f.now);
  EXPECT_EQ(held, 150000u);
  f.Send("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n");
  EXPECT_EQ(f.socket.sent.rfind("HTTP/1.1 503 ", 0), 0u) << f.socket.sent;
  EXPECT_NE(f.socket.sent.find("Retry-After: 1"), std::string::npos);
  big.reset();  // a connection that goes away gives its reservation back
  EXPECT_EQ(held, 0u);
}

TEST(HttpConnection, EmptyLinesDoNotKeepAConnectionAlive) {
  Fixture f;
  for (int i = 0; i < 20; ++i) {
    f.now += 5s;
    f.Send("\r\n");
    f.conn->OnTick(f.now);
  }
  EXPECT_TRUE(f.socket.closed);
}

TEST(HttpConnection, ARefusalAfterAPipelinedRequestHasItsOwnRequestId) {
  Fixture f;
  f.fake.answer_at_once = true;
  f.Send(
      "GET /a HTTP/1.1\r\nHost: a\r\nX-Request-Id: first-request\r\n\r\n"
      "GET /a\x01 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(CountOf(f.socket.sent, "X-Request-Id: first-request"), 1) << f.socket.sent;
  EXPECT_EQ(CountOf(f.socket.sent, "X-Request-Id: "), 2);
}

TEST(HttpConnection, TranslatesTheTarget) {
  std::string path;
  std::map<std::string, std::string> query;
  ASSERT_TRUE(SplitTarget("/v1/x?a=1&b=%2F&a=2&flag", &path, &query));
  EXPECT_EQ(path, "/v1/x");
  EXPECT_EQ(query["a"], "1");
  EXPECT_EQ(query["b"], "/");
  EXPECT_EQ(query.count("flag"), 1u);
  query.clear();
  ASSERT_TRUE(SplitTarget("http://example.com/healthz?x=1", &path, &query));
  EXPECT_EQ(path, "/healthz");
  EXPECT_EQ(query["x"], "1");
  EXPECT_FALSE(SplitTarget("healthz", &path, &query));
}

}  // namespace
}  // namespace sluice
