// Jobs with `clone: true`: the worker checks out the refs (from a local repository here) before
// running the command, and a failed checkout ends ERROR with git's complaint in the message.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

std::string Sh(const std::string& cmd) {
  std::string out;
  FILE* p = popen(("set -e; " + cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << cmd << "\n" << out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// A repository with a commit on main and a pull-request branch that adds a file.
struct Repo {
  TempDir dir;
  std::string base_sha;
  std::string pull_sha;
  Repo() {
    // Readable by the sandboxed checkout's user, as a repository jobs clone from must be.
    std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
    std::string g = "git -C " + dir.path() + " -c user.name=t -c user.email=t@t ";
    Sh("git init -q -b main " + dir.path());
    Sh("echo base > " + dir.path() + "/base.txt");
    Sh(g + "add base.txt && " + g + "commit -q -m base");
    base_sha = Sh("git -C " + dir.path() + " rev-parse HEAD");
    Sh("git -C " + dir.path() + " checkout -q -b pr");
    Sh("echo pull > " + dir.path() + "/pull.txt");
    Sh(g + "add pull.txt && " + g + "commit -q -m pull");
    pull_sha = Sh("git -C " + dir.path() + " rev-parse HEAD");
    Sh("git -C " + dir.path() + " checkout -q main");
  }
};

// The test repositories are local directories: the jobs allow cloning from local paths.
const char* kJobs =
    "  - {name: build-post, type: postsubmit, clone: true, allow_clone_uri: ['/*'],"
    " command: [sh, -c, 'cat base.txt; ls']}\n"
    "  - {name: build-pre, type: presubmit, clone: true, allow_clone_uri: ['/*'],"
    " command: [sh, -c, 'cat base.txt pull.txt']}\n"
    "  - {name: build-github, type: postsubmit, clone: true, command: [true]}\n";

std::string Refs(const Repo& repo, const std::string& base_sha, const std::string& pulls = "") {
  return R"("refs": {"org": "acme", "repo": "widget", "base_ref": "main", "base_sha": ")" +
         base_sha + R"(", "clone_uri": ")" + repo.dir.path() + "\"" + pulls + "}";
}

TEST(Clone, PostsubmitChecksOutBaseShaBeforeTheCommand) {
  Repo repo;
  Deployment d(kJobs);
  SluiceProcess& gateway = d.StartGateway();
  d.StartWorker();
  HttpClient http;
  auto r = http.Post(
      gateway.url() + "/v1/executions", kAliceToken,
      R"({"job_name": "build-post", "job_execution_type": 2, )" + Refs(repo, repo.base_sha) + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string id = r.Json()["id"].GetString();
  EXPECT_EQ(WaitForEnd(http, gateway, id), "SUCCESS");
  auto log = http.Get(gateway.url() + "/v1/executions/" + id + "/log", kAliceToken);
  EXPECT_NE(log.body.find("base\n"), std::string::npos) << log.body;
  EXPECT_EQ(log.body.find("pull.txt"), std::string::npos) << "the pull must not be there";
}

TEST(Clone, PresubmitMergesItsPullOntoTheBase) {
  Repo repo;
  Deployment d(kJobs);
  SluiceProcess& gateway = d.StartGateway();
  d.StartWorker();
  HttpClient http;
  std::string pulls =
      R"(, "pulls": [{"number": 7, "sha": ")" + repo.pull_sha + R"(", "ref": "pr"}])";
  auto r = http.Post(gateway.url() + "/v1/executions", kAliceToken,
                     R"({"job_name": "build-pre", "job_execution_type": "PRESUBMIT", )" +
                         Refs(repo, repo.base_sha, pulls) + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string id = r.Json()["id"].GetString();
  EXPECT_EQ(WaitForEnd(http, gateway, id), "SUCCESS");
  auto log = http.Get(gateway.url() + "/v1/executions/" + id + "/log", kAliceToken);
  EXPECT_NE(log.body.find("base\npull\n"), std::string::npos) << log.body;
}

TEST(Clone, FailedCheckoutEndsErrorWithGitsMessage) {
  Repo repo;
  Deployment d(kJobs);
  SluiceProcess& gateway = d.StartGateway();
  d.StartWorker();
  HttpClient http;
  std::string missing = "0123456789abcdef0123456789abcdef01234567";
  auto r = http.Post(
      gateway.url() + "/v1/executions", kAliceToken,
      R"({"job_name": "build-post", "job_execution_type": 2, )" + Refs(repo, missing) + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string id = r.Json()["id"].GetString();
  EXPECT_EQ(WaitForEnd(http, gateway, id), "ERROR");
  auto e = http.Get(gateway.url() + "/v1/executions/" + id, kAliceToken).Json();
  ASSERT_TRUE(e.HasMember("message"));
  std::string message = e["message"].GetString();
  EXPECT_NE(message.find("checkout failed"), std::string::npos) << message;
  EXPECT_NE(message.find("fatal"), std::string::npos) << "git's own words: " << message;
}

TEST(Clone, ACloneUriOutsideTheJobsAllowListIsRefusedBeforeAnythingRuns) {
  Repo repo;
  Deployment d(kJobs);
  SluiceProcess& gateway = d.StartGateway();
  HttpClient http;
  // build-github keeps the default allow list (https://github.com/*): a local path is refused.
  auto r = http.Post(gateway.url() + "/v1/executions", kAliceToken,
                     R"({"job_name": "build-github", "job_execution_type": 2, )" +
                         Refs(repo, repo.base_sha) + "}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("refs.clone_uri"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("https://github.com/*"), std::string::npos) << r.body;
  auto list = http.Get(gateway.url() + "/v1/executions?job_name=build-github", kAliceToken);
  EXPECT_NE(list.body.find("\"job_execution\":[]"), std::string::npos) << list.body;
}

}  // namespace
}  // namespace sluice::testing
