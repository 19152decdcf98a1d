#include "common/config_parse.h"

// How a job runs (issue 12): its executor, image, network, resource limits and secrets, on jobs,
// pipeline jobs, projects (secret_env) and as the worker's defaults.
namespace sluice {

const char* ExecutorName(ExecutorKind kind) {
  switch (kind) {
    case ExecutorKind::kSandbox:
      return "sandbox";
    case ExecutorKind::kContainer:
      return "container";
    case ExecutorKind::kProcess:
      return "process";
  }
  return "sandbox";
}

std::optional<ExecutorKind> ExecutorFromName(std::string_view name) {
  for (ExecutorKind kind :
       {ExecutorKind::kSandbox, ExecutorKind::kContainer, ExecutorKind::kProcess}) {
    if (name == ExecutorName(kind)) return kind;
  }
  return std::nullopt;
}

JobLimits JobLimits::Over(const JobLimits& defaults) const {
  JobLimits out = *this;
  if (!out.memory_bytes) out.memory_bytes = defaults.memory_bytes;
  if (!out.processes) out.processes = defaults.processes;
  if (!out.cpu_time) out.cpu_time = defaults.cpu_time;
  if (!out.open_files) out.open_files = defaults.open_files;
  if (!out.file_bytes) out.file_bytes = defaults.file_bytes;
  return out;
}

std::string SecretSource::Describe() const {
  return token_env.empty() ? "token_file " + token_file : "token_env " + token_env;
}

namespace config_parse {

// A size in bytes: an integer, or a number with a unit (KiB, MiB, GiB, TiB; K, M, G, T are the
// same binary units), e.g. 512MiB.
bool ReadBytes(const YAML::Node& node, const std::string& path, Errors& errors, uint64_t* out) {
  if (!node.IsScalar()) {
    errors.Add(path, "expected a size such as 512MiB, got " + Describe(node));
    return false;
  }
  std::string_view text = node.Scalar();
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::string_view unit(end, text.data() + text.size() - end);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  int shift = -1;
  for (auto [name, bits] :
       {std::pair{"", 0}, std::pair{"B", 0}, std::pair{"K", 10}, std::pair{"KiB", 10},
        std::pair{"M", 20}, std::pair{"MiB", 20}, std::pair{"G", 30}, std::pair{"GiB", 30},
        std::pair{"T", 40}, std::pair{"TiB", 40}}) {
    if (unit == name) shift = bits;
  }
  if (end == text.data() || ec != std::errc() || shift < 0) {
    errors.Add(path,
               "expected a size such as 512MiB (units KiB, MiB, GiB, TiB), got " + Quote(text));
    return false;
  }
  if (value == 0 || (shift > 0 && value > (UINT64_MAX >> shift))) {
    errors.Add(path, "must be at least 1 byte and fit in 64 bits, got " + Quote(text));
    return false;
  }
  *out = value << shift;
  return true;
}

void ParseLimits(const YAML::Node& node, const std::string& path, Errors& errors, JobLimits* out) {
  MapReader map(node, path, {"memory", "processes", "cpu_time", "open_files", "file_size"}, errors);
  if (!map.valid()) return;
  uint64_t bytes = 0;
  if (map.Has("memory") && ReadBytes(map.Get("memory"), map.PathOf("memory"), errors, &bytes)) {
    out->memory_bytes = bytes;
  }
  if (map.Has("file_size") &&
      ReadBytes(map.Get("file_size"), map.PathOf("file_size"), errors, &bytes)) {
    out->file_bytes = bytes;
  }
  int count = 0;
  // A job needs a few processes to run at all: a shell, its command, a pipe's other end.
  if (map.Has("processes") && map.Int("processes", 4, &count)) out->processes = count;
  if (map.Has("open_files") && map.Int("open_files", 16, &count)) out->open_files = count;
  sluice::Duration cpu{};
  if (map.Has("cpu_time") && map.Duration("cpu_time", &cpu)) {
    if (cpu < std::chrono::seconds(1)) {
      errors.Add(map.PathOf("cpu_time"), "must be at least 1s");
    } else {
      out->cpu_time = cpu;
    }
  }
}

void ParseSecretEnv(const MapReader& parent, std::string_view key, Errors& errors,
                    std::map<std::string, SecretSource>* out) {
  if (!parent.Has(key)) return;
  const YAML::Node node = parent.Get(key);
  const std::string path = parent.PathOf(key);
  if (!node.IsMap()) {
    errors.Add(path,
               "expected a map of NAME: {token_env: X} or {token_file: F}, got " + Describe(node));
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar() || !IsEnvName(it->first.Scalar())) {
      errors.Add(path, "keys must be environment variable names, got " + Describe(it->first));
      continue;
    }
    const std::string name = it->first.Scalar();
    MapReader source(it->second, Child(path, name), {"token_env", "token_file"}, errors);
    if (!source.valid()) continue;
    SecretSource s;
    source.NonEmptyString("token_env", &s.token_env);
    source.NonEmptyString("token_file", &s.token_file);
    if (s.token_env.empty() == s.token_file.empty()) {
      errors.Add(Child(path, name), "needs exactly one of token_env and token_file");
      continue;
    }
    if (!s.token_env.empty() && !IsEnvName(s.token_env)) {
      errors.Add(source.PathOf("token_env"),
                 "not a valid environment variable name: " + Quote(s.token_env));
      continue;
    }
    if (!s.token_file.empty() && s.token_file.front() != '/') {
      errors.Add(source.PathOf("token_file"),
                 "must be an absolute path, got " + Quote(s.token_file));
      continue;
    }
    (*out)[name] = std::move(s);
  }
}

std::optional<ExecutorKind> ReadExecutor(const MapReader& map, Errors& errors) {
  if (!map.Has("executor")) return std::nullopt;
  const YAML::Node node = map.Get("executor");
  std::optional<ExecutorKind> kind;
  if (node.IsScalar()) kind = ExecutorFromName(node.Scalar());
  if (!kind) {
    errors.Add(map.PathOf("executor"),
               "expected sandbox, container or process, got " + Describe(node));
  }
  return kind;
}

void ParseRuntime(const MapReader& map, Errors& errors, JobRuntime* out) {
  if (auto kind = ReadExecutor(map, errors)) out->executor = kind;
  map.NonEmptyString("image", &out->image);
  if (out->executor == ExecutorKind::kContainer && out->image.empty()) {
    errors.Add(map.PathOf("image"), "is required with executor: container");
  }
  if (!out->image.empty() && out->executor != ExecutorKind::kContainer) {
    errors.Add(map.PathOf("image"), "is only used with executor: container");
  }
  map.Bool("network", &out->network);
  if (map.Has("limits")) ParseLimits(map.Get("limits"), map.PathOf("limits"), errors, &out->limits);
  ParseSecretEnv(map, "secret_env", errors, &out->secret_env);
}

}  // namespace config_parse
}  // namespace sluice
