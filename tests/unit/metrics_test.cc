#include "common/metrics.h"

#include <gtest/gtest.h>

#include <string>

#include "common/kafka_metrics.h"
#include "gateway/gateway_metrics.h"
#include "gateway/rate_limiter.h"
#include "tests/promtool_check.h"
#include "tests/unit/fakes.h"

namespace sluice::metrics {
namespace {

TEST(Metrics, CounterRendersHelpTypeAndOneSamplePerLabelSet) {
  Registry r;
  auto& c = r.AddCounter("t_requests_total", "Requests.", {"route", "code"});
  c.With({"/v1/executions", "200"}).Inc();
  c.With({"/v1/executions", "200"}).Inc(2);
  c.With({"/healthz", "200"}).Inc();
  EXPECT_EQ(r.Render(),
            "# HELP t_requests_total Requests.\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{route=\"/healthz\",code=\"200\"} 1\n"
            "t_requests_total{route=\"/v1/executions\",code=\"200\"} 3\n");
}

TEST(Metrics, CounterIgnoresNegativeIncrements) {
  Registry r;
  auto& c = r.AddCounter("t_total", "T.").Get();
  c.Inc(-5);
  EXPECT_EQ(c.Value(), 0);
}

TEST(Metrics, GaugeWithoutLabelsHasNoBraces) {
  Registry r;
  auto& g = r.AddGauge("t_in_flight", "In flight.").Get();
  g.Inc();
  g.Inc();
  g.Dec();
  g.Set(g.Value() + 0.5);
  EXPECT_EQ(r.Render(),
            "# HELP t_in_flight In flight.\n"
            "# TYPE t_in_flight gauge\n"
            "t_in_flight 1.5\n");
}

TEST(Metrics, LabelValuesAreEscaped) {
  Registry r;
  r.AddGauge("t_g", "G.", {"v"}).With({"a\\b\"c\nd"}).Set(1);
  EXPECT_EQ(r.Render(),
            "# HELP t_g G.\n"
            "# TYPE t_g gauge\n"
            "t_g{v=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(Metrics, HelpEscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ(EscapeHelp("a \"q\" \\ b\nc"), "a \"q\" \\\\ b\\nc");
  EXPECT_EQ(EscapeLabelValue("plain /v1/{id}"), "plain /v1/{id}");
}

TEST(Metrics, ValuesUseTheFormatsSpellings) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(1e21), "1e+21");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatValue(0.0 / 0.0), "NaN");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumCountAndInf) {
  Registry r;
  auto& h = r.AddHistogram("t_seconds", "Durations.", {"route"}, {0.1, 1, 10});
  auto& child = h.With({"/a"});
  child.Observe(0.05);
  child.Observe(0.1);  // on a bound: counted in that bucket (le means <=)
  child.Observe(0.5);
  child.Observe(20);
  EXPECT_EQ(r.Render(),
            "# HELP t_seconds Durations.\n"
            "# TYPE t_seconds histogram\n"
            "t_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n"
            "t_seconds_bucket{route=\"/a\",le=\"1\"} 3\n"
            "t_seconds_bucket{route=\"/a\",le=\"10\"} 3\n"
            "t_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
            "t_seconds_sum{route=\"/a\"} 20.65\n"
            "t_seconds_count{route=\"/a\"} 4\n");
}

TEST(Metrics, HistogramWithoutLabelsPutsOnlyLeInBraces) {
  Registry r;
  r.AddHistogram("t_delay_seconds", "Delay.", {}, {1}).Get().Observe(3);
  EXPECT_EQ(r.Render(),
            "# HELP t_delay_seconds Delay.\n"
            "# TYPE t_delay_seconds histogram\n"
            "t_delay_seconds_bucket{le=\"1\"} 0\n"
            "t_delay_seconds_bucket{le=\"+Inf\"} 1\n"
            "t_delay_seconds_sum 3\n"
            "t_delay_seconds_count 1\n");
}

TEST(Metrics, FamiliesAreSortedByNameAndEmptyFamiliesShowHelpAndTypeOnly) {
  Registry r;
  r.AddCounter("t_b_total", "B.", {"x"});
  r.AddGauge("t_a", "A.").Get().Set(2);
  EXPECT_EQ(r.Render(),
            "# HELP t_a A.\n"
            "# TYPE t_a gauge\n"
            "t_a 2\n"
            "# HELP t_b_total B.\n"
            "# TYPE t_b_total counter\n");
}

TEST(Metrics, AddingAFamilyAgainGivesTheSameOne) {
  Registry r;
  auto& a = r.AddCounter("t_total", "T.", {"x"});
  auto& b = r.AddCounter("t_total", "T.", {"x"});
  EXPECT_EQ(&a, &b);
  a.With({"1"}).Inc();
  EXPECT_EQ(b.With({"1"}).Value(), 1);
}

TEST(Metrics, ChildrenPastTheCapAreCountedAsOther) {
  Registry r;
  auto& c = r.AddCounter("t_total", "T.", {"a", "b"});
  for (size_t i = 0; i < kMaxChildren; ++i) c.With({std::to_string(i), "x"}).Inc();
  EXPECT_EQ(c.size(), kMaxChildren);
  c.With({"new-1", "x"}).Inc();
  c.With({"new-2", "y"}).Inc();
  EXPECT_EQ(c.size(), kMaxChildren + 1);  // the one overflow child
  EXPECT_EQ(c.With({"0", "x"}).Value(), 1) << "existing children are still found";
  std::string text = r.Render();
  EXPECT_NE(text.find("t_total{a=\"other\",b=\"other\"} 2\n"), std::string::npos);
  EXPECT_EQ(text.find("new-1"), std::string::npos);
}

TEST(Metrics, RemovedChildrenLeaveTheOutputButStayValid) {
  Registry r;
  auto& g = r.AddGauge("t_lag", "Lag.", {"partition"});
  Gauge& kept = g.With({"0"});
  g.With({"1"}).Set(1);
  g.Remove({"0"});
  kept.Set(5);  // a reference taken before the removal
  EXPECT_EQ(r.Render(), "# HELP t_lag Lag.\n# TYPE t_lag gauge\nt_lag{partition=\"1\"} 1\n");
}

TEST(Metrics, CollectHooksRunBeforeRenderingUntilTheirHandleGoes) {
  Registry r;
  auto& g = r.AddGauge("t_size", "Size.").Get();
  int calls = 0;
  {
    Registry::Hook hook = r.OnCollect([&] { g.Set(++calls); });
    EXPECT_NE(r.Render().find("t_size 1\n"), std::string::npos);
  }
  r.Render();
  EXPECT_EQ(calls, 1);
}

TEST(Metrics, BuildInfoAndStartTime) {
  Registry r;
  RegisterProcessMetrics(r);
  RegisterProcessMetrics(r);
  std::string text = r.Render();
  EXPECT_NE(text.find("sluice_build_info{version=\"0.1.0\",librdkafka=\""), std::string::npos)
      << text;
  EXPECT_EQ(text.find("sluice_build_info{", text.find("sluice_build_info{") + 1), std::string::npos)
      << "one build_info sample: " << text;
  EXPECT_NE(text.find("\nprocess_start_time_seconds 1"), std::string::npos) << text;
}

TEST(KafkaStatistics, BrokerRttQueueDepthAndConsumerLag) {
  Registry r;
  // The parts of librdkafka's statistics (STATISTICS.md) that Sluice reads.
  std::string consumer = R"({"name": "rdkafka#consumer-9", "type": "consumer", "msg_cnt": 0,
    "brokers": {
      "GroupCoordinator": {"name": "GroupCoordinator", "nodeid": -1, "rtt": {"avg": 7, "p99": 9}},
      "127.0.0.1:9092/1": {"name": "127.0.0.1:9092/1", "nodeid": 1,
                           "rtt": {"avg": 1500, "p99": 25000}}},
    "topics": {"sluice.requests": {"partitions": {
      "0": {"partition": 0, "consumer_lag": 9, "consumer_lag_stored": 4},
      "1": {"partition": 1, "consumer_lag": -1},
      "-1": {"partition": -1, "consumer_lag": -1}}}}})";
  ASSERT_TRUE(RecordKafkaStatistics(consumer, r));
  std::string text = r.Render();
  EXPECT_NE(text.find("sluice_kafka_broker_rtt_seconds{kafka_client=\"rdkafka#consumer-9\","
                      "broker=\"127.0.0.1:9092/1\"} 0.0015\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_kafka_broker_rtt_p99_seconds{kafka_client=\"rdkafka#consumer-9\","
                      "broker=\"127.0.0.1:9092/1\"} 0.025\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("GroupCoordinator"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_consumer_lag_records{topic=\"sluice.requests\",partition=\"0\"} 4\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("partition=\"1\""), std::string::npos) << "unknown lag is not reported";

  // Partition 0 revoked, 1 assigned: 0 leaves the output.
  std::string later = R"({"name": "rdkafka#consumer-9", "type": "consumer",
    "topics": {"sluice.requests": {"partitions": {
      "0": {"partition": 0, "consumer_lag": -1},
      "1": {"partition": 1, "consumer_lag": 2}}}}})";
  ASSERT_TRUE(RecordKafkaStatistics(later, r));
  text = r.Render();
  EXPECT_EQ(text.find("partition=\"0\""), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_consumer_lag_records{topic=\"sluice.requests\",partition=\"1\"} 2\n"),
            std::string::npos)
      << text;

  std::string producer = R"({"name": "rdkafka#producer-3", "type": "producer", "msg_cnt": 17})";
  ASSERT_TRUE(RecordKafkaStatistics(producer, r));
  EXPECT_NE(r.Render().find(
                "sluice_kafka_producer_queue_messages{kafka_client=\"rdkafka#producer-3\"} 17\n"),
            std::string::npos);
  EXPECT_FALSE(RecordKafkaStatistics("not json", r));
  EXPECT_FALSE(RecordKafkaStatistics("[1]", r));
}

using sluice::testing::PromtoolCheck;
using sluice::testing::PromtoolOnPath;

TEST(Metrics, PromtoolAcceptsWhatTheRegistryRenders) {
  // scripts/install-deps.sh installs promtool (Debian's prometheus): missing is a failure.
  ASSERT_TRUE(PromtoolOnPath())
      << "promtool is not on PATH; run scripts/install-deps.sh (Debian package prometheus)";
  Registry r;
  RegisterProcessMetrics(r);
  r.AddCounter("sluice_t_requests_total", "Requests, \"quoted\" and \\ escaped.",
               {"route", "method", "code"})
      .With({"/v1/executions/{id}", "GET", "200"})
      .Inc();
  r.AddGauge("sluice_t_value", "A value with a label needing escapes.", {"v"})
      .With({"a\"b\\c\nd"})
      .Set(-1.5);
  auto& h = r.AddHistogram("sluice_t_duration_seconds", "Durations.", {"route"}, LatencyBuckets());
  h.With({"unmatched"}).Observe(0.003);
  h.With({"/v1/executions"}).Observe(12);
  r.AddHistogram("sluice_t_delay_seconds", "Delays.", {}, JobDurationBuckets()).Get().Observe(1);
  r.AddCounter("sluice_t_empty_total", "No samples yet.", {"x"});
  std::string said;
  EXPECT_EQ(PromtoolCheck(r.Render(), &said), 0) << said << "\n" << r.Render();
}

TEST(GatewayMetrics, RefusalsOfARateLimitAreCountedByClientName) {
  ManualClock clock;
  RateLimiter limiter(clock);
  Counter& refused = GatewayMetrics::Get().rate_limited.With({"metrics-test-client"});
  double before = refused.Value();
  RateLimit one_per_second{1, 1};
  EXPECT_EQ(limiter.TryAcquire("metrics-test-client", one_per_second), 0);
  EXPECT_GT(limiter.TryAcquire("metrics-test-client", one_per_second), 0);
  EXPECT_GT(limiter.TryAcquire("metrics-test-client", one_per_second), 0);
  EXPECT_EQ(refused.Value() - before, 2);
}

TEST(Metrics, PromtoolAcceptsTheGatewaysFamilies) {
  ASSERT_TRUE(PromtoolOnPath())
      << "promtool is not on PATH; run scripts/install-deps.sh (Debian package prometheus)";
  RecordHttpAnswer("/v1/executions", "POST", 200, 0.01);
  RecordHttpAnswer("unmatched", "BREW", 404, 0.0);
  GatewayMetrics::Get().rate_limited.With({"alice"}).Inc();
  std::string text = MetricsReply(DefaultRegistry()).body;
  EXPECT_NE(
      text.find("sluice_http_requests_total{route=\"unmatched\",method=\"other\",code=\"404\"} "
                "1\n"),
      std::string::npos)
      << text;
  std::string said;
  EXPECT_EQ(PromtoolCheck(text, &said), 0) << said << "\n" << text;
}

}  // namespace
}  // namespace sluice::metrics
