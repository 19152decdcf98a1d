#include "worker/checkout.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "worker/process_runner.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using Commands = std::vector<std::vector<std::string>>;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

Pull MakePull(int number, std::string sha, std::string ref = "") {
  Pull pull;
  pull.number = number;
  pull.sha = std::move(sha);
  pull.ref = std::move(ref);
  return pull;
}

// Pure part of the contract: which commands, and which refs are refused.
TEST(CheckoutCommandsTest, CommandsForBaseAndPulls) {
  Refs refs;
  refs.org = "acme";
  refs.repo = "widgets";
  refs.base_ref = "main";
  refs.base_sha = "aaaa1111";
  Pull first;
  first.number = 7;
  first.sha = "bbbb2222";
  Pull second;
  second.number = 8;
  second.sha = "cccc3333";
  second.ref = "refs/changes/08/8/1";
  refs.pulls = {first, second};

  StatusOr<Commands> commands = CheckoutCommands(refs, "/w/src");
  ASSERT_TRUE(commands.ok()) << commands.status().ToString();
  const std::string uri = "https://github.com/acme/widgets";
  const std::vector<std::string> merge = {"git",
                                          "-C",
                                          "/w/src",
                                          "-c",
                                          "user.name=sluice",
                                          "-c",
                                          "user.email=sluice@localhost",
                                          "merge",
                                          "--quiet",
                                          "--no-ff",
                                          "--no-edit"};
  auto with = [](std::vector<std::string> argv, const std::string& last) {
    argv.push_back(last);
    return argv;
  };
  Commands expected = {
      {"git", "-C", "/w/src", "init", "--quiet"},
      {"git", "-C", "/w/src", "fetch", "--quiet", "--", uri, "main"},
      {"git", "-C", "/w/src", "checkout", "--quiet", "--detach", "aaaa1111"},
      {"git", "-C", "/w/src", "fetch", "--quiet", "--", uri, "pull/7/head"},
      with(merge, "bbbb2222"),
      {"git", "-C", "/w/src", "fetch", "--quiet", "--", uri, "refs/changes/08/8/1"},
      with(merge, "cccc3333"),
  };
  EXPECT_EQ(*commands, expected);
}

TEST(CheckoutCommandsTest, MissingBaseShaChecksOutFetchedRefAndMissingRefFetchesSha) {
  Refs refs;
  refs.org = "acme";
  refs.repo = "widgets";
  refs.base_ref = "main";
  StatusOr<Commands> by_ref = CheckoutCommands(refs, "d");
  ASSERT_TRUE(by_ref.ok()) << by_ref.status().ToString();
  EXPECT_EQ(by_ref->at(2).back(), "FETCH_HEAD");

  refs.base_ref = "";
  refs.base_sha = "abcdef12";
  StatusOr<Commands> by_sha = CheckoutCommands(refs, "d");
  ASSERT_TRUE(by_sha.ok()) << by_sha.status().ToString();
  EXPECT_EQ(by_sha->at(1).back(), "abcdef12");
  EXPECT_EQ(by_sha->at(2).back(), "abcdef12");
}

TEST(CheckoutCommandsTest, CloneUriPrecedence) {
  struct Case {
    std::string clone_uri, repo_link, org, repo, expected;
  };
  for (const Case& c : std::vector<Case>{
           {"/srv/git/w.git", "https://git.example/acme/w", "acme", "w", "/srv/git/w.git"},
           {"", "https://git.example/acme/w", "acme", "w", "https://git.example/acme/w"},
           {"", "", "acme", "w", "https://github.com/acme/w"},
           {"", "", "acme", "", ""},
           {"", "", "", "w", ""},
       }) {
    Refs refs;
    refs.clone_uri = c.clone_uri;
    refs.repo_link = c.repo_link;
    refs.org = c.org;
    refs.repo = c.repo;
    EXPECT_EQ(CloneUri(refs), c.expected) << c.clone_uri << "|" << c.repo_link;
  }
}

TEST(CheckoutCommandsTest, RefusesRefsItCannotCheckOut) {
  struct Case {
    std::string name;
    Refs refs;
  };
  Refs valid;
  valid.org = "acme";
  valid.repo = "widgets";
  valid.base_ref = "main";
  valid.base_sha = "aaaa1111";
  ASSERT_TRUE(CheckoutCommands(valid, "d").ok());

  std::vector<Case> cases;
  Refs r = valid;
  r.org = "";
  cases.push_back({"no repository", r});
  r = valid;
  r.base_ref = "";
  r.base_sha = "";
  cases.push_back({"no base", r});
  r = valid;
  r.base_sha = "not-a-sha";
  cases.push_back({"non-hex base sha", r});
  r = valid;
  r.base_ref = "--upload-pack=touch /tmp/pwned";
  cases.push_back({"base ref is an option", r});
  r = valid;
  r.clone_uri = "-oops";
  cases.push_back({"uri is an option", r});
  r = valid;
  r.pulls = {MakePull(1, "xyz")};
  cases.push_back({"non-hex pull sha", r});
  r = valid;
  r.pulls = {MakePull(1, "abcd1234", "-x")};
  cases.push_back({"pull ref is an option", r});

  for (const Case& c : cases) {
    StatusOr<Commands> commands = CheckoutCommands(c.refs, "d");
    ASSERT_FALSE(commands.ok()) << c.name;
    EXPECT_EQ(commands.status().code(), Code::kInvalidArgument) << c.name;
  }
}

// The commands against a real repository on disk, run through the real process runner.
class CheckoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "sluice_checkout_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = fs::canonical(pattern);
    fs::create_directory(root_ / "home");
    const char* path = ::getenv("PATH");
    env_ = {
        {"PATH", path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin"},
        {"HOME", (root_ / "home").string()},
        {"GIT_CONFIG_NOSYSTEM", "1"},
        {"GIT_TERMINAL_PROMPT", "0"},
        {"LANG", "C"},
    };
    CreateOrigin();
  }
  void TearDown() override { fs::remove_all(root_); }

  // origin: main has base_sha_ ("base v1") and a later commit ("base v2"); two pulls branch off
  // base_sha_: pull 7 (published as refs/pull/7/head) adds pull7.txt, branch "feature8" adds
  // pull8.txt.
  void CreateOrigin() {
    fs::path origin = root_ / "origin";
    fs::create_directory(origin);
    auto git = [&](std::vector<std::string> args) {
      std::vector<std::string> argv = {
          "git", "-C", origin.string(), "-c", "user.name=Test", "-c", "user.email=test@localhost"};
      argv.insert(argv.end(), args.begin(), args.end());
      return Capture(argv);
    };
    git({"init", "--quiet", "--initial-branch=main"});
    WriteFile(origin / "file.txt", "base v1\n");
    git({"add", "file.txt"});
    git({"commit", "--quiet", "-m", "base"});
    base_sha_ = git({"rev-parse", "HEAD"});

    git({"checkout", "--quiet", "-b", "feature7"});
    WriteFile(origin / "pull7.txt", "from pull 7\n");
    git({"add", "pull7.txt"});
    git({"commit", "--quiet", "-m", "pull 7"});
    pull7_sha_ = git({"rev-parse", "HEAD"});
    git({"update-ref", "refs/pull/7/head", pull7_sha_});

    git({"checkout", "--quiet", "-b", "feature8", base_sha_});
    WriteFile(origin / "pull8.txt", "from pull 8\n");
    git({"add", "pull8.txt"});
    git({"commit", "--quiet", "-m", "pull 8"});
    pull8_sha_ = git({"rev-parse", "HEAD"});

    git({"checkout", "--quiet", "main"});
    WriteFile(origin / "file.txt", "base v2\n");
    git({"commit", "--quiet", "-am", "later"});
    ASSERT_EQ(base_sha_.size(), 40u);
    ASSERT_EQ(pull7_sha_.size(), 40u);
    ASSERT_EQ(pull8_sha_.size(), 40u);
    ASSERT_EQ(ReadFile(origin / "file.txt"), "base v2\n");
  }

  // Runs argv to completion; returns its trimmed output, "" with a test failure if it failed.
  std::string Capture(const std::vector<std::string>& argv) {
    fs::path log = root_ / "capture.log";
    fs::remove(log);
    std::optional<ProcessExit> exit = Run(argv, log);
    std::string output = ReadFile(log);
    EXPECT_TRUE(exit.has_value() && exit->success()) << argv[3] << ": " << output;
    return Trim(output);
  }

  std::optional<ProcessExit> Run(const std::vector<std::string>& argv, const fs::path& log) {
    ProcessSpec spec;
    spec.argv = argv;
    spec.env = env_;
    spec.working_dir = root_.string();  // not the checkout dir: the commands use git -C
    spec.log_path = log.string();
    StatusOr<std::unique_ptr<Process>> process = runner_.Start(spec);
    EXPECT_TRUE(process.ok()) << process.status().ToString();
    if (!process.ok()) return std::nullopt;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::optional<ProcessExit> exit = (*process)->Poll()) return exit;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "timed out: " << argv[3];
    return std::nullopt;
  }

  // Runs the checkout into an empty root_/src the way the worker does: in order, stopping at the
  // first failure. Returns the index of the failing command, or -1 when all succeeded.
  int Checkout(const Refs& refs) {
    fs::create_directory(src());
    StatusOr<Commands> commands = CheckoutCommands(refs, src().string());
    EXPECT_TRUE(commands.ok()) << commands.status().ToString();
    if (!commands.ok()) return -2;
    for (size_t i = 0; i < commands->size(); ++i) {
      std::optional<ProcessExit> exit = Run((*commands)[i], root_ / "checkout.log");
      if (!exit.has_value() || !exit->success()) return static_cast<int>(i);
    }
    return -1;
  }

  Refs OriginRefs() {
    Refs refs;
    refs.org = "acme";
    refs.repo = "widgets";
    refs.clone_uri = (root_ / "origin").string();
    refs.base_ref = "main";
    refs.base_sha = base_sha_;
    return refs;
  }

  std::string Head() { return Capture({"git", "-C", src().string(), "rev-parse", "HEAD"}); }
  fs::path src() const { return root_ / "src"; }
  std::string CheckoutLog() { return ReadFile(root_ / "checkout.log"); }

  PosixProcessRunner runner_;
  fs::path root_;
  std::map<std::string, std::string> env_;
  std::string base_sha_, pull7_sha_, pull8_sha_;
};

TEST_F(CheckoutTest, ChecksOutBaseShaNotBranchTip) {
  ASSERT_EQ(Checkout(OriginRefs()), -1) << CheckoutLog();
  EXPECT_EQ(ReadFile(src() / "file.txt"), "base v1\n");
  EXPECT_FALSE(fs::exists(src() / "pull7.txt"));
  EXPECT_EQ(Head(), base_sha_);
}

TEST_F(CheckoutTest, ChecksOutFromFileUri) {
  Refs refs = OriginRefs();
  refs.clone_uri = "file://" + (root_ / "origin").string();
  ASSERT_EQ(Checkout(refs), -1) << CheckoutLog();
  EXPECT_EQ(ReadFile(src() / "file.txt"), "base v1\n");
}

TEST_F(CheckoutTest, ChecksOutFromBareRepository) {
  Capture({"git", "clone", "--quiet", "--bare", "--", (root_ / "origin").string(),
           (root_ / "bare.git").string()});
  // A bare clone has no refs/pull/*: publish pull 7 there too.
  Capture(
      {"git", "-C", (root_ / "bare.git").string(), "update-ref", "refs/pull/7/head", pull7_sha_});
  Refs refs = OriginRefs();
  refs.clone_uri = (root_ / "bare.git").string();
  refs.pulls = {MakePull(7, pull7_sha_)};
  ASSERT_EQ(Checkout(refs), -1) << CheckoutLog();
  EXPECT_EQ(ReadFile(src() / "pull7.txt"), "from pull 7\n");
}

TEST_F(CheckoutTest, MergesPullsOntoBase) {
  Refs refs = OriginRefs();
  refs.pulls = {MakePull(7, pull7_sha_),  // fetched as pull/7/head
                MakePull(8, pull8_sha_, "feature8")};
  ASSERT_EQ(Checkout(refs), -1) << CheckoutLog();
  EXPECT_EQ(ReadFile(src() / "file.txt"), "base v1\n");
  EXPECT_EQ(ReadFile(src() / "pull7.txt"), "from pull 7\n");
  EXPECT_EQ(ReadFile(src() / "pull8.txt"), "from pull 8\n");
  // Two --no-ff merges: HEAD is a merge whose parents are the first merge and pull 8.
  std::string parents =
      Capture({"git", "-C", src().string(), "rev-list", "--parents", "-n1", "HEAD"});
  EXPECT_NE(parents.find(pull8_sha_), std::string::npos) << parents;
  EXPECT_EQ(Capture({"git", "-C", src().string(), "rev-list", "--count", "--merges", "HEAD"}), "2");
}

TEST_F(CheckoutTest, UnknownBaseShaFailsCheckout) {
  Refs refs = OriginRefs();
  refs.base_sha = "0123456789abcdef0123456789abcdef01234567";
  EXPECT_EQ(Checkout(refs), 2) << CheckoutLog();  // git checkout --detach
}

TEST_F(CheckoutTest, UnknownPullShaFailsMerge) {
  Refs refs = OriginRefs();
  refs.pulls = {MakePull(7, "0123456789abcdef0123456789abcdef01234567")};
  EXPECT_EQ(Checkout(refs), 4) << CheckoutLog();  // git merge
}

TEST_F(CheckoutTest, PullShaNotOnFetchedRefFailsMerge) {
  // pull 8's commit is not reachable from refs/pull/7/head, so it is not there to merge.
  Refs refs = OriginRefs();
  refs.pulls = {MakePull(7, pull8_sha_)};
  EXPECT_EQ(Checkout(refs), 4) << CheckoutLog();
}

TEST_F(CheckoutTest, MissingPullRefFailsFetch) {
  Refs refs = OriginRefs();
  refs.pulls = {MakePull(99, pull7_sha_)};
  EXPECT_EQ(Checkout(refs), 3) << CheckoutLog();  // git fetch pull/99/head
}

}  // namespace
}  // namespace sluice
