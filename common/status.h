#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sluice {

// gRPC canonical codes (google.rpc.Code). The numbers are part of the HTTP error contract: every
// error body carries {"code": <number>, "message": ..., "details": []}.
enum class Code {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// The one table from canonical code to HTTP status. It follows Google's mapping except that
// FAILED_PRECONDITION answers 409: Sluice uses it only for "the execution is not in a state that
// allows this" (abort of a finished execution, an Idempotency-Key reused for another request).
int HttpStatusFor(Code code);
const char* CodeName(Code code);

// An error as a value. Extra fields that some errors carry to the HTTP layer:
// retry_after_seconds (429, 503) and unsupported_media (415, which has no canonical code).
class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // HTTP status to answer with; equals HttpStatusFor(code()) unless overridden.
  int http_status() const {
    return http_status_override_ ? *http_status_override_ : HttpStatusFor(code_);
  }
  Status& WithHttpStatus(int http_status) {
    http_status_override_ = http_status;
    return *this;
  }
  std::optional<int> retry_after_seconds() const { return retry_after_seconds_; }
  Status& WithRetryAfter(int seconds) {
    retry_after_seconds_ = seconds;
    return *this;
  }
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::optional<int> http_status_override_;
  std::optional<int> retry_after_seconds_;
};

inline Status InvalidArgument(std::string m) {
  return Status(Code::kInvalidArgument, std::move(m));
}
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status PermissionDenied(std::string m) {
  return Status(Code::kPermissionDenied, std::move(m));
}
inline Status Unauthenticated(std::string m) {
  return Status(Code::kUnauthenticated, std::move(m));
}
inline Status ResourceExhausted(std::string m) {
  return Status(Code::kResourceExhausted, std::move(m));
}
inline Status FailedPrecondition(std::string m) {
  return Status(Code::kFailedPrecondition, std::move(m));
}
inline Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status DeadlineExceeded(std::string m) {
  return Status(Code::kDeadlineExceeded, std::move(m));
}
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

// What an error message may repeat of a value the caller sent (a job name, an id, a key, a ref):
// its first kMaxEchoedCharacters characters, then "…" (U+2026) when there was more. Bytes that
// are not UTF-8 become U+FFFD, so the message is valid UTF-8 whatever the caller sent. Every
// message that echoes a caller's value goes through this, so that no answer grows with the input.
inline constexpr size_t kMaxEchoedCharacters = 200;
std::string EchoValue(std::string_view value);

// A value or the error that prevented it.
template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace sluice
