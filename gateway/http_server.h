#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/status.h"
#include "gateway/gateway_service.h"
#include "gateway/http_connection.h"

namespace Pistache::Tcp {
class Listener;
}

namespace sluice {

struct HttpServerState;

// The gateway's HTTP front door, and the worker's metrics listener. Pistache provides the listener
// and the reactor threads that read the sockets; requests are framed by HttpConnection
// (gateway/http_connection.h) with the limits of the README, and answered in order on the
// connection's reactor thread. It is the only code that knows Pistache.
class HttpServer {
 public:
  // `webhook_body_bytes`: the largest webhook body allowed (webhooks.*.max_body_bytes), which
  // may exceed gateway.max_body_bytes.
  HttpServer(const GatewayConfig& config, std::shared_ptr<GatewayService> service,
             size_t webhook_body_bytes = 0);
  // Serves `app` (its handle, admit and max_body_bytes; the body budget is the server's) with
  // the limits of `config`: a listener of something other than the gateway's API.
  HttpServer(const GatewayConfig& config, HttpApp app);
  ~HttpServer();
  // Binds gateway.listen (port 0 picks a free port) and serves on background threads.
  Status Start();
  void Stop();
  uint16_t port() const;

 private:
  GatewayConfig config_;
  size_t webhook_body_bytes_;
  HttpApp app_;
  static HttpConnectionSettings Settings(const GatewayConfig& config);
  static HttpApp AppOf(std::shared_ptr<GatewayService> service);

  std::shared_ptr<HttpServerState> state_;
  std::unique_ptr<Pistache::Tcp::Listener> listener_;
};

// "host:port" or "[v6]:port".
StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& listen);

}  // namespace sluice
