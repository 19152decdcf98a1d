#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "worker/process_runner.h"

namespace sluice {

// Whether pid no longer runs: gone, or a zombie nobody reaped (PID 1 of a container may not).
inline bool IsDead(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return true;
  char state = line[paren + 2];
  return state == 'Z' || state == 'X';
}

// Living processes that carry a tree tag of this test process (SLUICE_PROCESS_TREE=<pid>-n):
// whatever the processes a test started through a PosixProcessRunner left running.
inline std::vector<int> LivingTaggedProcesses() {
  namespace fs = std::filesystem;
  const std::string prefix =
      std::string(kProcessTreeVariable) + "=" + std::to_string(::getpid()) + "-";
  std::vector<int> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    int pid = std::stoi(name);
    if (IsDead(pid)) continue;
    std::ifstream in(entry.path() / "environ", std::ios::binary);
    std::string environ((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (size_t pos = 0; pos < environ.size();) {
      size_t end = environ.find('\0', pos);
      if (end == std::string::npos) end = environ.size();
      if (environ.compare(pos, prefix.size(), prefix) == 0) found.push_back(pid);
      pos = end + 1;
    }
  }
  return found;
}

}  // namespace sluice
