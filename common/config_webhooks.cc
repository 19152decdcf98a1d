#include "common/clock.h"
#include "common/config_parse.h"

// webhooks: the Git hosts, their secrets and limits.
namespace sluice::config_parse {

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

}  // namespace sluice::config_parse
