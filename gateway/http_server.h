#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/status.h"
#include "gateway/gateway_service.h"

namespace Pistache::Http {
class Endpoint;
}

namespace sluice {

struct ReactorGate;

// The Pistache adapter: turns HTTP requests into ApiRequests for the GatewayService and its
// ApiReplies back into HTTP. It is the only code that knows Pistache.
class HttpServer {
 public:
  // `webhook_body_bytes`: the largest webhook body allowed (webhooks.*.max_body_bytes), which
  // may exceed gateway.max_body_bytes.
  HttpServer(const GatewayConfig& config, std::shared_ptr<GatewayService> service,
             size_t webhook_body_bytes = 0);
  ~HttpServer();
  // Binds gateway.listen (port 0 picks a free port) and serves on background threads.
  Status Start();
  void Stop();
  uint16_t port() const;

 private:
  GatewayConfig config_;
  size_t webhook_body_bytes_;
  std::shared_ptr<GatewayService> service_;
  std::shared_ptr<ReactorGate> gate_;
  std::unique_ptr<Pistache::Http::Endpoint> endpoint_;
};

// "host:port" or "[v6]:port".
StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& listen);

}  // namespace sluice
