#include "cli/client.h"

#include <curl/curl.h>

#include <algorithm>
#include <thread>

#include "common/json_codec.h"

namespace sluice::cli {
namespace {

constexpr Duration kDefaultRetryAfter = std::chrono::seconds(1);
constexpr Duration kMaxRetryAfter = std::chrono::seconds(30);
constexpr long kConnectTimeoutMs = 10000;

class SteadyTimer final : public Timer {
 public:
  std::chrono::steady_clock::time_point Now() override { return std::chrono::steady_clock::now(); }
  void Sleep(Duration d) override { std::this_thread::sleep_for(d); }
};

struct Receiver {
  CURL* curl = nullptr;
  HttpAnswer* answer = nullptr;
  const std::function<void(std::string_view)>* on_body = nullptr;  // streams only
  bool streamed = false;                                           // some body went to on_body
  bool over_limit = false;
};

size_t ReceiveBody(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Receiver*>(user);
  size_t bytes = size * n;
  long code = 0;
  curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
  if (r->on_body != nullptr && code >= 200 && code < 300) {
    (*r->on_body)(std::string_view(data, bytes));
    r->streamed = true;
    return bytes;
  }
  if (r->answer->body.size() + bytes > kMaxAnswerBytes) {
    r->over_limit = true;
    return 0;  // curl stops with CURLE_WRITE_ERROR
  }
  r->answer->body.append(data, bytes);
  return bytes;
}

size_t ReceiveHeader(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Receiver*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) r->answer->headers.clear();  // a 100 Continue came first
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  r->answer->headers[name] = std::string(value);
  return size * n;
}

class CurlTransport final : public Transport {
 public:
  CurlTransport(std::string base_url, std::string token)
      : base_url_(std::move(base_url)), token_(std::move(token)), curl_(curl_easy_init()) {
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  }
  ~CurlTransport() override { curl_easy_cleanup(curl_); }

  HttpAnswer Send(const HttpCall& call) override { return Perform(call, nullptr); }
  HttpAnswer Stream(const HttpCall& call,
                    const std::function<void(std::string_view)>& on_body) override {
    return Perform(call, &on_body);
  }

 private:
  HttpAnswer Perform(const HttpCall& call, const std::function<void(std::string_view)>* on_body) {
    HttpAnswer answer;
    if (curl_ == nullptr) {
      answer.error = "cannot initialise libcurl";
      return answer;
    }
    curl_easy_reset(curl_);
    Receiver receiver{curl_, &answer, on_body};
    std::string url = base_url_ + call.target;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(call.timeout.count()));
    // A stream may stay silent for as long as its job does; keepalive notices a dead peer.
    curl_easy_setopt(curl_, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, ReceiveBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &receiver);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, ReceiveHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &receiver);
    if (call.method == "GET") {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, call.method.c_str());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, call.body.c_str());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(call.body.size()));
    }
    struct curl_slist* headers = nullptr;
    std::string authorization = "Authorization: Bearer " + token_;
    if (!token_.empty()) headers = curl_slist_append(headers, authorization.c_str());
    for (const std::string& h : call.headers) headers = curl_slist_append(headers, h.c_str());
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &answer.status);
    if (rc == CURLE_OK) return answer;
    answer.error = receiver.over_limit
                       ? "the answer is larger than " + std::to_string(kMaxAnswerBytes) + " bytes"
                       : std::string(curl_easy_strerror(rc));
    if (answer.status >= 200 && answer.status < 300 && on_body != nullptr) {
      answer.truncated = true;  // the caller resumes the stream
    } else {
      answer.status = 0;
    }
    return answer;
  }

  std::string base_url_;
  std::string token_;
  CURL* curl_;
};

std::optional<Duration> RetryAfter(const HttpAnswer& answer) {
  if (answer.status != 503 && answer.status != 429) return std::nullopt;
  Duration wait = kDefaultRetryAfter;
  auto it = answer.headers.find("retry-after");
  if (it != answer.headers.end()) {
    const std::string& v = it->second;
    bool digits = !v.empty() && v.size() < 6;
    for (char c : v) digits = digits && c >= '0' && c <= '9';
    if (digits) wait = std::chrono::seconds(std::stol(v));  // an HTTP date: the default
  }
  return std::clamp(wait, Duration(0), kMaxRetryAfter);
}

}  // namespace

std::unique_ptr<Transport> MakeCurlTransport(std::string base_url, std::string token) {
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)initialised;
  return std::make_unique<CurlTransport>(std::move(base_url), std::move(token));
}

Timer& RealTimer() {
  static SteadyTimer timer;
  return timer;
}

Status StatusFromAnswer(const HttpAnswer& answer) {
  if (answer.status == 0) return Unavailable("cannot reach the server: " + answer.error);
  rapidjson::Document doc;
  if (ParseJson(answer.body, doc).ok() && doc.IsObject() && doc.HasMember("code") &&
      doc["code"].IsInt() && doc["code"].GetInt() > 0 && doc["code"].GetInt() <= 16) {
    std::string message = GetString(doc, "message");
    if (message.empty()) message = "HTTP " + std::to_string(answer.status);
    return Status(static_cast<Code>(doc["code"].GetInt()), message);
  }
  std::string body = answer.body.substr(0, 200);
  return Status(Code::kUnknown, "HTTP " + std::to_string(answer.status) +
                                    (body.empty() ? "" : ": " + EchoValue(body)));
}

template <typename Send>
StatusOr<HttpAnswer> Api::WithRetries(const Send& send, TimePoint deadline) {
  for (int attempt = 1;; ++attempt) {
    HttpAnswer answer = send();
    if (answer.status >= 200 && answer.status < 300) return answer;
    auto wait = RetryAfter(answer);
    if (wait && attempt < kMaxTries && timer_.Now() + *wait < deadline) {
      timer_.Sleep(*wait);
      continue;
    }
    Status s = StatusFromAnswer(answer);
    if (wait) {
      return Status(s.code(),
                    s.message() + " (gave up after " + std::to_string(attempt) + " tries)");
    }
    return s;
  }
}

StatusOr<HttpAnswer> Api::Call(const HttpCall& call, TimePoint deadline) {
  return WithRetries([&] { return transport_.Send(call); }, deadline);
}

StatusOr<HttpAnswer> Api::Stream(const HttpCall& call,
                                 const std::function<void(std::string_view)>& on_body,
                                 TimePoint deadline) {
  return WithRetries([&] { return transport_.Stream(call, on_body); }, deadline);
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string ExecutionsTarget(const std::string& id, const std::string& suffix,
                             const std::vector<std::pair<std::string, std::string>>& query) {
  std::string t = "/v1/executions";
  if (!id.empty()) t += "/" + PercentEncode(id);
  if (!suffix.empty()) t += "/" + suffix;
  char sep = '?';
  for (const auto& [key, value] : query) {
    t += sep + PercentEncode(key) + "=" + PercentEncode(value);
    sep = '&';
  }
  return t;
}

}  // namespace sluice::cli
