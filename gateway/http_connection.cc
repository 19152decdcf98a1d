#include "gateway/http_connection.h"

#include <exception>
#include <random>

#include "common/log.h"
#include "common/url.h"
#include "gateway/gateway_metrics.h"

namespace sluice {
namespace {

constexpr size_t kMaxRequestIdLength = 128;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

Status FramingStatus(const HttpError& error) {
  Code code = Code::kInvalidArgument;
  if (error.status == 408) code = Code::kDeadlineExceeded;
  if (error.status == 501) code = Code::kUnimplemented;
  return Status(code, error.message).WithHttpStatus(error.status);
}

// Header values of our own answers never carry a line break, whatever a handler put there.
std::string HeaderSafe(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c != '\r' && c != '\n') out.push_back(c);
  }
  return out;
}

// `chunked`: the body is a stream sent in chunks (HTTP/1.1), else a stream sent until the close
// (HTTP/1.0); either way without Content-Length.
std::string Serialize(const ApiReply& reply, bool head_only, bool keep_alive, int version_minor,
                      const std::string& request_id) {
  bool streamed = static_cast<bool>(reply.stream);
  std::string out;
  out.reserve(256 + (head_only ? 0 : reply.body.size()));
  out += "HTTP/1.1 ";
  out += std::to_string(reply.status);
  out += ' ';
  out += HttpReason(reply.status);
  out += "\r\nContent-Type: ";
  out += HeaderSafe(reply.content_type);
  if (!streamed) {
    out += "\r\nContent-Length: ";
    out += std::to_string(reply.body.size());
    out += "\r\n";
  } else {
    out += version_minor > 0 ? "\r\nTransfer-Encoding: chunked\r\n" : "\r\n";
  }
  for (const auto& [name, value] : reply.headers) {
    out += HeaderSafe(name);
    out += ": ";
    out += HeaderSafe(value);
    out += "\r\n";
  }
  if (!request_id.empty()) {
    out += "X-Request-Id: ";
    out += request_id;
    out += "\r\n";
  }
  if (!keep_alive || streamed) {
    out += "Connection: close\r\n";
  } else if (version_minor == 0) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (!head_only && !streamed) out += reply.body;
  return out;
}

}  // namespace

const char* HttpReason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    case 504:
      return "Gateway Timeout";
    default:
      return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
  }
}

std::string RequestIdFor(const std::string* client_value) {
  if (client_value && !client_value->empty() && client_value->size() <= kMaxRequestIdLength) {
    bool printable = true;
    for (unsigned char c : *client_value) printable = printable && c > 0x20 && c < 0x7f;
    if (printable) return *client_value;
  }
  thread_local std::mt19937_64 random(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  uint64_t a = random();
  uint64_t b = random();
  for (int i = 0; i < 16; ++i) {
    id[i] = kHex[(a >> (i * 4)) & 0xf];
    id[16 + i] = kHex[(b >> (i * 4)) & 0xf];
  }
  return id;
}

bool SplitTarget(std::string_view target, std::string* path,
                 std::map<std::string, std::string>* query) {
  std::string origin_form;
  if (target.starts_with("http://") || target.starts_with("https://")) {
    size_t authority = target.find("//") + 2;
    size_t start = target.find_first_of("/?", authority);
    origin_form = "/";
    if (start != std::string_view::npos) {
      origin_form = target[start] == '?' ? "/" + std::string(target.substr(start))
                                         : std::string(target.substr(start));
    }
    target = origin_form;
  }
  if (target.empty() || target[0] != '/') return false;
  size_t question = target.find('?');
  *path = std::string(target.substr(0, question));
  if (path->empty()) *path = "/";
  if (question == std::string_view::npos) return true;
  std::string_view rest = target.substr(question + 1);
  size_t fragment = rest.find('#');
  if (fragment != std::string_view::npos) rest = rest.substr(0, fragment);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    query->emplace(std::move(key), std::move(value));
  }
  return true;
}

HttpConnection::HttpConnection(const HttpConnectionSettings& settings, const HttpApp& app,
                               HttpSocket& socket, std::function<ReplyFn(uint64_t)> make_reply,
                               MonoTime now)
    : settings_(settings),
      app_(app),
      socket_(socket),
      make_reply_(std::move(make_reply)),
      parser_(settings.limits),
      last_activity_(now) {}

void HttpConnection::OnInput(std::string_view bytes, MonoTime now) {
  if (closed_) return;
  if (lingering_) {
    lingered_bytes_ += bytes.size();
    if (lingered_bytes_ > settings_.max_linger_bytes) Abort();
    return;
  }
  if (close_after_flush_) return;  // the answer that closes is on its way; nothing more is read
  // Bytes alone do not keep a connection alive: empty lines between requests are skipped by the
  // parser and must not hold a connection open past idle_timeout.
  input_.append(bytes);
  bool waiting_on_kafka = awaiting_reply_ && output_pos_ == output_.size();
  size_t limit = waiting_on_kafka ? settings_.max_read_ahead : 2 * settings_.max_buffered_input;
  if (input_.size() - input_pos_ > limit) {
    LogWarn("http", "closing a connection that sent " + std::to_string(input_.size() - input_pos_) +
                        " bytes of further requests while one was being answered");
    return Abort();
  }
  Pump(now);
}

HttpConnection::~HttpConnection() {
  ReleaseBody();
  if (stream_) stream_->Close();
}

void HttpConnection::ReleaseBody() {
  if (reserved_body_ > 0 && app_.release_body) app_.release_body(reserved_body_);
  reserved_body_ = 0;
}

void HttpConnection::Resume(MonoTime now) {
  deferred_ = false;
  Pump(now);
}

void HttpConnection::Pump(MonoTime now) {
  if (turn_ && *turn_ != turn_seen_) {
    turn_seen_ = *turn_;
    answered_in_turn_ = 0;
  }
  while (!closed_ && !awaiting_reply_ && !close_after_flush_ && !stream_ &&
         output_pos_ == output_.size() && input_pos_ < input_.size()) {
    if (turn_ && answered_in_turn_ >= settings_.max_requests_per_turn) {
      deferred_ = true;  // the other connections of this reactor first
      break;
    }
    size_t used = 0;
    bool was_in_request = parser_.InRequest();
    auto event = parser_.Feed(std::string_view(input_).substr(input_pos_), &used);
    input_pos_ += used;
    if (!was_in_request && parser_.InRequest()) request_started_ = now;
    if (event == HttpRequestParser::Event::kHead) {
      OnHead(now);
    } else if (event == HttpRequestParser::Event::kRequest) {
      Dispatch(now);
    } else if (event == HttpRequestParser::Event::kError) {
      Fail(parser_.error(), now);
    } else {
      break;
    }
  }
  if (input_pos_ == input_.size()) {
    input_.clear();
    input_pos_ = 0;
  } else if (input_pos_ > 64 * 1024 && input_pos_ * 2 > input_.size()) {
    input_.erase(0, input_pos_);
    input_pos_ = 0;
  }
  UpdateReading();
}

void HttpConnection::UpdateReading() {
  if (closed_) return;
  bool want = lingering_ || input_.size() - input_pos_ <= settings_.max_buffered_input;
  if (want != reading_) {
    reading_ = want;
    socket_.WantReadable(want);
  }
}

ApiRequest HttpConnection::ToApiRequest(bool with_body) {
  const HttpHead& head = parser_.head();
  ApiRequest r;
  r.method = head.method;
  SplitTarget(head.target, &r.path, &r.query);
  for (const auto& [name, value] : head.headers) {
    // The first of a repeated header counts, as for query parameters.
    r.headers.emplace(name, value);
  }
  auto header = [&](const char* name) {
    auto it = r.headers.find(name);
    return it == r.headers.end() ? std::string() : it->second;
  };
  r.authorization = header("authorization");
  r.content_type = header("content-type");
  r.idempotency_key = header("idempotency-key");
  r.private_token = header("private-token");
  r.gitlab_event = header("x-gitlab-event");
  r.request_id = request_id_;
  if (with_body) r.body = std::move(parser_.body());
  return r;
}

void HttpConnection::OnHead(MonoTime now) {
  head_done_ = now;
  const HttpHead& head = parser_.head();
  request_id_ = RequestIdFor(head.Find("x-request-id"));
  std::string path;
  std::map<std::string, std::string> query;
  metrics_from_ = now;
  metrics_method_ = head.method;
  metrics_route_ = "unmatched";
  if (!SplitTarget(head.target, &path, &query)) {
    return Fail({400, "malformed request target; it must start with /"}, now);
  }
  metrics_route_ = app_.route_of ? app_.route_of(head.method, path) : "unmatched";
  size_t limit = app_.max_body_bytes(path);
  if (auto refused = parser_.SetBodyLimit(limit)) {
    return Fail(*refused, now);
  }
  // A large body is held whole until its request is handed on: count it against the server's
  // budget before reading it, so that many slow large bodies cannot exhaust memory.
  size_t expected =
      head.content_length ? static_cast<size_t>(*head.content_length) : (head.chunked ? limit : 0);
  if (expected > 64 * 1024 && app_.reserve_body) {
    if (!app_.reserve_body(expected)) {
      return Answer(ErrorReply(Unavailable("the gateway is receiving as many large bodies as it "
                                           "holds at once; retry shortly")
                                   .WithRetryAfter(1)),
                    false, now);
    }
    reserved_body_ = expected;
  }
  if (head.expect_continue) {
    if (Status admitted = app_.admit(ToApiRequest(false)); !admitted.ok()) {
      return Answer(ErrorReply(admitted), false, now);
    }
    output_.append(kContinue);
    Flush(now);
  }
}

void HttpConnection::Dispatch(MonoTime now) {
  if (!parser_.HeadComplete()) head_done_ = now;
  ApiRequest request = ToApiRequest(true);
  method_ = request.method;
  if (metrics_from_ == MonoTime{}) {  // the head and the whole body came at once
    metrics_from_ = now;
    metrics_method_ = request.method;
    metrics_route_ = app_.route_of ? app_.route_of(request.method, request.path) : "unmatched";
  }
  request_keep_alive_ = parser_.head().keep_alive && !parser_.Upgraded();
  version_minor_ = parser_.head().version_minor;
  parser_.StartNextRequest();
  ReleaseBody();
  ++answered_in_turn_;
  awaiting_reply_ = true;
  reply_ready_ = false;
  dispatching_ = true;
  ReplyFn reply = make_reply_(++seq_);
  try {
    app_.handle(std::move(request), reply);
  } catch (const std::exception& e) {
    LogError("http", std::string("unexpected fault: ") + e.what());
    reply(ErrorReply(Internal("internal error; the gateway log has the details")));
  } catch (...) {
    LogError("http", "unexpected fault of unknown type");
    reply(ErrorReply(Internal("internal error; the gateway log has the details")));
  }
  dispatching_ = false;
  if (reply_ready_) {
    reply_ready_ = false;
    Answer(std::move(ready_reply_), request_keep_alive_, now);
  }
}

void HttpConnection::OnReply(uint64_t seq, ApiReply reply, MonoTime now) {
  if (closed_ || !awaiting_reply_ || seq != seq_) return;
  if (dispatching_) {
    if (!reply_ready_) {
      reply_ready_ = true;
      ready_reply_ = std::move(reply);
    }
    return;
  }
  Answer(std::move(reply), request_keep_alive_, now);
  Pump(now);
}

void HttpConnection::Answer(ApiReply reply, bool keep_alive, MonoTime now) {
  awaiting_reply_ = false;
  if (output_pos_ == output_.size()) {
    output_.clear();
    output_pos_ = 0;
  }
  output_ += Serialize(reply, method_ == "HEAD", keep_alive, version_minor_, request_id_);
  RecordHttpAnswer(
      metrics_route_.empty() ? "unmatched" : metrics_route_, metrics_method_, reply.status,
      metrics_from_ == MonoTime{} ? 0 : std::chrono::duration<double>(now - metrics_from_).count());
  metrics_route_.clear();
  metrics_method_.clear();
  metrics_from_ = MonoTime{};
  bool head_only = method_ == "HEAD";
  method_.clear();
  request_id_.clear();  // the next request, or a refusal of its framing, gets its own
  if (reply.stream && !head_only && stream_sink_) {
    // The connection ends with the stream: no further request is read.
    stream_chunked_ = version_minor_ > 0;
    stream_bytes_ = 0;
    stream_ = std::make_shared<ReplyStream>(stream_sink_(seq_));
    Flush(now);
    if (!closed_) reply.stream(stream_);
    return;
  }
  if (!keep_alive || reply.stream) close_after_flush_ = true;
  Flush(now);
}

void HttpConnection::OnStreamData(uint64_t seq, std::string bytes, bool end, MonoTime now) {
  if (closed_ || !stream_ || seq != seq_) return;
  if (output_pos_ == output_.size()) {
    output_.clear();
    output_pos_ = 0;
  }
  if (!bytes.empty()) {
    stream_bytes_ += bytes.size();
    if (stream_chunked_) {
      char size[20];
      snprintf(size, sizeof size, "%zx\r\n", bytes.size());
      output_ += size;
      output_ += bytes;
      output_ += "\r\n";
    } else {
      output_ += bytes;
    }
  }
  if (end) {
    if (stream_chunked_) output_ += "0\r\n\r\n";
    stream_->Close();
    stream_.reset();
    close_after_flush_ = true;
  }
  Flush(now);
}

void HttpConnection::Fail(const HttpError& error, MonoTime now) {
  ReleaseBody();
  method_.clear();
  if (request_id_.empty()) request_id_ = RequestIdFor(nullptr);
  Answer(ErrorReply(FramingStatus(error)), false, now);
}

void HttpConnection::Refuse(const Status& status, MonoTime now) {
  request_id_ = RequestIdFor(nullptr);
  Answer(ErrorReply(status), false, now);
}

void HttpConnection::Flush(MonoTime now) {
  if (closed_) return;
  bool had_output = output_pos_ < output_.size();
  while (output_pos_ < output_.size()) {
    ssize_t sent = socket_.Send(std::string_view(output_).substr(output_pos_));
    if (sent == HttpSocket::kWouldBlock) {
      if (!want_writable_) {
        want_writable_ = true;
        output_since_ = now;
        socket_.WantWritable(true);
      }
      return;
    }
    if (sent <= 0) return Abort();
    output_pos_ += static_cast<size_t>(sent);
  }
  if (stream_) stream_->Sent(stream_bytes_);
  if (had_output || want_writable_) {
    output_.clear();
    output_pos_ = 0;
    if (want_writable_) {
      want_writable_ = false;
      socket_.WantWritable(false);
    }
  }
  last_activity_ = now;
  if (close_after_flush_ && !lingering_) {
    socket_.ShutdownWrite();
    lingering_ = true;
    linger_since_ = now;
    input_.clear();
    input_pos_ = 0;
    UpdateReading();
  }
}

void HttpConnection::OnWritable(MonoTime now) {
  if (closed_) return;
  Flush(now);
  if (!closed_ && !lingering_) Pump(now);
}

void HttpConnection::Abort() {
  if (closed_) return;
  ReleaseBody();
  closed_ = true;
  if (stream_) stream_->Close();
  socket_.Close();
}

void HttpConnection::OnTick(MonoTime now) {
  if (closed_) return;
  if (lingering_) {
    if (now - linger_since_ >= settings_.linger) Abort();
    return;
  }
  if (output_pos_ < output_.size()) {
    // A client that does not read its answers keeps only a descriptor, and not for long.
    if (now - output_since_ >= settings_.body_timeout) Abort();
    return;
  }
  if (awaiting_reply_ || close_after_flush_ || stream_) return;  // a stream has no idle time
  if (parser_.InRequest()) {
    if (!parser_.HeadComplete() && now - request_started_ >= settings_.header_timeout) {
      return Fail(
          {408, "request headers not received within " + FormatDuration(settings_.header_timeout)},
          now);
    }
    if (parser_.HeadComplete() && now - head_done_ >= settings_.body_timeout) {
      return Fail(
          {408, "request body not received within " + FormatDuration(settings_.body_timeout)}, now);
    }
    return;
  }
  if (now - last_activity_ >= settings_.idle_timeout) Abort();
}

}  // namespace sluice
