#include "common/config.h"

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
#include <regex>
#include <set>
#include <string_view>
#include <utility>

#include "common/crypto.h"
#include "common/record_limits.h"
#include "common/url.h"

namespace sluice {
namespace {

// The parser reports every problem it finds, joined with "; ", up to this many.
constexpr size_t kMaxReportedErrors = 20;

// Kafka topic names are at most 249 characters; the longest suffix Sluice appends is "requests".
constexpr size_t kMaxTopicPrefixLength = 249 - 8;

using Keys = std::initializer_list<std::string_view>;

std::string Child(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string Quote(std::string_view text) {
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
std::string Describe(const YAML::Node& node) {
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

size_t EditDistance(std::string_view a, std::string_view b) {
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

std::string UnknownKeyMessage(std::string_view key, Keys known) {
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

bool IsEnvNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsEnvNameChar(char c) { return IsEnvNameStart(c) || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool IsNameChar(char c) { return IsAlnum(c) || c == '.' || c == '_' || c == '-'; }

// ^[A-Za-z_][A-Za-z0-9_]*$
bool IsEnvName(std::string_view name) {
  if (name.empty() || !IsEnvNameStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), IsEnvNameChar);
}

// ^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$: a job name becomes a directory name.
bool IsJobName(std::string_view name) {
  if (name.empty() || name.size() > 200 || !IsAlnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(), IsNameChar);
}

// "org/repo", each part of [A-Za-z0-9._-]+.
bool IsRepoName(std::string_view repo) {
  size_t slash = repo.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == repo.size()) return false;
  std::string_view org = repo.substr(0, slash);
  std::string_view name = repo.substr(slash + 1);
  return std::all_of(org.begin(), org.end(), IsNameChar) &&
         std::all_of(name.begin(), name.end(), IsNameChar);
}

bool IsHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// Checks "HOST:PORT" or "[IPV6]:PORT". Returns an empty string when valid, else why not.
std::string ListenProblem(std::string_view listen) {
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
bool ReadWholeFile(const std::string& path, std::string* content, std::string* error) {
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

bool ReadString(const YAML::Node& node, const std::string& path, Errors& errors, std::string* out) {
  if (!node.IsScalar()) {
    errors.Add(path, "expected a string, got " + Describe(node));
    return false;
  }
  *out = node.Scalar();
  return true;
}

bool ReadInt(const YAML::Node& node, const std::string& path, int64_t min, int64_t max,
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

bool ReadInt(const YAML::Node& node, const std::string& path, int min, Errors& errors, int* out) {
  int64_t value;
  if (!ReadInt(node, path, min, INT_MAX, errors, &value)) return false;
  *out = static_cast<int>(value);
  return true;
}

bool ReadNumber(const YAML::Node& node, const std::string& path, double min, Errors& errors,
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

bool ReadBool(const YAML::Node& node, const std::string& path, Errors& errors, bool* out) {
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

bool ReadDuration(const YAML::Node& node, const std::string& path, Errors& errors, Duration* out) {
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
bool ReadStringList(const YAML::Node& node, const std::string& path, Errors& errors,
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
bool ReadScalarMap(const YAML::Node& node, const std::string& path, Errors& errors,
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
  MapReader(const YAML::Node& node, std::string path, Keys known, Errors& errors)
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

void ParseGateway(const YAML::Node& node, Errors& errors, GatewayConfig* out) {
  MapReader map(
      node, "gateway",
      {"listen", "public_url", "max_body_bytes", "request_timeout", "threads", "max_in_flight",
       "header_timeout", "body_timeout", "idle_timeout", "max_connections", "max_env_value_bytes",
       "max_env_total_bytes"},
      errors);
  if (!map.valid()) return;
  if (map.String("listen", &out->listen)) {
    std::string problem = ListenProblem(out->listen);
    if (!problem.empty()) {
      errors.Add(map.PathOf("listen"), problem + ", got " + Quote(out->listen));
    }
  }
  if (map.String("public_url", &out->public_url)) {
    std::string_view url = out->public_url;
    bool http = url.starts_with("http://") && url.size() > 7;
    bool https = url.starts_with("https://") && url.size() > 8;
    if (!http && !https) {
      errors.Add(map.PathOf("public_url"),
                 "must start with http:// or https://, got " + Quote(out->public_url));
    }
  }
  for (auto [key, field] : {std::pair{"max_body_bytes", &out->max_body_bytes},
                            std::pair{"max_env_value_bytes", &out->max_env_value_bytes},
                            std::pair{"max_env_total_bytes", &out->max_env_total_bytes}}) {
    if (!map.Has(key)) continue;
    int64_t value;
    if (ReadInt(map.Get(key), map.PathOf(key), 1, INT64_MAX, errors, &value)) {
      *field = static_cast<size_t>(value);
    }
  }
  // A create's records hold its body's content and Sluice's own fields; a body the gateway
  // accepts must make records Kafka takes, or a 200 would be followed by a refusal.
  if (out->max_body_bytes > kMaxRecordBytes - kRequestRecordReserveBytes) {
    errors.Add(map.PathOf("max_body_bytes"),
               std::to_string(out->max_body_bytes) +
                   " bytes could make a record larger than the topics' max.message.bytes of " +
                   std::to_string(kMaxRecordBytes) + " (with " +
                   std::to_string(kRequestRecordReserveBytes) +
                   " bytes kept for Sluice's own fields); use at most " +
                   std::to_string(kMaxRecordBytes - kRequestRecordReserveBytes));
  }
  map.Duration("request_timeout", &out->request_timeout);
  map.Int("threads", 1, &out->threads);
  map.Int("max_in_flight", 1, &out->max_in_flight);
  map.Duration("header_timeout", &out->header_timeout);
  map.Duration("body_timeout", &out->body_timeout);
  map.Duration("idle_timeout", &out->idle_timeout);
  map.Int("max_connections", 1, &out->max_connections);
}

void ParseLog(const YAML::Node& node, Errors& errors, LogConfig* out) {
  MapReader map(node, "log", {"format"}, errors);
  if (!map.valid()) return;
  std::string format;
  if (!map.String("format", &format)) return;
  if (format == "text") {
    out->format = LogFormat::kText;
  } else if (format == "json") {
    out->format = LogFormat::kJson;
  } else {
    errors.Add(map.PathOf("format"), "must be text or json, got " + Quote(format));
  }
}

void ParseKafka(const YAML::Node& node, Errors& errors, KafkaConfig* out) {
  MapReader map(node, "kafka",
                {"brokers", "topic_prefix", "partitions", "replication_factor", "properties"},
                errors);
  if (!map.valid()) return;
  map.NonEmptyString("brokers", &out->brokers);
  if (map.String("topic_prefix", &out->topic_prefix)) {
    const std::string& prefix = out->topic_prefix;
    if (!std::all_of(prefix.begin(), prefix.end(), IsNameChar)) {
      errors.Add(map.PathOf("topic_prefix"),
                 "may hold only letters, digits, '.', '_' and '-', got " + Quote(prefix));
    } else if (prefix.size() > kMaxTopicPrefixLength) {
      errors.Add(map.PathOf("topic_prefix"),
                 "must be at most " + std::to_string(kMaxTopicPrefixLength) + " characters");
    }
  }
  map.Int("partitions", 1, &out->partitions);
  // Pipeline and job ids are drawn from a command's partition and offset (common/pipeline.h).
  if (out->partitions > 4096) errors.Add(map.PathOf("partitions"), "must be at most 4096");
  map.Int("replication_factor", 1, &out->replication_factor);
  map.ScalarMap("properties", &out->properties);
}

void ParseWorker(const YAML::Node& node, Errors& errors, WorkerConfig* out) {
  MapReader map(node, "worker",
                {"max_concurrency", "workspace", "artifacts", "heartbeat", "lease",
                 "shutdown_grace", "kill_grace"},
                errors);
  if (!map.valid()) return;
  map.Int("max_concurrency", 1, &out->max_concurrency);
  map.NonEmptyString("workspace", &out->workspace);
  map.NonEmptyString("artifacts", &out->artifacts);
  bool heartbeat_ok = map.Duration("heartbeat", &out->heartbeat);
  bool lease_ok = map.Duration("lease", &out->lease);
  map.Duration("shutdown_grace", &out->shutdown_grace);
  map.Duration("kill_grace", &out->kill_grace);
  // A worker stops a job whose claim it could not renew for half the lease, so a heartbeat
  // must fit in there with room to spare for Kafka's acknowledgement.
  if (heartbeat_ok && lease_ok && out->heartbeat * 3 > out->lease) {
    errors.Add(map.PathOf("heartbeat"), "must be at most a third of worker.lease (" +
                                            FormatDuration(out->heartbeat) + " > " +
                                            FormatDuration(out->lease) + " / 3)");
  }
}

void ParseRateLimit(const YAML::Node& node, const std::string& path, Errors& errors,
                    RateLimit* out) {
  MapReader map(node, path, {"per_second", "burst"}, errors);
  if (!map.valid()) return;
  RateLimit limit;
  if (!map.Number("per_second", 0, &limit.per_second)) return;
  if (limit.per_second > INT_MAX) {
    errors.Add(map.PathOf("per_second"), "must be at most " + std::to_string(INT_MAX));
    return;
  }
  if (map.Has("burst")) {
    if (!map.Int("burst", 1, &limit.burst)) return;
  } else {
    limit.burst = std::max(1, static_cast<int>(std::ceil(limit.per_second)));
  }
  *out = limit;
}

// The clear text of a secret given as token_file (the file's content, trailing whitespace
// removed) or token_env (the variable's value); nullopt, with the error recorded, otherwise.
// Messages never quote the secret.
std::optional<std::string> ReadSecret(const MapReader& map, std::string_view source,
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

// Resolves the one token source of a client to its SHA-256. Messages never quote the token.
void ParseClientToken(const MapReader& map, Errors& errors, ClientConfig* out) {
  std::vector<std::string_view> given;
  for (std::string_view key : {"token_sha256", "token_file", "token_env"}) {
    if (map.Has(key)) given.push_back(key);
  }
  if (given.empty()) {
    errors.Add(map.path(), "one of token_sha256, token_file or token_env is required");
    return;
  }
  if (given.size() > 1) {
    std::string list;
    for (size_t i = 0; i < given.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == given.size() ? " and " : ", ") + std::string(given[i]);
    }
    errors.Add(map.path(),
               "give exactly one of token_sha256, token_file or token_env, not " + list);
    return;
  }
  std::string value;
  if (given[0] == "token_sha256") {
    const YAML::Node node = map.Get("token_sha256");
    if (!node.IsScalar() || node.Scalar().size() != 64 || !IsHex(node.Scalar())) {
      errors.Add(map.PathOf("token_sha256"), "expected 64 hexadecimal characters");
      return;
    }
    value = node.Scalar();
    std::transform(value.begin(), value.end(), value.begin(),
                   [](char c) { return c >= 'A' && c <= 'F' ? static_cast<char>(c + 32) : c; });
    out->token_sha256 = value;
  } else if (auto secret = ReadSecret(map, given[0], errors)) {
    out->token_sha256 = Sha256Hex(*secret);
  }
}

void ParseClients(const YAML::Node& node, Errors& errors, std::vector<ClientConfig>* out) {
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    errors.Add("clients", "expected a list, got " + Describe(node));
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < node.size(); ++i) {
    MapReader map(
        node[i], Index("clients", i),
        {"name", "token_sha256", "token_file", "token_env", "allow_jobs", "rate_limit", "admin"},
        errors);
    if (!map.valid()) continue;
    ClientConfig client;
    if (!map.Has("name")) {
      errors.Add(map.PathOf("name"), "is required");
    } else if (map.NonEmptyString("name", &client.name) && !names.insert(client.name).second) {
      errors.Add(map.PathOf("name"), "duplicate client name " + Quote(client.name));
    }
    ParseClientToken(map, errors, &client);
    if (map.StringList("allow_jobs", &client.allow_jobs)) {
      for (size_t j = 0; j < client.allow_jobs.size(); ++j) {
        if (client.allow_jobs[j].empty()) {
          errors.Add(Index(map.PathOf("allow_jobs"), j), "must not be empty");
        }
      }
    }
    if (map.Has("rate_limit")) {
      ParseRateLimit(map.Get("rate_limit"), map.PathOf("rate_limit"), errors, &client.rate_limit);
    }
    map.Bool("admin", &client.admin);
    out->push_back(std::move(client));
  }
}

// An exact environment variable name or a PREFIX* glob whose prefix starts a valid name.
bool IsEnvOverridePattern(std::string_view pattern) {
  if (!pattern.empty() && pattern.back() == '*') pattern.remove_suffix(1);
  return IsEnvName(pattern);
}

// The required `name` of a job; left empty when it is not a valid name.
void ParseJobName(const MapReader& map, Errors& errors, std::string* name) {
  if (!map.Has("name")) {
    errors.Add(map.PathOf("name"), "is required");
  } else if (map.String("name", name) && !IsJobName(*name)) {
    errors.Add(map.PathOf("name"),
               "must start with a letter or digit and hold at most 200 letters, digits, '.', '_' "
               "or '-', got " +
                   Quote(*name));
    name->clear();
  }
}

// The required `command` of a job: a non-empty list whose first item names the program.
void ParseCommand(const MapReader& map, Errors& errors, std::vector<std::string>* command) {
  if (!map.Has("command")) {
    errors.Add(map.PathOf("command"), "is required");
  } else if (map.StringList("command", command)) {
    if (command->empty()) {
      errors.Add(map.PathOf("command"), "must not be empty");
    } else if ((*command)[0].empty()) {
      errors.Add(Index(map.PathOf("command"), 0), "the program must not be empty");
    }
  }
}

// An optional map of environment variables under `key`.
void ParseEnv(const MapReader& map, std::string_view key, Errors& errors,
              std::map<std::string, std::string>* env) {
  if (!map.ScalarMap(key, env)) return;
  for (const auto& [name, value] : *env) {
    if (!IsEnvName(name)) {
      errors.Add(Child(map.PathOf(key), name), "not a valid environment variable name");
    }
  }
}

void ParseJob(const MapReader& map, Errors& errors, JobConfig* job) {
  ParseJobName(map, errors, &job->name);

  bool type_ok = false;
  if (!map.Has("type")) {
    errors.Add(map.PathOf("type"), "is required (periodic, postsubmit or presubmit)");
  } else {
    const YAML::Node node = map.Get("type");
    std::optional<JobType> type;
    if (node.IsScalar()) type = JobTypeFromName(node.Scalar());
    if (!type || *type == JobType::kUnspecified) {
      errors.Add(map.PathOf("type"),
                 "expected periodic, postsubmit or presubmit, got " + Describe(node));
    } else {
      job->type = *type;
      type_ok = true;
    }
  }

  ParseCommand(map, errors, &job->command);
  ParseEnv(map, "env", errors, &job->env);

  if (map.StringList("allow_env_override", &job->allow_env_override)) {
    for (size_t i = 0; i < job->allow_env_override.size(); ++i) {
      const std::string& pattern = job->allow_env_override[i];
      if (!IsEnvOverridePattern(pattern)) {
        errors.Add(Index(map.PathOf("allow_env_override"), i),
                   "expected an environment variable name or a NAME_PREFIX* pattern, got " +
                       Quote(pattern));
      }
    }
  }

  map.Duration("timeout", &job->timeout);
  map.Int("max_attempts", 1, &job->max_attempts);

  if (map.String("repo", &job->repo) && map.Has("repo") && !IsRepoName(job->repo)) {
    errors.Add(map.PathOf("repo"), "expected org/repo, got " + Quote(job->repo));
  }

  for (auto [key, list] :
       {std::pair{"branches", &job->branches}, std::pair{"skip_branches", &job->skip_branches},
        std::pair{"tags", &job->tags}}) {
    if (!map.StringList(key, list)) continue;
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string& pattern = (*list)[i];
      // std::regex reports a bad pattern only by throwing; this runs at start-up only.
      try {
        std::regex compiled(pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        errors.Add(Index(map.PathOf(key), i),
                   "invalid regular expression " + Quote(pattern) + ": " + e.what());
      }
    }
  }

  if (map.StringList("allow_clone_uri", &job->allow_clone_uri)) {
    for (size_t i = 0; i < job->allow_clone_uri.size(); ++i) {
      if (job->allow_clone_uri[i].empty()) {
        errors.Add(Index(map.PathOf("allow_clone_uri"), i), "must not be empty");
      }
    }
  }

  if (map.Bool("clone", &job->clone) && type_ok && job->clone && job->type == JobType::kPeriodic) {
    errors.Add(map.PathOf("clone"), "only postsubmit and presubmit jobs can clone a repository");
  }
}

// `required`: a config without a projects section needs at least one job.
void ParseJobs(const YAML::Node& node, bool required, Errors& errors, std::vector<JobConfig>* out) {
  if (node.IsDefined() && !node.IsNull() && !node.IsSequence()) {
    errors.Add("jobs", "expected a list, got " + Describe(node));
    return;
  }
  if (!node.IsDefined() || node.IsNull() || node.size() == 0) {
    if (required) errors.Add("jobs", "at least one job is required (or a project)");
    return;
  }
  std::map<std::string, size_t> first_index;
  for (size_t i = 0; i < node.size(); ++i) {
    MapReader map(
        node[i], Index("jobs", i),
        {"name", "type", "command", "env", "allow_env_override", "timeout", "max_attempts", "repo",
         "branches", "skip_branches", "tags", "clone", "allow_clone_uri"},
        errors);
    if (!map.valid()) continue;
    JobConfig job;
    ParseJob(map, errors, &job);
    if (!job.name.empty()) {
      auto [it, inserted] = first_index.emplace(job.name, i);
      if (!inserted) {
        errors.Add(map.PathOf("name"), "duplicate job name " + Quote(job.name) + " (also " +
                                           Index("jobs", it->second) + ")");
      }
    }
    out->push_back(std::move(job));
  }
}

void ParsePipelineJob(const MapReader& map, const std::set<std::string>& stages, Errors& errors,
                      PipelineJobConfig* job) {
  ParseJobName(map, errors, &job->name);
  if (!map.Has("stage")) {
    errors.Add(map.PathOf("stage"), "is required");
  } else if (map.String("stage", &job->stage) && !stages.count(job->stage)) {
    errors.Add(map.PathOf("stage"),
               "is not one of the pipeline's stages, got " + Quote(job->stage));
  }
  std::string when = "on_success";
  if (map.String("when", &when)) {
    if (when == "on_success") {
      job->when = JobWhen::kOnSuccess;
    } else if (when == "manual") {
      job->when = JobWhen::kManual;
    } else if (when == "always") {
      job->when = JobWhen::kAlways;
    } else {
      errors.Add(map.PathOf("when"), "expected on_success, manual or always, got " + Quote(when));
    }
  }
  job->allow_failure = job->when == JobWhen::kManual;
  map.Bool("allow_failure", &job->allow_failure);
  ParseCommand(map, errors, &job->command);
  ParseEnv(map, "env", errors, &job->env);
  map.Duration("timeout", &job->timeout);
}

void ParsePipeline(const YAML::Node& node, const std::string& path, Errors& errors,
                   ProjectConfig* project) {
  MapReader map(node, path, {"stages", "jobs"}, errors);
  if (!map.valid()) return;
  std::set<std::string> stages;
  if (!map.Has("stages")) {
    errors.Add(map.PathOf("stages"), "is required");
  } else if (map.StringList("stages", &project->stages)) {
    if (project->stages.empty()) errors.Add(map.PathOf("stages"), "must not be empty");
    for (size_t i = 0; i < project->stages.size(); ++i) {
      if (!IsJobName(project->stages[i])) {
        errors.Add(Index(map.PathOf("stages"), i),
                   "expected a name of letters, digits, '.', '_' or '-', got " +
                       Quote(project->stages[i]));
      } else if (!stages.insert(project->stages[i]).second) {
        errors.Add(Index(map.PathOf("stages"), i), "duplicate stage " + Quote(project->stages[i]));
      }
    }
  }
  const YAML::Node jobs = map.Get("jobs");
  if (!jobs.IsDefined() || jobs.IsNull() || !jobs.IsSequence() || jobs.size() == 0) {
    errors.Add(map.PathOf("jobs"), "expected a list of at least one job");
    return;
  }
  if (jobs.size() > 63) {  // kMaxPipelineJobs: each job's id is drawn from its pipeline's
    errors.Add(map.PathOf("jobs"),
               "a pipeline has at most 63 jobs, got " + std::to_string(jobs.size()));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < jobs.size(); ++i) {
    MapReader job_map(jobs[i], Index(map.PathOf("jobs"), i),
                      {"name", "stage", "when", "allow_failure", "command", "env", "timeout"},
                      errors);
    if (!job_map.valid()) continue;
    PipelineJobConfig job;
    ParsePipelineJob(job_map, stages, errors, &job);
    if (!job.name.empty() && !names.insert(job.name).second) {
      errors.Add(job_map.PathOf("name"), "duplicate job name " + Quote(job.name));
    }
    project->jobs.push_back(std::move(job));
  }
}

bool IsProjectPath(std::string_view path) {
  if (path.empty() || path.size() > 255 || path.front() == '/' || path.back() == '/') return false;
  size_t segment = 0;
  for (char c : path) {
    if (c == '/') {
      if (segment == 0) return false;
      segment = 0;
    } else if (!IsNameChar(c)) {
      return false;
    } else {
      ++segment;
    }
  }
  return path.find('/') != std::string_view::npos;
}

void ParseProject(const MapReader& map, const std::set<std::string>& clients, Errors& errors,
                  ProjectConfig* project) {
  if (!map.Has("id")) {
    errors.Add(map.PathOf("id"), "is required");
  } else {
    int64_t id = 0;
    // Ids must stay exact in JavaScript (below 2^53).
    if (ReadInt(map.Get("id"), map.PathOf("id"), 1, (int64_t{1} << 53) - 1, errors, &id)) {
      project->id = id;
    }
  }
  if (!map.Has("path")) {
    errors.Add(map.PathOf("path"), "is required");
  } else if (map.String("path", &project->path) && !IsProjectPath(project->path)) {
    errors.Add(map.PathOf("path"), "expected group/project (letters, digits, '.', '_', '-'), got " +
                                       Quote(project->path));
  }
  if (map.Has("refs")) {
    MapReader refs(map.Get("refs"), map.PathOf("refs"), {"branches", "tags"}, errors);
    if (refs.valid()) {
      refs.StringList("branches", &project->branches);
      refs.StringList("tags", &project->tags);
    }
  }
  map.String("repository", &project->repository);
  ParseEnv(map, "variables", errors, &project->variables);
  std::map<std::string, std::string> members;
  if (map.ScalarMap("members", &members)) {
    for (const auto& [client, role_name] : members) {
      std::string path = Child(map.PathOf("members"), client);
      std::optional<ProjectRole> role = ProjectRoleFromName(role_name);
      if (!clients.count(client)) {
        errors.Add(path, "no client is named " + Quote(client));
      } else if (!role) {
        errors.Add(path, "expected reporter, developer or maintainer, got " + Quote(role_name));
      } else {
        project->members[client] = *role;
      }
    }
  }
  if (!map.Has("pipeline")) {
    errors.Add(map.PathOf("pipeline"), "is required");
  } else {
    ParsePipeline(map.Get("pipeline"), map.PathOf("pipeline"), errors, project);
  }
}

void ParseProjects(const YAML::Node& node, const std::vector<ClientConfig>& clients, Errors& errors,
                   std::vector<ProjectConfig>* out) {
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    errors.Add("projects", "expected a list, got " + Describe(node));
    return;
  }
  std::set<std::string> client_names;
  for (const ClientConfig& c : clients) client_names.insert(c.name);
  std::set<int64_t> ids;
  std::set<std::string> paths;
  for (size_t i = 0; i < node.size(); ++i) {
    MapReader map(node[i], Index("projects", i),
                  {"id", "path", "refs", "repository", "variables", "members", "pipeline"}, errors);
    if (!map.valid()) continue;
    ProjectConfig project;
    ParseProject(map, client_names, errors, &project);
    if (project.id != 0 && !ids.insert(project.id).second) {
      errors.Add(map.PathOf("id"), "duplicate project id " + std::to_string(project.id));
    }
    if (!project.path.empty() && !paths.insert(project.path).second) {
      errors.Add(map.PathOf("path"), "duplicate project path " + Quote(project.path));
    }
    out->push_back(std::move(project));
  }
}

}  // namespace

std::optional<ProjectRole> ProjectRoleFromName(std::string_view name) {
  if (name == "reporter") return ProjectRole::kReporter;
  if (name == "developer") return ProjectRole::kDeveloper;
  if (name == "maintainer") return ProjectRole::kMaintainer;
  return std::nullopt;
}

const char* ProjectRoleName(ProjectRole role) {
  switch (role) {
    case ProjectRole::kReporter:
      return "reporter";
    case ProjectRole::kDeveloper:
      return "developer";
    case ProjectRole::kMaintainer:
      return "maintainer";
  }
  return "reporter";
}

const ProjectConfig* Config::FindProject(const std::string& id_or_path) const {
  std::string path = PercentDecode(id_or_path);
  bool numeric = !path.empty() &&
                 std::all_of(path.begin(), path.end(), [](char c) { return c >= '0' && c <= '9'; });
  for (const ProjectConfig& p : projects) {
    if (numeric ? std::to_string(p.id) == path : p.path == path) return &p;
  }
  return nullptr;
}

const JobConfig* Config::FindJob(const std::string& name) const {
  for (const JobConfig& job : jobs) {
    if (job.name == name) return &job;
  }
  return nullptr;
}

const char* GitHostName(GitHost host) {
  switch (host) {
    case GitHost::kGitHub:
      return "github";
    case GitHost::kGitLab:
      return "gitlab";
    case GitHost::kGitea:
      return "gitea";
  }
  return "github";
}

namespace {

// webhooks: {github|gitlab|gitea: {secrets: {scope: [{token_env|token_file, expires}]},
//            max_body_bytes}, timestamp_tolerance}
void ParseWebhooks(const YAML::Node& node, Errors& errors, WebhooksConfig* out) {
  MapReader map(node, "webhooks", {"github", "gitlab", "gitea", "timestamp_tolerance", "retention"},
                errors);
  if (!map.valid()) return;
  map.Duration("timestamp_tolerance", &out->timestamp_tolerance);
  if (map.Duration("retention", &out->retention) && out->retention < std::chrono::hours(24)) {
    errors.Add(map.PathOf("retention"),
               "must be at least 24h: a redelivery within a day must be recognised");
  }
  for (GitHost host : {GitHost::kGitHub, GitHost::kGitLab, GitHost::kGitea}) {
    const char* name = GitHostName(host);
    if (!map.Has(name)) continue;
    MapReader host_map(map.Get(name), map.PathOf(name), {"secrets", "max_body_bytes"}, errors);
    if (!host_map.valid()) continue;
    WebhookHostConfig config;
    if (host_map.Has("max_body_bytes")) {
      int64_t value = 0;
      if (ReadInt(host_map.Get("max_body_bytes"), host_map.PathOf("max_body_bytes"), 1, INT64_MAX,
                  errors, &value)) {
        config.max_body_bytes = static_cast<size_t>(value);
      }
    }
    const YAML::Node secrets = host_map.Get("secrets");
    std::string secrets_path = host_map.PathOf("secrets");
    if (!secrets.IsDefined() || !secrets.IsMap() || secrets.size() == 0) {
      errors.Add(secrets_path, "expected a map from \"org/repo\", \"org\" or \"*\" to secrets");
      continue;
    }
    for (auto it = secrets.begin(); it != secrets.end(); ++it) {
      std::string scope = it->first.Scalar();
      std::string scope_path = Child(secrets_path, scope);
      bool scope_ok = scope == "*" || IsRepoName(scope) ||
                      (!scope.empty() && scope.find('/') == std::string::npos);
      if (!scope_ok) {
        errors.Add(scope_path, "expected \"org/repo\", \"org\" or \"*\"");
        continue;
      }
      const YAML::Node list = it->second;
      if (!list.IsSequence() || list.size() == 0) {
        errors.Add(scope_path, "expected a list of at least one secret");
        continue;
      }
      for (size_t i = 0; i < list.size(); ++i) {
        MapReader entry(list[i], Index(scope_path, i), {"token_env", "token_file", "expires"},
                        errors);
        if (!entry.valid()) continue;
        bool file = entry.Has("token_file");
        if (file == entry.Has("token_env")) {
          errors.Add(entry.path(), "give exactly one of token_env or token_file");
          continue;
        }
        WebhookSecret secret;
        auto value = ReadSecret(entry, file ? "token_file" : "token_env", errors);
        if (!value) continue;
        secret.secret = std::move(*value);
        std::string where;
        entry.String(file ? "token_file" : "token_env", &where);
        secret.source = std::string(file ? "token_file " : "token_env ") + where;
        if (entry.Has("expires")) {
          std::string text;
          entry.String("expires", &text);
          secret.expires = ParseRfc3339(text);
          if (!secret.expires) {
            errors.Add(entry.PathOf("expires"),
                       "expected an RFC 3339 time like "
                       "2026-12-31T00:00:00Z, got " +
                           Quote(text));
            continue;
          }
        }
        config.secrets[scope].push_back(std::move(secret));
      }
    }
    out->hosts[host] = std::move(config);
  }
}

}  // namespace

StatusOr<Config> LoadConfigText(const std::string& yaml_text) {
  // yaml-cpp reports syntax errors by throwing; configuration is read at start-up only.
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return InvalidArgument("config: YAML syntax error at line " + std::to_string(e.mark.line + 1) +
                           ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }

  Config config;
  Errors errors;
  try {
    const YAML::Node document = root;
    MapReader top(document, "",
                  {"gateway", "log", "kafka", "worker", "clients", "jobs", "projects", "webhooks"},
                  errors);
    if (!top.valid()) return errors.ToStatus();
    if (top.Has("gateway")) ParseGateway(top.Get("gateway"), errors, &config.gateway);
    if (top.Has("log")) ParseLog(top.Get("log"), errors, &config.log);
    if (top.Has("kafka")) ParseKafka(top.Get("kafka"), errors, &config.kafka);
    if (top.Has("worker")) ParseWorker(top.Get("worker"), errors, &config.worker);
    if (top.Has("clients")) ParseClients(top.Get("clients"), errors, &config.clients);
    if (top.Has("projects")) {
      ParseProjects(top.Get("projects"), config.clients, errors, &config.projects);
    }
    if (top.Has("webhooks")) ParseWebhooks(top.Get("webhooks"), errors, &config.webhooks);
    // Jobs are optional when projects give the workers something to run.
    ParseJobs(top.Get("jobs"), !top.Has("projects"), errors, &config.jobs);
  } catch (const YAML::Exception& e) {
    errors.Add("config", std::string("unexpected YAML error: ") + e.what());
  }
  if (!errors.empty()) return errors.ToStatus();
  return config;
}

StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::string text;
  std::string error;
  if (!ReadWholeFile(path, &text, &error)) {
    return InvalidArgument("cannot read config file " + path + ": " + error);
  }
  StatusOr<Config> config = LoadConfigText(text);
  if (!config.ok()) return InvalidArgument(path + ": " + config.status().message());
  return config;
}

}  // namespace sluice
