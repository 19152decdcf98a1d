#!/usr/bin/env bash
# Two `sluice` binaries side by side, interleaved round by round on the same machine: triggers
# answered after Kafka's acknowledgement (one connection: the latency of the reply's way back to
# the network thread; 32 connections: accepted triggers/s), and status reads. Each round starts a
# fresh `sluice dev` (embedded broker) of each binary with bench/bench.yaml. Loopback only,
# DURATION seconds per run (default 5), ROUNDS rounds (default 3).
#   bench/compare_gateways.sh OLD_BINARY NEW_BINARY
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
root="$bench_root"
old="$1"
new="$2"
rounds="${ROUNDS:-3}"
duration="${DURATION:-5}"
bench_need wrk wrk
export SLUICE_DEV_TOKEN=bench-token SLUICE_BENCH_HOOK_SECRET=bench-hook-secret

# wrk's latency ("850.00us", "1.52ms", "1.01s") in milliseconds.
to_ms() {
  awk '{ v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[0-9]s$/) v *= 1000;
         printf "%.3f", v }' <<<"$1"
}

declare -A results
measure() {  # label binary port
  local label=$1 binary=$2 port=$3 data dev url out id
  data="$(mktemp -d)"
  "$binary" dev --config "$root/bench/bench.yaml" --listen "127.0.0.1:$port" --data-dir "$data" \
    >"$data/dev.log" 2>&1 &
  dev=$!
  bench_wait_ready "http://127.0.0.1:$port" "$dev" "$data/dev.log" 10
  url="http://127.0.0.1:$port"
  out=$(wrk -t1 -c1 -d"${duration}s" --latency -s "$root/bench/trigger.lua" "$url/v1/executions")
  results[$label.p50]+="$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")") "
  results[$label.p99]+="$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")") "
  out=$(wrk -t2 -c32 -d"${duration}s" -s "$root/bench/trigger.lua" "$url/v1/executions")
  results[$label.rps]+="$(awk '/accepted\/sec/ {print $NF}' <<<"$out") "
  id=$(curl -s -X POST -H "Authorization: Bearer $SLUICE_DEV_TOKEN" \
    -d '{"job_name": "bench-noop", "job_execution_type": "1"}' "$url/v1/executions" |
    sed 's/.*"id":"\([^"]*\)".*/\1/')
  out=$(SLUICE_BENCH_ID="$id" wrk -t2 -c32 -d"${duration}s" -s "$root/bench/status.lua" "$url")
  results[$label.status]+="$(awk '/Requests\/sec/ {print $2}' <<<"$out") "
  kill "$dev" 2>/dev/null
  wait "$dev" 2>/dev/null || true
  rm -rf "$data"
}

port=$(bench_free_ports 18100 18200 2)
for _ in $(seq "$rounds"); do
  measure old "$old" "$port"
  measure new "$new" "$((port + 1))"
done
echo "compare_gateways: $(nproc) cores, $rounds interleaved rounds of ${duration}s, medians (all rounds)"
for m in p50 p99 rps status; do
  # shellcheck disable=SC2086
  printf '%-7s old %-9s (%s)  new %-9s (%s)\n' "$m" \
    "$(bench_median ${results[old.$m]})" "${results[old.$m]% }" \
    "$(bench_median ${results[new.$m]})" "${results[new.$m]% }"
done
echo "p50/p99 (ms): POST /v1/executions latency on one connection; rps: accepted triggers/s with 32"
echo "connections; status: GET /v1/executions/{id} per second with 32 connections"
