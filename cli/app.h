#pragma once

// The client's subcommands on the `sluice` binary's CLI11 application: their flags, and running
// the one that was parsed with the server and token of ResolveSettings.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace sluice::cli {

class ClientCommands {
 public:
  // Adds trigger, get, list, logs, abort and wait to `app`.
  explicit ClientCommands(CLI::App& app);
  // After app.parse(): the exit code of the client command that was parsed, or nullopt when the
  // command parsed was another.
  std::optional<int> Run();

 private:
  struct Connection {
    std::optional<std::string> url, token;
    std::string output = "human";
  };
  void AddConnectionFlags(CLI::App* command);
  // A command on one execution: its ID and the connection flags.
  CLI::App* AddExecutionCommand(CLI::App& app, const std::string& name,
                                const std::string& description);
  OutputFormat output() const;
  std::optional<int> Dispatch(Api& api, Io& io);

  Connection connection_;
  CLI::App* trigger_ = nullptr;
  CLI::App* get_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* logs_ = nullptr;
  CLI::App* abort_ = nullptr;
  CLI::App* wait_ = nullptr;
  TriggerOptions trigger_options_;
  std::string trigger_timeout_;
  ListOptions list_options_;
  std::string id_;
  bool follow_ = false;
  std::string wait_timeout_;
};

}  // namespace sluice::cli
