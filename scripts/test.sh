#!/usr/bin/env bash
# The README's second command: install what is missing, build with warnings as errors, and run
# the whole test suite: unit tests, integration tests against the embedded broker, then the
# real-Kafka tier against Apache Kafka (fetched from Maven Central on first use, see kafka.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SLUICE_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
"$root/scripts/kafka.sh" install
"$root/scripts/build.sh" -DSLUICE_WERROR=ON
cd "$build"
ctest -L unit --output-on-failure --timeout 300
ctest -L integration --output-on-failure --timeout 600

trap '"$root/scripts/kafka.sh" stop' EXIT
"$root/scripts/kafka.sh" start
SLUICE_TEST_KAFKA_BROKERS=127.0.0.1:${SLUICE_KAFKA_PORT:-19092} \
  ctest -L kafka --output-on-failure --timeout 600
