#include "gateway/http_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/transport.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <shared_mutex>
#include <thread>

#include "common/log.h"
#include "common/url.h"

namespace sluice {
namespace {

using namespace Pistache;  // NOLINT: confined to this adapter

std::string ToUpper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string ToLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

ApiRequest ToApiRequest(const Http::Request& req) {
  ApiRequest r;
  r.method = ToUpper(Http::methodString(req.method()));
  r.path = req.resource();
  for (auto it = req.query().parameters_begin(); it != req.query().parameters_end(); ++it) {
    r.query[PercentDecode(it->first)] = PercentDecode(it->second);
  }
  const auto& headers = req.headers();
  if (auto auth = headers.tryGet<Http::Header::Authorization>()) r.authorization = auth->value();
  if (auto ct = headers.tryGet<Http::Header::ContentType>()) r.content_type = ct->mime().toString();
  if (auto raw = headers.tryGetRaw("Idempotency-Key")) r.idempotency_key = raw->value();
  if (auto raw = headers.tryGetRaw("PRIVATE-TOKEN")) r.private_token = raw->value();
  if (auto raw = headers.tryGetRaw("X-Gitlab-Event")) r.gitlab_event = raw->value();
  for (const auto& [name, raw] : headers.rawList()) r.headers[ToLower(name)] = raw.value();
  if (auto agent = headers.tryGet<Http::Header::UserAgent>())
    r.headers["user-agent"] = agent->agent();
  r.body = req.body();
  return r;
}

// A response header with a name chosen at run time. Pistache 0.0.5 writes only typed headers
// into a response and silently drops raw ones, so Retry-After, WWW-Authenticate and Allow go out
// through this.
class ResponseHeader final : public Http::Header::Header {
 public:
  ResponseHeader(std::string name, std::string value)
      : name_(std::move(name)), value_(std::move(value)) {}
  const char* name() const override { return name_.c_str(); }
#ifdef SAFE_HEADER_CAST
  uint64_t hash() const override { return Http::Header::detail::hash(name_.c_str()); }
#endif
  void parse(const std::string& data) override { value_ = data; }
  void write(std::ostream& os) const override { os << value_; }

 private:
  std::string name_;
  std::string value_;
};

void Send(Http::ResponseWriter& writer, const ApiReply& reply) {
  for (const auto& [name, value] : reply.headers) {
    writer.headers().add(std::make_shared<ResponseHeader>(name, value));
  }
  writer.headers().add<Http::Header::ContentType>(
      Http::Mime::MediaType::fromString(reply.content_type));
  writer.send(static_cast<Http::Code>(reply.status), reply.body)
      .then([](ssize_t) {}, [](std::exception_ptr) {});  // the client may have gone away
}

}  // namespace

// Whether replies may still be handed to the reactors: false once the server stops, so that a
// reply arriving late (a Kafka delivery, a deadline) never touches a transport being destroyed.
struct ReactorGate {
  std::shared_mutex mutex;
  bool open = true;
};

namespace {

// Runs `fn` on the reactor thread that owns `transport`. Pistache 0.0.5 is not safe for a write
// from any other thread: ResponseWriter checks its peer and then locks it (a peer removed in
// between is a null dereference), and a connection closed meanwhile may have its descriptor
// reused by a new connection, which would then receive this reply. On the reactor thread neither
// can happen. The only public way onto that thread is a timer: a 1 ms timerfd armed through the
// transport, whose expiry the reactor resolves on its own thread.
void OnReactor(const std::shared_ptr<ReactorGate>& gate, Tcp::Transport* transport,
               std::thread::id reactor, std::function<void()> fn) {
  int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer < 0) {
    LogError("http", "cannot create a timer to reply on the reactor thread; reply dropped");
    return;
  }
  std::optional<Async::Promise<uint64_t>> armed;
  {
    std::shared_lock lock(gate->mutex);
    if (!gate->open) {
      close(timer);
      return;
    }
    armed.emplace([&](Async::Deferred<uint64_t> deferred) {
      transport->armTimer(timer, std::chrono::milliseconds(1), std::move(deferred));
    });
  }
  Async::Promise<uint64_t>& fired = *armed;
  auto run = [gate, transport, reactor, timer, fn] {
    close(timer);
    // The timer may fire before this continuation is attached, and then it runs here, on the
    // thread that armed it: go round once more.
    if (std::this_thread::get_id() != reactor) return OnReactor(gate, transport, reactor, fn);
    fn();
  };
  fired.then([run](uint64_t) { run(); }, [run](std::exception_ptr) { run(); });
}

class Handler final : public Http::Handler {
 public:
  HTTP_PROTOTYPE(Handler)
  Handler(std::shared_ptr<GatewayService> service, std::shared_ptr<ReactorGate> gate)
      : service_(std::move(service)), gate_(std::move(gate)) {}

  void onRequest(const Http::Request& request, Http::ResponseWriter writer) override {
    KeepAliveByDefault(request, writer);
    // The writer moves into the reply, which may run later on a Kafka delivery or deadline
    // thread; such a reply is handed back to this connection's reactor thread to be sent.
    auto shared_writer = std::make_shared<Http::ResponseWriter>(std::move(writer));
    auto replied = std::make_shared<std::atomic<bool>>(false);
    Tcp::Transport* transport = this->transport();
    std::thread::id reactor = std::this_thread::get_id();
    std::shared_ptr<ReactorGate> gate = gate_;
    ReplyFn reply = [shared_writer, replied, transport, reactor, gate](ApiReply r) {
      if (replied->exchange(true)) return;
      if (std::this_thread::get_id() == reactor) return Send(*shared_writer, r);
      OnReactor(gate, transport, reactor,
                [shared_writer, r = std::move(r)] { Send(*shared_writer, r); });
    };
    try {
      service_->Handle(ToApiRequest(request), reply);
    } catch (const std::exception& e) {
      // Never let Pistache send the exception's text to the client.
      LogError("http", std::string("unexpected fault: ") + e.what());
      reply(ErrorReply(Internal("internal error; the gateway log has the details")));
    } catch (...) {
      LogError("http", "unexpected fault of unknown type");
      reply(ErrorReply(Internal("internal error; the gateway log has the details")));
    }
  }

 private:
  // Pistache 0.0.5 answers "Connection: close" to any request without a Connection header, which
  // makes HTTP/1.1 clients reconnect for every request. HTTP/1.1 is persistent by default, so
  // drop that header unless the client asked for close (or speaks HTTP/1.0 without keep-alive).
  static void KeepAliveByDefault(const Http::Request& request, Http::ResponseWriter& writer) {
    if (request.headers().has<Http::Header::Connection>()) return;
    if (request.version() == Http::Version::Http11) {
      writer.headers().remove<Http::Header::Connection>();
    }
  }

  std::shared_ptr<GatewayService> service_;
  std::shared_ptr<ReactorGate> gate_;
};

}  // namespace

StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& listen) {
  std::string host;
  std::string port;
  if (!listen.empty() && listen[0] == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return InvalidArgument("listen address \"" + listen + "\" is not [IPv6]:PORT");
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
      return InvalidArgument("listen address \"" + listen + "\" is not HOST:PORT");
    }
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return InvalidArgument("listen address \"" + listen + "\" has no valid port");
  }
  return std::make_pair(host, static_cast<uint16_t>(std::stoi(port)));
}

HttpServer::HttpServer(const GatewayConfig& config, std::shared_ptr<GatewayService> service,
                       size_t webhook_body_bytes)
    : config_(config),
      webhook_body_bytes_(webhook_body_bytes),
      service_(std::move(service)),
      gate_(std::make_shared<ReactorGate>()) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  auto hp = SplitHostPort(config_.listen);
  if (!hp.ok()) return hp.status();
  try {
    Address address(hp->first, Port(hp->second));
    endpoint_ = std::make_unique<Http::Endpoint>(address);
    // Pistache refuses a request over maxRequestSize with its own plain-text 413 and then reads
    // the rest of that body as further requests on the connection. Leave generous room above
    // max_body_bytes, so that an oversized body still reaches the handler and gets the JSON 413
    // of the contract with the connection intact; only bodies past this bound (5 MiB for the
    // default 1 MiB limit) meet Pistache's answer. Memory is taken only as a request arrives.
    // Webhooks allow larger bodies (25 MiB by default): twice that is room enough for their 413.
    size_t max_request =
        std::max(config_.max_body_bytes * 4, webhook_body_bytes_ * 2) + 1024 * 1024;
    auto opts = Http::Endpoint::options()
                    .threads(config_.threads)
                    .flags(Tcp::Options::ReuseAddr)
                    .maxRequestSize(max_request)
                    .maxResponseSize(128 * 1024 * 1024);
    endpoint_->init(opts);
    endpoint_->setHandler(Http::make_handler<Handler>(service_, gate_));
    endpoint_->serveThreaded();
  } catch (const std::exception& e) {
    endpoint_.reset();
    return Unavailable("cannot listen on " + config_.listen + ": " + e.what());
  }
  return Status::Ok();
}

void HttpServer::Stop() {
  {
    std::unique_lock lock(gate_->mutex);
    gate_->open = false;
  }
  if (endpoint_) {
    endpoint_->shutdown();
    endpoint_.reset();
  }
}

uint16_t HttpServer::port() const {
  return endpoint_ ? static_cast<uint16_t>(endpoint_->getPort()) : 0;
}

}  // namespace sluice
