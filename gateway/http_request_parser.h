#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct http_parser;

namespace sluice {

// The front door's limits on one request's framing (README "Limits", docs/operations.md).
struct HttpLimits {
  size_t max_request_line = 8 * 1024;   // the request target; longer: 414
  size_t max_header_bytes = 64 * 1024;  // names and values of all headers together; more: 431
  size_t max_headers = 100;             // more: 431
};

// What a request's head says, known before its body is read.
struct HttpHead {
  std::string method;     // "GET", "POST", ...
  std::string target;     // the request target as sent: "/v1/executions?x=1"
  int version_minor = 1;  // HTTP/1.<minor>
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::optional<uint64_t> content_length;                    // as declared
  bool chunked = false;
  bool keep_alive = true;        // what the client asked for (version and Connection header)
  bool expect_continue = false;  // Expect: 100-continue

  // The value of the first header called `name` (lower case), or nullptr.
  const std::string* Find(std::string_view name) const;
};

// A refusal of the framing: the status to answer (400, 408, 413, 414, 417, 431, 501, 505) and
// why. The connection is closed after it, since what follows in the stream cannot be trusted.
struct HttpError {
  int status = 400;
  std::string message;
};

// An incremental, strict HTTP/1.x request parser (Node's http_parser, Debian's
// libhttp-parser-dev) with explicit limits. Its cost is linear in the bytes fed: every check is
// a counter, and nothing is buffered but what the request holds (target, headers, body).
//
// Feed() stops at two points so that the owner can act: once a head is complete (kHead: decide
// on the body's limit, answer `Expect: 100-continue`, or refuse), and once a whole request is in
// (kRequest). Bytes after that point are not consumed: feed them again after
// StartNextRequest(), which is how pipelined requests are taken one at a time.
class HttpRequestParser {
 public:
  enum class Event {
    kNeedMore,  // every byte given was consumed; feed more
    kHead,      // the head is complete: call SetBodyLimit (or refuse), then feed on
    kRequest,   // a whole request: head() and body(); then StartNextRequest()
    kError,     // error() says why; the parser takes nothing more
  };

  explicit HttpRequestParser(HttpLimits limits = {});
  ~HttpRequestParser();
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses from `data`; sets `*consumed` to the bytes taken (up to the event returned).
  Event Feed(std::string_view data, size_t* consumed);

  // The body's limit for the request whose head was just reported: a declared Content-Length
  // over it is refused at once (413); a chunked body is refused as soon as it grows past it.
  // Returns the error for a declared length over the limit, else nullopt.
  std::optional<HttpError> SetBodyLimit(size_t max_body_bytes);

  // After kRequest: forget the request and be ready for the next one on the connection.
  void StartNextRequest();

  // Whether a request has begun (some of its bytes arrived) and is not complete yet.
  bool InRequest() const { return in_request_; }
  bool HeadComplete() const { return head_complete_; }
  // Whether the stream after this request may not be parsed as HTTP (an Upgrade or CONNECT).
  bool Upgraded() const;

  const HttpHead& head() const { return head_; }
  std::string& body() { return body_; }
  const HttpError& error() const { return error_; }

 private:
  struct Callbacks;
  void Fail(int status, std::string message);
  // What http_parser (built without its strict mode) lets through: checked over the raw bytes it
  // consumed. Line ends in the head must be CRLF; a chunked body must be framed exactly.
  void CheckHeadBytes(std::string_view consumed);
  void CheckChunkedBytes(std::string_view consumed);

  HttpLimits limits_;
  std::unique_ptr<::http_parser> parser_;
  HttpHead head_;
  std::string body_;
  std::string field_;  // the header name being read
  std::string value_;  // its value
  bool in_value_ = false;
  size_t header_bytes_ = 0;
  size_t body_limit_ = 0;
  bool in_request_ = false;
  bool head_complete_ = false;
  bool message_complete_ = false;
  int content_length_headers_ = 0;
  std::string transfer_encoding_;
  int host_headers_ = 0;
  bool previous_was_cr_ = false;  // across Feed calls, in the head
  bool previous_was_lf_ = false;
  bool head_lf_pending_ = false;  // the head's last LF is still to be consumed
  // The chunked-framing check: where in a chunk's frame the next raw byte falls.
  enum class Chunk {
    kSize,
    kExtension,
    kSizeLf,
    kData,
    kDataCr,
    kDataLf,
    kTrailerStart,
    kTrailer,
    kTrailerLf,
    kEndLf,
    kDone
  };
  Chunk chunk_ = Chunk::kSize;
  uint64_t chunk_left_ = 0;
  bool chunk_has_digit_ = false;
  HttpError error_;
  bool failed_ = false;
};

}  // namespace sluice
