#include "gateway/http_request_parser.h"

#include <http_parser.h>

#include <algorithm>

namespace sluice {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 9110 §5.6.2: the characters of a token, such as a header's name.
bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// A field value holds visible characters, spaces and tabs (and obs-text); no CR, LF or NUL.
bool IsFieldValue(std::string_view value) {
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The errors of the library, mapped to the answer the client gets. The library's descriptions
// are fixed strings of its own, never a caller's bytes.
HttpError FromParserError(http_errno error) {
  switch (error) {
    case HPE_HEADER_OVERFLOW:
      return {431, "request headers are too large"};
    case HPE_INVALID_CONTENT_LENGTH:
      return {400, "Content-Length or a chunk size is not a valid length"};
    case HPE_UNEXPECTED_CONTENT_LENGTH:
      return {
          400,
          "Content-Length is repeated or sent with Transfer-Encoding; send exactly one of them"};
    case HPE_INVALID_CHUNK_SIZE:
      return {400, "malformed chunked body: bad chunk size"};
    case HPE_CLOSED_CONNECTION:
      return {400, "data after a request that asked to close the connection"};
    case HPE_INVALID_METHOD:
      return {400, "malformed HTTP request: unknown method"};
    default:
      return {400, std::string("malformed HTTP request: ") + http_errno_description(error)};
  }
}

}  // namespace

const std::string* HttpHead::Find(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

// http_parser's callbacks. A non-zero return stops the parser with an error; Fail() has then
// recorded the answer.
struct HttpRequestParser::Callbacks {
  static HttpRequestParser& Self(http_parser* p) {
    return *static_cast<HttpRequestParser*>(p->data);
  }

  static int OnMessageBegin(http_parser* p) {
    HttpRequestParser& self = Self(p);
    self.head_ = HttpHead{};
    self.body_.clear();
    self.field_.clear();
    self.value_.clear();
    self.in_value_ = false;
    self.header_bytes_ = 0;
    self.content_length_headers_ = 0;
    self.host_headers_ = 0;
    self.transfer_encoding_.clear();
    self.chunk_ = Chunk::kSize;
    self.chunk_left_ = 0;
    self.chunk_has_digit_ = false;
    self.in_request_ = true;
    return 0;
  }

  static int OnUrl(http_parser* p, const char* at, size_t len) {
    HttpRequestParser& self = Self(p);
    if (self.head_.target.size() + len > self.limits_.max_request_line) {
      self.Fail(414, "request target is longer than " +
                         std::to_string(self.limits_.max_request_line) + " bytes");
      return 1;
    }
    self.head_.target.append(at, len);
    return 0;
  }

  static bool CountHeaderBytes(HttpRequestParser& self, size_t len) {
    self.header_bytes_ += len;
    if (self.header_bytes_ > self.limits_.max_header_bytes) {
      self.Fail(431, "request headers are larger than " +
                         std::to_string(self.limits_.max_header_bytes) + " bytes");
      return false;
    }
    return true;
  }

  static bool CommitHeader(HttpRequestParser& self) {
    if (!self.in_value_ && self.field_.empty()) return true;
    if (self.head_.headers.size() >= self.limits_.max_headers) {
      self.Fail(431, "more than " + std::to_string(self.limits_.max_headers) + " request headers");
      return false;
    }
    if (self.field_.empty() || !std::all_of(self.field_.begin(), self.field_.end(), [](char c) {
          return IsTokenChar(static_cast<unsigned char>(c));
        })) {
      self.Fail(400, "malformed header name (only token characters, no space before the colon)");
      return false;
    }
    std::string name = Lower(self.field_);
    std::string value(TrimSpaces(self.value_));
    if (!IsFieldValue(value)) {
      self.Fail(400, "malformed value of header " + name.substr(0, 64) +
                         " (control characters, or a folded line)");
      return false;
    }
    if (name == "content-length") ++self.content_length_headers_;
    if (name == "host") ++self.host_headers_;
    if (name == "transfer-encoding") {
      if (!self.transfer_encoding_.empty()) self.transfer_encoding_ += ", ";
      self.transfer_encoding_ += Lower(value);
    }
    self.head_.headers.emplace_back(std::move(name), std::move(value));
    self.field_.clear();
    self.value_.clear();
    self.in_value_ = false;
    return true;
  }

  static int OnHeaderField(http_parser* p, const char* at, size_t len) {
    HttpRequestParser& self = Self(p);
    if (!CountHeaderBytes(self, len)) return 1;
    if (self.head_complete_) return 0;  // a chunked body's trailer: counted, not kept
    if (self.in_value_ && !CommitHeader(self)) return 1;
    self.field_.append(at, len);
    return 0;
  }

  static int OnHeaderValue(http_parser* p, const char* at, size_t len) {
    HttpRequestParser& self = Self(p);
    if (!CountHeaderBytes(self, len)) return 1;
    if (self.head_complete_) return 0;
    self.in_value_ = true;
    self.value_.append(at, len);
    return 0;
  }

  static int OnHeadersComplete(http_parser* p) {
    HttpRequestParser& self = Self(p);
    if (!CommitHeader(self)) return 1;
    HttpHead& head = self.head_;
    head.method = http_method_str(static_cast<http_method>(p->method));
    head.version_minor = p->http_major == 1 ? p->http_minor : 0;
    if (p->http_major != 1 || p->http_minor > 1) {
      self.Fail(505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
      return 1;
    }
    head.keep_alive = http_should_keep_alive(p) != 0;
    if (self.content_length_headers_ > 1) {
      self.Fail(400, "Content-Length is repeated; send it once");
      return 1;
    }
    if (!self.transfer_encoding_.empty()) {
      if (self.content_length_headers_ > 0) {
        self.Fail(400, "Content-Length and Transfer-Encoding together; send one of them");
        return 1;
      }
      if (self.transfer_encoding_ != "chunked") {
        self.Fail(501, "Transfer-Encoding other than chunked is not supported");
        return 1;
      }
      if (head.version_minor == 0) {
        self.Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
        return 1;
      }
      head.chunked = true;
    }
    if (self.content_length_headers_ == 1) head.content_length = p->content_length;
    if (self.host_headers_ > 1) {
      self.Fail(400, "Host is repeated; send it once");
      return 1;
    }
    if (head.version_minor >= 1 && (self.host_headers_ == 0 || head.Find("host")->empty())) {
      self.Fail(400, "HTTP/1.1 request without a Host");
      return 1;
    }
    if (const std::string* expect = head.Find("expect")) {
      if (Lower(*expect) != "100-continue") {
        self.Fail(417, "Expect: only 100-continue is understood");
        return 1;
      }
      head.expect_continue = head.version_minor >= 1;
    }
    self.head_complete_ = true;
    http_parser_pause(p, 1);
    return 0;
  }

  static int OnBody(http_parser* p, const char* at, size_t len) {
    HttpRequestParser& self = Self(p);
    if (self.body_.size() + len > self.body_limit_) {
      self.Fail(413, "request body is larger than " + std::to_string(self.body_limit_) + " bytes");
      return 1;
    }
    self.body_.append(at, len);
    return 0;
  }

  static int OnMessageComplete(http_parser* p) {
    HttpRequestParser& self = Self(p);
    self.message_complete_ = true;
    http_parser_pause(p, 1);
    return 0;
  }

  static const http_parser_settings& Settings() {
    static const http_parser_settings settings = [] {
      http_parser_settings s;
      http_parser_settings_init(&s);
      s.on_message_begin = OnMessageBegin;
      s.on_url = OnUrl;
      s.on_header_field = OnHeaderField;
      s.on_header_value = OnHeaderValue;
      s.on_headers_complete = OnHeadersComplete;
      s.on_body = OnBody;
      s.on_message_complete = OnMessageComplete;
      return s;
    }();
    return settings;
  }
};

HttpRequestParser::HttpRequestParser(HttpLimits limits)
    : limits_(limits), parser_(std::make_unique<http_parser>()) {
  http_parser_init(parser_.get(), HTTP_REQUEST);
  parser_->data = this;
}

HttpRequestParser::~HttpRequestParser() = default;

void HttpRequestParser::Fail(int status, std::string message) {
  if (failed_) return;
  failed_ = true;
  error_ = {status, std::move(message)};
}

bool HttpRequestParser::Upgraded() const { return parser_->upgrade != 0; }

HttpRequestParser::Event HttpRequestParser::Feed(std::string_view data, size_t* consumed) {
  *consumed = 0;
  if (failed_) return Event::kError;
  if (message_complete_) return Event::kRequest;
  // A zero length tells http_parser that the stream ended.
  if (data.empty()) return Event::kNeedMore;
  bool head_was_complete = head_complete_;
  *consumed = http_parser_execute(parser_.get(), &Callbacks::Settings(), data.data(), data.size());
  http_errno error = HTTP_PARSER_ERRNO(parser_.get());
  if (!failed_) {
    std::string_view taken = data.substr(0, *consumed);
    if (head_lf_pending_ && !taken.empty()) {
      // The head's last LF: http_parser paused before taking it, so it comes now.
      CheckHeadBytes(taken.substr(0, 1));
      taken.remove_prefix(1);
      head_lf_pending_ = false;
    }
    if (!head_was_complete) {
      // The bytes up to where the head paused: the head's own (a request without a body may
      // complete in the same call only after the pause, so no body byte is among them).
      CheckHeadBytes(taken);
    } else if (head_.chunked) {
      CheckChunkedBytes(taken);
    }
  }
  if (failed_) return Event::kError;
  if (error == HPE_PAUSED) {
    http_parser_pause(parser_.get(), 0);
    if (message_complete_) return Event::kRequest;
    if (head_complete_ && !head_was_complete) {
      head_lf_pending_ = true;
      return Event::kHead;
    }
    return Event::kNeedMore;
  }
  if (error != HPE_OK) {
    HttpError mapped = FromParserError(error);
    Fail(mapped.status, std::move(mapped.message));
    return Event::kError;
  }
  return Event::kNeedMore;
}

std::optional<HttpError> HttpRequestParser::SetBodyLimit(size_t max_body_bytes) {
  body_limit_ = max_body_bytes;
  if (head_.content_length && *head_.content_length > max_body_bytes) {
    Fail(413, "request body of " + std::to_string(*head_.content_length) +
                  " bytes is larger than the limit of " + std::to_string(max_body_bytes) +
                  " bytes");
    return error_;
  }
  if (head_.content_length)
    body_.reserve(static_cast<size_t>(std::min<uint64_t>(*head_.content_length, 64 * 1024)));
  return std::nullopt;
}

void HttpRequestParser::CheckHeadBytes(std::string_view consumed) {
  for (char c : consumed) {
    if (c == '\n' && !previous_was_cr_) {
      return Fail(400, "malformed HTTP request: a line of the head ends without CR");
    }
    if ((c == ' ' || c == '\t') && previous_was_lf_) {
      return Fail(400, "malformed HTTP request: a folded header line (RFC 9112 obs-fold)");
    }
    previous_was_cr_ = c == '\r';
    previous_was_lf_ = c == '\n';
  }
}

void HttpRequestParser::CheckChunkedBytes(std::string_view consumed) {
  auto bad = [this](const char* what) {
    Fail(400, std::string("malformed chunked body: ") + what);
  };
  for (size_t i = 0; i < consumed.size() && !failed_; ++i) {
    char c = consumed[i];
    switch (chunk_) {
      case Chunk::kSize:
        if (HexDigit(c) >= 0) {
          chunk_has_digit_ = true;
          // http_parser refuses sizes that overflow; this only tracks the count.
          chunk_left_ = chunk_left_ * 16 + static_cast<uint64_t>(HexDigit(c));
        } else if (c == ';' && chunk_has_digit_) {
          chunk_ = Chunk::kExtension;
        } else if (c == '\r' && chunk_has_digit_) {
          chunk_ = Chunk::kSizeLf;
        } else {
          bad("bad chunk size");
        }
        break;
      case Chunk::kExtension:
        if (c == '\r') {
          chunk_ = Chunk::kSizeLf;
        } else if (c == '\n' || c == '\0') {
          bad("a line break or NUL inside a chunk extension");
        }
        break;
      case Chunk::kSizeLf:
        if (c != '\n') return bad("a chunk size line must end with CRLF");
        chunk_ = chunk_left_ == 0 ? Chunk::kTrailerStart : Chunk::kData;
        break;
      case Chunk::kData: {
        uint64_t take = std::min<uint64_t>(chunk_left_, consumed.size() - i);
        chunk_left_ -= take;
        i += static_cast<size_t>(take) - 1;
        if (chunk_left_ == 0) chunk_ = Chunk::kDataCr;
        break;
      }
      case Chunk::kDataCr:
        if (c != '\r') return bad("chunk data must be followed by CRLF");
        chunk_ = Chunk::kDataLf;
        break;
      case Chunk::kDataLf:
        if (c != '\n') return bad("chunk data must be followed by CRLF");
        chunk_ = Chunk::kSize;
        chunk_has_digit_ = false;
        break;
      case Chunk::kTrailerStart:
        if (c == '\r') {
          chunk_ = Chunk::kEndLf;
        } else if (c == '\n') {
          bad("a trailer line ends without CR");
        } else {
          chunk_ = Chunk::kTrailer;
        }
        break;
      case Chunk::kTrailer:
        if (c == '\r') {
          chunk_ = Chunk::kTrailerLf;
        } else if (c == '\n') {
          bad("a trailer line ends without CR");
        }
        break;
      case Chunk::kTrailerLf:
        if (c != '\n') return bad("a trailer line ends without LF");
        chunk_ = Chunk::kTrailerStart;
        break;
      case Chunk::kEndLf:
        if (c != '\n') return bad("the last chunk must end with CRLF");
        chunk_ = Chunk::kDone;
        break;
      case Chunk::kDone:
        return bad("bytes after the last chunk");
    }
  }
}

void HttpRequestParser::StartNextRequest() {
  previous_was_cr_ = false;
  previous_was_lf_ = false;
  head_lf_pending_ = false;
  message_complete_ = false;
  head_complete_ = false;
  in_request_ = false;
  body_.clear();
  body_.shrink_to_fit();
}

}  // namespace sluice
