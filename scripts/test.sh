#!/usr/bin/env bash
# The README's second command: install what is missing, build with warnings as errors, and run
# the whole test suite:
#   1. unit tests and integration tests (embedded broker) on the release build;
#   2. the same under AddressSanitizer and UndefinedBehaviorSanitizer (build-asan/);
#   3. the real-Kafka tier against Apache Kafka (fetched from Maven Central on first use).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SLUICE_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
"$root/scripts/kafka.sh" install

"$root/scripts/build.sh" -DSLUICE_WERROR=ON
cd "$build"
ctest -L unit --output-on-failure --timeout 300
ctest -L integration --output-on-failure --timeout 600

SLUICE_BUILD_DIR="$root/build-asan" "$root/scripts/build.sh" -DSLUICE_WERROR=ON \
  -DSLUICE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
cd "$root/build-asan"
ctest -L unit --output-on-failure --timeout 300
ctest -L integration --output-on-failure --timeout 900

cd "$build"
trap '"$root/scripts/kafka.sh" stop' EXIT
"$root/scripts/kafka.sh" start
SLUICE_TEST_KAFKA_BROKERS=127.0.0.1:${SLUICE_KAFKA_PORT:-19092} \
  ctest -L kafka --output-on-failure --timeout 600
