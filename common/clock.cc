#include "common/clock.h"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace sluice {

const Clock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

std::string FormatRfc3339(TimePoint t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    secs -= 1;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  int year = tm.tm_year + 1900;
  if (year < 0 || year > 9999) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return buf;
  }
  // Every answer about an execution carries a few of these: digits by hand, not snprintf.
  std::string out = "0000-00-00T00:00:00.000Z";
  auto put = [&out](size_t at, int value, int digits) {
    for (int i = digits - 1; i >= 0; --i, value /= 10)
      out[at + i] = static_cast<char>('0' + value % 10);
  };
  put(0, year, 4);
  put(5, tm.tm_mon + 1, 2);
  put(8, tm.tm_mday, 2);
  put(11, tm.tm_hour, 2);
  put(14, tm.tm_min, 2);
  put(17, tm.tm_sec, 2);
  put(20, millis, 3);
  return out;
}

std::optional<TimePoint> ParseRfc3339(std::string_view text) {
  int y, mo, d, h, mi, s;
  char tail[32] = {0};
  std::string str(text);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%31s", &y, &mo, &d, &h, &mi, &s, tail) < 6) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  std::time_t secs = timegm(&tm);
  long long millis = 0;
  std::string_view rest(tail);
  if (!rest.empty() && rest[0] == '.') {
    int digits = 0;
    size_t i = 1;
    for (; i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i])); ++i) {
      if (digits < 3) {
        millis = millis * 10 + (rest[i] - '0');
        ++digits;
      }
    }
    while (digits < 3) {
      millis *= 10;
      ++digits;
    }
    rest.remove_prefix(i);
  }
  if (rest != "Z" && rest != "z" && rest != "+00:00") return std::nullopt;
  // A TimePoint counts 64-bit nanoseconds: it ends in 2262 and begins in 1677.
  constexpr long long kMaxSeconds =
      std::chrono::duration_cast<std::chrono::seconds>(TimePoint::duration::max()).count() - 1;
  if (secs > kMaxSeconds || secs < -kMaxSeconds) return std::nullopt;
  return TimePoint(std::chrono::milliseconds(static_cast<long long>(secs) * 1000 + millis));
}

std::optional<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  long long total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    long long n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > 1'000'000'000LL) return std::nullopt;
      ++i;
    }
    std::string_view unit;
    size_t start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    unit = text.substr(start, i - start);
    if (unit == "ms")
      total_ms += n;
    else if (unit == "s")
      total_ms += n * 1000;
    else if (unit == "m")
      total_ms += n * 60'000;
    else if (unit == "h")
      total_ms += n * 3'600'000;
    else if (unit == "d")
      total_ms += n * 86'400'000;
    else
      return std::nullopt;
  }
  // At most 100 years, so that now + duration cannot overflow a time point.
  if (total_ms > 36'500LL * 86'400'000) return std::nullopt;
  return Duration(total_ms);
}

std::string FormatDuration(Duration d) {
  long long ms = d.count();
  if (ms % 3'600'000 == 0 && ms != 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms != 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace sluice
