// `sluice check-config` and `sluice dev --check` as a user runs them: the real binary, its exit
// code and what it prints (issue 13: the dev config checks without the SLUICE_DEV_* variables).

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

struct CommandRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs the sluice binary with `args` and none of the SLUICE_DEV_* variables set.
CommandRun Sluice(const std::string& args) {
  std::string command =
      "env -u SLUICE_DEV_TOKEN -u SLUICE_DEV_HOOK_SECRET "
      "-u SLUICE_DEV_TRIGGER_TOKEN_KEY '" +
      std::string(std::getenv("SLUICE_BINARY")) + "' " + args + " 2>&1";
  CommandRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return run;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) run.output.append(buffer, n);
  int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string DevConfig() {
  return std::string(std::getenv("SLUICE_SOURCE_DIR")) + "/config/dev.yaml";
}

TEST(CheckConfig, DevCheckValidatesTheDevConfigWithTheValuesSluiceDevSupplies) {
  CommandRun run = Sluice("dev --check --config '" + DevConfig() + "'");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("valid ("), std::string::npos) << run.output;
}

TEST(CheckConfig, CheckConfigOfTheDevConfigNamesTheMissingVariablesAndPointsAtDevCheck) {
  CommandRun run = Sluice("check-config '" + DevConfig() + "'");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("SLUICE_DEV_TOKEN is not set"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("sluice dev --check"), std::string::npos) << run.output;
}

TEST(CheckConfig, DevCheckOfABrokenFileFails) {
  CommandRun run = Sluice("dev --check --config /nonexistent/sluice.yaml");
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("/nonexistent/sluice.yaml"), std::string::npos) << run.output;
}

}  // namespace
