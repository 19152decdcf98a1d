#include "gateway/gateway_metrics.h"

#include <array>
#include <string>

namespace sluice {

GatewayMetrics& GatewayMetrics::Get() {
  static GatewayMetrics* m = [] {
    metrics::Registry& r = metrics::DefaultRegistry();
    return new GatewayMetrics{
        r.AddCounter("sluice_http_requests_total",
                     "HTTP answers, by route template (unmatched: no route), method and status.",
                     {"route", "method", "code"}),
        r.AddHistogram("sluice_http_request_duration_seconds",
                       "Time from an HTTP request's head being parsed to its answer, by route "
                       "template.",
                       {"route"}, metrics::LatencyBuckets()),
        r.AddGauge("sluice_triggers_in_flight",
                   "Triggers published to Kafka and not yet acknowledged or timed out.")
            .Get(),
        r.AddCounter("sluice_webhook_deliveries_total",
                     "Git host deliveries whose signature was verified, by host and outcome.",
                     {"host", "outcome"}),
        r.AddCounter("sluice_webhook_signature_failures_total",
                     "Git host deliveries refused for their signature or token, by host and "
                     "reason.",
                     {"host", "reason"}),
        r.AddCounter("sluice_rate_limited_total",
                     "Requests refused with 429 by a client's rate_limit, by client name.",
                     {"client"}),
        r.AddGauge("sluice_status_view_records",
                   "Executions held by this process's status view (the results topic).")
            .Get(),
        r.AddGauge("sluice_status_view_lag_records",
                   "Records of the results topic the status view has not read yet.")
            .Get(),
        r.AddGauge("sluice_status_view_bytes",
                   "Estimated memory of the status view: its slots, id index, create order, "
                   "packed fields and interned strings.")
            .Get(),
    };
  }();
  return *m;
}

std::string_view MethodLabel(std::string_view method) {
  static constexpr std::array<std::string_view, 7> kKnown = {"GET",    "HEAD",  "POST",   "PUT",
                                                             "DELETE", "PATCH", "OPTIONS"};
  for (std::string_view known : kKnown) {
    if (method == known) return known;
  }
  return "other";
}

void RecordHttpAnswer(std::string_view route, std::string_view method, int status, double seconds) {
  GatewayMetrics& m = GatewayMetrics::Get();
  std::string code = std::to_string(status);
  m.http_requests.With({route, MethodLabel(method), code}).Inc();
  m.http_duration.With({route}).Observe(seconds);
}

ApiReply MetricsReply(const metrics::Registry& registry) {
  ApiReply r;
  r.status = 200;
  r.content_type = metrics::kContentType;
  r.body = registry.Render();
  return r;
}

HttpApp MetricsOnlyApp(const metrics::Registry& registry) {
  constexpr std::string_view kPath = "/metrics";
  HttpApp app;
  app.max_body_bytes = [](std::string_view) { return size_t{1024}; };
  app.admit = [](const ApiRequest&) { return Status::Ok(); };
  app.route_of = [kPath](std::string_view method, std::string_view path) {
    return std::string(path == kPath ? kPath : "unmatched");
  };
  app.handle = [&registry, kPath](ApiRequest request, ReplyFn reply) {
    if (request.path != kPath) {
      return reply(ErrorReply(NotFound("no such endpoint: " + EchoValue(request.path) +
                                       "; this listener serves GET /metrics only")));
    }
    if (request.method != "GET" && request.method != "HEAD") {
      ApiReply r =
          ErrorReply(Status(Code::kUnimplemented, "/metrics answers GET only").WithHttpStatus(405));
      r.headers.emplace_back("Allow", "GET");
      return reply(std::move(r));
    }
    reply(MetricsReply(registry));
  };
  return app;
}

}  // namespace sluice
