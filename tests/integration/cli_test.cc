// The command-line client end to end: the real `sluice` binary, run as a subprocess the way a
// release manager's script runs it, against a real gateway and worker on an embedded broker.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/api_helpers.h"
#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

constexpr char kJobs[] =
    "  - {name: cli-ok, type: periodic, command: [sh, -c, 'echo ok from $JOB_NAME']}\n"
    "  - {name: cli-fails, type: periodic, command: [sh, -c, 'echo about to fail; exit 3']}\n"
    "  - {name: cli-slow, type: periodic, command: [sh, -c, 'echo started; sleep 120']}\n"
    "  - {name: cli-env, type: periodic, command: [sh, -c, 'echo GREETING=$GREETING'],\n"
    "     allow_env_override: [GREETING]}\n"
    "  - {name: cli-list, type: periodic, command: ['true']}\n"
    "  - {name: cli-follow, type: periodic,\n"
    "     command: [sh, -c, 'echo first line; sleep 2; echo second line']}\n";

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    deployment_ = new Deployment(kJobs);
    gateway_ = &deployment_->StartGateway();
    worker_ = &deployment_->StartWorker();
  }
  static void TearDownTestSuite() {
    delete deployment_;
    deployment_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(gateway_->port(), 0) << "the gateway did not start"; }
  void TearDown() override {
    if (HasFailure()) std::cerr << "the worker's log:\n" << worker_->Log();
  }

  // Runs `sluice <args> --url <gateway> --token alice-token` with a config directory of its own
  // (so that the user's is never read) and waits for it to exit, for at most `timeout`.
  CliRun Sluice(std::vector<std::string> args,
                std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    const char* binary = std::getenv("SLUICE_BINARY");
    EXPECT_NE(binary, nullptr) << "SLUICE_BINARY is not set (ctest sets it)";
    if (binary == nullptr) return {};
    args.insert(args.begin(), binary);
    args.insert(args.end(), {"--url", gateway_->url(), "--token", kAliceToken});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = {"XDG_CONFIG_HOME=" + dir_.path(), "HOME=" + dir_.path(),
                                    "PATH=/usr/bin:/bin"};
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string out = dir_.path() + "/out", err = dir_.path() + "/err";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, binary, &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0) << "cannot start " << binary;
    if (rc != 0) return {};
    CliRun run;
    int status = 0;
    bool exited = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
    if (!exited) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "sluice " << args[1] << " did not exit in time";
    }
    run.exit_code = exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = ReadFile(out);
    run.err = ReadFile(err);
    return run;
  }

  static std::string Trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  static Deployment* deployment_;
  static SluiceProcess* gateway_;
  static SluiceProcess* worker_;
  TempDir dir_;
  HttpClient http_;
};

Deployment* CliTest::deployment_ = nullptr;
SluiceProcess* CliTest::gateway_ = nullptr;
SluiceProcess* CliTest::worker_ = nullptr;

TEST_F(CliTest, TriggerWaitExits0ForASucceedingJob) {
  CliRun r = Sluice({"trigger", "cli-ok", "--wait", "--timeout", "100s"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string id = Trimmed(r.out);
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(StatusOf(http_, *gateway_, id), "SUCCESS");
  EXPECT_NE(r.err.find(id + " SUCCESS"), std::string::npos) << r.err;
}

TEST_F(CliTest, TriggerWaitExits1ForAFailingJob) {
  CliRun r = Sluice({"trigger", "cli-fails", "--wait"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("FAILURE"), std::string::npos) << r.err;
}

TEST_F(CliTest, JsonOutputIsTheApisExecution) {
  CliRun r = Sluice({"trigger", "cli-env", "--env", "GREETING=hi", "--wait", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  rapidjson::Document doc;
  doc.Parse(r.out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << r.out;
  EXPECT_EQ(StringField(doc, "job_status"), "SUCCESS");
  EXPECT_EQ(StringField(doc, "job_name"), "cli-env");
  EXPECT_EQ(StringField(doc["pod_spec_options"]["envs"], "GREETING"), "hi");
  std::string id = StringField(doc, "id");

  CliRun get = Sluice({"get", id, "--output", "json"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  rapidjson::Document got;
  got.Parse(get.out.c_str());
  ASSERT_FALSE(got.HasParseError()) << get.out;
  EXPECT_EQ(StringField(got, "id"), id);

  CliRun log = Sluice({"logs", id});
  EXPECT_EQ(log.exit_code, 0) << log.err;
  EXPECT_NE(log.out.find("GREETING=hi"), std::string::npos) << log.out;
}

TEST_F(CliTest, GetPrintsFieldsAndAnUnknownIdExits2) {
  CliRun t = Sluice({"trigger", "cli-ok"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  std::string id = Trimmed(t.out);
  CliRun get = Sluice({"get", id});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_NE(get.out.find("ID:"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find(id), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("cli-ok"), std::string::npos) << get.out;

  CliRun missing = Sluice({"get", "no-such-execution"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no execution with id"), std::string::npos) << missing.err;
}

TEST_F(CliTest, ListByJob) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    CliRun t = Sluice({"trigger", "cli-list"});
    ASSERT_EQ(t.exit_code, 0) << t.err;
    ids.push_back(Trimmed(t.out));
  }
  CliRun json;
  ASSERT_TRUE(WaitFor([&] {
    json = Sluice({"list", "--job", "cli-list", "--page-size", "2", "--all", "--output", "json"});
    rapidjson::Document doc;
    doc.Parse(json.out.c_str());
    return json.exit_code == 0 && !doc.HasParseError() && doc["job_execution"].Size() == 3;
  })) << json.out
      << json.err;
  CliRun table = Sluice({"list", "--job", "cli-list"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.rfind("ID", 0), 0u) << table.out;
  for (const std::string& id : ids) EXPECT_NE(table.out.find(id), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("cli-ok"), std::string::npos) << table.out;
}

TEST_F(CliTest, AbortThenWaitExits3) {
  CliRun t = Sluice({"trigger", "cli-slow"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  std::string id = Trimmed(t.out);
  ASSERT_TRUE(WaitFor([&] { return StatusOf(http_, *gateway_, id) == "PENDING"; }));
  CliRun abort = Sluice({"abort", id});
  EXPECT_EQ(abort.exit_code, 0) << abort.err;
  EXPECT_NE(abort.out.find("abort requested: " + id), std::string::npos) << abort.out;
  CliRun wait = Sluice({"wait", id, "--timeout", "100s"});
  EXPECT_EQ(wait.exit_code, 3) << wait.out << wait.err;
  EXPECT_EQ(wait.out.rfind(id + " ABORTED", 0), 0u) << wait.out;
  CliRun again = Sluice({"abort", id});
  EXPECT_EQ(again.exit_code, 2) << "an ended execution cannot be aborted";
}

TEST_F(CliTest, WaitTimesOutWithExitCode5) {
  CliRun t = Sluice({"trigger", "cli-slow"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  std::string id = Trimmed(t.out);
  CliRun wait = Sluice({"wait", id, "--timeout", "2s"});
  EXPECT_EQ(wait.exit_code, 5) << wait.out << wait.err;
  EXPECT_NE(wait.err.find("timed out"), std::string::npos) << wait.err;
  EXPECT_EQ(Sluice({"abort", id}).exit_code, 0);
}

// Needs the gateway's GET /v1/executions/{id}/log?follow=true&offset=N (the lead's).
TEST_F(CliTest, TriggerWaitFollowPrintsTheJobsLog) {
  CliRun r = Sluice({"trigger", "cli-follow", "--wait", "--follow"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  size_t first = r.out.find("first line\n");
  size_t second = r.out.find("second line\n");
  ASSERT_NE(first, std::string::npos) << r.out;
  ASSERT_NE(second, std::string::npos) << r.out;
  EXPECT_LT(first, second);
  EXPECT_EQ(r.out.find("second line\n", second + 1), std::string::npos) << "printed once";
}

TEST_F(CliTest, UsageErrorsExit2) {
  EXPECT_EQ(Sluice({"trigger", "cli-ok", "--env", "NOEQUALS"}).exit_code, 2);
  EXPECT_EQ(Sluice({"trigger"}).exit_code, 2);
  EXPECT_EQ(Sluice({"list", "--page-size", "0"}).exit_code, 2);
  CliRun refused = Sluice({"trigger", "cli-ok", "--env", "PATH=/tmp"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("PATH"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace sluice::testing
