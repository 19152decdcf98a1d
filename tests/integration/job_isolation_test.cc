// What a job cannot reach (issue 12), under each isolating executor, sandbox (bubblewrap) and
// container (podman): the worker's environment, configuration and secret files, another job's
// workspace, the worker itself; its daemons end with it; its limits end a fork bomb and a memory
// hog with a message naming the limit; `network: false` cuts it off the broker on loopback; its
// secrets are masked in its log even when written in two pieces; its log is capped. Each
// executor's tests share one deployment (a gateway and a worker on an embedded broker), each
// test with jobs of its own. A probe job prints what it managed to do; the test reads its log
// through the gateway.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/crypto.h"
#include "tests/integration/api_helpers.h"
#include "tests/integration/harness/harness.h"

namespace sluice {
// Test names and failures show the executor by name.
void PrintTo(ExecutorKind kind, std::ostream* out) { *out << ExecutorName(kind); }
}  // namespace sluice

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

constexpr char kImage[] = "localhost/sluice-test:1";
constexpr uint64_t kLogCap = 64 * 1024;
// The worker's own secret, in its environment (and the gateway's) but given to no job.
constexpr char kWorkerSecretVariable[] = "SLUICE_ISOLATION_WORKER_SECRET";
// A secret the worker gives to the jobs that name it in secret_env (token_env).
constexpr char kJobSecretVariable[] = "SLUICE_ISOLATION_JOB_SECRET";

// Secret values of this test run: lower-case hex, so that a probe can also print them
// upper-cased (in case a plain copy were masked) and a test can look for both.
struct Secrets {
  std::string worker;    // in kWorkerSecretVariable
  std::string job;       // in kJobSecretVariable
  std::string job_file;  // in a token_file of a job's secret_env
  std::string gateway;   // a client's token, in a token_file only the gateway needs
};

// Set once in this process's environment, before any worker starts: the harness starts workers
// with this process's environment.
const Secrets& TestSecrets() {
  static const Secrets secrets = [] {
    Secrets s{HexEncode(RandomBytes(16)), HexEncode(RandomBytes(16)), HexEncode(RandomBytes(16)),
              HexEncode(RandomBytes(16))};
    ::setenv(kWorkerSecretVariable, s.worker.c_str(), 1);
    ::setenv(kJobSecretVariable, s.job.c_str(), 1);
    return s;
  }();
  return secrets;
}

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// A directory made with mkdtemp under `parent`, removed with its contents at destruction.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& parent) {
    std::string pattern = parent + "/sluice-isolation-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The variables of a trigger's pod_spec_options.envs the probe jobs accept.
constexpr char kProbeVariables[] =
    "[PROBE_PATH, PROBE_OTHER_PATH, PROBE_PID, PROBE_HOST, PROBE_PORT]";

// Each line of `text` after `indent`.
std::string Indented(const std::string& text, const std::string& indent) {
  std::string out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) out += indent + line + "\n";
  return out;
}

// One periodic job of a jobs: list, in block style: `sh -c script`, with `runtime` (YAML keys,
// one a line) and `extra` keys of the job.
std::string ShellJob(const std::string& name, const std::string& runtime, const std::string& script,
                     const std::string& extra = "") {
  return "  - name: " + name + "\n    type: periodic\n    timeout: 40s\n" +
         "    allow_env_override: " + kProbeVariables + "\n" + Indented(runtime + extra, "    ") +
         "    command:\n      - sh\n      - -c\n      - |\n" + Indented(script, "        ");
}

// The names of the NAME=VALUE lines of an `env` listing in a log (the worker's own lines start
// with "[sluice]").
std::set<std::string> EnvironmentNames(const std::string& log) {
  static const std::regex kVariable(R"(^([A-Za-z_][A-Za-z0-9_]*)=)");
  std::set<std::string> names;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, kVariable)) names.insert(m[1].str());
  }
  return names;
}

// What the worker gives every periodic job without refs (worker/job_environment.h) and every
// step (PWD, its directory: JobRun::StepFor), plus the variables the env-listing jobs below are
// configured with.
std::set<std::string> GivenEnvironmentNames() {
  return {"PATH",      "HOME",           "LANG",        "PWD",      "JOB_NAME",
          "JOB_TYPE",  "BUILD_ID",       "PROW_JOB_ID", "JOB_SPEC", "SLUICE_EXECUTION_ID",
          "ARTIFACTS", "GIVEN_VARIABLE", "GIVEN_SECRET"};
}

std::string EnvListingJob(const std::string& name, const std::string& runtime) {
  return "  - name: " + name + "\n    type: periodic\n    timeout: 40s\n    command: [env]\n" +
         "    env: {GIVEN_VARIABLE: given}\n" +
         "    secret_env: {GIVEN_SECRET: {token_env: " + kJobSecretVariable + "}}\n" +
         Indented(runtime, "    ");
}

// Whether a process of the host has `marker` in its command line (the host's /proc: a PID
// namespace's pids are not the host's, but its processes are all here).
bool HostHasProcessWith(const std::string& marker) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    if (ReadFileText(entry.path().string() + "/cmdline").find(marker) != std::string::npos) {
      return true;
    }
  }
  return false;
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

// The first broker of a bootstrap list "host:port,...".
std::pair<std::string, std::string> FirstBroker(const std::string& brokers) {
  std::string first = brokers.substr(0, brokers.find(','));
  size_t colon = first.rfind(':');
  return {first.substr(0, colon), first.substr(colon + 1)};
}

// Every probe prints one of these, so a test can tell "tried and failed" from "never ran".
constexpr char kRead[] = "probe: read it";
constexpr char kCouldNotRead[] = "probe: could not read it";

std::string TryToRead(const std::string& what) {
  return "if cat " + what + "; then echo '" + kRead + "'; else echo '" + kCouldNotRead + "'; fi\n";
}

// The daemon of the setsid tests: appends to $ARTIFACTS/heartbeat every 100 ms, with `marker` as
// its $0 (so in its command line on the host), in a session of its own.
std::string StartDaemon(const std::string& marker) {
  return "setsid sh -c 'while :; do echo beat >> \"$ARTIFACTS/heartbeat\"; sleep 0.1; done' " +
         marker +
         " </dev/null >/dev/null 2>&1 &\n"
         "while [ ! -s \"$ARTIFACTS/heartbeat\" ]; do sleep 0.05; done\n"
         "echo 'probe: daemon started'\n";
}

std::string DaemonMarker(ExecutorKind kind, const std::string& what) {
  static const std::string run = HexEncode(RandomBytes(6));
  return std::string("sluice-isolation-daemon-") + ExecutorName(kind) + "-" + what + "-" + run;
}

// The jobs of one executor's deployment; `job_secret_file` is the token_file of the masking job.
std::string JobsFor(ExecutorKind kind, const std::string& job_secret_file) {
  std::string runtime = std::string("executor: ") + ExecutorName(kind) + "\n";
  if (kind == ExecutorKind::kContainer) runtime += std::string("image: ") + kImage + "\n";
  std::string jobs;
  // The worker's environment, through /proc: its parent's, the worker's by pid, everyone's.
  // Each environ also upper-cased: a secret masked as such would still show, changed.
  jobs +=
      ShellJob("read-environ", runtime,
               "for f in /proc/$PPID/environ /proc/$PROBE_PID/environ /proc/[0-9]*/environ; do\n"
               "  echo \"== $f\"\n"
               "  tr '\\000' '\\n' < \"$f\"\n"
               "  tr '\\000a-f' '\\nA-F' < \"$f\"\n"
               "done\n"
               "echo '== env'\n"
               "env\n"
               "echo 'probe: finished'\n");
  jobs += EnvListingJob("list-env", runtime);
  jobs += ShellJob("read-config", runtime, TryToRead("\"$PROBE_PATH\""));
  jobs += ShellJob("read-token-file", runtime,
                   "ls -la \"$(dirname \"$PROBE_PATH\")\"\n" + TryToRead("\"$PROBE_PATH\""));
  // The other job's workspace and artifacts: it leaves a file in each, then waits to be aborted.
  jobs += ShellJob("hold-workspace", runtime,
                   "echo \"workspace-content-$SLUICE_EXECUTION_ID\" > \"$HOME/mine.txt\"\n"
                   "echo \"artifact-content-$SLUICE_EXECUTION_ID\" > \"$ARTIFACTS/mine.txt\"\n"
                   "touch \"$HOME/only-listed\" \"$ARTIFACTS/only-listed\"\n"
                   "sleep 60\n");
  jobs += ShellJob("read-other-workspace", runtime,
                   "ls -la \"$PROBE_PATH\" \"$PROBE_OTHER_PATH\"\n" +
                       TryToRead("\"$PROBE_PATH/mine.txt\"") +
                       TryToRead("\"$PROBE_OTHER_PATH/mine.txt\""));
  jobs += ShellJob("signal-worker", runtime,
                   "if [ -e \"/proc/$PROBE_PID\" ]; then echo 'probe: sees the worker'; "
                   "else echo 'probe: does not see the worker'; fi\n"
                   "echo '== command lines'\n"
                   "cat /proc/[0-9]*/cmdline | tr '\\000a-z' ' A-Z'\n"
                   "echo\n"
                   "if kill -TERM \"$PROBE_PID\"; then echo 'probe: signalled'; "
                   "else echo 'probe: could not signal'; fi\n"
                   "if kill -KILL \"$PROBE_PID\"; then echo 'probe: signalled'; "
                   "else echo 'probe: could not signal'; fi\n");
  jobs += ShellJob("after-signal", runtime, "echo 'probe: still served'\n");
  jobs += ShellJob("daemon-outlives-job", runtime, StartDaemon(DaemonMarker(kind, "end")));
  jobs += ShellJob("daemon-outlives-abort", runtime,
                   StartDaemon(DaemonMarker(kind, "abort")) + "sleep 60\n");
  // More processes than allowed, each waiting; a shell whose fork fails gives up.
  jobs += ShellJob("fork-bomb", runtime,
                   "i=0\n"
                   "while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done\n"
                   "echo \"probe: started $i processes\"\n"
                   "wait\n",
                   "limits: {processes: 32}\n");
  // tail keeps a last line that never ends: 200 MB of it.
  jobs += ShellJob("memory-hog", runtime, "head -c 200000000 /dev/zero | tail\n",
                   "limits: {memory: 64MiB}\n");
  const std::string connect =
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sed 's/^/probe: interface /'\n"
      "if busybox nc -w 3 \"$PROBE_HOST\" \"$PROBE_PORT\" -e true; then echo 'probe: connected'; "
      "else echo 'probe: could not connect'; fi\n";
  jobs += ShellJob("network-off", runtime, connect, "network: false\n");
  jobs += ShellJob("network-on", runtime, connect, "network: true\n");
  // Each secret in two writes a moment apart, whole, and inside a line.
  jobs += ShellJob("print-secrets", runtime,
                   "printf %s \"${S%????????????????}\"; sleep 0.2; printf '%s\\n' "
                   "\"${S#????????????????}\"\n"
                   "printf %s \"${F%????????????????}\"; sleep 0.2; printf '%s\\n' "
                   "\"${F#????????????????}\"\n"
                   "printf '%s\\n' \"$S\" \"$F\"\n"
                   "printf 'inline %s and %s end\\n' \"$S\" \"$F\"\n"
                   "echo 'probe: finished'\n",
                   std::string("secret_env:\n  S: {token_env: ") + kJobSecretVariable +
                       "}\n  F: {token_file: " + job_secret_file + "}\n");
  jobs += ShellJob("flood-log", runtime,
                   "head -c 1048576 /dev/zero | tr '\\000' x\n"
                   "echo\n"
                   "echo 'probe: after the flood'\n"
                   "touch \"$ARTIFACTS/after-the-flood\"\n");
  return jobs;
}

// One executor's deployment: a gateway and a worker (the worker with the test's secrets in its
// environment) and the files they read.
struct Stack {
  ScratchDir job_secret_dir{fs::temp_directory_path().string()};
  // Where an operator keeps secrets: /etc, which the sandbox shows read-only (covering the
  // worker's own configuration and secret files). Not root: a scratch directory instead.
  ScratchDir gateway_secret_dir{::geteuid() == 0 ? "/etc" : fs::temp_directory_path().string()};
  std::string gateway_token_file;
  std::unique_ptr<Deployment> deployment;
  SluiceProcess* gateway = nullptr;
  SluiceProcess* worker = nullptr;

  explicit Stack(ExecutorKind kind) {
    const Secrets& secrets = TestSecrets();
    EXPECT_FALSE(job_secret_dir.path().empty() || gateway_secret_dir.path().empty())
        << "cannot make the secrets' directories: " << std::strerror(errno);
    std::string job_secret_file = job_secret_dir.path() + "/job.secret";
    std::ofstream(job_secret_file) << secrets.job_file << "\n";
    // Readable by anyone on the host (mkdtemp's 0700 would keep out a job's user by itself).
    ::chmod(gateway_secret_dir.path().c_str(), 0755);
    gateway_token_file = gateway_secret_dir.path() + "/carol.token";
    std::ofstream(gateway_token_file) << secrets.gateway << "\n";
    std::string clients = "  - {name: alice, token_sha256: \"" + Sha256Hex(kAliceToken) +
                          "\", allow_jobs: [\"*\"]}\n"
                          "  - {name: carol, token_file: \"" +
                          gateway_token_file + "\", allow_jobs: [\"*\"]}\n";
    std::string worker_yaml = "  max_log_bytes: " + std::to_string(kLogCap) + "\n";
    // runc where it is installed (scripts/install-deps.sh), as container_executor_test runs
    // podman: crun refuses a host whose cgroups are in hybrid mode, runc runs on it and on v2.
    if (fs::exists("/usr/bin/runc")) worker_yaml += "  podman_args: [--runtime, runc]\n";
    deployment =
        std::make_unique<Deployment>(JobsFor(kind, job_secret_file), worker_yaml, "", clients);
    gateway = &deployment->StartGateway();
    worker = &deployment->StartWorker();
  }
};

class JobIsolation : public ::testing::TestWithParam<ExecutorKind> {
 public:
  // The container executor's image, built here (scripts/container-image.sh; no registry).
  static void SetUpTestSuite() {
    TestSecrets();
    image_error_.clear();
    if (std::system("command -v podman >/dev/null 2>&1") != 0) {
      image_error_ = "podman is missing (scripts/install-deps.sh installs it)";
      return;
    }
    const char* source = std::getenv("SLUICE_SOURCE_DIR");
    std::string output;
    if (Run(std::string(source ? source : ".") + "/scripts/container-image.sh", &output) != 0 ||
        output.find(kImage) == std::string::npos) {
      image_error_ = "scripts/container-image.sh failed:\n" + output;
    }
  }
  static void TearDownTestSuite() { stacks_.clear(); }

 protected:
  void SetUp() override {
    if (GetParam() == ExecutorKind::kContainer) {
      ASSERT_EQ(image_error_, "") << "the container executor's image";
    }
    auto& stack = stacks_[GetParam()];
    if (!stack) stack = std::make_unique<Stack>(GetParam());
    ASSERT_NE(stack->gateway->port(), 0) << "the gateway did not start";
    ASSERT_TRUE(stack->worker->Running()) << stack->worker->Log();
  }

  Stack& stack() { return *stacks_[GetParam()]; }
  Deployment& deployment() { return *stack().deployment; }
  SluiceProcess& gateway() { return *stack().gateway; }
  SluiceProcess& worker() { return *stack().worker; }

  // Triggers `job` with `envs` as its pod_spec_options.envs; returns the execution id.
  std::string Trigger(const std::string& job, const std::map<std::string, std::string>& envs = {}) {
    std::string body = "{\"job_name\": \"" + job +
                       "\", \"job_execution_type\": \"1\", \"pod_spec_options\": {\"envs\": {";
    const char* separator = "";
    for (const auto& [name, value] : envs) {
      body += separator + ("\"" + name + "\": \"" + value + "\"");
      separator = ", ";
    }
    body += "}}}";
    HttpResponse r = PostExecution(http_, gateway(), body);
    EXPECT_EQ(r.status, 200) << r.body << r.error;
    return StringField(r, "id");
  }
  // Runs `job` to its end; returns its log.
  std::string RunToEnd(const std::string& job, const std::map<std::string, std::string>& envs,
                       const std::string& want_status, std::string* id_out = nullptr) {
    std::string id = Trigger(job, envs);
    if (id_out) *id_out = id;
    EXPECT_EQ(WaitForEnd(http_, gateway(), id, seconds(60)), want_status)
        << LogOf(http_, gateway(), id) << worker().Log();
    return LogOf(http_, gateway(), id);
  }
  bool Ended(const std::string& id) {
    std::string status = StatusOf(http_, gateway(), id);
    return status == "SUCCESS" || status == "FAILURE" || status == "ABORTED" || status == "ERROR";
  }
  std::string MessageOf(const std::string& id) {
    return StringField(GetExecution(http_, gateway(), id), "message");
  }
  std::string PidText() { return std::to_string(worker().pid()); }

  // Runs a shell command; its exit status, and its output in *output.
  static int Run(const std::string& command, std::string* output) {
    output->clear();
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return -1;
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output->append(buffer, n);
    return ::pclose(pipe);
  }

  HttpClient http_;
  static inline std::string image_error_;
  static inline std::map<ExecutorKind, std::unique_ptr<Stack>> stacks_;
};

TEST_P(JobIsolation, JobCannotReadTheWorkersEnvironment) {
  const Secrets& secrets = TestSecrets();
  std::string worker_environ = ReadFileText("/proc/" + PidText() + "/environ");
  ASSERT_NE(worker_environ.find(secrets.worker), std::string::npos)
      << "the worker must hold the secret for this test to mean anything";
  std::string log = RunToEnd("read-environ", {{"PROBE_PID", PidText()}}, "SUCCESS");
  EXPECT_NE(log.find("probe: finished"), std::string::npos) << log;
  EXPECT_EQ(log.find(secrets.worker), std::string::npos) << log;
  EXPECT_EQ(log.find(Upper(secrets.worker)), std::string::npos) << log;
  EXPECT_EQ(log.find(kWorkerSecretVariable), std::string::npos) << log;
}

TEST_P(JobIsolation, JobEnvironmentIsExactlyWhatItWasGiven) {
  std::string log = RunToEnd("list-env", {}, "SUCCESS");
  std::set<std::string> expected = GivenEnvironmentNames();
  // podman always sets HOSTNAME, to the container's own name: nothing of the worker's.
  if (GetParam() == ExecutorKind::kContainer) expected.insert("HOSTNAME");
  EXPECT_EQ(EnvironmentNames(log), expected) << log;
  EXPECT_NE(log.find("GIVEN_SECRET=[MASKED]"), std::string::npos) << log;
  EXPECT_NE(log.find("GIVEN_VARIABLE=given"), std::string::npos) << log;
}

TEST_P(JobIsolation, JobCannotReadTheConfigurationFile) {
  ASSERT_NE(ReadFileText(deployment().config_path()).find("topic_prefix"), std::string::npos);
  std::string log =
      RunToEnd("read-config", {{"PROBE_PATH", deployment().config_path()}}, "SUCCESS");
  EXPECT_NE(log.find(kCouldNotRead), std::string::npos) << log;
  EXPECT_EQ(log.find(kRead), std::string::npos) << log;
  EXPECT_EQ(log.find("topic_prefix"), std::string::npos) << log;
}

TEST_P(JobIsolation, JobCannotReadAGatewayTokenFile) {
  const Secrets& secrets = TestSecrets();
  // The token works: the gateway read it from the file.
  EXPECT_EQ(http_.Get(gateway().url() + "/v1/executions", secrets.gateway).status, 200);
  std::string log =
      RunToEnd("read-token-file", {{"PROBE_PATH", stack().gateway_token_file}}, "SUCCESS");
  EXPECT_NE(log.find(kCouldNotRead), std::string::npos) << log;
  EXPECT_EQ(log.find(kRead), std::string::npos) << log;
  EXPECT_EQ(log.find(secrets.gateway), std::string::npos) << log;
}

TEST_P(JobIsolation, JobCannotReadAnotherJobsWorkspace) {
  std::string holder = Trigger("hold-workspace");
  ASSERT_FALSE(holder.empty());
  const std::string workspace = deployment().workspace() + "/" + holder + "-1";
  const std::string artifacts = deployment().artifacts() + "/hold-workspace/" + holder;
  ASSERT_TRUE(
      WaitFor([&] { return fs::exists(workspace + "/mine.txt") || Ended(holder); }, seconds(60)) &&
      !Ended(holder))
      << "the other job's workspace is not where this test looks: " << workspace << "\n"
      << LogOf(http_, gateway(), holder);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(artifacts + "/mine.txt"); }, seconds(10)));

  std::string log =
      RunToEnd("read-other-workspace", {{"PROBE_PATH", workspace}, {"PROBE_OTHER_PATH", artifacts}},
               "SUCCESS");
  EXPECT_EQ(CountOccurrences(log, kCouldNotRead), 2) << log;
  EXPECT_EQ(log.find(kRead), std::string::npos) << log;
  EXPECT_EQ(log.find("workspace-content-"), std::string::npos) << log;
  EXPECT_EQ(log.find("artifact-content-"), std::string::npos) << log;
  // A name the probe does not know: it could only come from listing the other job's directories.
  EXPECT_EQ(log.find("only-listed"), std::string::npos) << "listed the other job's files:\n" << log;

  EXPECT_EQ(http_.Post(ExecutionUrl(gateway(), holder) + "/abort", kAliceToken, "").status, 202);
  EXPECT_EQ(WaitForEnd(http_, gateway(), holder, seconds(30)), "ABORTED");
}

TEST_P(JobIsolation, JobCannotSignalTheWorker) {
  const char* binary = std::getenv("SLUICE_BINARY");
  ASSERT_NE(binary, nullptr);
  std::string log = RunToEnd("signal-worker", {{"PROBE_PID", PidText()}}, "SUCCESS");
  EXPECT_NE(log.find("probe: does not see the worker"), std::string::npos) << log;
  // The command lines are listed upper-cased (the probe's own would otherwise repeat its lines).
  EXPECT_EQ(log.find(Upper(std::string(binary) + " worker")), std::string::npos)
      << "the worker's command line is visible to the job:\n"
      << log;
  EXPECT_EQ(CountOccurrences(log, "probe: could not signal"), 2) << log;
  EXPECT_EQ(log.find("probe: signalled"), std::string::npos) << log;
  EXPECT_TRUE(worker().Running()) << worker().Log();
  // Not even a graceful stop on its way: it takes and runs the next job.
  std::string next = RunToEnd("after-signal", {}, "SUCCESS");
  EXPECT_NE(next.find("probe: still served"), std::string::npos) << next;
}

TEST_P(JobIsolation, SetsidDaemonEndsWithTheJob) {
  const std::string marker = DaemonMarker(GetParam(), "end");
  std::string id;
  std::string log = RunToEnd("daemon-outlives-job", {}, "SUCCESS", &id);
  ASSERT_NE(log.find("probe: daemon started"), std::string::npos) << log;
  EXPECT_TRUE(WaitFor([&] { return !HostHasProcessWith(marker); }, seconds(10)))
      << "the job's daemon is still running";
  const std::string heartbeat =
      deployment().artifacts() + "/daemon-outlives-job/" + id + "/heartbeat";
  uint64_t size = FileSize(heartbeat);
  EXPECT_GT(size, 0u);
  EXPECT_FALSE(WaitFor([&] { return FileSize(heartbeat) != size; }, std::chrono::milliseconds(600)))
      << "the heartbeat still grows";
}

TEST_P(JobIsolation, SetsidDaemonEndsWithTheJobsAbort) {
  const std::string marker = DaemonMarker(GetParam(), "abort");
  std::string id = Trigger("daemon-outlives-abort");
  ASSERT_FALSE(id.empty());
  const std::string heartbeat =
      deployment().artifacts() + "/daemon-outlives-abort/" + id + "/heartbeat";
  ASSERT_TRUE(WaitFor([&] { return FileSize(heartbeat) > 0 || Ended(id); }, seconds(60)) &&
              !Ended(id))
      << LogOf(http_, gateway(), id);
  ASSERT_TRUE(HostHasProcessWith(marker)) << "the daemon runs, so this test can see it";

  EXPECT_EQ(http_.Post(ExecutionUrl(gateway(), id) + "/abort", kAliceToken, "").status, 202);
  EXPECT_EQ(WaitForEnd(http_, gateway(), id, seconds(30)), "ABORTED")
      << LogOf(http_, gateway(), id);
  EXPECT_TRUE(WaitFor([&] { return !HostHasProcessWith(marker); }, seconds(10)))
      << "the aborted job's daemon is still running";
  uint64_t size = FileSize(heartbeat);
  EXPECT_FALSE(WaitFor([&] { return FileSize(heartbeat) != size; }, std::chrono::milliseconds(600)))
      << "the heartbeat still grows";
}

// The execution's message is the worker's word on why the job ended, which must name the limit
// and its value (the job's own output, "Cannot fork" or "memory exhausted", does not count).
TEST_P(JobIsolation, ForkBombEndsFailureNamingTheProcessLimit) {
  std::string id;
  std::string log = RunToEnd("fork-bomb", {}, "FAILURE", &id);
  EXPECT_EQ(log.find("probe: started 200 processes"), std::string::npos) << log;
  std::string message = MessageOf(id);
  EXPECT_NE(message.find("process"), std::string::npos) << message << "\n" << log;
  EXPECT_NE(message.find("32"), std::string::npos) << message << "\n" << log;
  EXPECT_NE(message.find("limit"), std::string::npos) << message << "\n" << log;
}

TEST_P(JobIsolation, MemoryHogEndsFailureNamingTheMemoryLimit) {
  std::string id;
  std::string log = RunToEnd("memory-hog", {}, "FAILURE", &id);
  std::string message = MessageOf(id);
  EXPECT_NE(message.find("memory"), std::string::npos) << message << "\n" << log;
  EXPECT_NE(message.find("64 MiB"), std::string::npos) << message << "\n" << log;
  EXPECT_NE(message.find("limit"), std::string::npos) << message << "\n" << log;
}

// The same probe with and without network: without, the broker on loopback is out of reach and
// the job has no interface but lo. With network, a sandboxed job shares the host's network and
// reaches the broker; a container has a network of its own (its loopback is not the host's), so
// there the probe shows it has an interface besides lo.
TEST_P(JobIsolation, NetworkFalseCannotConnectToTheBroker) {
  auto [host, port] = FirstBroker(deployment().kafka().brokers);
  const std::map<std::string, std::string> envs = {{"PROBE_HOST", host}, {"PROBE_PORT", port}};
  std::string off = RunToEnd("network-off", envs, "SUCCESS");
  std::string on = RunToEnd("network-on", envs, "SUCCESS");
  EXPECT_NE(off.find("probe: could not connect"), std::string::npos) << off;
  EXPECT_EQ(off.find("probe: connected"), std::string::npos) << off;
  static const std::regex kInterface(R"(probe: interface (\S+))");
  auto interfaces = [](const std::string& log) {
    std::set<std::string> names;
    for (auto it = std::sregex_iterator(log.begin(), log.end(), kInterface);
         it != std::sregex_iterator(); ++it) {
      names.insert((*it)[1].str());
    }
    return names;
  };
  EXPECT_EQ(interfaces(off), std::set<std::string>{"lo"}) << off;
  if (GetParam() == ExecutorKind::kSandbox) {
    EXPECT_NE(on.find("probe: connected"), std::string::npos) << on;
  } else {
    std::set<std::string> on_interfaces = interfaces(on);
    on_interfaces.erase("lo");
    EXPECT_FALSE(on_interfaces.empty()) << on;
  }
}

TEST_P(JobIsolation, SecretsAreMaskedAcrossSplitWrites) {
  const Secrets& secrets = TestSecrets();
  std::string log = RunToEnd("print-secrets", {}, "SUCCESS");
  EXPECT_NE(log.find("probe: finished"), std::string::npos) << log;
  for (const std::string& secret : {secrets.job, secrets.job_file}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << log;
    // Neither half of a value written in two pieces.
    EXPECT_EQ(log.find(secret.substr(0, 16)), std::string::npos) << log;
    EXPECT_EQ(log.find(secret.substr(16)), std::string::npos) << log;
  }
  EXPECT_EQ(CountOccurrences(log, "[MASKED]"), 6) << log;
  EXPECT_NE(log.find("inline [MASKED] and [MASKED] end"), std::string::npos) << log;
}

TEST_P(JobIsolation, LogCapDropsOutputAndTheJobRunsOn) {
  std::string id;
  std::string log = RunToEnd("flood-log", {}, "SUCCESS", &id);
  // The log is the job's output, cut at the cap, and the worker's own "[sluice]" lines (its head,
  // the note, the end; not counted against the cap, a few of at most 8 KiB each).
  size_t flood = 0;
  size_t output = 0;
  size_t notes = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("[sluice] ", 0) == 0) {
      notes += line.size() + 1;
      continue;
    }
    output += line.size() + 1;
    if (line.find_first_not_of('x') == std::string::npos) flood = std::max(flood, line.size());
  }
  EXPECT_LE(flood, kLogCap) << "bytes of the flood in the log";
  EXPECT_GE(flood, kLogCap - 4096) << "the log keeps output up to its cap";
  // One newline more than the job wrote: a note after output cut mid-line starts a line.
  EXPECT_LE(output, kLogCap + 1) << "bytes of the job's output in the log";
  EXPECT_LE(notes, 4096u) << "bytes of the worker's own lines";
  EXPECT_EQ(CountOccurrences(log, "reached its limit"), 1) << log.substr(log.size() - 2000);
  EXPECT_EQ(log.find("probe: after the flood"), std::string::npos) << "dropped, past the cap";
  EXPECT_TRUE(fs::exists(deployment().artifacts() + "/flood-log/" + id + "/after-the-flood"))
      << "the job went on after its output was cut";
}

INSTANTIATE_TEST_SUITE_P(Executors, JobIsolation,
                         ::testing::Values(ExecutorKind::kSandbox, ExecutorKind::kContainer),
                         [](const ::testing::TestParamInfo<ExecutorKind>& info) {
                           return std::string(ExecutorName(info.param));
                         });

// `process` (today's behaviour) isolates nothing, but its job's environment is still only what
// the job was given, and the runner's process-tree tag (worker/process_runner.h), by which it
// finds the job's processes to end them.
TEST(ProcessExecutor, JobEnvironmentIsOnlyWhatItWasGiven) {
  TestSecrets();
  Deployment d(EnvListingJob("list-env", "executor: process\n"));
  SluiceProcess& gateway = d.StartGateway();
  SluiceProcess& worker = d.StartWorker();
  HttpClient http;
  std::string id = TriggerPeriodic(http, gateway, "list-env");
  ASSERT_EQ(WaitForEnd(http, gateway, id, seconds(60)), "SUCCESS") << worker.Log();
  std::string log = LogOf(http, gateway, id);
  std::set<std::string> want = GivenEnvironmentNames();
  want.insert("SLUICE_PROCESS_TREE");
  EXPECT_EQ(EnvironmentNames(log), want) << log;
  EXPECT_NE(log.find("GIVEN_SECRET=[MASKED]"), std::string::npos) << log;
}

}  // namespace
}  // namespace sluice::testing
