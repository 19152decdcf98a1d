#include "cli/commands.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

#include "common/crypto.h"
#include "common/json_codec.h"

namespace sluice::cli {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

constexpr Duration kCallTimeout = std::chrono::seconds(60);
constexpr Duration kLongPoll = std::chrono::seconds(30);
// Beyond the long poll's own wait, for the answer to arrive.
constexpr Duration kLongPollSlack = std::chrono::seconds(15);
// Between polls when the server answers a long poll at once with the status we already knew.
constexpr Duration kPollInterval = std::chrono::seconds(1);
// A progress line at least this often while the status stays the same.
constexpr Duration kProgressEvery = std::chrono::seconds(10);
// Resumptions of a log stream in a row that brought no byte.
constexpr int kMaxFruitlessResumes = 5;
constexpr size_t kMaxRefsFileBytes = 1 << 20;

// Every failure to talk to the API: its message on stderr, exit code 2 (5 once the deadline
// passed: a call cut short by it).
int ApiFailure(const Status& s, Io& io, Timer& timer, SteadyTime deadline) {
  if (timer.Now() >= deadline) {
    io.err << "sluice: timed out: " << s.message() << "\n";
    return kExitTimeout;
  }
  io.err << "sluice: " << s.message() << "\n";
  return kExitUsage;
}

SteadyTime DeadlineAfter(Timer& timer, std::optional<Duration> timeout) {
  return timeout ? timer.Now() + *timeout : SteadyTime::max();
}

// The call's own timeout: `want`, cut to what is left before the deadline (at least 1 ms, since
// 0 means none to libcurl).
Duration CallTimeout(Timer& timer, SteadyTime deadline, Duration want) {
  if (deadline == SteadyTime::max()) return want;
  auto left = std::chrono::duration_cast<Duration>(deadline - timer.Now());
  return std::clamp(left, Duration(1), want == Duration(0) ? left : want);
}

StatusOr<rapidjson::Document> ParseExecution(const std::string& body) {
  rapidjson::Document doc;
  if (Status s = ParseJson(body, doc); !s.ok() || !doc.IsObject() || GetString(doc, "id").empty()) {
    return Internal("the server's answer is not an execution: " + EchoValue(body.substr(0, 200)));
  }
  return doc;
}

long Seconds(Duration d) { return static_cast<long>(d.count() / 1000); }

// Polls the execution until it has ended or the deadline passes; returns the last answer's body.
// Uses the long poll (?wait=&known_status=); a server that answers at once with the known status
// is polled every kPollInterval instead. Progress lines go to stderr.
StatusOr<std::string> WaitForEnd(Api& api, const std::string& id, SteadyTime deadline, Io& io) {
  Timer& timer = api.timer();
  SteadyTime start = timer.Now();
  SteadyTime last_line{};
  std::string known;
  while (true) {
    SteadyTime now = timer.Now();
    if (now >= deadline) return DeadlineExceeded("execution " + id + " still " + known);
    Duration wait = kLongPoll;
    if (deadline != SteadyTime::max()) {
      wait = std::min(wait, std::chrono::duration_cast<Duration>(deadline - now));
    }
    long wait_seconds = std::max(1L, Seconds(wait));
    std::vector<std::pair<std::string, std::string>> query = {
        {"wait", std::to_string(wait_seconds) + "s"}};
    if (!known.empty()) query.emplace_back("known_status", known);
    HttpCall call{"GET", ExecutionsTarget(id, "", query), {}, "", {}};
    // Not cut at the deadline: the server answers within `wait`, which is.
    call.timeout = std::chrono::seconds(wait_seconds) + kLongPollSlack;
    auto answer = api.Call(call, deadline);
    if (!answer.ok()) return answer.status();
    auto doc = ParseExecution(answer->body);
    if (!doc.ok()) return doc.status();
    std::string status = GetString(*doc, "job_status");
    if (ExitCodeForJobStatus(status)) return std::move(answer->body);
    SteadyTime after = timer.Now();
    if (status != known || after - last_line >= kProgressEvery) {
      io.err << "waiting: " << Printable(id) << " " << Printable(status) << " "
             << Seconds(std::chrono::duration_cast<Duration>(after - start)) << "s\n";
      last_line = after;
    }
    if (status == known && after - now < kPollInterval) timer.Sleep(kPollInterval);
    known = status;
  }
}

// Streams the log from the start to `sink`, resuming at the byte reached when the connection
// breaks. Returns once the server ended the stream.
Status FollowLog(Api& api, const std::string& id, SteadyTime deadline, std::ostream& sink) {
  Timer& timer = api.timer();
  uint64_t offset = 0;
  int fruitless = 0;
  while (true) {
    HttpCall call{
        "GET",
        ExecutionsTarget(id, "log", {{"follow", "true"}, {"offset", std::to_string(offset)}}),
        {},
        "",
        {}};
    call.timeout = CallTimeout(timer, deadline, Duration(0));
    uint64_t before = offset;
    auto answer = api.Stream(
        call,
        [&](std::string_view bytes) {
          sink.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
          sink.flush();
          offset += bytes.size();
        },
        deadline);
    if (!answer.ok()) return answer.status();
    if (!answer->truncated) return Status::Ok();
    if (timer.Now() >= deadline) return DeadlineExceeded("the log stream: " + answer->error);
    fruitless = offset == before ? fruitless + 1 : 0;
    if (fruitless >= kMaxFruitlessResumes) {
      return Unavailable("the log stream keeps breaking: " + answer->error);
    }
    timer.Sleep(kPollInterval);
  }
}

// The end of a wait: the final execution printed, the exit code of its status.
int Finish(const std::string& body, OutputFormat output, bool status_to_stdout, Io& io) {
  auto doc = ParseExecution(body);
  if (!doc.ok()) {
    io.err << "sluice: " << doc.status().message() << "\n";
    return kExitUsage;
  }
  std::string status = GetString(*doc, "job_status");
  if (output == OutputFormat::kJson) {
    io.out << body << "\n";
  } else {
    std::ostream& s = status_to_stdout ? io.out : io.err;
    s << Printable(GetString(*doc, "id")) << " " << Printable(status);
    std::string message = GetString(*doc, "message");
    if (!message.empty()) s << ": " << Printable(message);
    s << "\n";
  }
  return ExitCodeForJobStatus(status).value_or(kExitUsage);
}

// Waits for the end (following the log first when asked) and finishes.
int WaitAndFinish(Api& api, const std::string& id, bool follow, SteadyTime deadline,
                  OutputFormat output, bool status_to_stdout, Io& io) {
  Timer& timer = api.timer();
  if (follow) {
    // With --output json stdout holds the one JSON document; the log goes to stderr.
    std::ostream& sink = output == OutputFormat::kJson ? io.err : io.out;
    if (Status s = FollowLog(api, id, deadline, sink); !s.ok()) {
      return ApiFailure(s, io, timer, deadline);
    }
  }
  auto end = WaitForEnd(api, id, deadline, io);
  if (!end.ok()) return ApiFailure(end.status(), io, timer, deadline);
  return Finish(*end, output, status_to_stdout, io);
}

// One call answered by an execution: the API's JSON as it came, or `human` of it.
int CallForExecution(Api& api, const HttpCall& call, OutputFormat output, Io& io,
                     const std::function<std::string(const rapidjson::Document&)>& human) {
  Timer& timer = api.timer();
  auto answer = api.Call(call);
  if (!answer.ok()) return ApiFailure(answer.status(), io, timer, SteadyTime::max());
  auto doc = ParseExecution(answer->body);
  if (!doc.ok()) return ApiFailure(doc.status(), io, timer, SteadyTime::max());
  if (output == OutputFormat::kJson) {
    io.out << answer->body << "\n";
  } else {
    io.out << human(*doc);
  }
  return kExitSuccess;
}

}  // namespace

std::optional<int> ExitCodeForJobStatus(std::string_view job_status) {
  if (job_status == "SUCCESS") return kExitSuccess;
  if (job_status == "FAILURE") return kExitFailure;
  if (job_status == "ABORTED") return kExitAborted;
  if (job_status == "ERROR") return kExitError;
  return std::nullopt;
}

StatusOr<std::map<std::string, std::string>> ParseEnv(const std::vector<std::string>& items) {
  std::map<std::string, std::string> env;
  for (const std::string& item : items) {
    auto eq = item.find('=');
    if (eq == std::string::npos) {
      return InvalidArgument("--env " + EchoValue(item) + ": expected NAME=VALUE");
    }
    std::string name = item.substr(0, eq);
    if (name.empty()) return InvalidArgument("--env " + EchoValue(item) + ": the name is empty");
    if (!env.emplace(name, item.substr(eq + 1)).second) {
      return InvalidArgument("--env " + EchoValue(name) + " is given twice");
    }
  }
  return env;
}

StatusOr<std::string> TriggerBody(const TriggerOptions& options, const std::string& refs_json) {
  auto env = ParseEnv(options.env);
  if (!env.ok()) return env.status();
  rapidjson::Document refs;
  if (!refs_json.empty()) {
    if (Status s = ParseJson(refs_json, refs); !s.ok()) {
      return InvalidArgument("--refs-file: " + s.message());
    }
    if (!refs.IsObject()) return InvalidArgument("--refs-file: expected a JSON object");
  }
  std::string type =
      options.type.empty() ? (refs_json.empty() ? "periodic" : "postsubmit") : options.type;
  std::transform(type.begin(), type.end(), type.begin(), ::toupper);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteStringField(w, "job_name", options.job);
  WriteStringField(w, "job_execution_type", type);
  w.Key("pod_spec_options");
  w.StartObject();
  WriteStringMap(w, "envs", *env);
  w.EndObject();
  if (!refs_json.empty()) {
    w.Key("refs");
    refs.Accept(w);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

int Trigger(Api& api, const TriggerOptions& options, Io& io) {
  Timer& timer = api.timer();
  SteadyTime deadline = DeadlineAfter(timer, options.timeout);
  std::string refs_json;
  if (!options.refs_file.empty()) {
    std::ifstream in(options.refs_file, std::ios::binary);
    if (!in) {
      io.err << "sluice: --refs-file " << options.refs_file << ": cannot be read\n";
      return kExitUsage;
    }
    refs_json.resize(kMaxRefsFileBytes + 1);
    in.read(refs_json.data(), static_cast<std::streamsize>(refs_json.size()));
    refs_json.resize(static_cast<size_t>(in.gcount()));
    if (refs_json.size() > kMaxRefsFileBytes) {
      io.err << "sluice: --refs-file " << options.refs_file << ": larger than 1 MiB\n";
      return kExitUsage;
    }
  }
  auto body = TriggerBody(options, refs_json);
  if (!body.ok()) {
    io.err << "sluice: " << body.status().message() << "\n";
    return kExitUsage;
  }
  // One key for every try of this invocation: a retried trigger is the same trigger.
  std::string key = options.idempotency_key.empty() ? "sluice-cli-" + HexEncode(RandomBytes(16))
                                                    : options.idempotency_key;
  HttpCall call{"POST",
                ExecutionsTarget(),
                {"Content-Type: application/json", "Idempotency-Key: " + key},
                *body,
                CallTimeout(timer, deadline, kCallTimeout)};
  auto answer = api.Call(call, deadline);
  if (!answer.ok()) return ApiFailure(answer.status(), io, timer, deadline);
  auto doc = ParseExecution(answer->body);
  if (!doc.ok()) return ApiFailure(doc.status(), io, timer, deadline);
  std::string id = GetString(*doc, "id");
  bool wait = options.wait || options.follow;
  if (!wait) {
    if (options.output == OutputFormat::kJson) {
      io.out << answer->body << "\n";
    } else {
      io.out << Printable(id) << "\n";
    }
    return kExitSuccess;
  }
  if (options.output == OutputFormat::kHuman) {
    // The id first, so that a script can stop waiting and still know it; with --follow stdout
    // is the job's log alone.
    (options.follow ? io.err : io.out) << Printable(id) << "\n";
    io.out.flush();
  }
  return WaitAndFinish(api, id, options.follow, deadline, options.output, false, io);
}

int Get(Api& api, const std::string& id, OutputFormat output, Io& io) {
  return CallForExecution(api, {"GET", ExecutionsTarget(id), {}, "", kCallTimeout}, output, io,
                          [](const rapidjson::Document& e) { return FormatExecution(e); });
}

int List(Api& api, const ListOptions& options, Io& io) {
  Timer& timer = api.timer();
  rapidjson::Document all(rapidjson::kObjectType);
  rapidjson::Value executions(rapidjson::kArrayType);
  std::string token;
  std::vector<std::string> seen_tokens;
  std::string last_body;
  int pages = 0;
  while (true) {
    std::vector<std::pair<std::string, std::string>> query;
    if (!options.job.empty()) query.emplace_back("job_name", options.job);
    if (!options.status.empty()) query.emplace_back("status", options.status);
    if (options.page_size > 0) query.emplace_back("page_size", std::to_string(options.page_size));
    if (!token.empty()) query.emplace_back("page_token", token);
    auto answer = api.Call({"GET", ExecutionsTarget("", "", query), {}, "", kCallTimeout});
    if (!answer.ok()) return ApiFailure(answer.status(), io, timer, SteadyTime::max());
    rapidjson::Document page;
    if (!ParseJson(answer->body, page).ok() || !page.IsObject() ||
        !page.HasMember("job_execution") || !page["job_execution"].IsArray()) {
      io.err << "sluice: the server's answer is not a list of executions\n";
      return kExitUsage;
    }
    ++pages;
    last_body = std::move(answer->body);
    for (auto& e : page["job_execution"].GetArray()) {
      executions.PushBack(rapidjson::Value(e, all.GetAllocator()), all.GetAllocator());
    }
    token = GetString(page, "next_page_token");
    if (!options.all || token.empty()) break;
    if (std::find(seen_tokens.begin(), seen_tokens.end(), token) != seen_tokens.end()) {
      io.err << "sluice: the server returned the same page token twice\n";
      return kExitUsage;
    }
    seen_tokens.push_back(token);
  }
  if (options.output == OutputFormat::kJson) {
    if (pages == 1) {
      io.out << last_body << "\n";  // the API's answer as it came
    } else {
      all.AddMember("job_execution", executions, all.GetAllocator());
      all.AddMember("next_page_token", "", all.GetAllocator());
      io.out << JsonText(all);
    }
    return kExitSuccess;
  }
  std::vector<const rapidjson::Value*> rows;
  for (const auto& e : executions.GetArray()) rows.push_back(&e);
  io.out << FormatExecutionTable(rows);
  if (!token.empty()) io.err << "(more executions: --all lists every page)\n";
  return kExitSuccess;
}

int Logs(Api& api, const std::string& id, bool follow, Io& io) {
  Timer& timer = api.timer();
  if (follow) {
    return WaitAndFinish(api, id, true, SteadyTime::max(), OutputFormat::kHuman, false, io);
  }
  auto answer = api.Call({"GET", ExecutionsTarget(id, "log"), {}, "", kCallTimeout});
  if (!answer.ok()) return ApiFailure(answer.status(), io, timer, SteadyTime::max());
  io.out << answer->body;
  return kExitSuccess;
}

int Abort(Api& api, const std::string& id, OutputFormat output, Io& io) {
  return CallForExecution(api, {"POST", ExecutionsTarget(id, "abort"), {}, "", kCallTimeout},
                          output, io, [&](const rapidjson::Document& e) {
                            return "abort requested: " + Printable(id) + " (" +
                                   Printable(GetString(e, "job_status")) + ")\n";
                          });
}

int Wait(Api& api, const std::string& id, std::optional<Duration> timeout, OutputFormat output,
         Io& io) {
  SteadyTime deadline = DeadlineAfter(api.timer(), timeout);
  return WaitAndFinish(api, id, false, deadline, output, true, io);
}

}  // namespace sluice::cli
