#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer into build-fuzz/ (or $SLUICE_FUZZ_BUILD_DIR) and runs each for
# FUZZ_SECONDS (default 30) over a copy of its seeds in tests/fuzz/corpus/<target>: what a run
# finds goes to a temporary directory, never into the committed corpus. Prints per target the
# executions and exec/s libFuzzer reports; exits non-zero if any target crashed, leaked, timed
# out or ran out of memory (the reproducer is kept under build-fuzz/artifacts/<target>/).
#   scripts/fuzz.sh [target...]     (default: every target)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SLUICE_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-30}"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$root"/tests/fuzz/fuzz_*.cc; do targets+=("$(basename "$f" .cc)"); done
fi

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSLUICE_WERROR=ON -DSLUICE_FUZZ=ON >/dev/null
ninja -C "$build" -j2 "${targets[@]}" >&2

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# One target's run: its summary line (and, on a finding, the lines that tell it) into
# $work/$t.summary, its exit status into $work/$t.status. Always returns 0, so that `set -e` and
# `wait -n` leave the other runs alone.
run_target() {
  local t="$1" corpus="$work/$1" log="$build/artifacts/$1/fuzz.log" status=0 started=$SECONDS
  mkdir -p "$corpus" "$build/artifacts/$t"
  if [ -d "$root/tests/fuzz/corpus/$t" ]; then cp "$root/tests/fuzz/corpus/$t"/* "$corpus/"; fi
  # ASAN_OPTIONS: a leak is a finding too; UBSan findings abort (-fno-sanitize-recover=all).
  ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
    "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t/" "$corpus" >"$log" 2>&1 ||
    status=$?
  local runs speed cov
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)"
  {
    echo "[fuzz] $t: ${runs:-?} executions, ${speed:-?} exec/s, ${cov:-cov: ?}," \
      "$((SECONDS - started))s, corpus $(find "$corpus" -type f | wc -l) inputs, exit $status"
    if [ "$status" -ne 0 ]; then
      echo "[fuzz] $t failed; its log: $log"
      grep -E '^(==[0-9]+==ERROR|SUMMARY)|runtime error|Test unit written' "$log" | head -n 20 ||
        true
    fi
  } >"$work/$t.summary"
  echo "$status" >"$work/$t.status"
  return 0
}

# FUZZ_JOBS targets at a time (2 by default, one per core of the CI machine), each for the whole
# FUZZ_SECONDS.
jobs_max="${FUZZ_JOBS:-2}"
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  run_target "$t" &
done
wait
failed=()
for t in "${targets[@]}"; do
  cat "$work/$t.summary"
  if [ "$(cat "$work/$t.status" 2>/dev/null || echo missing)" != 0 ]; then failed+=("$t"); fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "[fuzz] findings in: ${failed[*]}" >&2
  exit 1
fi
