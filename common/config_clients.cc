#include "common/config_parse.h"
#include "common/crypto.h"

// clients: tokens and rate limits.
namespace sluice::config_parse {

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
    if (given[0] == "token_file") map.String("token_file", &out->token_file);
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

}  // namespace sluice::config_parse
