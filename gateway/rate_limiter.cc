#include "gateway/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "gateway/gateway_metrics.h"

namespace sluice {

int RateLimiter::TryAcquire(const std::string& client, const RateLimit& limit) {
  if (limit.per_second <= 0) return 0;
  std::lock_guard<std::mutex> lock(mutex_);
  TimePoint now = clock_.Now();
  auto [it, inserted] = buckets_.try_emplace(client);
  Bucket& b = it->second;
  double burst = std::max(1, limit.burst);
  if (inserted) {
    b.tokens = burst;
  } else {
    double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(burst, b.tokens + std::max(0.0, elapsed) * limit.per_second);
  }
  b.last = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  // `client` is a configured client's name: a bounded label.
  GatewayMetrics::Get().rate_limited.With({client}).Inc();
  return std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / limit.per_second)));
}

}  // namespace sluice
