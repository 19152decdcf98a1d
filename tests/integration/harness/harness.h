#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/embedded_broker.h"

namespace sluice::testing {

// A loopback port that was free a moment ago: for `sluice dev`, which takes a fixed --listen
// address.
int FreeLoopbackPort();

// Waits until `condition` holds, checking every 50 ms, for at most `timeout`. Returns whether it
// held. Tests wait on conditions, never on fixed sleeps.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(30));

struct HttpResponse {
  long status = 0;                             // 0 when the request failed at the transport level
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string error;  // transport error, if any
  rapidjson::Document Json() const;
};

// A blocking HTTP/1.1 client on libcurl that reuses its connection (keep-alive).
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpResponse Request(const std::string& method, const std::string& url,
                       const std::vector<std::string>& headers = {}, const std::string& body = "",
                       bool send_body = false);
  HttpResponse Get(const std::string& url, const std::string& token);
  HttpResponse Post(const std::string& url, const std::string& token, const std::string& body,
                    const std::vector<std::string>& extra_headers = {});
  // Number of TCP connections curl opened so far (to check keep-alive).
  long connects() const { return connects_; }

 private:
  void* curl_;
  long connects_ = 0;
};

// A scratch directory removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A `sluice` child process (the binary from $SLUICE_BINARY) with its stderr in a log file.
class SluiceProcess {
 public:
  // `role` is "gateway", "worker" or "dev". A gateway listens on 127.0.0.1:0 and Start() waits
  // until it has written its port; `sluice dev` is ready once it printed its banner.
  SluiceProcess(std::string role, std::string config_path, std::string work_dir,
                std::vector<std::string> extra_args = {});
  ~SluiceProcess();
  bool Start(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void Kill();  // SIGKILL, no chance to clean up
  int Terminate(
      std::chrono::milliseconds timeout = std::chrono::seconds(60));  // SIGTERM; exit status
  bool Running();
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string Log() const;  // its stderr so far
  pid_t pid() const { return pid_; }

 private:
  std::string role_;
  std::string config_path_;
  std::string work_dir_;
  std::vector<std::string> extra_args_;
  std::string log_path_;
  std::string port_file_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  int exit_status_ = -1;
};

// A real Apache Kafka cluster on loopback, driven through scripts/kafka.sh: N brokers (each also
// a KRaft controller) on ports from a free base, data and logs in a scratch directory. With 3
// brokers, topics get replication factor 3 and min.insync.replicas 2.
class KafkaCluster {
 public:
  // Starts a new cluster of `brokers` brokers; check ok().
  explicit KafkaCluster(int brokers);
  // Adopts the cluster that scripts/kafka.sh runs in `dir` (the kafka tier's ctest fixture).
  KafkaCluster(std::string bootstrap, std::string dir);
  ~KafkaCluster();
  bool ok() const { return !bootstrap_.empty(); }
  const std::string& bootstrap() const { return bootstrap_; }
  int brokers() const { return brokers_; }
  bool Kill(int broker);     // kill -9 (1-based index)
  bool Restart(int broker);  // start it again on its data; waits until it listens
  std::string Logs() const;  // the brokers' logs, for a failing test

 private:
  bool Script(const std::string& args, std::string* out = nullptr) const;
  std::string dir_;
  std::string bootstrap_;
  int brokers_ = 0;
  bool owned_ = false;
};

// A config file and helpers to start gateways and workers against one Kafka: by default an
// embedded broker of its own; with SLUICE_TEST_KAFKA_BROKERS (and SLUICE_TEST_KAFKA_DIR, the
// scripts/kafka.sh state directory) the real cluster of the kafka tier; or `cluster`, when given.
// On a real cluster every deployment gets topics of its own (a fresh prefix), created by sluice.
class Deployment {
 public:
  // `jobs_yaml` is the `jobs:` list (YAML, indented as list items); the other arguments are
  // extra keys (indented by two) of the worker: and gateway: sections, and a whole clients: list.
  // Clients "alice" (token "alice-token", all jobs) and "bob" (token "bob-token", jobs "bob-*")
  // exist unless clients_yaml is given.
  // `projects_yaml`: a whole projects: list (GitLab-style projects), none when empty.
  // `webhooks_yaml`: the keys (indented by two) of a webhooks: section, none when empty.
  Deployment(const std::string& jobs_yaml, const std::string& worker_yaml = "",
             const std::string& gateway_yaml = "", const std::string& clients_yaml = "",
             KafkaCluster* cluster = nullptr, const std::string& projects_yaml = "",
             const std::string& webhooks_yaml = "");
  ~Deployment();

  SluiceProcess& StartGateway();
  SluiceProcess& StartWorker();
  const std::string& config_path() const { return config_path_; }
  const std::string& dir() const { return dir_.path(); }
  std::string artifacts() const { return dir_.path() + "/artifacts"; }
  // worker.workspace: <workspace>/<execution id>-<attempt> per run.
  std::string workspace() const { return dir_.path() + "/work"; }
  // The Kafka this deployment uses, as its config names it.
  const KafkaConfig& kafka() const { return kafka_; }
  bool embedded() const { return broker_ != nullptr; }
  // Makes Kafka unreachable (every broker down) or reachable again, embedded or real. Never the
  // kafka tier's shared broker (a test failure): other tests use it at the same time; a test
  // that stops Kafka passes OwnKafkaOnTheKafkaTier() as its deployment's cluster.
  void SetKafkaDown(bool down);

 private:
  TempDir dir_;
  std::unique_ptr<EmbeddedBroker> broker_;
  std::unique_ptr<KafkaCluster> tier_cluster_;  // the kafka tier's, adopted
  KafkaCluster* cluster_ = nullptr;             // the real cluster in use, if any
  KafkaConfig kafka_;
  std::string config_path_;
  std::vector<std::unique_ptr<SluiceProcess>> processes_;
};

// A suite whose tests share one deployment of `Suite::kJobs`: one gateway and one worker,
// started before its first test and stopped after its last.
//   class LiveStatus : public OneDeploymentSuite<LiveStatus> { ... static constexpr ... kJobs };
template <typename Suite>
class OneDeploymentSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    deployment_ = new Deployment(Suite::kJobs);
    gateway_ = &deployment_->StartGateway();
    deployment_->StartWorker();
  }
  static void TearDownTestSuite() {
    delete deployment_;
    deployment_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(gateway_->port(), 0) << "the gateway did not start"; }

  static inline Deployment* deployment_ = nullptr;
  static inline SluiceProcess* gateway_ = nullptr;
};

// On the kafka tier (SLUICE_TEST_KAFKA_BROKERS set), a one-broker cluster of the caller's own, for
// a test that stops Kafka; elsewhere nullptr (the deployment's embedded broker is its own anyway).
std::unique_ptr<KafkaCluster> OwnKafkaOnTheKafkaTier();

// Triggers `job` (periodic) through `gateway` as alice and returns the execution id ("" and a
// test failure when the gateway does not answer 200).
std::string TriggerPeriodic(HttpClient& http, const SluiceProcess& gateway, const std::string& job,
                            const std::string& token = "alice-token");
// The execution's job_status as the gateway answers it ("" when not found).
std::string StatusOf(HttpClient& http, const SluiceProcess& gateway, const std::string& id,
                     const std::string& token = "alice-token");
// Waits until the execution has one of the terminal statuses; returns the status seen last.
std::string WaitForEnd(HttpClient& http, const SluiceProcess& gateway, const std::string& id,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60));

inline constexpr const char* kAliceToken = "alice-token";
inline constexpr const char* kBobToken = "bob-token";

}  // namespace sluice::testing
