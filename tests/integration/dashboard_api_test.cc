// What the web dashboard reads, end to end over HTTP against a real gateway and worker (issue
// 15): the page and its files at / and /ui/ with their Content-Security-Policy, GET /v1/jobs and
// GET /v1/health as a restricted client sees them, and the execution list followed live
// (?watch=true). The browser tier (tests/browser/) drives the pages themselves.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

constexpr char kDashboardJobs[] =
    "  - {name: alice-echo, type: periodic, command: [sh, -c, 'echo alice']}\n"
    "  - {name: bob-echo, type: periodic, command: [sh, -c, 'echo bob'],\n"
    "     env: {GREETING: hello, SECRET_DEFAULT: x}, allow_env_override: [GREETING]}\n"
    "  - {name: bob-slow, type: periodic, command: [sh, -c, 'sleep 30']}\n";

// Reads a response that does not end (an event stream) until `enough` holds of what arrived,
// or `bound` passes; returns what arrived. Plain sockets: the stream is never closed by the
// gateway, and the test closes it.
class StreamReader {
 public:
  StreamReader(uint16_t port, const std::string& target, const std::string& token) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{0, 200 * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
    std::string request = "GET " + target +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
                          "\r\n\r\n";
    connected_ = send(fd_, request.data(), request.size(), MSG_NOSIGNAL) ==
                 static_cast<ssize_t>(request.size());
  }
  ~StreamReader() { close(fd_); }
  bool connected() const { return connected_; }

  std::string ReadUntil(const std::function<bool(const std::string&)>& enough,
                        std::chrono::seconds bound = std::chrono::seconds(30)) {
    auto until = std::chrono::steady_clock::now() + bound;
    char buf[4096];
    while (!enough(bytes_) && std::chrono::steady_clock::now() < until) {
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) break;
      if (n > 0) bytes_.append(buf, static_cast<size_t>(n));
    }
    return bytes_;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string bytes_;
};

class DashboardApi : public OneDeploymentSuite<DashboardApi> {
 public:
  static constexpr const char* kJobs = kDashboardJobs;

 protected:
  HttpClient http_;
};

TEST_F(DashboardApi, ThePageAndItsFilesAreServedWithAPolicyThatAllowsNoInlineScript) {
  HttpResponse page = http_.Request("GET", gateway_->url() + "/");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.headers["content-type"], "text/html; charset=utf-8");
  const std::string policy = page.headers["content-security-policy"];
  EXPECT_NE(policy.find("script-src 'self'"), std::string::npos) << policy;
  EXPECT_EQ(policy.find("unsafe"), std::string::npos) << policy;
  EXPECT_EQ(page.headers["x-content-type-options"], "nosniff");
  // Every script and style the page names is served from here, as a module or a stylesheet.
  std::vector<std::string> assets;
  for (const char* attr : {"src=\"", "href=\""}) {
    for (size_t at = 0; (at = page.body.find(attr, at)) != std::string::npos;) {
      at += std::string(attr).size();
      std::string url = page.body.substr(at, page.body.find('"', at) - at);
      if (url.starts_with("/ui/")) assets.push_back(url);
    }
  }
  ASSERT_FALSE(assets.empty()) << page.body;
  for (const std::string& url : assets) {
    HttpResponse r = http_.Request("GET", gateway_->url() + url);
    EXPECT_EQ(r.status, 200) << url;
    EXPECT_FALSE(r.headers["etag"].empty()) << url;
    HttpResponse again =
        http_.Request("GET", gateway_->url() + url, {"If-None-Match: " + r.headers["etag"]});
    EXPECT_EQ(again.status, 304) << url;
  }
  EXPECT_EQ(page.body.find("<script>"), std::string::npos) << "no inline script";
  HttpResponse missing = http_.Request("GET", gateway_->url() + "/ui/no-such-file.js");
  EXPECT_EQ(missing.status, 404);
}

TEST_F(DashboardApi, JobsListsOnlyWhatTheClientMayTriggerWithItsOverridableDefaults) {
  HttpResponse bob = http_.Get(gateway_->url() + "/v1/jobs", kBobToken);
  ASSERT_EQ(bob.status, 200) << bob.body;
  rapidjson::Document d = bob.Json();
  EXPECT_STREQ(d["client"].GetString(), "bob");
  EXPECT_FALSE(d["admin"].GetBool());
  std::set<std::string> names;
  for (const auto& job : d["jobs"].GetArray()) names.insert(job["name"].GetString());
  EXPECT_EQ(names, (std::set<std::string>{"bob-echo", "bob-slow"}));
  const auto& echo = d["jobs"][0];
  EXPECT_STREQ(echo["job_type"].GetString(), "PERIODIC");
  ASSERT_TRUE(echo["env"].IsObject());
  EXPECT_STREQ(echo["env"]["GREETING"].GetString(), "hello");
  EXPECT_FALSE(echo["env"].HasMember("SECRET_DEFAULT")) << "only what a trigger may override";
  EXPECT_EQ(http_.Get(gateway_->url() + "/v1/jobs", "wrong-token").status, 401);
  EXPECT_EQ(http_.Get(gateway_->url() + "/v1/jobs?x=1", kBobToken).status, 400);
}

TEST_F(DashboardApi, HealthShowsTheWorkerRunningAJobOnlyToThoseWhoMaySeeIt) {
  std::string id = TriggerPeriodic(http_, *gateway_, "bob-slow", kBobToken);
  ASSERT_FALSE(id.empty());
  auto running_ids = [&](const char* token) {
    std::set<std::string> ids;
    HttpResponse r = http_.Get(gateway_->url() + "/v1/health", token);
    EXPECT_EQ(r.status, 200) << r.body;
    rapidjson::Document d = r.Json();
    if (!d.IsObject() || !d.HasMember("workers")) return ids;
    EXPECT_TRUE(d["kafka"]["reachable"].GetBool());
    EXPECT_TRUE(d["status_view"]["caught_up"].GetBool());
    for (const auto& w : d["workers"].GetArray()) {
      EXPECT_FALSE(std::string(w["worker"].GetString()).empty());
      for (const auto& e : w["running"].GetArray()) ids.insert(e["id"].GetString());
    }
    return ids;
  };
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!running_ids(kBobToken).count(id) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(running_ids(kBobToken).count(id)) << "bob sees the worker run his job";
  EXPECT_TRUE(running_ids(kAliceToken).count(id)) << "alice may trigger every job";
  HttpResponse abort =
      http_.Post(gateway_->url() + "/v1/executions/" + id + "/abort", kBobToken, "");
  EXPECT_EQ(abort.status, 202) << abort.body;
  EXPECT_EQ(WaitForEnd(http_, *gateway_, id), "ABORTED");
}

TEST_F(DashboardApi, AWatchedListCarriesEveryChangeOfWhatTheClientMaySeeAndNoMore) {
  StreamReader watch(gateway_->port(), "/v1/executions?watch=true&source=api", kBobToken);
  ASSERT_TRUE(watch.connected());
  std::string head =
      watch.ReadUntil([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
  ASSERT_NE(head.find("200 OK"), std::string::npos) << head;
  ASSERT_NE(head.find("text/event-stream"), std::string::npos) << head;
  std::string hidden = TriggerPeriodic(http_, *gateway_, "alice-echo", kAliceToken);
  std::string seen = TriggerPeriodic(http_, *gateway_, "bob-echo", kBobToken);
  ASSERT_FALSE(hidden.empty());
  ASSERT_FALSE(seen.empty());
  std::string done = "\"id\":\"" + seen +
                     "\",\"job_name\":\"bob-echo\",\"job_type\":\"PERIODIC\","
                     "\"job_status\":\"SUCCESS\"";
  std::string bytes =
      watch.ReadUntil([&](const std::string& b) { return b.find(done) != std::string::npos; });
  EXPECT_NE(bytes.find(done), std::string::npos) << bytes;
  EXPECT_NE(bytes.find("event: status\n"), std::string::npos);
  EXPECT_EQ(WaitForEnd(http_, *gateway_, hidden), "SUCCESS");
  EXPECT_EQ(bytes.find(hidden), std::string::npos) << "alice's job is not bob's to see";
  EXPECT_EQ(http_.Get(gateway_->url() + "/v1/executions?watch=maybe", kBobToken).status, 400);
  EXPECT_EQ(
      http_.Get(gateway_->url() + "/v1/executions?watch=true&status=SUCCESS", kBobToken).status,
      400)
      << "a watch follows every status";
  EXPECT_EQ(http_.Get(gateway_->url() + "/v1/executions?source=cron", kBobToken).status, 400);
}

// A watch never ends by itself: one client may hold at most 64 (LiveFeeds::Settings), so that its
// watches cannot hold every connection of the gateway; the next is refused at once, in the API's
// error format, while other clients are still answered, watches included.
TEST_F(DashboardApi, OneClientCannotHoldEveryConnectionWithWatches) {
  auto head_of = [](StreamReader& r) {
    return r.ReadUntil([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; },
                       std::chrono::seconds(10));
  };
  std::vector<std::unique_ptr<StreamReader>> held;
  for (int i = 0; i < 64; ++i) {
    held.push_back(
        std::make_unique<StreamReader>(gateway_->port(), "/v1/executions?watch=true", kBobToken));
    ASSERT_TRUE(held.back()->connected());
    ASSERT_NE(head_of(*held.back()).find("200 OK"), std::string::npos) << "watch " << i;
  }
  HttpResponse refused = http_.Get(gateway_->url() + "/v1/executions?watch=true", kBobToken);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_FALSE(refused.headers["retry-after"].empty());
  EXPECT_NE(refused.body.find("\"code\":14"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("bob"), std::string::npos) << refused.body;
  EXPECT_EQ(http_.Get(gateway_->url() + "/v1/jobs", kBobToken).status, 200);
  StreamReader other(gateway_->port(), "/v1/executions?watch=true", kAliceToken);
  EXPECT_NE(head_of(other).find("200 OK"), std::string::npos) << "another client still watches";
  // Closed, they go at the feeds' next turn (a change wakes it): bob may watch again.
  held.clear();
  EXPECT_EQ(WaitForEnd(http_, *gateway_, TriggerPeriodic(http_, *gateway_, "bob-echo", kBobToken)),
            "SUCCESS");
  int status = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (status != 200 && std::chrono::steady_clock::now() < until) {
    StreamReader again(gateway_->port(), "/v1/executions?watch=true", kBobToken);
    std::string head = head_of(again);
    status = head.find("200 OK") != std::string::npos ? 200 : 0;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(status, 200) << "the closed watches were let go";
}

}  // namespace
}  // namespace sluice::testing
