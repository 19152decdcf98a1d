#!/usr/bin/env bash
# The README's second command: install what is missing, build with warnings as errors, and run
# the whole test suite:
#   1. unit tests, integration tests (embedded broker, two at a time), the clients tier (real
#      clients and the API contract against `sluice dev`), the robustness tier (hostile HTTP
#      over real sockets) and the browser tier (the dashboard in headless Chromium) on the
#      release build;
#   2. the same under AddressSanitizer and UndefinedBehaviorSanitizer (build-asan/);
#   3. the kafka tier: the integration suite again against a real Apache Kafka broker, which a
#      ctest fixture starts and stops (scripts/kafka.sh; fetched from Maven Central on first use);
#   4. the faults tier: brokers, workers, gateways killed under load, each test on its own
#      3-broker cluster; -V so that every test's [faults] figures are printed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SLUICE_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
"$root/scripts/kafka.sh" install

"$root/scripts/build.sh" -DSLUICE_WERROR=ON
cd "$build"
ctest -L unit --output-on-failure --timeout 300
# The libFuzzer targets (clang, ASan, UBSan, build-fuzz/), each for FUZZ_SECONDS (default 30).
"$root/scripts/fuzz.sh"
# Two integration tests at a time: they mostly wait (on Kafka, leases, jobs), each on its own
# broker and loopback ports. The faults tier stays serial: each test loads three brokers.
ctest -L integration -j2 --output-on-failure --timeout 600
# The clients tier and the browser tier, two tests at a time (each on a `sluice dev` of its own
# on a free loopback port; a ctest fixture installs their tools, scripts/install-test-tools.sh):
# - clients: real clients (python-gitlab, gangway-cli's requests) and the API contract
#   (scripts/api-contract.sh: schemathesis);
# - browser: the dashboard in a real headless Chromium (Debian's, with chromedriver): the flows
#   of the pages, an axe-core scan of each, hostile logs and payloads shown as text, and
#   screenshots in both themes (build/screenshots/). -V prints the cold load's weight and time.
ctest -L 'clients|browser' -j2 -V --timeout 600
# The robustness tier: hostile HTTP against a real gateway; -V prints good requests' latencies.
ctest -L robustness -V --timeout 600

# Only what the two tiers below run (the faults, kafka-only and robustness tests and the
# benchmarks are not built again under the sanitizers).
SLUICE_BUILD_DIR="$root/build-asan" SLUICE_BUILD_TARGETS=unit_and_integration_tests \
  "$root/scripts/build.sh" -DSLUICE_WERROR=ON -DSLUICE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
cd "$root/build-asan"
ctest -L unit --output-on-failure --timeout 300
ctest -L integration -j2 --output-on-failure --timeout 900

cd "$build"
# One broker, two tests at a time, each on topics and groups of its own prefix.
ctest -L kafka -j2 --output-on-failure --timeout 900
ctest -L faults -V --timeout 900
