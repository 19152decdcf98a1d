#include "cli/app.h"

#include <cstdlib>
#include <iostream>

#include "cli/settings.h"

namespace sluice::cli {
namespace {

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

// "" is no timeout; otherwise a duration as in the config ("90s", "5m", "1h30m").
StatusOr<std::optional<Duration>> ParseTimeout(const std::string& text) {
  if (text.empty()) return std::optional<Duration>();
  auto d = ParseDuration(text);
  if (!d || d->count() <= 0) {
    return InvalidArgument("--timeout " + EchoValue(text) + ": expected a duration like 90s, 5m");
  }
  return std::optional<Duration>(*d);
}

}  // namespace

ClientCommands::ClientCommands(CLI::App& app) {
  trigger_ = app.add_subcommand("trigger", "trigger a job; prints the execution id");
  trigger_->add_option("JOB", trigger_options_.job, "the job's name")->required();
  trigger_->add_option("--env", trigger_options_.env, "NAME=VALUE for the job (repeatable)");
  trigger_->add_option("--refs-file", trigger_options_.refs_file, "Prow refs as a JSON file");
  trigger_->add_option("--type", trigger_options_.type, "default periodic (postsubmit with refs)")
      ->check(CLI::IsMember({"periodic", "postsubmit", "presubmit"}));
  trigger_->add_option("--idempotency-key", trigger_options_.idempotency_key,
                       "the same key triggers once (default: a random one)");
  trigger_->add_flag("--wait", trigger_options_.wait, "wait for the end; exit with its code");
  trigger_->add_flag("--follow", trigger_options_.follow, "print the log while waiting");
  trigger_->add_option("--timeout", trigger_timeout_, "give up waiting after this (exit 5)");
  AddConnectionFlags(trigger_);

  get_ = AddExecutionCommand(app, "get", "show an execution");

  list_ = app.add_subcommand("list", "list executions");
  list_->add_option("--job", list_options_.job, "only this job's");
  list_->add_option("--status", list_options_.status, "only in this status")
      ->transform([](std::string s) {
        for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return s;
      });
  list_->add_option("--page-size", list_options_.page_size, "executions per page")
      ->check(CLI::Range(1, 500));
  list_->add_flag("--all", list_options_.all, "every page");
  AddConnectionFlags(list_);

  logs_ = AddExecutionCommand(app, "logs", "print an execution's log");
  logs_->add_flag("--follow", follow_, "stream it until the execution ends");

  abort_ = AddExecutionCommand(app, "abort", "abort an execution");

  wait_ = AddExecutionCommand(app, "wait", "wait for an execution to end; exit with its code");
  wait_->add_option("--timeout", wait_timeout_, "give up after this (exit 5)");
}

CLI::App* ClientCommands::AddExecutionCommand(CLI::App& app, const std::string& name,
                                              const std::string& description) {
  CLI::App* command = app.add_subcommand(name, description);
  command->add_option("ID", id_, "execution id")->required();
  AddConnectionFlags(command);
  return command;
}

void ClientCommands::AddConnectionFlags(CLI::App* command) {
  command->add_option("--url", connection_.url, "server (else $SLUICE_URL, the config file)");
  command->add_option("--token", connection_.token, "token (else $SLUICE_TOKEN, the config file)");
  command->add_option("--output", connection_.output, "human or json")
      ->check(CLI::IsMember({"human", "json"}));
}

OutputFormat ClientCommands::output() const {
  return connection_.output == "json" ? OutputFormat::kJson : OutputFormat::kHuman;
}

std::optional<int> ClientCommands::Run() {
  if (!*trigger_ && !*get_ && !*list_ && !*logs_ && !*abort_ && !*wait_) return std::nullopt;
  SettingsSources sources;
  sources.flag_url = connection_.url;
  sources.flag_token = connection_.token;
  sources.env_url = Env("SLUICE_URL");
  sources.env_token = Env("SLUICE_TOKEN");
  sources.config_path = ConfigPath(std::getenv("XDG_CONFIG_HOME"), std::getenv("HOME"));
  auto settings = ResolveSettings(sources);
  if (!settings.ok()) {
    std::cerr << "sluice: " << settings.status().message() << "\n";
    return kExitUsage;
  }
  auto transport = MakeCurlTransport(settings->url, settings->token);
  Api api(*transport, RealTimer());
  Io io{std::cout, std::cerr};
  return Dispatch(api, io);
}

std::optional<int> ClientCommands::Dispatch(Api& api, Io& io) {
  if (*trigger_) {
    auto timeout = ParseTimeout(trigger_timeout_);
    if (!timeout.ok()) {
      io.err << "sluice: " << timeout.status().message() << "\n";
      return kExitUsage;
    }
    trigger_options_.timeout = *timeout;
    trigger_options_.output = output();
    return Trigger(api, trigger_options_, io);
  }
  if (*get_) return Get(api, id_, output(), io);
  if (*list_) {
    list_options_.output = output();
    return List(api, list_options_, io);
  }
  if (*logs_) return Logs(api, id_, follow_, io);
  if (*abort_) return Abort(api, id_, output(), io);
  if (*wait_) {
    auto timeout = ParseTimeout(wait_timeout_);
    if (!timeout.ok()) {
      io.err << "sluice: " << timeout.status().message() << "\n";
      return kExitUsage;
    }
    return Wait(api, id_, *timeout, output(), io);
  }
  return std::nullopt;
}

}  // namespace sluice::cli
