// A static check of compose.yaml: there is no Docker engine on the CI machines, so this test reads
// the file the way `docker compose` would and checks what would otherwise fail only at
// `docker compose up`: build contexts, sluice's command lines, the config files they name (run
// through sluice's own loader), ports, health checks, volumes and start-up order.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

// SLUICE_FIXTURES_DIR is <root>/tests/fixtures, an absolute path from CMake (__FILE__ may be
// relative to the build directory, e.g. under ccache's base_dir).
fs::path RepoRoot() { return fs::path(SLUICE_FIXTURES_DIR).parent_path().parent_path(); }

// node[key], or an undefined node when node is not a map or lacks the key. yaml-cpp throws when
// indexing past a missing key, and a compose file leaves most keys out.
YAML::Node At(const YAML::Node& node, const std::string& key) {
  if (!node.IsDefined() || !node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node value = node[key];
  return value.IsDefined() ? value : YAML::Node(YAML::NodeType::Undefined);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  if (!text.empty() && text.back() == separator) parts.push_back("");
  return parts;
}

// A string or a list of strings (compose accepts both for command, entrypoint, healthcheck.test).
std::vector<std::string> Words(const YAML::Node& node) {
  std::vector<std::string> words;
  if (node.IsScalar()) {
    std::istringstream in(node.Scalar());
    std::string word;
    while (in >> word) words.push_back(word);
  } else if (node.IsSequence()) {
    for (const auto& item : node) words.push_back(item.Scalar());
  }
  return words;
}

struct Mount {
  std::string source;  // a volume name, a host path, or empty for an anonymous volume
  std::string target;  // the path inside the container
  bool named = false;  // a named volume (declared under the top-level `volumes`)
};

// Both the short ("SRC:DST[:MODE]") and the long ({type, source, target}) syntax.
std::vector<Mount> MountsOf(const YAML::Node& service) {
  std::vector<Mount> mounts;
  for (const auto& item : At(service, "volumes")) {
    Mount mount;
    if (item.IsScalar()) {
      std::vector<std::string> parts = Split(item.Scalar(), ':');
      if (parts.size() == 1) {
        mount.target = parts[0];
      } else {
        mount.source = parts[0];
        mount.target = parts[1];
      }
      mount.named = !mount.source.empty() && mount.source[0] != '/' && mount.source[0] != '.' &&
                    mount.source[0] != '~';
    } else {
      mount.source = At(item, "source") ? At(item, "source").Scalar() : "";
      mount.target = At(item, "target").Scalar();
      mount.named = At(item, "type").Scalar() == "volume" && !mount.source.empty();
    }
    mounts.push_back(mount);
  }
  return mounts;
}

// The host path a bind mount puts at `container_path`, resolved against the repository root.
std::optional<fs::path> HostPathOf(const YAML::Node& service, const std::string& container_path) {
  std::optional<fs::path> best;
  size_t best_length = 0;
  for (const Mount& mount : MountsOf(service)) {
    if (mount.named || mount.source.empty()) continue;
    const std::string& target = mount.target;
    bool inside = container_path == target ||
                  (container_path.starts_with(target) && container_path[target.size()] == '/');
    if (!inside || target.size() < best_length) continue;
    best_length = target.size();
    std::string rest = container_path.substr(target.size());
    while (!rest.empty() && rest[0] == '/') rest.erase(0, 1);
    best = (RepoRoot() / mount.source / rest).lexically_normal();
  }
  return best;
}

// The named volume mounted at `container_path`, or empty.
std::string VolumeAt(const YAML::Node& service, const std::string& container_path) {
  for (const Mount& mount : MountsOf(service)) {
    if (mount.named &&
        fs::path(mount.target).lexically_normal() == fs::path(container_path).lexically_normal()) {
      return mount.source;
    }
  }
  return "";
}

// `environment` as a map or as a list of NAME=VALUE.
std::map<std::string, std::string> EnvironmentOf(const YAML::Node& service) {
  std::map<std::string, std::string> env;
  const YAML::Node node = At(service, "environment");
  if (node.IsMap()) {
    for (const auto& item : node) {
      env[item.first.Scalar()] = item.second.IsScalar() ? item.second.Scalar() : "";
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      std::string entry = item.Scalar();
      size_t eq = entry.find('=');
      env[entry.substr(0, eq)] = eq == std::string::npos ? "" : entry.substr(eq + 1);
    }
  }
  return env;
}

struct BuildSpec {
  fs::path context;
  fs::path dockerfile;
};

std::optional<BuildSpec> BuildOf(const YAML::Node& service) {
  const YAML::Node build = At(service, "build");
  if (!build) return std::nullopt;
  BuildSpec spec;
  if (build.IsScalar()) {
    spec.context = RepoRoot() / build.Scalar();
    spec.dockerfile = spec.context / "Dockerfile";
  } else {
    spec.context = RepoRoot() / (At(build, "context") ? At(build, "context").Scalar() : ".");
    spec.dockerfile = spec.context / (At(build, "dockerfile") ? At(build, "dockerfile").Scalar()
                                                              : std::string("Dockerfile"));
  }
  spec.context = spec.context.lexically_normal();
  spec.dockerfile = spec.dockerfile.lexically_normal();
  return spec;
}

// The instructions of a Dockerfile's last stage (from its last FROM), continuation lines joined.
std::vector<std::string> FinalStage(const fs::path& dockerfile) {
  std::vector<std::string> stage;
  std::istringstream in(ReadFile(dockerfile));
  std::string line;
  std::string pending;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    bool continued = !line.empty() && line.back() == '\\';
    pending += continued ? line.substr(0, line.size() - 1) : line;
    if (continued) continue;
    if (pending.starts_with("FROM ")) stage.clear();
    stage.push_back(pending);
    pending.clear();
  }
  return stage;
}

// The ENTRYPOINT (exec form) of the image a service builds, or its own `entrypoint`.
std::vector<std::string> EntrypointOf(const YAML::Node& service) {
  if (At(service, "entrypoint")) return Words(At(service, "entrypoint"));
  std::optional<BuildSpec> build = BuildOf(service);
  if (!build) return {};  // a pulled image: its entrypoint is not ours to know
  std::vector<std::string> entrypoint;
  for (const std::string& instruction : FinalStage(build->dockerfile)) {
    if (!instruction.starts_with("ENTRYPOINT")) continue;
    entrypoint.clear();
    std::regex quoted("\"([^\"]*)\"");
    for (std::sregex_iterator it(instruction.begin(), instruction.end(), quoted), end; it != end;
         ++it) {
      entrypoint.push_back((*it)[1]);
    }
  }
  return entrypoint;
}

std::vector<std::string> ArgvOf(const YAML::Node& service) {
  std::vector<std::string> argv = EntrypointOf(service);
  for (const std::string& word : Words(At(service, "command"))) argv.push_back(word);
  return argv;
}

bool RunsSluice(const YAML::Node& service) {
  std::vector<std::string> argv = ArgvOf(service);
  return !argv.empty() && fs::path(argv[0]).filename() == "sluice";
}

std::string SubcommandOf(const YAML::Node& service) {
  std::vector<std::string> argv = ArgvOf(service);
  return argv.size() > 1 ? argv[1] : "";
}

// The value of --config FILE or --config=FILE, or empty.
std::string ConfigFlagOf(const YAML::Node& service) {
  std::vector<std::string> argv = ArgvOf(service);
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i] == "--config" && i + 1 < argv.size()) return argv[i + 1];
    if (argv[i].starts_with("--config=")) return argv[i].substr(9);
  }
  return "";
}

int PortOf(const std::string& host_port) {
  size_t colon = host_port.rfind(':');
  return std::stoi(host_port.substr(colon + 1));
}

// Loads a sluice config file the way the service would see it: the token variables the
// service's environment provides are set (to a placeholder), the others are not.
StatusOr<Config> LoadServiceConfig(const YAML::Node& service, const fs::path& file) {
  std::map<std::string, std::string> env = EnvironmentOf(service);
  YAML::Node raw;
  try {
    raw = YAML::LoadFile(file.string());
  } catch (const YAML::Exception&) {
    return LoadConfigFile(file.string());  // which names the problem
  }
  for (const auto& client : At(raw, "clients")) {
    if (!At(client, "token_env")) continue;
    std::string name = At(client, "token_env").Scalar();
    if (env.count(name)) {
      setenv(name.c_str(), "compose-test-token", 1);
    } else {
      unsetenv(name.c_str());
    }
  }
  return LoadConfigFile(file.string());
}

class ComposeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = RepoRoot() / "compose.yaml";
    ASSERT_TRUE(fs::exists(path_)) << path_;
    // yaml-cpp reports syntax errors only by throwing.
    try {
      compose_ = YAML::LoadFile(path_.string());
    } catch (const YAML::Exception& e) {
      FAIL() << path_ << ": " << e.what();
    }
    ASSERT_TRUE(At(compose_, "services").IsMap()) << "compose.yaml has no services map";
    for (const auto& item : At(compose_, "services")) {
      services_.emplace(item.first.Scalar(), item.second);
    }
  }

  std::map<std::string, YAML::Node> SluiceServices() const {
    std::map<std::string, YAML::Node> out;
    for (const auto& [name, service] : services_) {
      if (RunsSluice(service)) out.emplace(name, service);
    }
    return out;
  }

  std::map<std::string, YAML::Node> Brokers() const {
    std::map<std::string, YAML::Node> out;
    for (const auto& [name, service] : services_) {
      if (At(service, "image") && At(service, "image").Scalar().starts_with("apache/kafka:")) {
        out.emplace(name, service);
      }
    }
    return out;
  }

  // The sluice config a service runs with, read from its host path.
  StatusOr<Config> ConfigOf(const YAML::Node& service) const {
    std::optional<fs::path> file = HostPathOf(service, ConfigFlagOf(service));
    if (!file) return InvalidArgument("no bind mount holds " + ConfigFlagOf(service));
    return LoadServiceConfig(service, *file);
  }

  fs::path path_;
  YAML::Node compose_;
  std::map<std::string, YAML::Node> services_;
};

TEST_F(ComposeTest, ParsesWithServices) { EXPECT_FALSE(services_.empty()); }

TEST_F(ComposeTest, EveryServiceHasAPinnedImageOrABuildContextWithADockerfile) {
  for (const auto& [name, service] : services_) {
    std::optional<BuildSpec> build = BuildOf(service);
    if (build) {
      EXPECT_TRUE(fs::is_directory(build->context))
          << name << ": no build context " << build->context;
      EXPECT_TRUE(fs::is_regular_file(build->dockerfile))
          << name << ": no Dockerfile " << build->dockerfile;
      continue;
    }
    ASSERT_TRUE(At(service, "image")) << name << ": neither image nor build";
    std::string image = At(service, "image").Scalar();
    size_t colon = image.rfind(':');
    bool tagged = colon != std::string::npos && image.find('/', colon) == std::string::npos;
    EXPECT_TRUE(tagged && image.substr(colon + 1) != "latest")
        << name << ": pin the image's version, got " << image;
  }
}

TEST_F(ComposeTest, KafkaIsAThreeNodeKraftQuorumOfApacheKafka39) {
  std::map<std::string, YAML::Node> brokers = Brokers();
  ASSERT_EQ(brokers.size(), 3u) << "expected 3 apache/kafka services";
  std::set<std::string> node_ids;
  std::set<std::string> cluster_ids;
  std::set<std::string> voters;
  for (const auto& [name, service] : brokers) {
    EXPECT_TRUE(At(service, "image").Scalar().starts_with("apache/kafka:3.9."))
        << name << ": " << At(service, "image").Scalar();
    std::map<std::string, std::string> env = EnvironmentOf(service);
    std::set<std::string> roles;
    for (const std::string& role : Split(env["KAFKA_PROCESS_ROLES"], ',')) roles.insert(role);
    EXPECT_EQ(roles, (std::set<std::string>{"broker", "controller"})) << name;
    EXPECT_TRUE(node_ids.insert(env["KAFKA_NODE_ID"]).second)
        << name << ": duplicate KAFKA_NODE_ID " << env["KAFKA_NODE_ID"];
    cluster_ids.insert(env["CLUSTER_ID"]);
    voters.insert(env["KAFKA_CONTROLLER_QUORUM_VOTERS"]);
    EXPECT_EQ(env["KAFKA_DEFAULT_REPLICATION_FACTOR"], "3") << name;
    EXPECT_EQ(env["KAFKA_MIN_INSYNC_REPLICAS"], "2") << name;
    EXPECT_EQ(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"], "3") << name;
    EXPECT_NE(env["KAFKA_ADVERTISED_LISTENERS"].find("://" + name + ":"), std::string::npos)
        << name << ": must advertise its own service name, got "
        << env["KAFKA_ADVERTISED_LISTENERS"];
  }
  EXPECT_EQ(cluster_ids.size(), 1u) << "every node needs the same CLUSTER_ID";
  EXPECT_FALSE(cluster_ids.begin()->empty()) << "CLUSTER_ID is required to format storage";
  ASSERT_EQ(voters.size(), 1u) << "every node needs the same KAFKA_CONTROLLER_QUORUM_VOTERS";
  // Each voter is ID@HOST:PORT with an ID and HOST of one of the brokers.
  std::set<std::string> voter_ids;
  for (const std::string& voter : Split(*voters.begin(), ',')) {
    size_t at = voter.find('@');
    ASSERT_NE(at, std::string::npos) << voter;
    voter_ids.insert(voter.substr(0, at));
    std::string host = voter.substr(at + 1, voter.rfind(':') - at - 1);
    EXPECT_TRUE(brokers.count(host)) << "voter " << voter << " is not a broker service";
  }
  EXPECT_EQ(voter_ids, node_ids);
}

TEST_F(ComposeTest, SluiceCommandsNameASubcommandAndAConfigFileUnderConfig) {
  std::map<std::string, YAML::Node> sluice = SluiceServices();
  ASSERT_FALSE(sluice.empty()) << "no service runs sluice";
  for (const auto& [name, service] : services_) {
    if (!BuildOf(service)) continue;
    std::vector<std::string> argv = ArgvOf(service);
    EXPECT_TRUE(sluice.count(name))
        << name << ": builds sluice but runs " << (argv.empty() ? "nothing" : argv[0]);
  }
  const std::set<std::string> subcommands = {"gateway", "worker"};
  for (const auto& [name, service] : sluice) {
    EXPECT_TRUE(subcommands.count(SubcommandOf(service)))
        << name << ": unknown sluice subcommand " << SubcommandOf(service);
    std::string config = ConfigFlagOf(service);
    ASSERT_FALSE(config.empty()) << name << ": no --config";
    std::optional<fs::path> host = HostPathOf(service, config);
    ASSERT_TRUE(host) << name << ": no bind mount holds " << config;
    EXPECT_TRUE(fs::is_regular_file(*host))
        << name << ": " << config << " is " << *host << " on the host, which does not exist";
    fs::path relative = host->lexically_relative(RepoRoot());
    EXPECT_EQ(relative.begin()->string(), "config") << name << ": config must come from ./config";
  }
}

TEST_F(ComposeTest, EveryConfigFilePassesSluicesLoader) {
  size_t brokers = Brokers().size();
  for (const auto& [name, service] : SluiceServices()) {
    std::optional<fs::path> file = HostPathOf(service, ConfigFlagOf(service));
    ASSERT_TRUE(file) << name;
    // Fails, naming the key, when the service's environment lacks a token_env variable.
    StatusOr<Config> config = LoadServiceConfig(service, *file);
    ASSERT_TRUE(config.ok()) << name << ": " << config.status().message();
    EXPECT_LE(config->kafka.replication_factor, static_cast<int>(brokers))
        << name << ": more replicas than brokers";
    for (const std::string& broker : Split(config->kafka.brokers, ',')) {
      std::string host = broker.substr(0, broker.rfind(':'));
      EXPECT_TRUE(services_.count(host))
          << name << ": kafka.brokers names " << host << ", which is not a service";
    }
  }
}

TEST_F(ComposeTest, PublishedHostPortsDoNotClash) {
  // Keyed by port and protocol; host addresses are ignored, which can only over-report.
  std::map<std::string, std::string> owner;
  for (const auto& [name, service] : services_) {
    int replicas =
        At(At(service, "deploy"), "replicas") ? At(At(service, "deploy"), "replicas").as<int>() : 1;
    for (const auto& port : At(service, "ports")) {
      std::string host;
      std::string protocol = "tcp";
      if (port.IsScalar()) {
        std::string spec = port.Scalar();
        size_t slash = spec.find('/');
        if (slash != std::string::npos) {
          protocol = spec.substr(slash + 1);
          spec = spec.substr(0, slash);
        }
        std::vector<std::string> parts = Split(spec, ':');
        if (parts.size() >= 2) host = parts[parts.size() - 2];
      } else {
        if (At(port, "published")) host = At(port, "published").Scalar();
        if (At(port, "protocol")) protocol = At(port, "protocol").Scalar();
      }
      if (host.empty()) continue;  // an ephemeral host port cannot clash
      EXPECT_EQ(replicas, 1) << name << ": " << replicas
                             << " replicas cannot all publish host port " << host;
      std::string key = host + "/" + protocol;
      auto [it, inserted] = owner.emplace(key, name);
      EXPECT_TRUE(inserted) << name << " and " << it->second << " both publish " << key;
    }
  }
}

TEST_F(ComposeTest, GatewaysPublishAndHealthCheckTheirListenPortOnReadyz) {
  int gateways = 0;
  for (const auto& [name, service] : SluiceServices()) {
    if (SubcommandOf(service) != "gateway") continue;
    ++gateways;
    StatusOr<Config> config = ConfigOf(service);
    ASSERT_TRUE(config.ok()) << name << ": " << config.status().message();
    int listen_port = PortOf(config->gateway.listen);

    ASSERT_TRUE(At(service, "healthcheck")) << name << ": no healthcheck";
    std::vector<std::string> test = Words(At(At(service, "healthcheck"), "test"));
    std::string joined;
    for (const std::string& word : test) joined += word + " ";
    std::smatch url;
    ASSERT_TRUE(std::regex_search(joined, url, std::regex(R"(https?://[^/\s]+:(\d+)/readyz)")))
        << name << ": the health check must GET /readyz with an explicit port, got " << joined;
    EXPECT_EQ(std::stoi(url[1]), listen_port)
        << name << ": health check port differs from gateway.listen " << config->gateway.listen;
    // The probe's program must exist in the image.
    ASSERT_GE(test.size(), 2u);
    std::string program = test[0] == "CMD" || test[0] == "CMD-SHELL" ? test[1] : test[0];
    std::optional<BuildSpec> build = BuildOf(service);
    ASSERT_TRUE(build) << name;
    bool installed = false;
    for (const std::string& instruction : FinalStage(build->dockerfile)) {
      if (instruction.starts_with("RUN") &&
          instruction.find("apt-get install") != std::string::npos &&
          std::regex_search(instruction, std::regex("\\s" + program + "(\\s|$)"))) {
        installed = true;
      }
    }
    EXPECT_TRUE(installed) << name << ": the health check runs " << program
                           << ", which the image's final stage does not install";

    for (const auto& port : At(service, "ports")) {
      std::string spec = port.IsScalar() ? port.Scalar() : At(port, "target").Scalar();
      spec = spec.substr(0, spec.find('/'));
      EXPECT_EQ(std::stoi(Split(spec, ':').back()), listen_port)
          << name << ": publishes container port " << spec << ", but listens on "
          << config->gateway.listen;
    }
  }
  EXPECT_GE(gateways, 2) << "compose.yaml should run two gateways";
}

TEST_F(ComposeTest, NamedVolumesAreDeclared) {
  const YAML::Node declared = At(compose_, "volumes");
  for (const auto& [name, service] : services_) {
    for (const Mount& mount : MountsOf(service)) {
      if (!mount.named) continue;
      EXPECT_TRUE(At(declared, mount.source))
          << name << ": volume " << mount.source << " is not declared under volumes";
    }
    for (const Mount& mount : MountsOf(service)) {
      if (mount.named || mount.source.empty()) continue;
      EXPECT_TRUE(fs::exists(RepoRoot() / mount.source))
          << name << ": bind mount source " << mount.source << " does not exist";
    }
  }
}

TEST_F(ComposeTest, GatewaysAndWorkersShareOneArtifactsVolume) {
  std::set<std::string> volumes;
  std::set<std::string> roles;
  for (const auto& [name, service] : SluiceServices()) {
    StatusOr<Config> config = ConfigOf(service);
    ASSERT_TRUE(config.ok()) << name << ": " << config.status().message();
    std::string volume = VolumeAt(service, config->worker.artifacts);
    EXPECT_FALSE(volume.empty()) << name << ": no named volume at worker.artifacts "
                                 << config->worker.artifacts;
    volumes.insert(volume);
    roles.insert(SubcommandOf(service));
  }
  EXPECT_EQ(volumes.size(), 1u) << "gateways and workers must share one artifacts volume";
  EXPECT_EQ(roles, (std::set<std::string>{"gateway", "worker"}));
}

TEST_F(ComposeTest, DependsOnTargetsExistAndHealthyConditionsHaveHealthChecks) {
  const std::set<std::string> conditions = {"service_started", "service_healthy",
                                            "service_completed_successfully"};
  for (const auto& [name, service] : services_) {
    const YAML::Node depends = At(service, "depends_on");
    std::map<std::string, std::string> targets;
    if (depends.IsSequence()) {
      for (const auto& item : depends) targets[item.Scalar()] = "service_started";
    } else if (depends.IsMap()) {
      for (const auto& item : depends) {
        targets[item.first.Scalar()] = At(item.second, "condition")
                                           ? At(item.second, "condition").Scalar()
                                           : std::string("service_started");
      }
    }
    for (const auto& [target, condition] : targets) {
      ASSERT_TRUE(services_.count(target)) << name << " depends on unknown service " << target;
      EXPECT_TRUE(conditions.count(condition)) << name << ": unknown condition " << condition;
      if (condition == "service_healthy") {
        EXPECT_TRUE(At(services_.at(target), "healthcheck"))
            << name << " waits for " << target << " to be healthy, but it has no healthcheck";
      }
    }
    if (RunsSluice(service)) {
      for (const auto& [broker, unused] : Brokers()) {
        EXPECT_EQ(targets[broker], "service_healthy")
            << name << " should wait for " << broker << " to be healthy";
      }
    }
  }
}

TEST_F(ComposeTest, WorkersAreReplicatedAndStopAfterTheirJobsCanEnd) {
  int workers = 0;
  for (const auto& [name, service] : SluiceServices()) {
    if (SubcommandOf(service) != "worker") continue;
    ++workers;
    ASSERT_TRUE(At(At(service, "deploy"), "replicas")) << name << ": set deploy.replicas";
    EXPECT_GE(At(At(service, "deploy"), "replicas").as<int>(), 2) << name;
    StatusOr<Config> config = ConfigOf(service);
    ASSERT_TRUE(config.ok()) << name << ": " << config.status().message();
    // On SIGTERM a worker gives running jobs shutdown_grace, then aborts them (SIGTERM, then
    // SIGKILL after kill_grace) and records their end; Docker's SIGKILL must come later.
    Duration needed = config->worker.shutdown_grace + config->worker.kill_grace;
    ASSERT_TRUE(At(service, "stop_grace_period"))
        << name << ": Docker's default 10s is shorter than " << FormatDuration(needed);
    std::optional<Duration> grace = ParseDuration(At(service, "stop_grace_period").Scalar());
    ASSERT_TRUE(grace) << name << ": " << At(service, "stop_grace_period").Scalar();
    EXPECT_GT(*grace, needed) << name << ": stop_grace_period must exceed "
                              << FormatDuration(needed);
  }
  EXPECT_GE(workers, 1);
}

}  // namespace
}  // namespace sluice
