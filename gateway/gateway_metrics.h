#pragma once

// The gateway's metrics (common/metrics.h), in the process's default registry.

#include <string_view>

#include "common/metrics.h"
#include "gateway/api.h"
#include "gateway/http_connection.h"

namespace sluice {

struct GatewayMetrics {
  // Every HTTP answer, by route template ("/v1/executions/{id}", "unmatched"), method and status.
  metrics::Family<metrics::Counter>& http_requests;
  // From the request's head being parsed to its answer being handed to the connection.
  metrics::Family<metrics::Histogram>& http_duration;
  metrics::Gauge& triggers_in_flight;
  // Verified deliveries by host and outcome ("triggered", "matched no job", "redelivery", ...).
  metrics::Family<metrics::Counter>& webhook_deliveries;
  // Refused deliveries by host and reason ("no_valid_signature", "secret_out_of_scope").
  metrics::Family<metrics::Counter>& webhook_signature_failures;
  // Requests refused by a client's rate_limit, by configured client name.
  metrics::Family<metrics::Counter>& rate_limited;
  metrics::Gauge& status_view_records;
  metrics::Gauge& status_view_lag;
  metrics::Gauge& status_view_bytes;

  // The families, registered in the default registry on first use.
  static GatewayMetrics& Get();
};

// A bounded method label: the usual methods as they are, anything else "other".
std::string_view MethodLabel(std::string_view method);

// One answer of the HTTP server.
void RecordHttpAnswer(std::string_view route, std::string_view method, int status, double seconds);

// The answer to GET /metrics: the registry's exposition text.
ApiReply MetricsReply(const metrics::Registry& registry);

// What the worker's metrics listener (worker.metrics_listen) serves: GET /metrics, a JSON 404
// for any other path and 405 for another method. Bodies are refused (1 KiB at most).
HttpApp MetricsOnlyApp(const metrics::Registry& registry);

}  // namespace sluice
