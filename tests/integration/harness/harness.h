#pragma once

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

// One embedded broker, a config file and helpers to start gateways and workers against it. With
// SLUICE_TEST_KAFKA_BROKERS set, a real Kafka cluster instead (topics with a fresh prefix).
class Deployment {
 public:
  // `jobs_yaml` is the `jobs:` list (YAML, indented as list items); `extra_yaml` may add or
  // override top-level sections (gateway:, worker:, clients:). Clients "alice" (token
  // "alice-token", all jobs) and "bob" (token "bob-token", jobs "bob-*") exist unless
  // extra_yaml has a clients: section.
  Deployment(const std::string& jobs_yaml, const std::string& worker_yaml = "",
             const std::string& gateway_yaml = "", const std::string& clients_yaml = "");
  ~Deployment();

  SluiceProcess& StartGateway();
  SluiceProcess& StartWorker();
  const std::string& config_path() const { return config_path_; }
  const std::string& dir() const { return dir_.path(); }
  std::string artifacts() const { return dir_.path() + "/artifacts"; }
  // The embedded broker (only when not running against a real cluster).
  EmbeddedBroker& broker() { return *broker_; }
  bool embedded() const { return broker_ != nullptr; }

 private:
  TempDir dir_;
  std::unique_ptr<EmbeddedBroker> broker_;
  std::string config_path_;
  std::vector<std::unique_ptr<SluiceProcess>> processes_;
};

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
