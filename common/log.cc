#include "common/log.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

#include "common/config.h"
#include "common/utf8.h"

namespace sluice {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<LogFormat> g_format{LogFormat::kText};
std::mutex g_mutex;

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "INFO";
}

constexpr char kHex[] = "0123456789abcdef";

std::string ByteEscape(unsigned char c) {
  switch (c) {
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      return std::string("\\x") + kHex[c >> 4] + kHex[c & 0xF];
  }
}

std::string CodePointEscape(unsigned cp) {
  std::string out = "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xF];
  return out;
}

// A field's value in the text format: bare when it is one word, else quoted (with its quotes and
// backslashes escaped), so that "key=value" pairs stay apart.
std::string TextFieldValue(std::string_view escaped) {
  bool bare = !escaped.empty() && escaped.find_first_of(" \"=\\") == std::string_view::npos;
  if (bare) return std::string(escaped);
  std::string out = "\"";
  for (char c : escaped) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string EscapeLogValue(std::string_view value, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(value.size(), max_bytes) + 8);
  size_t i = 0;
  while (i < value.size()) {
    auto c = static_cast<unsigned char>(value[i]);
    std::string_view unit;  // the input consumed
    std::string escaped;    // written instead of `unit`, when not empty
    if (c < 0x80) {
      unit = value.substr(i, 1);
      if (c < 0x20 || c == 0x7F) escaped = ByteEscape(c);
    } else if (size_t n = Utf8SequenceLength(value, i); n > 0) {
      unit = value.substr(i, n);
      auto b1 = static_cast<unsigned char>(unit[1]);
      if (c == 0xC2 && b1 <= 0x9F) {
        escaped = CodePointEscape(b1);  // C1 control: U+0080..U+009F
      } else if (c == 0xE2 && b1 == 0x80 &&
                 (static_cast<unsigned char>(unit[2]) == 0xA8 ||
                  static_cast<unsigned char>(unit[2]) == 0xA9)) {
        escaped = CodePointEscape(0x2000 + (static_cast<unsigned char>(unit[2]) & 0x3F));
      }
    } else {
      unit = value.substr(i, 1);
      escaped = ByteEscape(c);
    }
    std::string_view piece = escaped.empty() ? unit : std::string_view(escaped);
    if (out.size() + piece.size() > max_bytes) {
      out += "…";
      break;
    }
    out += piece;
    i += unit.size();
  }
  return out;
}

std::string FormatLogLine(LogFormat format, TimePoint time, LogLevel level,
                          std::string_view component, std::string_view message, LogFields fields) {
  std::string when = FormatRfc3339(time);
  std::string what = EscapeLogValue(message, kMaxLogMessageBytes);
  std::string who = EscapeLogValue(component, kMaxLogFieldBytes);
  if (format == LogFormat::kJson) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto string = [&w](std::string_view s) {
      w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    };
    w.StartObject();
    w.Key("time");
    string(when);
    w.Key("level");
    w.String(LevelName(level));
    w.Key("component");
    string(who);
    w.Key("message");
    string(what);
    for (const auto& [key, value] : fields) {
      if (value.empty()) continue;
      std::string k = EscapeLogValue(key, kMaxLogFieldBytes);
      w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
      string(EscapeLogValue(value, kMaxLogFieldBytes));
    }
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize()) + "\n";
  }
  std::string line = when + " " + LevelName(level) + " " + who + ": " + what;
  for (const auto& [key, value] : fields) {
    if (value.empty()) continue;
    line += ' ';
    line += EscapeLogValue(key, kMaxLogFieldBytes);
    line += '=';
    line += TextFieldValue(EscapeLogValue(value, kMaxLogFieldBytes));
  }
  return line + "\n";
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
void SetLogFormat(LogFormat format) { g_format.store(format); }

void Log(LogLevel level, std::string_view component, std::string_view message, LogFields fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  std::string line = FormatLogLine(g_format.load(), SystemClock::Instance().Now(), level, component,
                                   message, fields);
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace sluice
