// Clients that hang up while their trigger is still waiting for Kafka. The gateway answers a
// create from a Kafka delivery callback, after the connection may be gone and its descriptor
// given to a new connection. The reply must then go nowhere: not crash the gateway, and never
// reach the new connection, whose client would read an answer to a request it never sent.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/api_helpers.h"
#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

// Sends one POST /v1/executions on a fresh connection and closes it without reading.
bool PostAndHangUp(uint16_t port, const std::string& body) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool sent = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string request =
        "POST /v1/executions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Authorization: Bearer " +
        std::string(kAliceToken) +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    sent = send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(request.size());
  }
  close(fd);
  return sent;
}

TEST(AbandonedRequests, RepliesToClientsThatHungUpGoNowhere) {
  Deployment d("  - {name: noop, type: periodic, command: ['true']}\n");
  SluiceProcess& gateway = d.StartGateway();
  HttpClient http;
  std::string known = TriggerPeriodic(http, gateway, "noop");
  ASSERT_FALSE(known.empty());

  const std::string body = R"({"job_name": "noop", "job_execution_type": "PERIODIC"})";
  constexpr int kHangUpThreads = 4;
  constexpr int kHangUpsEach = 150;
  std::atomic<int> hung_up{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kHangUpThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kHangUpsEach; ++i) hung_up += PostAndHangUp(gateway.port(), body);
    });
  }
  // Meanwhile, a client reading one execution over and over on fresh connections (each may get
  // a descriptor just freed by a hang-up) must get exactly that execution every time.
  int reads = 0;
  int wrong = 0;
  std::string first_wrong;
  while (reads < 300) {
    HttpClient fresh;
    HttpResponse r = fresh.Get(gateway.url() + "/v1/executions/" + known, kAliceToken);
    ++reads;
    if (r.status != 200 || StringField(r, "id") != known) {
      if (wrong++ == 0) first_wrong = std::to_string(r.status) + " " + r.body + r.error;
    }
  }
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(hung_up.load(), kHangUpThreads * kHangUpsEach);
  EXPECT_EQ(wrong, 0) << "first wrong answer: " << first_wrong;
  EXPECT_TRUE(gateway.Running()) << gateway.Log();
  // And the gateway still takes triggers.
  EXPECT_FALSE(TriggerPeriodic(http, gateway, "noop").empty()) << gateway.Log();
}

}  // namespace
}  // namespace sluice::testing
