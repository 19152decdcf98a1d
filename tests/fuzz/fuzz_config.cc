// The config loader over any YAML text. Config is written by operators, not by the network, but
// `sluice check-config` and a SIGHUP reload must refuse a bad file with a message, never crash.
//
// The loader reads the files named by token_file. This target is linked with -Wl,--wrap=fopen:
// while a config is loaded, a read of "/fuzz/secret" opens an in-memory secret and a read of any
// other path fails with ENOENT, so no input reads the filesystem (/dev/zero would never end, a
// FIFO would block).

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/config.h"

namespace {
bool loading = false;
char secret[] = "fuzz-secret\n";
}  // namespace

extern "C" std::FILE* __real_fopen(const char* path, const char* mode);

extern "C" std::FILE* __wrap_fopen(const char* path, const char* mode) {
  // Writes are libFuzzer's own (a crash's reproducer is written while a config is loading).
  if (!loading || mode[0] != 'r') return __real_fopen(path, mode);
  if (std::strcmp(path, "/fuzz/secret") == 0) return fmemopen(secret, sizeof secret - 1, "rb");
  errno = ENOENT;
  return nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("FUZZ_TOKEN", "fuzz-token", 1);
  setenv("SLUICE_DEV_TOKEN", "dev-token", 1);  // config/dev.yaml, a seed
  setenv("SLUICE_DEV_HOOK_SECRET", "dev-hook-secret", 1);
  setenv("SLUICE_DEV_TRIGGER_TOKEN_KEY", std::string(64, 'a').c_str(), 1);
  setenv("SLUICE_TOKEN", "compose-token", 1);  // config/compose.yaml, a seed
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  loading = true;
  sluice::StatusOr<sluice::Config> config = sluice::LoadConfigText(text);
  loading = false;
  if (config.ok()) {
    for (const sluice::JobConfig& job : config->jobs) (void)config->FindJob(job.name);
    for (const sluice::ProjectConfig& project : config->projects) {
      (void)config->FindProject(project.path);
    }
  }
  return 0;
}
