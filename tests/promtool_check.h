#pragma once

// `promtool check metrics` on an exposition text, for the unit and integration tests of GET
// /metrics. promtool comes with Debian's prometheus package (scripts/install-deps.sh).

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace sluice::testing {

inline bool PromtoolOnPath() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

// promtool's exit status on `text` (0: accepted), with what it said in `said`; -1 when it could
// not be run.
inline int PromtoolCheck(const std::string& text, std::string* said) {
  char path[] = "/tmp/sluice_promtool_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  close(fd);
  std::ofstream(path) << text;
  std::string command = std::string("promtool check metrics < ") + path + " 2>&1";
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) {
    unlink(path);
    return -1;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) said->append(buf, n);
  int status = pclose(p);
  unlink(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace sluice::testing
