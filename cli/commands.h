#pragma once

// The client's subcommands, each a function from its options to the process's exit code. They
// speak to the server only through `Api` and print only to `Io`, so unit tests run them against
// a fake transport and timer.

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/client.h"
#include "cli/output.h"
#include "common/status.h"

namespace sluice::cli {

// The exit codes of every client command.
enum ExitCode : int {
  kExitSuccess = 0,  // the execution ended SUCCESS, or the command did what it was asked
  kExitFailure = 1,  // the execution ended FAILURE
  kExitUsage = 2,    // bad arguments, or the API answered an error
  kExitAborted = 3,
  kExitError = 4,
  kExitTimeout = 5,  // --timeout passed before the execution ended
};

// SUCCESS 0, FAILURE 1, ABORTED 3, ERROR 4; nullopt while the execution has not ended.
std::optional<int> ExitCodeForJobStatus(std::string_view job_status);

struct Io {
  std::ostream& out;
  std::ostream& err;
};

// "K=V" pairs as given to --env; refuses an item without '=' or with an empty or repeated name.
StatusOr<std::map<std::string, std::string>> ParseEnv(const std::vector<std::string>& items);

struct TriggerOptions {
  std::string job;
  std::vector<std::string> env;  // K=V
  std::string refs_file;         // a JSON object: Prow's refs
  std::string type;              // periodic, postsubmit, presubmit; empty: periodic, or
                                 // postsubmit when refs are given
  std::string idempotency_key;   // empty: one generated for this invocation
  bool wait = false;
  bool follow = false;  // implies wait
  std::optional<Duration> timeout;
  OutputFormat output = OutputFormat::kHuman;
};

// The POST /v1/executions body; `refs_json` is the text of the refs file ("" for none).
StatusOr<std::string> TriggerBody(const TriggerOptions& options, const std::string& refs_json);

int Trigger(Api& api, const TriggerOptions& options, Io& io);
int Get(Api& api, const std::string& id, OutputFormat output, Io& io);

struct ListOptions {
  std::string job;
  std::string status;
  int page_size = 0;  // 0: the server's default
  bool all = false;   // follow next_page_token to the end
  OutputFormat output = OutputFormat::kHuman;
};
int List(Api& api, const ListOptions& options, Io& io);

// The log so far; with `follow`, streams it to the end and exits with the execution's code.
int Logs(Api& api, const std::string& id, bool follow, Io& io);
int Abort(Api& api, const std::string& id, OutputFormat output, Io& io);
int Wait(Api& api, const std::string& id, std::optional<Duration> timeout, OutputFormat output,
         Io& io);

}  // namespace sluice::cli
