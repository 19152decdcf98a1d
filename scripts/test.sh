#!/usr/bin/env bash
# The README's second command: install what is missing, build with warnings as errors, and run
# the whole test suite (unit, then integration against the embedded broker).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SLUICE_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" -DSLUICE_WERROR=ON
cd "$build"
ctest -L unit --output-on-failure --timeout 300
ctest -L integration --output-on-failure --timeout 600
