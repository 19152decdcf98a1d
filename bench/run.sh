#!/usr/bin/env bash
# Throughput and latency of the gateway on loopback, against `sluice dev` (embedded broker).
# Runs each scenario ROUNDS times (default 3) and prints the median requests/s and p50/p99 latency.
#   triggers:        POST /v1/executions, answered after Kafka acks both records
#   status:          GET /v1/executions/{id}, answered from the in-memory status view
#   status-close:    the same with "Connection: close" on every request (what clients got from
#                    Pistache 0.0.5 before the keep-alive fix): the cost of a TCP handshake each time
#   webhooks:        POST /hooks/github, a new signed push delivery each time: verified, matched,
#                    answered 202 after Kafka acks the delivery; the worker runs the postsubmits
#   redeliveries:    the same delivery again and again: verified and answered from the gateway's
#                    view of the events topic, nothing written
# Installs wrk when missing. Bounded: DURATION seconds per run (default 10), loopback only.
# bench/kafka_bench.sh is the same against a real Kafka broker, with separate processes.
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
root="$bench_root"
rounds="${ROUNDS:-3}"
duration="${DURATION:-10}"
port="${PORT:-18093}"
bench_need wrk wrk
bench_build
data="$(mktemp -d)"
export SLUICE_DEV_TOKEN=bench-token
export SLUICE_BENCH_HOOK_SECRET=bench-hook-secret
"$root/build/sluice" dev --config "$root/bench/bench.yaml" --listen "127.0.0.1:$port" \
  --data-dir "$data" >"$data/dev.log" 2>&1 &
dev=$!
trap 'kill $dev 2>/dev/null; wait $dev 2>/dev/null; rm -rf "$data"' EXIT
bench_wait_ready "http://127.0.0.1:$port" "$dev" "$data/dev.log" 10

url="http://127.0.0.1:$port"
id=$(curl -s -X POST -H "Authorization: Bearer $SLUICE_DEV_TOKEN" \
  -d '{"job_name": "bench-noop", "job_execution_type": "1"}' "$url/v1/executions" |
  sed 's/.*"id":"\([^"]*\)".*/\1/')
export SLUICE_BENCH_ID="$id"
SLUICE_BENCH_HOOK_BODY='{"ref":"refs/heads/main","before":"1111111111111111111111111111111111111111","after":"2222222222222222222222222222222222222222","repository":{"full_name":"bench/repo","html_url":"https://github.com/bench/repo","clone_url":"https://github.com/bench/repo.git"},"pusher":{"name":"bench"}}'
SLUICE_BENCH_HOOK_SIG="sha256=$(printf '%s' "$SLUICE_BENCH_HOOK_BODY" |
  openssl dgst -sha256 -hmac "$SLUICE_BENCH_HOOK_SECRET" -r | cut -d' ' -f1)"
export SLUICE_BENCH_HOOK_BODY SLUICE_BENCH_HOOK_SIG

run() {  # name, extra wrk args...
  local name=$1; shift
  local rps=() p50=() p99=()
  for _ in $(seq "$rounds"); do
    out=$(wrk -t2 -c32 -d"${duration}s" --latency "$@" 2>&1)
    rps+=("$(awk '/Requests\/sec/ {print $2}' <<<"$out")")
    p50+=("$(awk '$1=="50%" {print $2}' <<<"$out")")
    p99+=("$(awk '$1=="99%" {print $2}' <<<"$out")")
    errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" || true)
    [ -n "$errors" ] && echo "  $name: $errors" >&2
  done
  printf '%-14s rounds=%s  req/s median=%s  (all: %s)  p50=%s  p99=%s\n' "$name" "$rounds" \
    "$(bench_median "${rps[@]}")" "${rps[*]}" "$(printf '%s\n' "${p50[@]}" | sort | head -n $(( (rounds+1)/2 )) | tail -1)" \
    "$(printf '%s\n' "${p99[@]}" | sort | head -n $(( (rounds+1)/2 )) | tail -1)"
}

echo "sluice bench: $(nproc) cores, wrk -t2 -c32 -d${duration}s, $rounds rounds each"
run triggers -s "$root/bench/trigger.lua" "$url/v1/executions"
run status -s "$root/bench/status.lua" "$url"
run status-close -s "$root/bench/status.lua" -H "Connection: close" "$url"
run webhooks -s "$root/bench/webhook.lua" "$url"
SLUICE_BENCH_HOOK_DELIVERY=bench-redelivery run redeliveries -s "$root/bench/webhook.lua" "$url"
