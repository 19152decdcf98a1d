#pragma once

// The command-line client's view of the executions API: one HTTP seam (`Transport`, libcurl in
// the binary, a fake in the unit tests), one timer seam, and `Api`, which retries what the
// gateway asks to be retried and turns every other non-2xx answer into a Status.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sluice::cli {

struct HttpCall {
  std::string method;                // "GET", "POST"
  std::string target;                // path and query: "/v1/executions?job_name=x"
  std::vector<std::string> headers;  // "Name: value", besides Authorization
  std::string body;
  Duration timeout{};  // the whole call; zero: none (a stream that lasts as long as a job)
};

struct HttpAnswer {
  long status = 0;                             // 0: the call failed before an answer, see error
  std::string error;                           // transport error
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;                            // for Stream: only when not 2xx
  bool truncated = false;                      // a stream broke off before its end
};

// Blocking HTTP calls to one server with one token. Not thread-safe.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual HttpAnswer Send(const HttpCall& call) = 0;
  // Like Send, but a 2xx body goes to `on_body` as it arrives instead of into the answer.
  virtual HttpAnswer Stream(const HttpCall& call,
                            const std::function<void(std::string_view)>& on_body) = 0;
};

// `base_url`: "http://host:port" (a trailing slash is dropped); `token`: sent as a bearer token
// when not empty. Bodies of non-streamed answers are capped at kMaxAnswerBytes.
std::unique_ptr<Transport> MakeCurlTransport(std::string base_url, std::string token);
inline constexpr size_t kMaxAnswerBytes = 64 << 20;

// Time as the commands see it: a monotonic now and a sleep (a fake one in tests).
class Timer {
 public:
  virtual ~Timer() = default;
  virtual std::chrono::steady_clock::time_point Now() = 0;
  virtual void Sleep(Duration d) = 0;
};
Timer& RealTimer();

// The executions API over a Transport. A 503 or 429 is tried again after its Retry-After
// (1 s when absent, at most 30 s), up to kMaxTries calls in all and never past `deadline`; the
// call is repeated byte for byte, Idempotency-Key included. Any other non-2xx answer becomes a
// Status carrying the error body's code and message.
class Api {
 public:
  static constexpr int kMaxTries = 5;
  using TimePoint = std::chrono::steady_clock::time_point;

  Api(Transport& transport, Timer& timer) : transport_(transport), timer_(timer) {}

  StatusOr<HttpAnswer> Call(const HttpCall& call, TimePoint deadline = TimePoint::max());
  StatusOr<HttpAnswer> Stream(const HttpCall& call,
                              const std::function<void(std::string_view)>& on_body,
                              TimePoint deadline = TimePoint::max());
  Timer& timer() { return timer_; }

 private:
  template <typename Send>
  StatusOr<HttpAnswer> WithRetries(const Send& send, TimePoint deadline);
  Transport& transport_;
  Timer& timer_;
};

// The Status an error answer stands for: the code and message of the contract's JSON error body,
// or one made of the HTTP status when the body is not one.
Status StatusFromAnswer(const HttpAnswer& answer);

// "/v1/executions/<id>" with the id percent-encoded; `query` pairs are encoded likewise.
std::string ExecutionsTarget(const std::string& id = "", const std::string& suffix = "",
                             const std::vector<std::pair<std::string, std::string>>& query = {});
std::string PercentEncode(std::string_view s);

}  // namespace sluice::cli
