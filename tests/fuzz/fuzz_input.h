#pragma once

// The fuzz targets read a small text format, so that their seeds are readable files (a fixture
// with a few lines in front) and mutations of a line stay within one field:
//   <one line per field the target names>
//   <header lines "Name: value", as many as given, up to an empty line>   (where a target has them)
//   <the body: every remaining byte>

#include <cctype>
#include <map>
#include <string>
#include <string_view>

namespace sluice::fuzz {

// The text up to the next '\n' (the whole rest when there is none); *rest moves past it.
inline std::string_view NextLine(std::string_view* rest) {
  size_t end = rest->find('\n');
  std::string_view line = rest->substr(0, end);
  rest->remove_prefix(end == std::string_view::npos ? rest->size() : end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// "Name: value" lines up to an empty line, by lower-case name. A line without ':' is a name with
// an empty value.
inline std::map<std::string, std::string> NextHeaders(std::string_view* rest) {
  std::map<std::string, std::string> headers;
  while (!rest->empty()) {
    std::string_view line = NextLine(rest);
    if (line.empty()) break;
    size_t colon = line.find(':');
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    headers[name] = std::string(value);
  }
  return headers;
}

}  // namespace sluice::fuzz
