// The robustness tier (issue 11): a real gateway on loopback, hostile bytes over real sockets,
// and good requests that must keep being answered meanwhile.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include "tests/integration/api_helpers.h"
#include "tests/integration/harness/harness.h"
#include "tests/robustness/raw_socket.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto kAnswerWithin = 5s;

std::string Post(const std::string& path, const std::string& body,
                 const std::string& extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
         std::string(kAliceToken) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + extra_headers + "\r\n" + body;
}

std::string Get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
         std::string(kAliceToken) + "\r\n\r\n";
}

const std::string kTrigger = R"({"job_name":"hello","job_execution_type":"1"})";

// The error contract's body: {"code": N, "message": "...", "details": []}, nothing internal.
void ExpectJsonError(const RawResponse& r, int status) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.headers.count("content-type") ? r.headers.at("content-type") : "",
            "application/json");
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  ASSERT_TRUE(doc.IsObject()) << r.body;
  EXPECT_TRUE(doc.HasMember("code") && doc["code"].IsInt()) << r.body;
  ASSERT_TRUE(doc.HasMember("message") && doc["message"].IsString()) << r.body;
  std::string message = doc["message"].GetString();
  EXPECT_EQ(message.find("basic_string"), std::string::npos) << message;
  EXPECT_EQ(message.find("stoull"), std::string::npos) << message;
  EXPECT_LE(message.size(), 400u) << message;
}

// Sends `bytes` on a new connection; expects one JSON error of `status` and returns the
// connection, for what the test checks next.
std::unique_ptr<RawConnection> ExpectRefusal(uint16_t port, const std::string& bytes, int status) {
  auto c = std::make_unique<RawConnection>(port);
  c->Send(bytes);
  auto answers = c->Read(1, kAnswerWithin);
  EXPECT_EQ(answers.size(), 1u) << "no answer to " << bytes.substr(0, 80);
  if (!answers.empty()) ExpectJsonError(answers[0], status);
  return c;
}

long VmSizeKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmSize:", 0) == 0) return std::stol(line.substr(7));
  }
  return -1;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t i = std::min(values.size() - 1, static_cast<size_t>(p * (values.size() - 1) + 0.5));
  return values[i];
}

class HostileHttp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    deployment_ = new Deployment(
        "  - name: hello\n    type: periodic\n    command: [sh, -c, 'echo hello']\n"
        "    allow_env_override: [RELEASE_IMAGE_LATEST]\n",
        "", "  header_timeout: 1s\n  idle_timeout: 3s\n  threads: 2\n");
    gateway_ = &deployment_->StartGateway();
    deployment_->StartWorker();
  }
  static void TearDownTestSuite() {
    delete deployment_;
    deployment_ = nullptr;
  }

  // Sends good requests, one after another, each on a new connection (so that they land on
  // every network thread), for `rounds`; returns each one's latency in ms, or -1 for one not
  // answered 200 within kAnswerWithin.
  static std::vector<double> GoodRequests(int rounds) {
    std::vector<double> latencies;
    for (int i = 0; i < rounds; ++i) {
      HttpClient http;
      auto start = std::chrono::steady_clock::now();
      HttpResponse r = i % 2 == 0
                           ? http.Get(gateway_->url() + "/healthz", "")
                           : http.Post(gateway_->url() + "/v1/executions", kAliceToken, kTrigger);
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      bool good =
          r.status == 200 && ms < std::chrono::duration<double, std::milli>(kAnswerWithin).count();
      latencies.push_back(good ? ms : -1);
    }
    return latencies;
  }

  static void ExpectAllAnswered(const std::vector<double>& latencies, const char* what) {
    int failed = static_cast<int>(std::count(latencies.begin(), latencies.end(), -1.0));
    EXPECT_EQ(failed, 0) << what;
    std::printf("[robustness] %s: %zu good requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", what,
                latencies.size(), Percentile(latencies, 0.5), Percentile(latencies, 0.99),
                Percentile(latencies, 1.0));
  }

  static Deployment* deployment_;
  static SluiceProcess* gateway_;
};

Deployment* HostileHttp::deployment_ = nullptr;
SluiceProcess* HostileHttp::gateway_ = nullptr;

// Case 1: two clients with 5 MiB header lines in 64 KiB writes stalled every other request
// for about 40 s (the parser's cost grew with the square of a header's size).
TEST_F(HostileHttp, HugeHeadersAreRefusedWithoutStallingGoodRequests) {
  ExpectAllAnswered(GoodRequests(60), "quiet (reference)");
  std::atomic<int> refused{0};
  std::atomic<bool> done{false};
  auto attacker = [&] {
    while (!done) {
      RawConnection c(gateway_->port());
      if (!c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")) continue;
      std::string chunk(64 * 1024, 'a');
      for (int i = 0; i < 80 && c.Send(chunk); ++i) {
      }
      c.Send("\r\n\r\n");
      auto answers = c.Read(1, 5s);
      if (!answers.empty() && answers[0].status == 431) ++refused;
    }
  };
  std::thread a(attacker);
  std::thread b(attacker);
  std::vector<double> latencies = GoodRequests(60);
  done = true;
  a.join();
  b.join();
  EXPECT_GT(refused.load(), 0);
  ExpectAllAnswered(latencies, "two 5 MiB-header clients");
  ASSERT_TRUE(gateway_->Running());
}

TEST_F(HostileHttp, AHugeHeaderGets431AndTheConnectionCloses) {
  auto c = ExpectRefusal(
      gateway_->port(),
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n",
      431);
  EXPECT_TRUE(c->Closed(kAnswerWithin));
}

TEST_F(HostileHttp, ALongRequestLineGets414AndTooManyHeaders431) {
  ExpectRefusal(gateway_->port(), "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n",
                414);
  std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 101; ++i) head += "X-H" + std::to_string(i) + ": v\r\n";
  ExpectRefusal(gateway_->port(), head + "\r\n", 431);
}

// Case 1, second half: a body above the limit kept a network thread busy for 52 s.
TEST_F(HostileHttp, ABodyOverTheLimitIsRefusedBeforeItIsRead) {
  std::atomic<bool> done{false};
  std::atomic<int> answered_413{0};
  std::atomic<int> iterations{0};
  std::atomic<long> slowest_ms{0};
  auto attacker = [&] {
    while (!done) {
      auto start = std::chrono::steady_clock::now();
      RawConnection c(gateway_->port());
      c.Send(
          "POST /v1/executions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          "Content-Length: 58720256\r\n\r\n");
      std::string chunk(64 * 1024, 'a');
      // The refusal comes before the body; the gateway then drops the connection.
      for (int i = 0; i < 896 && c.Send(chunk); ++i) {
      }
      auto answers = c.Read(1, 5s);
      if (!answers.empty() && answers[0].status == 413) ++answered_413;
      ++iterations;
      long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
      if (ms > slowest_ms) slowest_ms = ms;
    }
  };
  std::thread a(attacker);
  std::thread b(attacker);
  std::vector<double> latencies = GoodRequests(60);
  done = true;
  a.join();
  b.join();
  EXPECT_GT(answered_413.load(), 0);
  std::printf("[robustness] 56 MiB-body clients: %d connections, %d answered 413, slowest %ld ms\n",
              iterations.load(), answered_413.load(), slowest_ms.load());
  ExpectAllAnswered(latencies, "two 56 MiB-body clients");
}

// Case 5: each connection with Content-Length: 1000000000 reserved that much virtual memory and
// waited 60 s for a body.
TEST_F(HostileHttp, DeclaredLengthsOverTheLimitAreAnswered413AtOnceAndReserveNothing) {
  long before = VmSizeKb(gateway_->pid());
  std::vector<std::unique_ptr<RawConnection>> conns;
  for (int i = 0; i < 3; ++i) {
    conns.push_back(std::make_unique<RawConnection>(gateway_->port()));
    conns.back()->Send(
        "POST /v1/executions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n");
  }
  for (auto& c : conns) {
    auto answers = c->Read(1, kAnswerWithin);
    ASSERT_EQ(answers.size(), 1u);
    ExpectJsonError(answers[0], 413);
    EXPECT_NE(answers[0].body.find("1000000000"), std::string::npos) << answers[0].body;
    EXPECT_EQ(answers[0].headers["connection"], "close");
  }
  long after = VmSizeKb(gateway_->pid());
  EXPECT_LT(after - before, 200 * 1024)
      << "VmSize grew from " << before << " kB to " << after << " kB";
}

struct Framing {
  const char* name;
  std::string request;
  int status;
};

// Case 5: negative and overflowing lengths answered 500 with the library's exception text; two
// lengths were accepted (first wins), a smuggling vector behind a proxy.
TEST_F(HostileHttp, FramingErrorsAreJson400sAndCloseTheConnection) {
  std::string head = "POST /v1/executions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                     std::string(kAliceToken) + "\r\nContent-Type: application/json\r\n";
  std::vector<Framing> cases = {
      {"negative length", head + "Content-Length: -5\r\n\r\n", 400},
      {"overflowing length", head + "Content-Length: 18446744073709551617\r\n\r\n", 400},
      {"two lengths", head + "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}", 400},
      {"length and chunked", head + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
       400},
      {"bad chunk", head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400},
      {"bare CR in a header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-GitHub-Delivery: a\rb\r\n\r\n",
       400},
      {"not HTTP", std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11), 400},
      // Smuggling shapes that a lenient parser frames differently from a proxy in front.
      {"space before the colon", head + "Content-Length : 2\r\n\r\n{}", 400},
      {"folded Transfer-Encoding",
       head + "Transfer-Encoding:\r\n chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400},
      {"chunk data without CRLF", head + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
       400},
      {"two hosts", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
  };
  for (const Framing& f : cases) {
    SCOPED_TRACE(f.name);
    auto c = ExpectRefusal(gateway_->port(), f.request, f.status);
    // A later request on that connection is not answered: the connection is closed.
    c->Send(Get("/healthz"));
    EXPECT_TRUE(c->Closed(kAnswerWithin));
    EXPECT_TRUE(c->Read(1, 100ms).empty());
  }
  ASSERT_TRUE(gateway_->Running());
}

// Case 4: three POSTs in one send got one answer; a GET sent 2 ms after a POST was answered
// before it.
TEST_F(HostileHttp, PipelinedRequestsAreAllAnsweredInOrder) {
  RawConnection c(gateway_->port());
  c.Send(Post("/v1/executions", kTrigger) + Post("/v1/executions", kTrigger) +
         Post("/v1/executions", kTrigger));
  auto answers = c.Read(3, kAnswerWithin);
  ASSERT_EQ(answers.size(), 3u) << c.unparsed();
  std::vector<std::string> ids;
  for (const RawResponse& r : answers) {
    EXPECT_EQ(r.status, 200) << r.body;
    rapidjson::Document doc;
    doc.Parse(r.body.c_str());
    ASSERT_TRUE(doc.IsObject() && doc.HasMember("id"));
    ids.push_back(doc["id"].GetString());
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "three distinct executions";
  HttpClient http;
  for (const std::string& id : ids) {
    EXPECT_EQ(http.Get(ExecutionUrl(*gateway_, id), kAliceToken).status, 200) << id;
  }

  // A slow (Kafka-acknowledged) request, then a fast one: answers in the order asked.
  c.Send(Post("/v1/executions", kTrigger));
  std::this_thread::sleep_for(2ms);  // the byte timing of the report, not a synchronisation
  c.Send(Get("/v1/executions/nope-1"));
  answers = c.Read(2, kAnswerWithin);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].status, 200) << answers[0].body;
  EXPECT_EQ(answers[1].status, 404) << answers[1].body;
}

TEST_F(HostileHttp, BytesAfterAShortContentLengthAreTheNextRequest) {
  RawConnection c(gateway_->port());
  std::string body = kTrigger + "GARBAGE";
  c.Send("POST /v1/executions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
         std::string(kAliceToken) + "\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(kTrigger.size()) + "\r\n\r\n" + body + "\r\n\r\n");
  auto answers = c.Read(2, kAnswerWithin);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].status, 200);
  ExpectJsonError(answers[1], 400);
}

TEST_F(HostileHttp, ExpectContinueIsAnsweredBeforeTheBodyOrRefusedAtOnce) {
  {
    RawConnection c(gateway_->port());
    c.Send("POST /v1/executions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
           std::string(kAliceToken) + "\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(kTrigger.size()) + "\r\nExpect: 100-continue\r\n\r\n");
    auto interim = c.Read(1, kAnswerWithin);
    ASSERT_EQ(interim.size(), 1u);
    EXPECT_EQ(interim[0].status, 100);
    c.Send(kTrigger);
    auto final_answer = c.Read(1, kAnswerWithin);
    ASSERT_EQ(final_answer.size(), 1u);
    EXPECT_EQ(final_answer[0].status, 200) << final_answer[0].body;
  }
  {
    RawConnection c(gateway_->port());
    c.Send(
        "POST /v1/executions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer wrong\r\n"
        "Content-Type: application/json\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n");
    auto answers = c.Read(1, kAnswerWithin);
    ASSERT_EQ(answers.size(), 1u);
    ExpectJsonError(answers[0], 401);
  }
  {
    RawConnection c(gateway_->port());
    c.Send("POST /v1/executions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
           std::string(kAliceToken) +
           "\r\nContent-Length: 99999999\r\nExpect: 100-continue\r\n\r\n");
    auto answers = c.Read(1, kAnswerWithin);
    ASSERT_EQ(answers.size(), 1u);
    ExpectJsonError(answers[0], 413);
  }
}

TEST_F(HostileHttp, SlowHeadersGet408AndIdleConnectionsClose) {
  RawConnection slow(gateway_->port());
  slow.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // and nothing more
  auto answers = slow.Read(1, kAnswerWithin);
  ASSERT_EQ(answers.size(), 1u);
  ExpectJsonError(answers[0], 408);
  EXPECT_TRUE(slow.Closed(kAnswerWithin));

  RawConnection idle(gateway_->port());
  idle.Send(Get("/healthz"));
  ASSERT_EQ(idle.Read(1, kAnswerWithin).size(), 1u);
  EXPECT_TRUE(idle.Closed(10s));  // idle_timeout: 3s
}

// Found by playing the attacker: any /hooks/ path took the 25 MiB webhook limit, unknown hosts
// included, so an unauthenticated client could hold 25 MiB per connection.
TEST_F(HostileHttp, AnUnknownHookHostHasTheGatewaysBodyLimit) {
  ExpectRefusal(
      gateway_->port(),
      "POST /hooks/nonexistent-host HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413);
}

// Found by playing the attacker: one connection pipelining GETs as fast as it could kept its
// network thread reading it, and the other connections of that thread waited 9 s.
TEST_F(HostileHttp, AFloodOfPipelinedRequestsDoesNotStallOtherConnections) {
  std::atomic<bool> done{false};
  std::atomic<long> flooded{0};
  auto flood = [&] {
    std::string batch;
    while (batch.size() < 64 * 1024) batch += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    while (!done) {
      RawConnection c(gateway_->port());
      for (int i = 0; i < 2000 && !done && c.Send(batch); ++i) {
        flooded += static_cast<long>(batch.size());
        c.Drain();
      }
    }
  };
  std::thread a(flood);
  std::thread b(flood);
  std::vector<double> latencies = GoodRequests(60);
  done = true;
  a.join();
  b.join();
  std::printf("[robustness] pipelining floods wrote %ld MiB into their sockets\n",
              flooded.load() >> 20);
  ExpectAllAnswered(latencies, "two pipelining floods");
}

TEST_F(HostileHttp, EveryAnswerCarriesARequestId) {
  RawConnection c(gateway_->port());
  c.Send("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: trace-42\r\n\r\n" + Get("/healthz"));
  auto answers = c.Read(2, kAnswerWithin);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].headers["x-request-id"], "trace-42");
  EXPECT_EQ(answers[1].headers["x-request-id"].size(), 32u);
}

TEST(HostileHttpCap, ConnectionsOverTheCapAreRefusedWith503) {
  Deployment d("  - {name: hello, type: periodic, command: [sh, -c, 'echo hello']}\n", "",
               "  max_connections: 4\n");
  SluiceProcess& gateway = d.StartGateway();
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<RawConnection>(gateway.port()));
    held.back()->Send(Get("/healthz"));
    ASSERT_EQ(held.back()->Read(1, kAnswerWithin).size(), 1u);
  }
  RawConnection over(gateway.port());
  over.Send(Get("/healthz"));
  auto answers = over.Read(1, kAnswerWithin);
  ASSERT_EQ(answers.size(), 1u);
  ExpectJsonError(answers[0], 503);
  EXPECT_EQ(answers[0].headers["retry-after"], "1");
  held.clear();
  // Once the held connections are gone, new ones are served again.
  EXPECT_TRUE(WaitFor([&] {
    RawConnection again(gateway.port());
    again.Send(Get("/healthz"));
    auto a = again.Read(1, kAnswerWithin);
    return !a.empty() && a[0].status == 200;
  }));
}

}  // namespace
}  // namespace sluice::testing
