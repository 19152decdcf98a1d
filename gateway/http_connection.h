#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "gateway/api.h"
#include "gateway/http_request_parser.h"

namespace sluice {

using MonoTime = std::chrono::steady_clock::time_point;

// What a connection does to its socket. The Pistache adapter implements it over a non-blocking
// descriptor on the connection's reactor thread; unit tests use a fake.
class HttpSocket {
 public:
  virtual ~HttpSocket() = default;
  static constexpr ssize_t kWouldBlock = -1;
  static constexpr ssize_t kBroken = -2;
  // Sends what the kernel takes now: the bytes sent, kWouldBlock, or kBroken.
  virtual ssize_t Send(std::string_view bytes) = 0;
  // Whether to be told when the socket can take more (OnWritable) / has bytes (OnInput).
  virtual void WantWritable(bool on) = 0;
  virtual void WantReadable(bool on) = 0;
  // Half-closes the sending side (the client reads our FIN after the last answer).
  virtual void ShutdownWrite() = 0;
  // Ends the connection: the transport closes the descriptor and drops the connection.
  virtual void Close() = 0;
};

// What a connection serves: the gateway's routes, and the checks it can make on a head alone.
struct HttpApp {
  // The largest body the route of `path` accepts: a declared Content-Length over it is refused
  // before the body is read.
  std::function<size_t(std::string_view path)> max_body_bytes;
  // For `Expect: 100-continue`: whether the client may send its body (authentication and the
  // like, on the head alone). An error is the final answer.
  std::function<Status(const ApiRequest& head)> admit;
  // Answers a request, once, from any thread, through the ReplyFn.
  std::function<void(ApiRequest, ReplyFn)> handle;
  // The route template of a request, a bounded label for the metrics of every answer
  // (sluice_http_requests_total); unset: "unmatched".
  std::function<std::string(std::string_view method, std::string_view path)> route_of;
  // A budget shared by every connection of the server for bodies over 64 KiB while they arrive:
  // `reserve_body(n)` is false when n more bytes would pass it (the client gets 503 and
  // Retry-After); `release_body(n)` gives them back. Unset: no budget.
  std::function<bool(size_t)> reserve_body;
  std::function<void(size_t)> release_body;
};

struct HttpConnectionSettings {
  HttpLimits limits;
  Duration header_timeout = std::chrono::seconds(10);
  Duration body_timeout = std::chrono::seconds(60);
  Duration idle_timeout = std::chrono::seconds(60);
  // After a final answer that closes the connection, the client's further bytes are read and
  // dropped for this long (or this many bytes) before the descriptor is closed, so that the
  // answer is not lost to a reset while the client is still sending.
  Duration linger = std::chrono::seconds(2);
  size_t max_linger_bytes = 1024 * 1024;
  // Bytes of further requests kept while an earlier one is answered: past it the connection
  // stops reading. Past twice it, a client that keeps sending anyway (the transport reads a
  // socket dry) is dropped; while the answer waits on Kafka rather than on the client, only past
  // `max_read_ahead` (room for one whole pipelined request).
  size_t max_buffered_input = 64 * 1024;
  size_t max_read_ahead = 1024 * 1024 + 128 * 1024;
  // Requests one connection may have answered in one turn of its reactor before the others get
  // theirs (with a turn counter set: SetTurnCounter).
  int max_requests_per_turn = 16;
};

// One HTTP/1.1 connection: framing, limits, timeouts and the order of answers. Requests are
// taken one at a time: the next pipelined request is parsed only once the answer to the one
// before has been handed to the socket, so answers go out in order, each exactly once
// (RFC 9112 §9.3.2), and a connection never holds more than one request's worth of memory.
//
// Thread rule: every method runs on the connection's reactor thread. A reply that arrives on
// another thread is brought there by the transport and given to OnReply.
class HttpConnection {
 public:
  // `make_reply(seq)` gives the ReplyFn for the connection's request number `seq`.
  HttpConnection(const HttpConnectionSettings& settings, const HttpApp& app, HttpSocket& socket,
                 std::function<ReplyFn(uint64_t seq)> make_reply, MonoTime now);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // The reactor's turn number: a connection answers at most max_requests_per_turn requests in
  // one turn, then keeps the rest for Resume() in a later turn (HasDeferredWork).
  void SetTurnCounter(const uint64_t* turn) { turn_ = turn; }
  bool HasDeferredWork() const { return deferred_ && !closed_; }
  void Resume(MonoTime now);

  void OnInput(std::string_view bytes, MonoTime now);
  void OnReply(uint64_t seq, ApiReply reply, MonoTime now);
  // A streamed answer (ApiReply::stream) goes out through a ReplyStream whose bytes come back,
  // on this thread, to OnStreamData; `sink(seq)` makes its way back (the transport's mailbox).
  // Without a sink, a streamed answer is sent with an empty body.
  void SetStreamSink(std::function<ReplyStream::Sink(uint64_t seq)> sink) {
    stream_sink_ = std::move(sink);
  }
  void OnStreamData(uint64_t seq, std::string bytes, bool end, MonoTime now);
  void OnWritable(MonoTime now);
  // Enforces the header, body, idle, send and linger timeouts; call about every 250 ms.
  void OnTick(MonoTime now);
  // Answers `status` at once (before any request) and closes: for a connection over the cap.
  void Refuse(const Status& status, MonoTime now);

  bool closed() const { return closed_; }

 private:
  void Pump(MonoTime now);
  void OnHead(MonoTime now);
  void Dispatch(MonoTime now);
  void Answer(ApiReply reply, bool keep_alive, MonoTime now);
  void Fail(const HttpError& error, MonoTime now);
  void Flush(MonoTime now);
  void Abort();
  void UpdateReading();
  void ReleaseBody();
  ApiRequest ToApiRequest(bool with_body);

  HttpConnectionSettings settings_;
  const HttpApp& app_;
  HttpSocket& socket_;
  std::function<ReplyFn(uint64_t)> make_reply_;
  HttpRequestParser parser_;

  std::string input_;  // bytes received and not yet parsed, from input_pos_
  size_t input_pos_ = 0;
  std::string output_;  // bytes not yet taken by the socket, from output_pos_
  size_t output_pos_ = 0;
  bool want_writable_ = false;
  bool reading_ = true;

  uint64_t seq_ = 0;
  bool awaiting_reply_ = false;
  bool dispatching_ = false;  // inside app_.handle: a reply now is kept for after it returns
  bool reply_ready_ = false;
  ApiReply ready_reply_;
  std::string request_id_;
  std::string method_;  // of the request being answered (HEAD gets no body)
  // The metrics of the request being answered: its route, its method, its head's arrival.
  std::string metrics_route_;
  std::string metrics_method_;
  MonoTime metrics_from_{};
  bool request_keep_alive_ = true;
  int version_minor_ = 1;

  const uint64_t* turn_ = nullptr;
  uint64_t turn_seen_ = 0;
  int answered_in_turn_ = 0;
  bool deferred_ = false;
  size_t reserved_body_ = 0;

  std::function<ReplyStream::Sink(uint64_t)> stream_sink_;
  std::shared_ptr<ReplyStream> stream_;  // the answer being streamed, if any
  bool stream_chunked_ = false;
  size_t stream_bytes_ = 0;  // of the stream, queued for the socket so far

  bool close_after_flush_ = false;
  bool lingering_ = false;
  size_t lingered_bytes_ = 0;
  bool closed_ = false;

  MonoTime last_activity_;
  MonoTime request_started_{};
  MonoTime head_done_{};
  MonoTime output_since_{};
  MonoTime linger_since_{};
};

// The reason phrase of a status code ("Not Found").
const char* HttpReason(int status);

// The request id to use: the client's X-Request-Id when it is 1 to 128 printable ASCII
// characters, else a new random one.
std::string RequestIdFor(const std::string* client_value);

// "GET /a?b=1" → path "/a", query {b: 1}; percent-decoded keys and values, first one wins.
// An absolute-form target ("http://host/a") is reduced to its path. False when the target is
// neither.
bool SplitTarget(std::string_view target, std::string* path,
                 std::map<std::string, std::string>* query);

}  // namespace sluice
