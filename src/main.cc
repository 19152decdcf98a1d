// The `sluice` binary: argument parsing and wiring only. Everything it wires is in common/,
// gateway/ and worker/, where the tests reach it.

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/app.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/embedded_broker.h"
#include "common/git_delivery.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pipeline.h"
#include "common/status_view.h"
#include "gateway/gateway_metrics.h"
#include "gateway/gateway_service.h"
#include "gateway/http_server.h"
#include "gateway/trigger_tokens.h"
#include "worker/delivery_dispatcher.h"
#include "worker/process_runner.h"
#include "worker/worker.h"
#include "worker/worker_metrics.h"

namespace sluice {
namespace {

constexpr const char* kUsage = R"(sluice: webhook and trigger gateway on Kafka

Usage:
  sluice gateway --config FILE [--listen HOST:PORT] [--port-file FILE]
  sluice worker  --config FILE
  sluice dev     [--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--check]
  sluice check-config FILE
  sluice help

gateway       serve the HTTP API; publishes triggers to Kafka and answers status from it
worker        run jobs from the requests topic and publish their status
dev           everything in one process, with an embedded in-memory Kafka-protocol broker
check-config  validate a configuration file and exit (0 when valid)

Client (server and token from --url/--token, $SLUICE_URL/$SLUICE_TOKEN or
~/.config/sluice/config.yaml; --output json for scripts):
  sluice trigger JOB [--env K=V ...] [--refs-file F] [--type periodic|postsubmit|presubmit]
                     [--idempotency-key K] [--wait] [--follow] [--timeout D]
  sluice get ID
  sluice list [--job J] [--status S] [--page-size N] [--all]
  sluice logs ID [--follow]
  sluice abort ID
  sluice wait ID [--timeout D]

Exit codes of the client: 0 SUCCESS (or done), 1 FAILURE, 2 usage or API error, 3 ABORTED,
4 ERROR, 5 timeout. `sluice COMMAND --help` lists a command's flags.
)";

constexpr auto kStartupTimeout = std::chrono::seconds(15);

// The flags of the server subcommands (gateway, worker, dev).
struct ServerFlags {
  std::string config;
  std::string listen;
  std::string port_file;
  std::string data_dir;
  bool check = false;  // sluice dev --check
};

// SIGINT, SIGTERM and SIGHUP are blocked in every thread (jobs get a clean mask) and taken here.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

// Returns on SIGINT or SIGTERM (or once `also_stop` turns true); SIGHUP calls `reload`.
void WaitForStopSignal(const sigset_t& set, const std::atomic<bool>* also_stop = nullptr,
                       const std::function<void()>& reload = nullptr) {
  timespec tick{0, 200 * 1000 * 1000};
  while (true) {
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig == SIGHUP) {
      if (reload) reload();
      continue;
    }
    if (sig == SIGINT || sig == SIGTERM) {
      LogInfo("sluice",
              std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", stopping");
      return;
    }
    if (also_stop && also_stop->load()) return;
  }
}

// The gateway's parts, in start order.
struct GatewayParts {
  std::unique_ptr<KafkaPublisher> publisher;
  std::unique_ptr<KafkaStatusView> view;
  std::unique_ptr<KafkaTriggerTokens> tokens;
  std::unique_ptr<KafkaPipelines> pipelines;
  std::unique_ptr<KafkaDeliveries> deliveries;
  std::unique_ptr<WebhookSettings> webhook_settings;
  std::shared_ptr<GatewayService> service;
  std::unique_ptr<HttpServer> http;
  metrics::Registry::Hook metrics_hook;  // reads the view and the service at each scrape

  Status Start(const Config& config) {
    metrics::RegisterProcessMetrics(metrics::DefaultRegistry());
    GatewayMetrics::Get();
    Duration message_timeout = std::max<Duration>(
        config.gateway.request_timeout - std::chrono::seconds(1), std::chrono::milliseconds(500));
    auto p =
        KafkaPublisher::Create(config.kafka, message_timeout,
                               std::max<size_t>(1000000, MaxDeliveryRecordBytes(config.webhooks)));
    if (!p.ok()) return p.status();
    publisher = std::move(*p);
    view = std::make_unique<KafkaStatusView>(config.kafka, config.results.retention);
    if (Status s = view->Start(kStartupTimeout); !s.ok()) return s;
    tokens = std::make_unique<KafkaTriggerTokens>(config.kafka);
    if (Status s = tokens->Start(kStartupTimeout); !s.ok()) return s;
    pipelines = std::make_unique<KafkaPipelines>(config.kafka);
    if (Status s = pipelines->Start(kStartupTimeout); !s.ok()) return s;
    deliveries = std::make_unique<KafkaDeliveries>(config.kafka, config.webhooks.retention);
    if (Status s = deliveries->Start(kStartupTimeout); !s.ok()) return s;
    webhook_settings = std::make_unique<WebhookSettings>(config.webhooks);
    if (!config.projects.empty() && config.gitlab.trigger_token_key.empty()) {
      LogWarn("gateway",
              "gitlab.trigger_token_key is not set: a trigger token's owner sees only its first 4 "
              "characters after creating it, as everyone else (docs/operations.md)");
    } else if (!config.projects.empty()) {
      LogInfo("gateway",
              "trigger tokens are kept sealed for their owners under "
              "gitlab.trigger_token_key (" +
                  config.gitlab.trigger_token_key_source + ")");
    }
    KafkaTriggerTokens* t = tokens.get();
    KafkaPipelines* pl = pipelines.get();
    KafkaDeliveries* d = deliveries.get();
    service = std::make_shared<GatewayService>(
        config, *publisher, *view, SystemClock::Instance(),
        GitLabViews{t->table(), pl->store(), [t, pl] { return t->CaughtUp() && pl->CaughtUp(); }},
        WebhookViews{d->store(), *webhook_settings, [d] { return d->CaughtUp(); }});
    size_t webhook_body = 0;
    for (const auto& [host, h] : config.webhooks.hosts) {
      webhook_body = std::max(webhook_body, h.max_body_bytes);
    }
    GatewayService* s = service.get();
    KafkaStatusView* v = view.get();
    metrics_hook = metrics::DefaultRegistry().OnCollect([s, v] {
      GatewayMetrics& m = GatewayMetrics::Get();
      m.triggers_in_flight.Set(s->in_flight());
      m.status_view_records.Set(static_cast<double>(v->store().size()));
      m.status_view_lag.Set(static_cast<double>(v->LagRecords()));
      m.status_view_bytes.Set(v->EstimatedBytes());
    });
    http = std::make_unique<HttpServer>(config.gateway, service, webhook_body);
    return http->Start();
  }
  // SIGHUP: the webhooks section of the file is read again (secrets from their env or file), so
  // a secret is rotated without a restart. Anything else in the file needs a restart.
  void ReloadWebhooks(const std::string& config_path) {
    auto next = LoadConfigFile(config_path);
    if (!next.ok()) {
      LogError("gateway",
               "SIGHUP: configuration not reloaded, the old one stays: " + next.status().message());
      return;
    }
    size_t secrets = 0;
    for (const auto& [host, h] : next->webhooks.hosts) {
      for (const auto& [scope, list] : h.secrets) secrets += list.size();
    }
    webhook_settings->Replace(next->webhooks);
    LogInfo("gateway", "SIGHUP: webhook settings reloaded from " + config_path + " (" +
                           std::to_string(secrets) + " secret(s))");
  }
  void Stop() {
    if (http) http->Stop();
    metrics_hook = {};
    if (service) service->StopBackgroundWork();
    if (deliveries) deliveries->Stop();
    if (pipelines) pipelines->Stop();
    if (tokens) tokens->Stop();
    if (view) view->Stop();
    publisher.reset();
  }
};

struct WorkerParts {
  std::unique_ptr<KafkaPublisher> publisher;
  std::unique_ptr<KafkaStatusView> view;
  std::unique_ptr<KafkaAbortRegistry> aborts;
  std::unique_ptr<KafkaPipelines> pipelines;
  PosixProcessRunner runner;
  Executors executors;
  std::unique_ptr<Worker> worker;
  std::unique_ptr<DeliveryDispatcher> dispatcher;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<bool> finished{false};
  Duration exit_within{};
  std::unique_ptr<HttpServer> metrics_http;  // worker.metrics_listen

  // `config_path`: the file the configuration came from, which no job may see.
  Status Start(const Config& config, const std::string& config_path) {
    metrics::RegisterProcessMetrics(metrics::DefaultRegistry());
    WorkerMetrics::Get();
    if (!config.worker.metrics_listen.empty()) {
      GatewayConfig listener;
      listener.listen = config.worker.metrics_listen;
      listener.threads = 1;
      listener.max_connections = 64;
      listener.max_body_bytes = 1024;
      metrics_http =
          std::make_unique<HttpServer>(listener, MetricsOnlyApp(metrics::DefaultRegistry()));
      if (Status s = metrics_http->Start(); !s.ok()) {
        return Status(s.code(), "worker.metrics_listen: " + s.message());
      }
      LogInfo("worker", "serving metrics on " + config.worker.metrics_listen + " (port " +
                            std::to_string(metrics_http->port()) + ")");
    }
    // The worker's own schedule (PlanShutdown) ends by shutdown_grace + kill_grace; a tenth of
    // the kill_grace is left for the process to exit.
    exit_within =
        config.worker.shutdown_grace + config.worker.kill_grace - config.worker.kill_grace / 10;
    auto p = KafkaPublisher::Create(config.kafka, std::chrono::seconds(30));
    if (!p.ok()) return p.status();
    publisher = std::move(*p);
    view = std::make_unique<KafkaStatusView>(config.kafka, config.results.retention);
    if (Status s = view->Start(kStartupTimeout); !s.ok()) return s;
    aborts = std::make_unique<KafkaAbortRegistry>(config.kafka);
    if (Status s = aborts->Start(kStartupTimeout); !s.ok()) return s;
    pipelines = std::make_unique<KafkaPipelines>(config.kafka);
    if (Status s = pipelines->Start(kStartupTimeout); !s.ok()) return s;
    std::error_code ec;
    std::filesystem::create_directories(config.worker.workspace, ec);
    if (ec)
      return InvalidArgument("worker.workspace " + config.worker.workspace + ": " + ec.message());
    std::filesystem::create_directories(config.worker.artifacts, ec);
    if (ec)
      return InvalidArgument("worker.artifacts " + config.worker.artifacts + ": " + ec.message());
    std::error_code canonical_error;
    // The configuration file and the directory it lies in (where its secret files usually are).
    auto file = std::filesystem::absolute(config_path, canonical_error);
    auto made = MakeExecutors(config, runner, {file.string(), file.parent_path().string()});
    if (!made.ok()) return made.status();
    executors = std::move(*made);
    std::string id = NewWorkerId();
    worker = std::make_unique<Worker>(config, *publisher, *view, *aborts, pipelines->store(),
                                      executors, SystemClock::Instance(), id);
    if (Status s = worker->Start(); !s.ok()) return s;
    dispatcher = std::make_unique<DeliveryDispatcher>(config, *publisher, *view,
                                                      SystemClock::Instance(), id);
    if (Status s = dispatcher->Start(); !s.ok()) return s;
    thread = std::thread([this] {
      worker->Run(stop);
      finished.store(true);
    });
    return Status::Ok();
  }
  void Stop() {
    stop.store(true);
    if (metrics_http) metrics_http->Stop();
    // Whatever Kafka answers (a commit, a group leave or a flush can each block for long when
    // it answers nothing), the process ends in time and leaves no job running behind it.
    std::thread([deadline = std::chrono::steady_clock::now() + exit_within] {
      std::this_thread::sleep_until(deadline);
      LogError("worker",
               "not stopped within shutdown_grace + kill_grace; killing the jobs and exiting");
      KillAllProcessTrees();
      ::_exit(1);
    }).detach();
    dispatcher.reset();
    if (thread.joinable()) thread.join();
    worker.reset();
    if (publisher) publisher->Flush(std::chrono::seconds(5));
    if (pipelines) pipelines->Stop();
    if (aborts) aborts->Stop();
    if (view) view->Stop();
    publisher.reset();
  }
};

int Fail(const Status& s) {
  std::cerr << "sluice: " << s.message() << "\n";
  return s.code() == Code::kInvalidArgument ? 2 : 1;
}

int RunCheckConfig(const std::string& path) {
  auto config = LoadConfigFile(path);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    if (config.status().message().find("SLUICE_DEV_") != std::string::npos) {
      std::cerr << "(sluice dev supplies the SLUICE_DEV_* variables: check a dev configuration "
                   "with `sluice dev --check [--config FILE]`)\n";
    }
    return 1;
  }
  std::cout << path << ": valid (" << config->jobs.size() << " job(s), " << config->clients.size()
            << " client(s), " << config->projects.size() << " project(s))\n";
  return 0;
}

int RunGateway(const ServerFlags& flags) {
  auto config = LoadConfigFile(flags.config);
  if (!config.ok()) return Fail(config.status());
  SetLogFormat(config->log.format);
  if (!flags.listen.empty()) config->gateway.listen = flags.listen;
  sigset_t signals = BlockStopSignals();
  if (Status s = EnsureTopics(*config, kStartupTimeout); !s.ok()) return Fail(s);
  GatewayParts gateway;
  if (Status s = gateway.Start(*config); !s.ok()) return Fail(s);
  LogInfo("gateway", "listening on " + config->gateway.listen + " (port " +
                         std::to_string(gateway.http->port()) + "), Kafka " +
                         config->kafka.brokers);
  if (!flags.port_file.empty()) {
    std::string tmp = flags.port_file + ".tmp";
    std::ofstream(tmp) << gateway.http->port() << "\n";
    std::filesystem::rename(tmp, flags.port_file);
  }
  std::string config_path = flags.config;
  WaitForStopSignal(signals, nullptr, [&] { gateway.ReloadWebhooks(config_path); });
  gateway.Stop();
  return 0;
}

int RunWorker(const ServerFlags& flags) {
  auto config = LoadConfigFile(flags.config);
  if (!config.ok()) return Fail(config.status());
  SetLogFormat(config->log.format);
  sigset_t signals = BlockStopSignals();
  if (Status s = EnsureTopics(*config, kStartupTimeout); !s.ok()) return Fail(s);
  WorkerParts worker;
  if (Status s = worker.Start(*config, flags.config); !s.ok()) return Fail(s);
  WaitForStopSignal(signals, &worker.finished);
  worker.Stop();
  return 0;
}

std::string DefaultDevConfig(const char* argv0) {
  std::vector<std::filesystem::path> candidates = {"config/dev.yaml"};
  std::error_code ec;
  auto exe = std::filesystem::canonical("/proc/self/exe", ec);
  if (!ec) {
    for (auto dir = exe.parent_path(); dir.has_parent_path() && dir != dir.parent_path();
         dir = dir.parent_path()) {
      candidates.push_back(dir / "config/dev.yaml");
    }
  }
  for (const auto& c : candidates) {
    if (std::filesystem::exists(c, ec)) return c.string();
  }
  return "config/dev.yaml";
}

// What config/dev.yaml reads from the environment, set as `sluice dev` sets it: each from its
// variable when given, else a default (a fresh token, the README's webhook secret, a fresh key).
struct DevSecrets {
  std::string token;
  bool hook_from_env = false;
};
DevSecrets SetDevSecrets() {
  DevSecrets out;
  // The dev token: from SLUICE_DEV_TOKEN, else a fresh one. The dev config reads it through
  // token_env, like any deployment would.
  const char* env_token = std::getenv("SLUICE_DEV_TOKEN");
  out.token = env_token && *env_token ? env_token : HexEncode(RandomBytes(16));
  setenv("SLUICE_DEV_TOKEN", out.token.c_str(), 1);
  // The webhook secret of config/dev.yaml: fixed unless given, so that the README's signed curl
  // example works as written. Dev listens on loopback.
  const char* env_hook = std::getenv("SLUICE_DEV_HOOK_SECRET");
  out.hook_from_env = env_hook && *env_hook;
  setenv("SLUICE_DEV_HOOK_SECRET", out.hook_from_env ? env_hook : "dev-hook-secret", 1);
  // The key config/dev.yaml seals trigger tokens under: one per process unless given (the
  // embedded broker forgets every token on exit anyway).
  const char* env_key = std::getenv("SLUICE_DEV_TRIGGER_TOKEN_KEY");
  std::string trigger_key = env_key && *env_key ? env_key : HexEncode(RandomBytes(32));
  setenv("SLUICE_DEV_TRIGGER_TOKEN_KEY", trigger_key.c_str(), 1);
  return out;
}

int RunDev(const ServerFlags& flags, const char* argv0) {
  std::string config_path = !flags.config.empty() ? flags.config : DefaultDevConfig(argv0);
  std::string listen = !flags.listen.empty() ? flags.listen : "127.0.0.1:8080";
  std::string data_dir = !flags.data_dir.empty() ? flags.data_dir : ".sluice-dev";

  DevSecrets secrets = SetDevSecrets();
  const std::string& token = secrets.token;
  if (flags.check) return RunCheckConfig(config_path);

  auto config = LoadConfigFile(config_path);
  if (!config.ok()) return Fail(config.status());
  SetLogFormat(config->log.format);
  auto hp = SplitHostPort(listen);
  if (!hp.ok()) return Fail(hp.status());

  sigset_t signals = BlockStopSignals();

  // The embedded broker: real Kafka protocol on loopback, in memory.
  auto broker = EmbeddedBroker::Start();
  if (!broker.ok()) return Fail(broker.status());
  std::string bootstrap = (*broker)->bootstrap();

  Config& c = *config;
  c.kafka.brokers = bootstrap;
  c.kafka.properties.clear();
  c.kafka.replication_factor = 1;
  if (Status s = (*broker)->CreateTopics(c.kafka); !s.ok()) return Fail(s);
  c.gateway.listen = listen;
  c.gateway.public_url = "http://" + listen;
  std::filesystem::path data = std::filesystem::absolute(data_dir);
  c.worker.workspace = (data / "work").string();
  c.worker.artifacts = (data / "artifacts").string();
  // One port for all: the gateway's /metrics shows the worker's metrics too (one registry).
  c.worker.metrics_listen = "";

  GatewayParts gateway;
  WorkerParts worker;
  if (Status s = gateway.Start(c); !s.ok()) return Fail(s);
  if (Status s = worker.Start(c, config_path); !s.ok()) return Fail(s);

  std::string url = c.gateway.public_url;
  std::string first_job = c.jobs.empty() ? "JOB" : c.jobs.front().name;
  std::cout << "\n"
            << "  Sluice dev is running.\n\n"
            << "  Dashboard:  " << url << "/  (sign in with the token below)\n"
            << "  API:        " << url << "\n"
            << "  Kafka:      " << bootstrap
            << "  (embedded, in memory: NOT durable, everything is lost on exit)\n"
            << "  Token:      " << token << "\n"
            << "  Webhooks:   " << url << "/hooks/{github,gitlab,gitea}, secret in "
            << "SLUICE_DEV_HOOK_SECRET" << (secrets.hook_from_env ? "" : " (dev-hook-secret)")
            << "\n"
            << "  Config:     " << config_path << "\n"
            << "  Data:       " << data.string() << "\n\n"
            << "  Try:\n"
            << "    curl -s -X POST -H \"Authorization: Bearer " << token
            << "\" -d '{\"job_name\": \"" << first_job << "\", \"job_execution_type\": \"1\"}' "
            << url << "/v1/executions\n\n"
            << "  Ctrl-C stops it.\n"
            << std::endl;

  WaitForStopSignal(signals, &worker.finished, [&] { gateway.ReloadWebhooks(config_path); });
  worker.Stop();
  gateway.Stop();
  return 0;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  using namespace sluice;
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  std::string first = argv[1];
  if (first == "help" || first == "--help" || first == "-h") {
    std::cout << kUsage;
    return 0;
  }
  CLI::App app{"sluice: webhook and trigger gateway on Kafka"};
  app.require_subcommand(1);
  ServerFlags flags;
  CLI::App* gateway = app.add_subcommand("gateway", "serve the HTTP API");
  gateway->add_option("--config", flags.config, "configuration file")->required();
  gateway->add_option("--listen", flags.listen, "HOST:PORT (port 0: any free port)");
  gateway->add_option("--port-file", flags.port_file, "write the port listened on to this file");
  CLI::App* worker = app.add_subcommand("worker", "run jobs from the requests topic");
  worker->add_option("--config", flags.config, "configuration file")->required();
  CLI::App* dev = app.add_subcommand("dev", "gateway, worker and an in-memory broker in one");
  dev->add_option("--config", flags.config, "configuration file (default config/dev.yaml)");
  dev->add_option("--listen", flags.listen, "HOST:PORT (default 127.0.0.1:8080)");
  dev->add_option("--data-dir", flags.data_dir, "workspaces and artifacts (default .sluice-dev)");
  dev->add_flag("--check", flags.check,
                "validate the configuration with the SLUICE_DEV_* values sluice dev supplies, "
                "and exit");
  std::string check_path;
  CLI::App* check = app.add_subcommand("check-config", "validate a configuration file");
  check->add_option("FILE", check_path, "configuration file")->required();
  cli::ClientCommands client(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (app.get_subcommands().empty() && first[0] != '-') {
      std::cerr << "sluice: unknown command \"" << first << "\"\n\n" << kUsage;
      return 2;
    }
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*check) return RunCheckConfig(check_path);
  if (*gateway) return RunGateway(flags);
  if (*worker) return RunWorker(flags);
  if (*dev) return RunDev(flags, argv[0]);
  if (auto code = client.Run()) return *code;
  std::cerr << kUsage;
  return 2;
}
