#pragma once

#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/config.h"

namespace sluice {

// Token buckets per client. Thread-safe; never blocks on anything but its own short lock.
class RateLimiter {
 public:
  explicit RateLimiter(const Clock& clock) : clock_(clock) {}
  // 0 when the request may go ahead (a token is taken), else the seconds until one is available.
  int TryAcquire(const std::string& client, const RateLimit& limit);

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint last;
  };
  const Clock& clock_;
  std::mutex mutex_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace sluice
