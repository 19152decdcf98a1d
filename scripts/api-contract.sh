#!/usr/bin/env bash
# The API contract checked from outside: schemathesis generates requests from the OpenAPI
# description a real `sluice dev` serves (GET /openapi.yaml, the embedded schemas/openapi.yaml)
# and checks every answer against it: no 5xx, a documented status, content type, headers and
# body. `sluice dev` runs on a free loopback port with a data directory and a token of its own,
# and is stopped at the end. Bounded: API_CONTRACT_EXAMPLES cases per operation and phase (15 by
# default, about 2,000 cases in all) and API_CONTRACT_SECONDS of wall clock (240) for the run.
# Exits non-zero on any failure; the report (JUnit) is left in API_CONTRACT_REPORT_DIR.
#
#   scripts/api-contract.sh [extra schemathesis options]
#
# SLUICE_BINARY (default: $SLUICE_BUILD_DIR/sluice, or build/sluice) is the binary under test;
# API_CONTRACT_SPEC a description to use instead of the one the binary serves (a file or URL).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SLUICE_BUILD_DIR:-$root/build}"
binary="${SLUICE_BINARY:-$build/sluice}"
venv="${SLUICE_VENV:-$HOME/.cache/sluice/venv}"
examples="${API_CONTRACT_EXAMPLES:-15}"
seconds="${API_CONTRACT_SECONDS:-240}"
seed="${API_CONTRACT_SEED:-20261206}"
token="api-contract-$$"

"$root/scripts/install-test-tools.sh"
[ -x "$binary" ] || { echo "api-contract: no sluice binary at $binary" >&2; exit 2; }

dir="$(mktemp -d "${TMPDIR:-/tmp}/sluice-api-contract.XXXXXX")"
report="${API_CONTRACT_REPORT_DIR:-$dir/report}"
dev_pid=""
cleanup() {
  if [ -n "$dev_pid" ] && kill -0 "$dev_pid" 2>/dev/null; then
    kill -TERM "$dev_pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$dev_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$dev_pid" 2>/dev/null || true
  fi
  rm -rf "$dir/data"
  [ -n "${API_CONTRACT_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT

port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
SLUICE_DEV_TOKEN="$token" "$binary" dev --config "$root/config/dev.yaml" --listen "127.0.0.1:$port" \
  --data-dir "$dir/data" >"$dir/sluice-dev.log" 2>&1 &
dev_pid=$!

# Up within 60 s: the banner, then /readyz (the views have read the embedded broker's topics).
ready=""
for _ in $(seq 1 600); do
  kill -0 "$dev_pid" 2>/dev/null || break
  if grep -q "Sluice dev is running" "$dir/sluice-dev.log" &&
    "$venv/bin/python" -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('$url/readyz', timeout=2).status != 200)" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "api-contract: sluice dev did not come up; its log:" >&2
  cat "$dir/sluice-dev.log" >&2
  exit 1
fi

# One worker: with two, hypothesis' lambda-description cache raised "AST constructor recursion
# depth mismatch" as a runtime error (threads). Each case waits at most 20 s for its answer.
status=0
cd "$dir"  # schemathesis keeps its cache (.schemathesis/) in the working directory
timeout --kill-after=10 "$seconds" \
  "$venv/bin/schemathesis" --config-file "$root/scripts/api-contract.toml" \
  run "${API_CONTRACT_SPEC:-$url/openapi.yaml}" \
  --url "$url" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "$examples" --seed "$seed" --workers 1 --request-timeout 20 \
  --report junit --report-dir "$report" "$@" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "api-contract: schemathesis did not finish within ${seconds}s" >&2
fi
if [ "$status" -ne 0 ]; then
  echo "api-contract: failed ($status); sluice dev's log is $dir/sluice-dev.log (kept with API_CONTRACT_KEEP=1), the report is in $report" >&2
  tail -n 50 "$dir/sluice-dev.log" >&2
fi
exit "$status"
