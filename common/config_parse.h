#pragma once

// The pieces of the configuration parser that its files share (common/config*.cc): reading
// YAML with key paths in every error, and the parsers of each section. Internal to config;
// everything else includes common/config.h.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.h"

namespace sluice::config_parse {

// The parser reports every problem it finds, joined with "; ", up to this many.
constexpr size_t kMaxReportedErrors = 20;

// Kafka topic names are at most 249 characters; the longest suffix Sluice appends is "requests".
constexpr size_t kMaxTopicPrefixLength = 249 - 8;

// A section's known keys (a braced list converts).
using Keys = std::vector<std::string_view>;

inline std::string Child(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}

inline std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

inline std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 60;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    char c = text[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  if (text.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

// What a node holds, for "expected X, got Y" messages.
inline std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "nothing";
  }
  return "nothing";
}

inline size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}

inline std::string UnknownKeyMessage(std::string_view key, const Keys& known) {
  std::string message = "unknown key";
  std::string_view best;
  size_t best_distance = SIZE_MAX;
  for (std::string_view candidate : known) {
    size_t d = EditDistance(key, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  if (!best.empty() && best_distance <= 2 && best_distance < best.size()) {
    message += " (did you mean \"" + std::string(best) + "\"?)";
  }
  return message;
}

inline bool IsEnvNameStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
inline bool IsEnvNameChar(char c) { return IsEnvNameStart(c) || (c >= '0' && c <= '9'); }
inline bool IsAlnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
inline bool IsNameChar(char c) { return IsAlnum(c) || c == '.' || c == '_' || c == '-'; }

// ^[A-Za-z_][A-Za-z0-9_]*$
inline bool IsEnvName(std::string_view name) {
  if (name.empty() || !IsEnvNameStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), IsEnvNameChar);
}

// ^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$: a job name becomes a directory name.
inline bool IsJobName(std::string_view name) {
  if (name.empty() || name.size() > 200 || !IsAlnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(), IsNameChar);
}

// "org/repo", each part of [A-Za-z0-9._-]+.
inline bool IsRepoName(std::string_view repo) {
  size_t slash = repo.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == repo.size()) return false;
  std::string_view org = repo.substr(0, slash);
  std::string_view name = repo.substr(slash + 1);
  return std::all_of(org.begin(), org.end(), IsNameChar) &&
         std::all_of(name.begin(), name.end(), IsNameChar);
}

inline bool IsHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// Checks "HOST:PORT" or "[IPV6]:PORT". Returns an empty string when valid, else why not.
inline std::string ListenProblem(std::string_view listen) {
  std::string_view host;
  std::string_view port;
  if (!listen.empty() && listen[0] == '[') {
    size_t close = listen.find(']');
    if (close == std::string_view::npos) return "unclosed '[' in IPv6 address";
    host = listen.substr(1, close - 1);
    std::string_view rest = listen.substr(close + 1);
    if (rest.empty() || rest[0] != ':') return "expected :PORT after the IPv6 address";
    port = rest.substr(1);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) return "expected HOST:PORT";
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return "IPv6 addresses must be written in brackets, like [::1]:8080";
    }
  }
  if (host.empty()) return "missing host (use 0.0.0.0 to listen on all addresses)";
  if (std::any_of(host.begin(), host.end(), [](char c) { return c == ' ' || c == '\t'; })) {
    return "host contains a space";
  }
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return "port must be a number from 0 to 65535";
  }
  if (std::stoi(std::string(port)) > 65535) return "port must be a number from 0 to 65535";
  return "";
}

// Reads a whole file into *content, or describes in *error why it could not.
inline bool ReadWholeFile(const std::string& path, std::string* content, std::string* error) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    *error = std::strerror(errno);
    return false;
  }
  content->clear();
  errno = 0;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file)) > 0) content->append(buf, n);
  if (std::ferror(file) != 0) {
    *error = std::strerror(errno != 0 ? errno : EIO);
    std::fclose(file);
    return false;
  }
  std::fclose(file);
  return true;
}

// Collects the errors of one parse, each naming the key path it is about.
class Errors {
 public:
  void Add(const std::string& path, const std::string& what) {
    messages_.push_back(path.empty() ? what : path + ": " + what);
  }
  bool empty() const { return messages_.empty(); }
  Status ToStatus() const {
    std::string joined;
    for (size_t i = 0; i < messages_.size() && i < kMaxReportedErrors; ++i) {
      if (i > 0) joined += "; ";
      joined += messages_[i];
    }
    if (messages_.size() > kMaxReportedErrors) {
      joined += "; and " + std::to_string(messages_.size() - kMaxReportedErrors) + " more errors";
    }
    return InvalidArgument(joined);
  }

 private:
  std::vector<std::string> messages_;
};

// Scalar readers. Each returns true when it stored a valid value and false after reporting why
// not; *out is left alone on failure.

inline bool ReadString(const YAML::Node& node, const std::string& path, Errors& errors,
                       std::string* out) {
  if (!node.IsScalar()) {
    errors.Add(path, "expected a string, got " + Describe(node));
    return false;
  }
  *out = node.Scalar();
  return true;
}

inline bool ReadInt(const YAML::Node& node, const std::string& path, int64_t min, int64_t max,
                    Errors& errors, int64_t* out) {
  if (!node.IsScalar()) {
    errors.Add(path, "expected an integer, got " + Describe(node));
    return false;
  }
  std::string_view text = node.Scalar();
  std::string_view digits = text;
  if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec == std::errc::invalid_argument || end != digits.data() + digits.size()) {
    errors.Add(path, "expected an integer, got " + Quote(text));
    return false;
  }
  if (ec == std::errc::result_out_of_range) {
    errors.Add(path, "is out of range, got " + std::string(text));
    return false;
  }
  if (value > max) {
    errors.Add(path, "must be at most " + std::to_string(max) + ", got " + std::string(text));
    return false;
  }
  if (value < min) {
    errors.Add(path, "must be at least " + std::to_string(min) + ", got " + std::string(text));
    return false;
  }
  *out = value;
  return true;
}

inline bool ReadInt(const YAML::Node& node, const std::string& path, int min, Errors& errors,
                    int* out) {
  int64_t value;
  if (!ReadInt(node, path, min, INT_MAX, errors, &value)) return false;
  *out = static_cast<int>(value);
  return true;
}

inline bool ReadNumber(const YAML::Node& node, const std::string& path, double min, Errors& errors,
                       double* out) {
  if (!node.IsScalar()) {
    errors.Add(path, "expected a number, got " + Describe(node));
    return false;
  }
  std::string_view text = node.Scalar();
  std::string_view digits = text;
  if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
      !std::isfinite(value)) {
    errors.Add(path, "expected a number, got " + Quote(text));
    return false;
  }
  if (value < min) {
    char shown[32];
    std::snprintf(shown, sizeof shown, "%g", min);
    errors.Add(path, std::string("must be at least ") + shown + ", got " + std::string(text));
    return false;
  }
  *out = value;
  return true;
}

inline bool ReadBool(const YAML::Node& node, const std::string& path, Errors& errors, bool* out) {
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    if (text == "true" || text == "True" || text == "TRUE") {
      *out = true;
      return true;
    }
    if (text == "false" || text == "False" || text == "FALSE") {
      *out = false;
      return true;
    }
  }
  errors.Add(path, "expected true or false, got " + Describe(node));
  return false;
}

inline bool ReadDuration(const YAML::Node& node, const std::string& path, Errors& errors,
                         Duration* out) {
  std::optional<Duration> value;
  if (node.IsScalar()) value = ParseDuration(node.Scalar());
  if (!value) {
    errors.Add(path, "expected a duration like 10s or 5m, got " + Describe(node));
    return false;
  }
  if (value->count() <= 0) {
    errors.Add(path, "must be greater than 0, got " + node.Scalar());
    return false;
  }
  *out = *value;
  return true;
}

// A list of scalars; a null value is an empty list.
inline bool ReadStringList(const YAML::Node& node, const std::string& path, Errors& errors,
                           std::vector<std::string>* out) {
  if (node.IsNull()) {
    out->clear();
    return true;
  }
  if (!node.IsSequence()) {
    errors.Add(path, "expected a list of strings, got " + Describe(node));
    return false;
  }
  std::vector<std::string> values;
  bool ok = true;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    if (!item.IsScalar()) {
      errors.Add(Index(path, i), "expected a string, got " + Describe(item));
      ok = false;
      continue;
    }
    values.push_back(item.Scalar());
  }
  if (ok) *out = std::move(values);
  return ok;
}

// A map from names to scalars, each stored as its text; a null value is an empty map.
inline bool ReadScalarMap(const YAML::Node& node, const std::string& path, Errors& errors,
                          std::map<std::string, std::string>* out) {
  if (node.IsNull()) {
    out->clear();
    return true;
  }
  if (!node.IsMap()) {
    errors.Add(path, "expected a map, got " + Describe(node));
    return false;
  }
  std::map<std::string, std::string> values;
  bool ok = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar() || key.Scalar().empty()) {
      errors.Add(path, "keys must be non-empty strings");
      ok = false;
      continue;
    }
    std::string value_path = Child(path, key.Scalar());
    if (values.count(key.Scalar()) > 0) {
      errors.Add(value_path, "duplicate key");
      ok = false;
      continue;
    }
    // The value itself is never quoted: it may be a password.
    if (!value.IsScalar()) {
      errors.Add(value_path, "expected a string, number or boolean");
      ok = false;
      continue;
    }
    values[key.Scalar()] = value.Scalar();
  }
  if (ok) *out = std::move(values);
  return ok;
}

// One YAML map being read: checks on construction that it is a map (null counts as empty) whose
// keys are known strings without repeats, then hands out its values with their paths.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string path, const Keys& known, Errors& errors)
      : node_(node), path_(std::move(path)), errors_(errors) {
    if (node_.IsNull()) return;
    if (!node_.IsMap()) {
      errors_.Add(path_.empty() ? "config" : path_, "expected a map, got " + Describe(node_));
      valid_ = false;
      return;
    }
    std::set<std::string> seen;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) {
        errors_.Add(path_.empty() ? "config" : path_, "keys must be strings");
        valid_ = false;
        continue;
      }
      const std::string& name = key.Scalar();
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        errors_.Add(Child(path_, name), UnknownKeyMessage(name, known));
        valid_ = false;
      } else if (!seen.insert(name).second) {
        errors_.Add(Child(path_, name), "duplicate key");
        valid_ = false;
      }
    }
  }

  // False when the node is not a map or has unknown or repeated keys (already reported).
  bool valid() const { return valid_; }
  const std::string& path() const { return path_; }
  std::string PathOf(std::string_view key) const { return Child(path_, key); }
  bool Has(std::string_view key) const { return valid_ && node_.IsMap() && Get(key).IsDefined(); }
  YAML::Node Get(std::string_view key) const {
    if (!valid_ || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    return node_[std::string(key)];
  }

  // Each reads an optional key: true when it is absent (*out keeps its default) or valid.
  bool String(std::string_view key, std::string* out) const {
    return !Has(key) || ReadString(Get(key), PathOf(key), errors_, out);
  }
  bool NonEmptyString(std::string_view key, std::string* out) const {
    if (!Has(key)) return true;
    std::string value;
    if (!ReadString(Get(key), PathOf(key), errors_, &value)) return false;
    if (value.empty()) {
      errors_.Add(PathOf(key), "must not be empty");
      return false;
    }
    *out = std::move(value);
    return true;
  }
  bool Int(std::string_view key, int min, int* out) const {
    return !Has(key) || ReadInt(Get(key), PathOf(key), min, errors_, out);
  }
  bool Number(std::string_view key, double min, double* out) const {
    return !Has(key) || ReadNumber(Get(key), PathOf(key), min, errors_, out);
  }
  bool Bool(std::string_view key, bool* out) const {
    return !Has(key) || ReadBool(Get(key), PathOf(key), errors_, out);
  }
  bool Duration(std::string_view key, sluice::Duration* out) const {
    return !Has(key) || ReadDuration(Get(key), PathOf(key), errors_, out);
  }
  bool StringList(std::string_view key, std::vector<std::string>* out) const {
    return !Has(key) || ReadStringList(Get(key), PathOf(key), errors_, out);
  }
  bool ScalarMap(std::string_view key, std::map<std::string, std::string>* out) const {
    return !Has(key) || ReadScalarMap(Get(key), PathOf(key), errors_, out);
  }

 private:
  const YAML::Node node_;
  std::string path_;
  Errors& errors_;
  bool valid_ = true;
};

// The clear text of a secret given as token_file (the file's content, trailing whitespace
// removed) or token_env (the variable's value); nullopt, with the error recorded, otherwise.
// Messages never quote the secret.
inline std::optional<std::string> ReadSecret(const MapReader& map, std::string_view source,
                                             Errors& errors) {
  if (source == "token_file") {
    std::string path;
    if (!map.NonEmptyString("token_file", &path)) return std::nullopt;
    std::string content;
    std::string error;
    if (!ReadWholeFile(path, &content, &error)) {
      errors.Add(map.PathOf("token_file"), "cannot read " + path + ": " + error);
      return std::nullopt;
    }
    while (!content.empty() && std::isspace(static_cast<unsigned char>(content.back()))) {
      content.pop_back();
    }
    if (content.empty()) {
      errors.Add(map.PathOf("token_file"), "file " + path + " is empty");
      return std::nullopt;
    }
    return content;
  }
  std::string name;
  if (!map.NonEmptyString("token_env", &name)) return std::nullopt;
  if (!IsEnvName(name)) {
    errors.Add(map.PathOf("token_env"), "not a valid environment variable name: " + Quote(name));
    return std::nullopt;
  }
  const char* token = std::getenv(name.c_str());
  if (token == nullptr) {
    errors.Add(map.PathOf("token_env"), "environment variable " + name + " is not set");
    return std::nullopt;
  }
  if (*token == '\0') {
    errors.Add(map.PathOf("token_env"), "environment variable " + name + " is empty");
    return std::nullopt;
  }
  return std::string(token);
}

// The sections, each in the file of its domain.
void ParseClients(const YAML::Node& node, Errors& errors, std::vector<ClientConfig>* out);
void ParseJobs(const YAML::Node& node, bool required, Errors& errors, std::vector<JobConfig>* out);
void ParseProjects(const YAML::Node& node, const std::vector<ClientConfig>& clients, Errors& errors,
                   std::vector<ProjectConfig>* out);
void ParseWebhooks(const YAML::Node& node, Errors& errors, WebhooksConfig* out);
void ParseGitLab(const YAML::Node& node, Errors& errors, GitLabConfig* out);
// What jobs and pipeline jobs share (common/config_jobs.cc).
void ParseJobName(const MapReader& map, Errors& errors, std::string* name);
void ParseCommand(const MapReader& map, Errors& errors, std::vector<std::string>* command);
void ParseEnv(const MapReader& map, std::string_view key, Errors& errors,
              std::map<std::string, std::string>* env);
// How a job runs: executor, image, network, limits, secret_env (common/config_runtime.cc).
inline const Keys kRuntimeKeys = {"executor", "image", "network", "limits", "secret_env"};
void ParseRuntime(const MapReader& map, Errors& errors, JobRuntime* out);
// The optional `executor` key: nullopt when absent or invalid (recorded).
std::optional<ExecutorKind> ReadExecutor(const MapReader& map, Errors& errors);
void ParseLimits(const YAML::Node& node, const std::string& path, Errors& errors, JobLimits* out);
void ParseSecretEnv(const MapReader& parent, std::string_view key, Errors& errors,
                    std::map<std::string, SecretSource>* out);
bool ReadBytes(const YAML::Node& node, const std::string& path, Errors& errors, uint64_t* out);
// The keys of a section, with kRuntimeKeys after them.
inline Keys WithRuntimeKeys(Keys all) {
  all.insert(all.end(), kRuntimeKeys.begin(), kRuntimeKeys.end());
  return all;
}

}  // namespace sluice::config_parse
