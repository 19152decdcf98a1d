#include "worker/executor.h"

namespace sluice {

Executor* Executors::Get(ExecutorKind kind) const {
  switch (kind) {
    case ExecutorKind::kSandbox:
      return sandbox.get();
    case ExecutorKind::kContainer:
      return container.get();
    case ExecutorKind::kProcess:
      return process.get();
  }
  return nullptr;
}

}  // namespace sluice
