#!/usr/bin/env bash
# Sluice against a real Apache Kafka broker, from one command: builds, starts one KRaft broker
# (scripts/kafka.sh), `sluice gateway` and `sluice worker` as separate processes with jobs that
# exit at once, drives load from separate processes over keep-alive connections on loopback, and
# prints a Markdown table:
#   - accepted triggers per second at saturation: POST /v1/executions, wrk (closed loop)
#   - POST latency p50/p99/p99.9 at a fixed RATE: bench/fixed_rate.py (open loop, measured from
#     each request's due time, so free of coordinated omission)
#   - GET /v1/executions/{id} per second: wrk
#   - trigger-to-job-start latency p50/p99 at START_RATE, which an idle worker keeps up with,
#     read back from GET /v1/executions?job_name=... (start_time - create_time)
#   - how fast one worker drains the backlog of the fixed-rate and saturation runs (jobs started/s)
# A benchmark, not a test: nothing fails on a number. Bounded: each load phase lasts DURATION
# seconds (default 10); each wait for the worker's jobs at most DRAIN_TIMEOUT (default 30).
# Environment: DURATION, RATE (default 200 requests/s), START_RATE (default 5/s), CONNECTIONS
# (wrk, default 32), PORT_FROM (default 31000; the first 3 free ports from there are used).
# Installs wrk and curl from Debian's packages when missing; the broker's jars come from
# scripts/kafka.sh install. Progress, raw tool output and CPU seconds per process go to stderr.
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
root="$bench_root"
duration="${DURATION:-10}"
rate="${RATE:-200}"
start_rate="${START_RATE:-5}"
connections="${CONNECTIONS:-32}"
drain_timeout="${DRAIN_TIMEOUT:-30}"

bench_need wrk wrk
bench_need curl curl
command -v python3 >/dev/null || { echo "bench: needs python3" >&2; exit 1; }
echo "bench: building" >&2
bench_build

work="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$root/scripts/kafka.sh" stop --dir "$work/kafka" 2>/dev/null || true
  if [ "$rc" -eq 0 ]; then
    rm -rf "$work"
  else
    rm -rf "$work/kafka/data-"* "$work/work" "$work/artifacts"
    echo "bench: failed; logs kept in $work" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

base="$(bench_free_ports "${PORT_FROM:-31000}" 39000 3)"
kafka_port="$base"             # and $base+1, the controller
gateway_port=$((base + 2))
url="http://127.0.0.1:$gateway_port"

echo "bench: starting Apache Kafka on 127.0.0.1:$kafka_port" >&2
bootstrap="$("$root/scripts/kafka.sh" start --brokers 1 --port "$kafka_port" \
  --dir "$work/kafka" 2>"$work/kafka-start.log" | tail -n 1)" ||
  { cat "$work/kafka-start.log" >&2; exit 1; }

SLUICE_BENCH_TOKEN="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
export SLUICE_BENCH_TOKEN
cat >"$work/sluice.yaml" <<YAML
# Written by bench/kafka_bench.sh.
gateway:
  public_url: "$url"
  threads: 2
  request_timeout: 10s
kafka:
  brokers: "$bootstrap"
  topic_prefix: "bench."
  partitions: 6
  replication_factor: 1
worker:
  max_concurrency: 8
  workspace: "$work/work"
  artifacts: "$work/artifacts"
clients:
  - name: bench
    token_env: SLUICE_BENCH_TOKEN
    allow_jobs: ["*"]
jobs:
  - {name: bench-warmup, type: periodic, command: ["true"]}
  - {name: bench-start, type: periodic, command: ["true"]}
  - {name: bench-rate, type: periodic, command: ["true"]}
  - {name: bench-saturation, type: periodic, command: ["true"]}
YAML

"$root/build/sluice" gateway --config "$work/sluice.yaml" --listen "127.0.0.1:$gateway_port" \
  >"$work/gateway.log" 2>&1 &
pids+=($!)
bench_wait_ready "$url" "${pids[0]}" "$work/gateway.log" 60
"$root/build/sluice" worker --config "$work/sluice.yaml" >"$work/worker.log" 2>&1 &
pids+=($!)

# Warm-up: one trigger that the worker runs to its end proves the worker joined its group.
auth=(-H "Authorization: Bearer $SLUICE_BENCH_TOKEN")
warm_id="$(curl -sf "${auth[@]}" -H 'Content-Type: application/json' \
  -d '{"job_name": "bench-warmup", "job_execution_type": "1"}' "$url/v1/executions" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
for _ in $(seq 600); do
  curl -sf "${auth[@]}" "$url/v1/executions/$warm_id" | grep -q '"job_status":"SUCCESS"' && break
  kill -0 "${pids[1]}" 2>/dev/null || { tail -n 30 "$work/worker.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf "${auth[@]}" "$url/v1/executions/$warm_id" | grep -q '"job_status":"SUCCESS"' ||
  { echo "bench: the worker did not run the warm-up job in 60 s" >&2; exit 1; }

cpu() {  # PID: CPU seconds (user + system) the process has used so far
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null ||
    echo "-"
}
broker_pid="$(cat "$work/kafka/broker-1.pid")"
cpu_report() {  # PHASE: cumulative CPU seconds of each process, to stderr
  echo "  cpu after $1: gateway $(cpu "${pids[0]}") s, worker $(cpu "${pids[1]}") s," \
    "broker $(cpu "$broker_pid") s" >&2
}
cpu_report warm-up

field() {  # JSON-TEXT KEY
  python3 -c 'import json, sys; v = json.loads(sys.argv[1]).get(sys.argv[2]); print("-" if v is None else v)' "$1" "$2"
}

echo "bench: trigger-to-start: POST at $start_rate/s for ${duration}s to an idle worker" >&2
python3 "$root/bench/fixed_rate.py" --url "$url" --token "$SLUICE_BENCH_TOKEN" --job bench-start \
  --rate "$start_rate" --duration "$duration" >/dev/null
start_idle="$(python3 "$root/bench/start_latency.py" --url "$url" --token "$SLUICE_BENCH_TOKEN" \
  --job bench-start --wait "$drain_timeout")"
echo "  $start_idle" >&2
cpu_report "trigger-to-start"

echo "bench: POST at $rate/s for ${duration}s (fixed rate)" >&2
fixed="$(python3 "$root/bench/fixed_rate.py" --url "$url" --token "$SLUICE_BENCH_TOKEN" \
  --job bench-rate --rate "$rate" --duration "$duration")"
echo "  $fixed" >&2
cpu_report "fixed-rate POST"

echo "bench: GET /v1/executions/{id} for ${duration}s (wrk -t2 -c$connections)" >&2
SLUICE_BENCH_ID="$(field "$fixed" id)" wrk -t2 -c"$connections" -d"${duration}s" --latency \
  -s "$root/bench/status.lua" "$url" >"$work/get.txt" 2>&1
get_rps="$(awk '/Requests\/sec/ {print $2}' "$work/get.txt")"
get_errors="$(grep -E 'Non-2xx|Socket errors' "$work/get.txt" || true)"
sed 's/^/  /' "$work/get.txt" >&2
cpu_report GET

echo "bench: POST at saturation for ${duration}s (wrk -t2 -c$connections)" >&2
SLUICE_BENCH_JOB=bench-saturation wrk -t2 -c"$connections" -d"${duration}s" --latency \
  -s "$root/bench/trigger.lua" "$url/v1/executions" >"$work/post.txt" 2>&1
post_accepted="$(awk '/accepted\/sec/ {print $6}' "$work/post.txt")"
post_refused="$(awk '/accepted\/sec/ {print $4}' "$work/post.txt")"
post_p50="$(awk '$1=="50%" {print $2}' "$work/post.txt")"
post_p99="$(awk '$1=="99%" {print $2}' "$work/post.txt")"
sed 's/^/  /' "$work/post.txt" >&2
cpu_report "saturation POST"

echo "bench: waiting (at most ${drain_timeout}s) for the worker to drain its backlog" >&2
start_sat="$(python3 "$root/bench/start_latency.py" --url "$url" --token "$SLUICE_BENCH_TOKEN" \
  --job bench-rate --job bench-saturation --wait "$drain_timeout")"
echo "  $start_sat" >&2
cpu_report "waiting for the saturation jobs"

cat <<TABLE

Sluice on Apache Kafka 3.9.1 (1 broker, KRaft, loopback): one gateway, one worker
(max_concurrency 8), 6 partitions, jobs \`true\`; $(nproc) cores; DURATION=${duration}s per phase.

| measure | result | how |
|---|---|---|
| accepted triggers/s at saturation | $post_accepted (refused: $post_refused) | wrk -t2 -c$connections, POST /v1/executions; closed-loop p50 $post_p50, p99 $post_p99 |
| POST latency at $rate/s: p50 / p99 / p99.9 | $(field "$fixed" p50_ms) / $(field "$fixed" p99_ms) / $(field "$fixed" p999_ms) ms | bench/fixed_rate.py, 16 connections, $(field "$fixed" sent) requests, achieved $(field "$fixed" achieved_rate)/s, refused $(field "$fixed" refused), max $(field "$fixed" max_ms) ms |
| GET /v1/executions/{id} per second | $get_rps${get_errors:+ ($get_errors)} | wrk -t2 -c$connections |
| trigger-to-job-start at $start_rate/s: p50 / p99 | $(field "$start_idle" p50_ms) / $(field "$start_idle" p99_ms) ms | $(field "$start_idle" started) of $(field "$start_idle" executions) started, idle worker; start_time - create_time |
| one worker draining a backlog | $(field "$start_sat" started_per_s) jobs started/s | the fixed-rate and saturation triggers: $(field "$start_sat" started) of $(field "$start_sat" executions) started by the end (DRAIN_TIMEOUT ${drain_timeout}s) |
TABLE
