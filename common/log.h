#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "common/clock.h"

namespace sluice {

enum class LogFormat;  // common/config.h: kText or kJson

// Logging to stderr, one line per event whatever the input. Thread-safe. Never given secrets or
// request bodies.
//   text: "<RFC 3339> <level> <component>: <message> key=value ..."
//   json: {"time":"<RFC 3339>","level":"...","component":"...","message":"...","key":"value",...}
// Every logged value (message, component, field names and values) passes through
// EscapeLogValue, so a caller's bytes can neither start a line nor break the JSON.
enum class LogLevel { kDebug, kInfo, kWarn, kError };

// A field of a log event: a name (a constant of the code, e.g. "execution_id") and its value. A
// field whose value is empty is left out of the line.
using LogField = std::pair<std::string_view, std::string_view>;
using LogFields = std::initializer_list<LogField>;

// A message is cut at this many bytes, a field's value at kMaxLogFieldBytes; a cut ends in "…".
constexpr size_t kMaxLogMessageBytes = 16 * 1024;
constexpr size_t kMaxLogFieldBytes = 512;

void SetLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);

void Log(LogLevel level, std::string_view component, std::string_view message,
         LogFields fields = {});
inline void LogInfo(std::string_view c, std::string_view m, LogFields f = {}) {
  Log(LogLevel::kInfo, c, m, f);
}
inline void LogWarn(std::string_view c, std::string_view m, LogFields f = {}) {
  Log(LogLevel::kWarn, c, m, f);
}
inline void LogError(std::string_view c, std::string_view m, LogFields f = {}) {
  Log(LogLevel::kError, c, m, f);
}
inline void LogDebug(std::string_view c, std::string_view m, LogFields f = {}) {
  Log(LogLevel::kDebug, c, m, f);
}

// `value` as printable, valid UTF-8 of at most `max_bytes` (plus "…" when cut): CR, LF and TAB
// become \r, \n and \t; other C0 controls, DEL and each byte that is not part of valid UTF-8
// become \xHH; the C1 controls and U+2028/U+2029 (line breaks to some readers) become \uHHHH.
// Backslashes are kept as they are.
std::string EscapeLogValue(std::string_view value, size_t max_bytes = kMaxLogMessageBytes);

// The line Log writes (with its final newline), as a pure function for tests.
std::string FormatLogLine(LogFormat format, TimePoint time, LogLevel level,
                          std::string_view component, std::string_view message, LogFields fields);

}  // namespace sluice
