#!/usr/bin/env bash
# Configures and builds Sluice into build/ (or $SLUICE_BUILD_DIR). Extra arguments go to cmake.
# SLUICE_BUILD_TARGETS (space-separated ninja targets, e.g. "sluice") builds only those; by
# default everything, tests and benchmarks included.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SLUICE_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
# shellcheck disable=SC2086 # a list of targets
ninja -C "$build" ${SLUICE_BUILD_TARGETS:-} >&2
