#include "gateway/http_server.h"

#include <pistache/listener.h>
#include <pistache/peer.h>
#include <pistache/tcp.h>
#include <pistache/transport.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/log.h"
#include "gateway/http_connection.h"

namespace sluice {
namespace {

using namespace Pistache;  // NOLINT: confined to this adapter

constexpr auto kTick = std::chrono::milliseconds(250);

MonoTime Now() { return std::chrono::steady_clock::now(); }

// Replies made on other threads (a Kafka delivery, a deadline, a verification pool), on their
// way to the reactor thread of their connection. An eventfd wakes the reactor: no polling timer.
struct ReplyMailbox {
  struct Letter {
    uint64_t connection;
    uint64_t seq;
    ApiReply reply;
    // A piece of a streamed answer rather than a reply: its bytes, and whether it ends it.
    bool stream = false;
    std::string bytes;
    bool end = false;
  };

  ReplyMailbox() : event_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~ReplyMailbox() {
    if (event_fd >= 0) close(event_fd);
  }

  void Post(Letter letter) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!open) return;  // the server stopped: nobody is left to answer
      letters.push_back(std::move(letter));
      if (letters.size() > 1) return;  // already signalled
    }
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(event_fd, &one, sizeof one);
  }

  std::vector<Letter> Take() {
    uint64_t count;
    [[maybe_unused]] ssize_t n = read(event_fd, &count, sizeof count);
    std::vector<Letter> taken;
    std::lock_guard<std::mutex> lock(mutex);
    taken.swap(letters);
    return taken;
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mutex);
    open = false;
    letters.clear();
  }

  // Wakes the reactor for one more turn.
  void Wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(event_fd, &one, sizeof one);
  }

  bool IsOpen() {
    std::lock_guard<std::mutex> lock(mutex);
    return open;
  }

  std::mutex mutex;
  bool open = true;
  std::vector<Letter> letters;
  const int event_fd;
};

}  // namespace

// What every reactor of one server shares.
struct HttpServerState {
  HttpConnectionSettings settings;
  HttpApp app;
  int max_connections = 1024;
  // Large bodies being received, across all connections (HttpApp::reserve_body).
  std::atomic<size_t> body_bytes{0};
  size_t body_budget = 0;
  std::atomic<int> connections{0};
  std::atomic<uint64_t> next_connection{1};
  std::mutex mailboxes_mutex;
  std::vector<std::shared_ptr<ReplyMailbox>> mailboxes;
};

namespace {

class HttpTransport;

// Pistache's Tcp::Handler: the transport calls it with a connection's bytes; it hands them to the
// HttpTransport of the same reactor, which owns the connections.
class ByteHandler final : public Tcp::Handler {
 public:
  std::shared_ptr<Tcp::Handler> clone() const override { return std::make_shared<ByteHandler>(); }
  void onInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) override;
  void onConnection(const std::shared_ptr<Tcp::Peer>& peer) override;
  void onDisconnection(const std::shared_ptr<Tcp::Peer>& peer) override;
};

// One reactor thread's transport: Pistache reads the sockets and runs the loop; everything about
// HTTP is the HttpConnection's. Extends Pistache's transport with a mailbox for replies made on
// other threads and a tick for timeouts. Writes go straight to the socket on this thread, so a
// reply can never reach a descriptor that was closed and reused by another connection.
class HttpTransport final : public Tcp::Transport {
 public:
  HttpTransport(const std::shared_ptr<Tcp::Handler>& handler,
                std::shared_ptr<HttpServerState> state)
      : Tcp::Transport(handler),
        handler_(handler),
        state_(std::move(state)),
        mailbox_(std::make_shared<ReplyMailbox>()) {
    std::lock_guard<std::mutex> lock(state_->mailboxes_mutex);
    state_->mailboxes.push_back(mailbox_);
  }

  ~HttpTransport() override {
    if (timer_fd_ >= 0) close(timer_fd_);
  }

  std::shared_ptr<Aio::Handler> clone() const override {
    return std::make_shared<HttpTransport>(handler_->clone(), state_);
  }

  void registerPoller(Polling::Epoll& poller) override {
    Tcp::Transport::registerPoller(poller);
    poller.addFd(mailbox_->event_fd, Flags<Polling::NotifyOn>(Polling::NotifyOn::Read),
                 Polling::Tag(mailbox_->event_fd));
    timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec spec{};
    spec.it_interval.tv_nsec = std::chrono::nanoseconds(kTick).count();
    spec.it_value = spec.it_interval;
    timerfd_settime(timer_fd_, 0, &spec, nullptr);
    poller.addFd(timer_fd_, Flags<Polling::NotifyOn>(Polling::NotifyOn::Read),
                 Polling::Tag(timer_fd_));
  }

  void onReady(const Aio::FdSet& fds) override {
    ++turn_;
    std::vector<uint64_t> resume;
    resume.swap(deferred_);
    std::vector<Polling::Event> for_pistache;
    bool mail = false;
    bool tick = false;
    for (const auto& entry : fds) {
      uint64_t tag = entry.getTag().value();
      if (tag == static_cast<uint64_t>(mailbox_->event_fd)) {
        mail = true;
        continue;
      }
      if (tag == static_cast<uint64_t>(timer_fd_)) {
        tick = true;
        continue;
      }
      auto it = connections_.find(static_cast<int>(tag));
      if (entry.isWritable() && it != connections_.end()) {
        it->second->http.OnWritable(Now());
        NoteDeferred(*it->second);
      }
      // Pistache's own writer is never used, so it must not see writability.
      Polling::Event event(entry.getTag());
      if (entry.isReadable()) event.flags.setFlag(Polling::NotifyOn::Read);
      if (entry.isHangup()) event.flags.setFlag(Polling::NotifyOn::Hangup);
      if (entry.isReadable() || entry.isHangup() || it == connections_.end()) {
        if (!entry.isReadable() && !entry.isHangup()) continue;
        for_pistache.push_back(std::move(event));
      }
    }
    if (!for_pistache.empty()) Tcp::Transport::onReady(Aio::FdSet(std::move(for_pistache)));
    if (mail) {
      MonoTime now = Now();
      for (auto& letter : mailbox_->Take()) {
        Connection* c = FindBySerial(letter.connection);
        if (!c) continue;
        if (letter.stream) {
          c->http.OnStreamData(letter.seq, std::move(letter.bytes), letter.end, now);
        } else {
          c->http.OnReply(letter.seq, std::move(letter.reply), now);
        }
        NoteDeferred(*c);
      }
    }
    // Connections that used their share of the last turn go on now, after the others.
    for (uint64_t serial : resume) {
      Connection* c = FindBySerial(serial);
      if (!c) continue;
      c->deferred = false;
      c->http.Resume(Now());
      NoteDeferred(*c);
    }
    // Make sure there is a next turn for what is still deferred, even if no socket stirs.
    if (!deferred_.empty()) mailbox_->Wake();
    if (tick) {
      uint64_t expirations;
      [[maybe_unused]] ssize_t n = read(timer_fd_, &expirations, sizeof expirations);
      MonoTime now = Now();
      for (auto& [fd, c] : connections_) c->http.OnTick(now);
    }
  }

  void OnConnection(const std::shared_ptr<Tcp::Peer>& peer) {
    int fd = peer->fd();
    uint64_t serial = state_->next_connection.fetch_add(1);
    auto c = std::make_unique<Connection>(this, fd, serial);
    c->http.SetTurnCounter(&turn_);
    std::shared_ptr<ReplyMailbox> mailbox = mailbox_;
    c->http.SetStreamSink([mailbox, serial](uint64_t seq) -> ReplyStream::Sink {
      // Always through the mailbox, even from this thread: a stream's producer never calls into
      // its connection.
      return [mailbox, serial, seq](std::string bytes, bool end) {
        mailbox->Post({serial, seq, {}, true, std::move(bytes), end});
      };
    });
    Connection* raw = c.get();
    connections_[fd] = std::move(c);
    serials_[serial] = fd;
    int open = state_->connections.fetch_add(1) + 1;
    if (open > state_->max_connections) {
      raw->http.Refuse(Unavailable("the gateway has " + std::to_string(state_->max_connections) +
                                   " connections open, its limit; retry shortly")
                           .WithRetryAfter(1),
                       Now());
    }
  }

  void OnDisconnection(const std::shared_ptr<Tcp::Peer>& peer) {
    auto it = connections_.find(peer->fd());
    if (it == connections_.end()) return;
    serials_.erase(it->second->serial);
    connections_.erase(it);
    state_->connections.fetch_sub(1);
  }

  void OnInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) {
    auto it = connections_.find(peer->fd());
    if (it == connections_.end()) return;
    it->second->http.OnInput(std::string_view(buffer, len), Now());
    NoteDeferred(*it->second);
  }

 private:
  // HttpSocket over the connection's descriptor, on this reactor thread.
  struct PeerSocket final : HttpSocket {
    PeerSocket(HttpTransport* transport, int fd) : transport(transport), fd(fd) {}
    ssize_t Send(std::string_view bytes) override {
      ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n >= 0) return n;
      return errno == EAGAIN || errno == EWOULDBLOCK ? kWouldBlock : kBroken;
    }
    void WantWritable(bool on) override {
      writable = on;
      Apply();
    }
    void WantReadable(bool on) override {
      readable = on;
      Apply();
    }
    void ShutdownWrite() override { ::shutdown(fd, SHUT_WR); }
    void Close() override {
      // The transport closes a descriptor once it reads its end: make sure it will, and that the
      // close resets the connection. A plain close would leave the kernel holding an orphaned
      // socket with a shut receive window for as long as the client keeps probing it.
      readable = true;
      writable = false;
      Apply();
      linger reset{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      ::shutdown(fd, SHUT_RD);
    }
    void Apply() {
      auto interest = Polling::NotifyOn::Shutdown;
      if (readable) interest = interest | Polling::NotifyOn::Read;
      if (writable) interest = interest | Polling::NotifyOn::Write;
      try {
        transport->reactor()->modifyFd(transport->key(), fd, interest, Polling::Mode::Edge);
      } catch (const std::exception& e) {
        LogWarn("http",
                std::string("cannot change a connection's readiness interest: ") + e.what());
      }
    }
    HttpTransport* transport;
    int fd;
    bool readable = true;
    bool writable = false;
  };

  struct Connection {
    Connection(HttpTransport* transport, int fd, uint64_t serial)
        : serial(serial),
          socket(transport, fd),
          http(
              transport->state_->settings, transport->state_->app, socket,
              [transport, serial](uint64_t seq) { return transport->MakeReply(serial, seq); },
              Now()) {}
    uint64_t serial;
    PeerSocket socket;
    HttpConnection http;
    bool deferred = false;  // listed in deferred_
  };

  void NoteDeferred(Connection& c) {
    if (c.deferred || !c.http.HasDeferredWork()) return;
    c.deferred = true;
    deferred_.push_back(c.serial);
  }

  // The ReplyFn of one request: straight to the connection when called on this reactor thread
  // (a synchronous answer), else through the mailbox.
  ReplyFn MakeReply(uint64_t serial, uint64_t seq) {
    std::shared_ptr<ReplyMailbox> mailbox = mailbox_;
    std::thread::id reactor = std::this_thread::get_id();
    auto once = std::make_shared<std::atomic<bool>>(false);
    return [this, mailbox, reactor, serial, seq, once](ApiReply reply) {
      if (once->exchange(true)) return;
      // On the reactor thread (a synchronous answer) while the server runs: straight to the
      // connection. A stopped server's reactor threads are gone, and their ids may be reused.
      if (std::this_thread::get_id() == reactor && mailbox->IsOpen()) {
        if (Connection* c = FindBySerial(serial)) c->http.OnReply(seq, std::move(reply), Now());
        return;
      }
      mailbox->Post({serial, seq, std::move(reply), false, {}, false});
    };
  }

  Connection* FindBySerial(uint64_t serial) {
    auto s = serials_.find(serial);
    if (s == serials_.end()) return nullptr;
    auto c = connections_.find(s->second);
    return c == connections_.end() ? nullptr : c->second.get();
  }

  std::shared_ptr<Tcp::Handler> handler_;
  std::shared_ptr<HttpServerState> state_;
  std::shared_ptr<ReplyMailbox> mailbox_;
  int timer_fd_ = -1;
  uint64_t turn_ = 0;               // onReady calls so far: a connection's share is per turn
  std::vector<uint64_t> deferred_;  // serials of connections to resume next turn
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::unordered_map<uint64_t, int> serials_;
};

HttpTransport& TransportOf(Tcp::Transport* transport) {
  return static_cast<HttpTransport&>(*transport);
}

void ByteHandler::onInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) {
  TransportOf(transport()).OnInput(buffer, len, peer);
}
void ByteHandler::onConnection(const std::shared_ptr<Tcp::Peer>& peer) {
  TransportOf(transport()).OnConnection(peer);
}
void ByteHandler::onDisconnection(const std::shared_ptr<Tcp::Peer>& peer) {
  TransportOf(transport()).OnDisconnection(peer);
}

// A slow client costs a descriptor: let the process have as many as the system allows.
void RaiseDescriptorLimit(int max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur < static_cast<rlim_t>(max_connections) + 256) {
    LogWarn("http", "the descriptor limit (" + std::to_string(limit.rlim_cur) +
                        ") is close to gateway.max_connections (" +
                        std::to_string(max_connections) + "); raise it (ulimit -n)");
  }
}

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
    : config_(config), webhook_body_bytes_(webhook_body_bytes), app_(AppOf(std::move(service))) {}

HttpServer::HttpServer(const GatewayConfig& config, HttpApp app)
    : config_(config), webhook_body_bytes_(0), app_(std::move(app)) {}

HttpApp HttpServer::AppOf(std::shared_ptr<GatewayService> service) {
  HttpApp app;
  app.max_body_bytes = [service](std::string_view path) { return service->MaxBodyBytes(path); };
  app.admit = [service](const ApiRequest& head) { return service->Admit(head); };
  app.handle = [service](ApiRequest request, ReplyFn reply) {
    service->Handle(request, std::move(reply));
  };
  app.route_of = [service](std::string_view method, std::string_view path) {
    return std::string(service->router().Template(method, path));
  };
  return app;
}

HttpServer::~HttpServer() { Stop(); }

HttpConnectionSettings HttpServer::Settings(const GatewayConfig& config) {
  HttpConnectionSettings settings;
  settings.header_timeout = config.header_timeout;
  settings.body_timeout = config.body_timeout;
  settings.idle_timeout = config.idle_timeout;
  settings.max_read_ahead = std::max<size_t>(config.max_body_bytes, 64 * 1024) + 128 * 1024;
  return settings;
}

Status HttpServer::Start() {
  auto hp = SplitHostPort(config_.listen);
  if (!hp.ok()) return hp.status();
  state_ = std::make_shared<HttpServerState>();
  state_->settings = Settings(config_);
  state_->max_connections = config_.max_connections;
  state_->app = app_;
  // Room for eight of the largest bodies at once (200 MiB with GitHub's 25 MiB), at least 64 MiB.
  state_->body_budget =
      std::max<size_t>(8 * std::max(config_.max_body_bytes, webhook_body_bytes_), 64 * 1024 * 1024);
  HttpServerState* state = state_.get();
  state_->app.reserve_body = [state](size_t n) {
    size_t held = state->body_bytes.fetch_add(n) + n;
    if (held <= state->body_budget) return true;
    state->body_bytes.fetch_sub(n);
    return false;
  };
  state_->app.release_body = [state](size_t n) { state->body_bytes.fetch_sub(n); };
  RaiseDescriptorLimit(config_.max_connections);
  try {
    Address address(hp->first, Port(hp->second));
    listener_ = std::make_unique<Tcp::Listener>(address);
    listener_->init(static_cast<size_t>(config_.threads),
                    Flags<Tcp::Options>(Tcp::Options::ReuseAddr) | Tcp::Options::CloseOnExec,
                    "sluice-http", 1024);
    auto handler = std::make_shared<ByteHandler>();
    listener_->setHandler(handler);
    std::shared_ptr<HttpServerState> shared = state_;
    listener_->setTransportFactory(
        [handler, shared] { return std::make_shared<HttpTransport>(handler, shared); });
    listener_->bind();
    listener_->runThreaded();
  } catch (const std::exception& e) {
    listener_.reset();
    return Unavailable("cannot listen on " + config_.listen + ": " + e.what());
  }
  return Status::Ok();
}

void HttpServer::Stop() {
  if (state_) {
    std::lock_guard<std::mutex> lock(state_->mailboxes_mutex);
    for (auto& mailbox : state_->mailboxes) mailbox->Close();
  }
  if (listener_) {
    listener_->shutdown();
    listener_.reset();
  }
}

uint16_t HttpServer::port() const {
  return listener_ ? static_cast<uint16_t>(static_cast<uint16_t>(listener_->getPort())) : 0;
}

}  // namespace sluice
