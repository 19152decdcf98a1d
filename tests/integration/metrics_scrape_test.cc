// GET /metrics of real processes: the gateway's, the worker's own listener
// (worker.metrics_listen) and `sluice dev`'s one port. Every body must pass
// `promtool check metrics` (installed by scripts/install-deps.sh). Named metrics_scrape_test
// since the unit tests' metrics_test holds the target name.

#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <string>

#include "tests/integration/harness/harness.h"
#include "tests/promtool_check.h"

namespace sluice::testing {
namespace {

std::string SourceDir() {
  const char* dir = std::getenv("SLUICE_SOURCE_DIR");
  return dir ? dir : ".";
}

// The worker's metrics port, from its start-up line "serving metrics on HOST:PORT (port N)".
uint16_t WorkerMetricsPort(SluiceProcess& worker) {
  std::smatch m;
  std::string log = worker.Log();
  if (!std::regex_search(log, m, std::regex("serving metrics on \\S+ \\(port ([0-9]+)\\)"))) {
    return 0;
  }
  return static_cast<uint16_t>(std::stoi(m[1]));
}

// The value of the sample `series` (name and labels exactly as rendered), or -1 if absent.
double Sample(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + series.size() + 1));
    at += series.size();
  }
  return -1;
}

void ExpectPromtoolAccepts(const std::string& text) {
  ASSERT_TRUE(PromtoolOnPath())
      << "promtool is not on PATH; run scripts/install-deps.sh (Debian package prometheus)";
  std::string said;
  EXPECT_EQ(PromtoolCheck(text, &said), 0) << said << "\n" << text;
}

TEST(Metrics, GatewayAndWorkerCountATriggeredJobAndPassPromtool) {
  Deployment d("  - {name: hello, type: periodic, command: [sh, -c, 'echo hello']}\n");
  SluiceProcess& gateway = d.StartGateway();
  SluiceProcess& worker = d.StartWorker();
  HttpClient http;
  std::string id = TriggerPeriodic(http, gateway, "hello");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(WaitForEnd(http, gateway, id), "SUCCESS") << worker.Log();

  uint16_t port = WorkerMetricsPort(worker);
  ASSERT_NE(port, 0) << worker.Log();
  std::string worker_url = "http://127.0.0.1:" + std::to_string(port);
  HttpResponse w;
  // The worker counts the end once Kafka acknowledged it, which the gateway may show first.
  bool counted = WaitFor([&] {
    w = http.Request("GET", worker_url + "/metrics");
    return Sample(w.body, "sluice_jobs_finished_total{job=\"hello\",status=\"SUCCESS\"}") == 1;
  });
  EXPECT_TRUE(counted) << w.body;
  EXPECT_EQ(w.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(Sample(w.body, "sluice_jobs_started_total{job=\"hello\"}"), 1) << w.body;
  EXPECT_EQ(Sample(w.body, "sluice_job_duration_seconds_count{job=\"hello\"}"), 1) << w.body;
  EXPECT_EQ(Sample(w.body, "sluice_job_start_delay_seconds_count"), 1) << w.body;
  EXPECT_GE(Sample(w.body, "sluice_worker_slots{state=\"free\"}"), 1) << w.body;
  EXPECT_EQ(Sample(w.body, "sluice_worker_fenced_total"), 0) << w.body;
  ExpectPromtoolAccepts(w.body);

  // The worker's listener serves nothing else.
  HttpResponse other = http.Request("GET", worker_url + "/v1/executions");
  EXPECT_EQ(other.status, 404) << other.body;
  EXPECT_NE(other.body.find("\"code\":5"), std::string::npos) << other.body;
  HttpResponse post = http.Request("POST", worker_url + "/metrics", {}, "", true);
  EXPECT_EQ(post.status, 405) << post.body;

  HttpResponse g = http.Request("GET", gateway.url() + "/metrics");
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_EQ(g.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(Sample(g.body,
                   "sluice_http_requests_total{route=\"/v1/executions\",method=\"POST\",code="
                   "\"200\"}"),
            1)
      << g.body;
  EXPECT_GE(
      Sample(g.body, "sluice_http_request_duration_seconds_count{route=\"/v1/executions/{id}\"}"),
      1)
      << "the status polls, labelled by route template, never by id\n"
      << g.body;
  EXPECT_EQ(g.body.find(id), std::string::npos) << "no execution id in any label";
  EXPECT_GE(Sample(g.body, "sluice_status_view_records"), 1) << g.body;
  EXPECT_EQ(Sample(g.body, "sluice_triggers_in_flight"), 0) << g.body;
  EXPECT_NE(g.body.find("sluice_kafka_produce_duration_seconds_count{topic=\""), std::string::npos)
      << g.body;
  EXPECT_NE(g.body.find("\nsluice_build_info{version=\""), std::string::npos) << g.body;
  EXPECT_NE(g.body.find("\nprocess_start_time_seconds "), std::string::npos) << g.body;
  EXPECT_EQ(g.body.find("sluice_jobs_started_total{"), std::string::npos)
      << "a gateway has no jobs";
  ExpectPromtoolAccepts(g.body);
}

TEST(Metrics, DevServesTheGatewaysAndTheWorkersMetricsOnItsOnePort) {
  TempDir dir;
  std::string listen = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  setenv("SLUICE_DEV_TOKEN", "dev-token", 1);
  SluiceProcess dev("dev", SourceDir() + "/config/dev.yaml", dir.path(),
                    {"--listen", listen, "--data-dir", dir.path() + "/data"});
  ASSERT_TRUE(dev.Start()) << dev.Log();
  std::string url = "http://" + listen;
  HttpClient http;
  HttpResponse created =
      http.Post(url + "/v1/executions", "dev-token",
                "{\"job_name\": \"periodic-to-trigger\", \"job_execution_type\": \"1\"}");
  ASSERT_EQ(created.status, 200) << created.body;
  std::string id = created.Json()["id"].GetString();
  HttpResponse m;
  bool counted = WaitFor([&] {
    m = http.Request("GET", url + "/metrics");
    return Sample(m.body,
                  "sluice_jobs_finished_total{job=\"periodic-to-trigger\",status=\"SUCCESS\"}") ==
           1;
  });
  EXPECT_TRUE(counted) << m.body << dev.Log();
  EXPECT_EQ(Sample(m.body,
                   "sluice_http_requests_total{route=\"/v1/executions\",method=\"POST\",code="
                   "\"200\"}"),
            1)
      << m.body;
  EXPECT_NE(m.body.find("\nsluice_status_view_records "), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("\nsluice_jobs_running "), std::string::npos) << m.body;
  EXPECT_EQ(dev.Log().find("serving metrics on"), std::string::npos) << "dev opens no second port";
  ExpectPromtoolAccepts(m.body);
  EXPECT_EQ(dev.Terminate(), 0) << dev.Log();
}

}  // namespace
}  // namespace sluice::testing
