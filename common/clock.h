#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::system_clock::time_point;

// Wall-clock time, behind an interface so tests can drive it (ManualClock in tests/).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  static const Clock& Instance();
};

// RFC 3339 in UTC with millisecond precision, e.g. "2026-11-23T10:00:00.123Z".
std::string FormatRfc3339(TimePoint t);
std::optional<TimePoint> ParseRfc3339(std::string_view text);

// "10s", "5m", "1h", "250ms", "1h30m". Returns nullopt on anything else.
std::optional<Duration> ParseDuration(std::string_view text);
std::string FormatDuration(Duration d);

}  // namespace sluice
