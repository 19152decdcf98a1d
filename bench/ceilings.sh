#!/usr/bin/env bash
# Sluice against the machine's ceilings (issue 14), in one run: starts one Apache Kafka 3.9.1
# broker (scripts/kafka.sh), `sluice gateway` and `sluice worker` as separate processes, and for
# each measure the reference ceiling on the same machine in the same run; prints a Markdown table
# with the medians of ROUNDS interleaved rounds and the ratio Sluice / reference.
#
#   drain     one worker draining DRAIN_JOBS queued no-op jobs (executor process; the default
#             sandbox as an extra row at the first slot count, first round only) at max_concurrency
#             8 and 32: jobs
#             started/s from the first start to the last, read back from GET /v1/executions;
#             reference: `seq DRAIN_JOBS | xargs -P<N> -n1 sh -c true`, processes/s
#   start     trigger -> job start p50/p99 at LATENCY_RATE triggers/s for LATENCY_DURATION s, one
#             worker with max_concurrency 32 (start_time - create_time)
#   post      accepted POST /v1/executions/s, wrk -t2 -cCONNECTIONS (2xx only); reference: Kafka's
#             ProducerPerformance (acks=all, 300 B, PERF_RECORDS records, 6 partitions) records/s
#             / 2, a trigger being two records
#   post-lat  POST p50/p99 at POST_RATE/s open loop, from each request's due time
#             (bench/fixed_rate.cc, 16 connections: bench/fixed_rate.py's measurement without
#             Python's lock, which sent up to 14 ms late at 1000/s on a busy 2-core machine; the
#             driver's own send lag p99 is in the table to judge whether it kept up)
#   get       GET /v1/executions/{id}/s, wrk; reference: nginx (Debian's nginx-light) serving the
#             same answer as a static file on loopback, worker_processes = GATEWAY_THREADS
#   memory    the gateway's RSS growth per execution after MEMORY_TRIGGERS triggers (no worker:
#             the executions stay TRIGGERED); and bench/status_view_memory's figure
#   catch-up  a results topic holding CATCHUP_EXECUTIONS executions (a real TRIGGERED and SUCCESS
#             record each, distinct ids, bench/catchup_fill.cc), then `sluice gateway` started:
#             seconds until /readyz answers 200, and its RSS then
#   soak      only when SOAK_SECONDS is set: SOAK_RATE triggers/s for SOAK_SECONDS with a worker;
#             the gateway's RSS at 60 s and at the end
# Each measure runs on a topic prefix of its own (a fresh gateway, and worker where one is
# needed), so no backlog of one phase reaches another. Loopback only; every phase is bounded;
# everything started is stopped on exit. Raw tool output to stderr, the table to stdout.
#
# Knobs (environment):
#   SLUICE_BUILD_DIR    build whose `sluice` and `status_view_memory` are measured (default
#                       build/, where `sluice status_view_memory` are built first if missing)
#   ROUNDS=3  DURATION=10 (s, each wrk/fixed-rate/ProducerPerformance-sized phase)
#   DRAIN_JOBS=2000  DRAIN_SLOTS="8 32"  DRAIN_SANDBOX=1 (0: no sandbox row; it runs in the first
#   round only, to save time)  DRAIN_TIMEOUT=180 (s, each wait for a backlog to be started)
#   LATENCY_RATE=200  LATENCY_DURATION=30  POST_RATE=1000  CONNECTIONS=32  PERF_RECORDS=1000000
#   GATEWAY_THREADS=2  MEMORY_TRIGGERS=50000  CATCHUP_EXECUTIONS=1000000  CATCHUP_TIMEOUT=900
#   SOAK_SECONDS (unset: no soak)  SOAK_RATE=500  SOAK_RETENTION (e.g. 5m: results.retention in
#   the soak's configuration; unset: the key is not written)  PORT_FROM=32000
# Installs wrk, curl, nginx-light and g++ from Debian when missing; the broker's jars and Kafka's
# tools jar (ProducerPerformance, TopicCommand) come from Maven Central, cached like
# scripts/kafka.sh's.
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
root="$bench_root"
rounds="${ROUNDS:-3}"
duration="${DURATION:-10}"
drain_jobs="${DRAIN_JOBS:-2000}"
read -r -a drain_slots <<<"${DRAIN_SLOTS:-8 32}"
drain_sandbox="${DRAIN_SANDBOX:-1}"
drain_timeout="${DRAIN_TIMEOUT:-180}"
latency_rate="${LATENCY_RATE:-200}"
latency_duration="${LATENCY_DURATION:-30}"
post_rate="${POST_RATE:-1000}"
connections="${CONNECTIONS:-32}"
perf_records="${PERF_RECORDS:-1000000}"
gateway_threads="${GATEWAY_THREADS:-2}"
memory_triggers="${MEMORY_TRIGGERS:-50000}"
catchup_executions="${CATCHUP_EXECUTIONS:-1000000}"
catchup_timeout="${CATCHUP_TIMEOUT:-900}"
soak_seconds="${SOAK_SECONDS:-}"
soak_rate="${SOAK_RATE:-500}"
soak_retention="${SOAK_RETENTION:-}"
build="${SLUICE_BUILD_DIR:-$root/build}"
sluice="$build/sluice"
kafka_version=3.9.1
cache="${SLUICE_CACHE:-$HOME/.cache/sluice}"
kafka_libs="$cache/kafka-$kafka_version/libs"
kafka_tools="$cache/kafka-$kafka_version/tools"

log() { echo "ceilings: $*" >&2; }

# --- tools -----------------------------------------------------------------------------------
bench_need wrk wrk
bench_need curl curl
bench_need nginx nginx-light
bench_need g++ g++
command -v python3 >/dev/null || { log "needs python3"; exit 1; }
if [ -z "${SLUICE_BUILD_DIR:-}" ]; then
  if [ ! -x "$sluice" ] || [ ! -x "$build/bench/status_view_memory" ]; then
    log "building sluice and status_view_memory in $build"
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    ninja -C "$build" sluice status_view_memory >&2
  fi
fi
[ -x "$sluice" ] || { log "no $sluice (SLUICE_BUILD_DIR)"; exit 1; }
"$root/scripts/kafka.sh" install
if [ ! -f "$kafka_tools/.complete" ]; then
  log "fetching Kafka's tools jar (ProducerPerformance) from Maven Central into $kafka_tools"
  mkdir -p "$kafka_tools"
  mvn -q dependency:copy -Dartifact="org.apache.kafka:kafka-tools:$kafka_version" \
    -DoutputDirectory="$kafka_tools" >&2
  touch "$kafka_tools/.complete"
fi
kafka_java() {  # CLASS ARGS...: a Kafka tool with the broker's jars and the tools jar
  java -Xms128m -Xmx512m -cp "$kafka_libs/*:$kafka_tools/*" \
    "-Dlog4j.configuration=file:$root/scripts/kafka/log4j.properties" "$@"
}

work="$(mktemp -d /tmp/sluice-ceilings.XXXXXX)"
chmod 755 "$work"  # nginx's workers read the static answer from here
pids=()
nginx_pid=""
cleanup() {
  local rc=$?
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$root/scripts/kafka.sh" stop --dir "$work/kafka" 2>/dev/null || true
  if [ "$rc" -eq 0 ]; then
    rm -rf "$work"
  else
    rm -rf "$work/kafka/data-"* "$work/run"
    log "failed; logs kept in $work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

g++ -std=c++20 -O2 -o "$work/catchup_fill" "$root/bench/catchup_fill.cc" -lrdkafka
g++ -std=c++20 -O2 -pthread -o "$work/fixed_rate" "$root/bench/fixed_rate.cc"

base="$(bench_free_ports "${PORT_FROM:-32000}" 39000 4)"
kafka_port="$base"  # and $base+1, the controller
gateway_port=$((base + 2))
nginx_port=$((base + 3))
url="http://127.0.0.1:$gateway_port"
log "starting Apache Kafka $kafka_version on 127.0.0.1:$kafka_port"
bootstrap="$("$root/scripts/kafka.sh" start --brokers 1 --port "$kafka_port" \
  --dir "$work/kafka" 2>"$work/kafka-start.log" | tail -n 1)" ||
  { cat "$work/kafka-start.log" >&2; exit 1; }
broker_pid="$(cat "$work/kafka/broker-1.pid")"

SLUICE_BENCH_TOKEN="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
export SLUICE_BENCH_TOKEN
auth=(-H "Authorization: Bearer $SLUICE_BENCH_TOKEN")

# --- processes -------------------------------------------------------------------------------
instance=0
prefix=""
config=""
gateway_pid=""
worker_pid=""
template_id=""
template_prefix=""

# new_instance SLOTS [EXTRA-YAML]: a configuration on a topic prefix of its own.
new_instance() {
  instance=$((instance + 1))
  prefix="c$instance."
  config="$work/sluice-$instance.yaml"
  mkdir -p "$work/run/$instance"
  cat >"$config" <<YAML
# Written by bench/ceilings.sh.
gateway:
  public_url: "$url"
  threads: $gateway_threads
  request_timeout: 10s
  max_in_flight: 10000
kafka:
  brokers: "$bootstrap"
  topic_prefix: "$prefix"
  partitions: 6
  replication_factor: 1
worker:
  max_concurrency: $1
  workspace: "$work/run/$instance/work"
  artifacts: "$work/run/$instance/artifacts"
  metrics_listen: ""
clients:
  - name: bench
    token_env: SLUICE_BENCH_TOKEN
    allow_jobs: ["*"]
jobs:
  - {name: bench-noop, type: periodic, executor: process, command: ["true"]}
  - {name: bench-sandbox, type: periodic, command: ["true"]}
${2:-}
YAML
}

start_gateway() {
  "$sluice" gateway --config "$config" --listen "127.0.0.1:$gateway_port" \
    >"$work/gateway-$instance.log" 2>&1 &
  gateway_pid=$!
  pids+=("$gateway_pid")
}

start_worker() {
  "$sluice" worker --config "$config" >"$work/worker-$instance.log" 2>&1 &
  worker_pid=$!
  pids+=("$worker_pid")
}

stop() {  # PID: SIGTERM, then SIGKILL after 30 s
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

stop_all() {
  stop "$worker_pid"
  stop "$gateway_pid"
  worker_pid=""
  gateway_pid=""
}

cpu() {  # PID: CPU seconds (user + system) the process has used so far
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null ||
    echo "-"
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }
field() {  # JSON-TEXT KEY
  python3 -c 'import json, sys; v = json.loads(sys.argv[1]).get(sys.argv[2]); print("-" if v is None else v)' "$1" "$2"
}
calc() { python3 -c "print($1)"; }
fixed() {  # JOB RATE SECONDS: POSTs at RATE/s open loop (bench/fixed_rate.cc); prints its JSON
  "$work/fixed_rate" 127.0.0.1 "$gateway_port" "$SLUICE_BENCH_TOKEN" "$1" "$2" "$3" 16
}

# wait_success ID: waits (at most 60 s) until the execution has succeeded.
wait_success() {
  for _ in $(seq 600); do
    curl -sf "${auth[@]}" "$url/v1/executions/$1" | grep -q '"job_status":"SUCCESS"' && return 0
    sleep 0.1
  done
  log "execution $1 did not succeed in 60 s"
  tail -n 20 "$work/worker-$instance.log" >&2
  return 1
}

trigger() {  # JOB: prints the id of a new execution
  curl -sf "${auth[@]}" -H 'Content-Type: application/json' \
    -d "{\"job_name\": \"$1\", \"job_execution_type\": \"1\"}" "$url/v1/executions" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}

# Results, one array per measure and round.
declare -A results

record() {  # KEY VALUE
  results[$1]="${results[$1]:-} $2"
  log "  $1 = $2"
}

median_of() {  # KEY
  # shellcheck disable=SC2086
  [ -n "${results[$1]:-}" ] && bench_median ${results[$1]} || echo "-"
}

# --- phases ----------------------------------------------------------------------------------
phase_start=0
phase_begin() { phase_start="$(now)"; log "$*"; }
phase_end() {  # NAME
  local spent
  spent="$(calc "round($(now) - $phase_start, 1)")"
  results[time:$1]="$(calc "round(${results[time:$1]:-0} + $spent, 1)")"
}

drain() {  # SLOTS JOB
  local slots=$1 job=$2 sent started cpu0 out
  phase_begin "drain: $drain_jobs queued $job jobs, one worker at max_concurrency $slots"
  new_instance "$slots"
  start_gateway
  bench_wait_ready "$url" "$gateway_pid" "$work/gateway-$instance.log" 60
  sent="$(fixed "$job" 1000 "$(calc "$drain_jobs / 1000")")"
  log "  queued: $sent"
  start_worker
  cpu0="$(now)"
  out="$(python3 "$root/bench/start_latency.py" --url "$url" --token "$SLUICE_BENCH_TOKEN" \
    --job "$job" --wait "$drain_timeout")"
  log "  $out"
  log "  worker: $(cpu "$worker_pid") CPU-s in $(calc "round($(now) - $cpu0, 1)") s since its" \
    "start; gateway $(cpu "$gateway_pid") CPU-s; broker $(cpu "$broker_pid") CPU-s so far"
  started="$(field "$out" started)"
  record "drain:$job:$slots" "$(field "$out" started_per_s)"
  record "drain-started:$job:$slots" "$started"
  record "drain-cpu:$job:$slots" "$(cpu "$worker_pid")"
  stop_all
  phase_end "drain"
}

xargs_ceiling() {  # SLOTS
  local t0 t1
  phase_begin "xargs: $drain_jobs processes of sh -c true, -P$1"
  t0="$(now)"
  seq "$drain_jobs" | xargs -P"$1" -n1 sh -c true
  t1="$(now)"
  record "xargs:$1" "$(calc "round($drain_jobs / ($t1 - $t0), 1)")"
  phase_end "drain"
}

start_latency() {
  local warm fixed out
  phase_begin "trigger -> start: $latency_rate/s for ${latency_duration}s, max_concurrency 32"
  new_instance 32
  start_gateway
  bench_wait_ready "$url" "$gateway_pid" "$work/gateway-$instance.log" 60
  start_worker
  warm="$(trigger bench-sandbox)"
  wait_success "$warm"
  template_prefix="$prefix"
  template_id="$warm"  # the catch-up's records are copies of this execution's
  fixed="$(fixed bench-noop "$latency_rate" "$latency_duration")"
  log "  driver: $fixed"
  out="$(python3 "$root/bench/start_latency.py" --url "$url" --token "$SLUICE_BENCH_TOKEN" \
    --job bench-noop --wait "$drain_timeout")"
  log "  $out"
  log "  worker $(cpu "$worker_pid") CPU-s, gateway $(cpu "$gateway_pid") CPU-s"
  record start-p50 "$(field "$out" p50_ms)"
  record start-p99 "$(field "$out" p99_ms)"
  record start-started "$(field "$out" started)/$(field "$out" executions)"
  stop_all
  phase_end start
}

get_rate() {  # KEY URL ID: wrk GETs /v1/executions/ID from URL for DURATION; records requests/s
  SLUICE_BENCH_ID="$3" wrk -t2 -c"$connections" -d"${duration}s" --latency \
    -s "$root/bench/status.lua" "$2" >"$work/$1.txt" 2>&1
  sed 's/^/  /' "$work/$1.txt" >&2
  grep -qE 'Non-2xx|Socket errors' "$work/$1.txt" && log "  $1 had errors (above)"
  record "$1" "$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/$1.txt")"
}

api() {  # gateway only: POST at saturation, POST at a fixed rate, GET by id
  local out id
  phase_begin "POST at saturation for ${duration}s (wrk -t2 -c$connections), no worker"
  new_instance 8
  start_gateway
  bench_wait_ready "$url" "$gateway_pid" "$work/gateway-$instance.log" 60
  SLUICE_BENCH_JOB=bench-noop wrk -t2 -c"$connections" -d"${duration}s" --latency \
    -s "$root/bench/trigger.lua" "$url/v1/executions" >"$work/post.txt" 2>&1
  sed 's/^/  /' "$work/post.txt" >&2
  record post "$(awk '/accepted\/sec/ {printf "%.0f", $6}' "$work/post.txt")"
  record post-refused "$(awk '/accepted\/sec/ {print $4}' "$work/post.txt")"
  log "  gateway $(cpu "$gateway_pid") CPU-s, broker $(cpu "$broker_pid") CPU-s so far"
  phase_end post

  phase_begin "POST at $post_rate/s for ${duration}s, open loop (bench/fixed_rate.cc)"
  out="$(fixed bench-noop "$post_rate" "$duration")"
  log "  $out"
  record post-p50 "$(field "$out" p50_ms)"
  record post-p99 "$(field "$out" p99_ms)"
  record post-lag "$(field "$out" driver_lag_p99_ms)"
  record post-achieved "$(field "$out" achieved_rate)"
  id="$(field "$out" id)"
  phase_end post-lat

  phase_begin "GET /v1/executions/{id} for ${duration}s (wrk -t2 -c$connections)"
  curl -sf "${auth[@]}" "$url/v1/executions/$id" >"$work/answer.json"
  get_rate get "$url" "$id"
  stop_all
  phase_end get

  phase_begin "nginx: the same answer ($(wc -c <"$work/answer.json") bytes) as a static file"
  mkdir -p "$work/nginx/docroot/v1/executions" "$work/nginx/tmp"
  cp "$work/answer.json" "$work/nginx/docroot/v1/executions/$id"
  chmod -R a+rX "$work/nginx"
  get_rate nginx "http://127.0.0.1:$nginx_port" "$id"
  phase_end get

  phase_begin "Kafka's ProducerPerformance: $perf_records records of 300 B, acks=all"
  local topic="perf-$instance"
  kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --create \
    --topic "$topic" --partitions 6 --replication-factor 1 >&2
  kafka_java org.apache.kafka.tools.ProducerPerformance --topic "$topic" \
    --num-records "$perf_records" --record-size 300 --throughput -1 \
    --producer-props "bootstrap.servers=$bootstrap" acks=all >"$work/perf.txt" 2>&1 || true
  tail -n 1 "$work/perf.txt" | sed 's/^/  /' >&2
  record perf "$(tail -n 1 "$work/perf.txt" | sed -n 's/.* records sent, \([0-9]*\)[0-9.]* records\/sec.*/\1/p')"
  phase_end post
}

start_nginx() {
  local user=""
  [ "$(id -u)" -eq 0 ] && user="user root;"
  cat >"$work/nginx.conf" <<NGINX
# Written by bench/ceilings.sh: a static answer on loopback, as many workers as gateway threads.
$user
worker_processes $gateway_threads;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  default_type application/json;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/nginx/docroot;
  }
}
NGINX
  mkdir -p "$work/nginx/docroot" "$work/nginx/tmp"
  nginx -c "$work/nginx.conf" -p "$work/nginx" -g 'daemon off;' 2>>"$work/nginx-error.log" &
  nginx_pid=$!
  for _ in $(seq 50); do bench_port_free "$nginx_port" || return 0; sleep 0.1; done
  log "nginx did not listen on $nginx_port:"
  cat "$work/nginx-error.log" >&2
  return 1
}

memory() {
  local before after out
  phase_begin "memory: gateway RSS before and after $memory_triggers triggers, no worker"
  new_instance 8
  start_gateway
  bench_wait_ready "$url" "$gateway_pid" "$work/gateway-$instance.log" 60
  trigger bench-noop >/dev/null
  sleep 1
  before="$(rss_kib "$gateway_pid")"
  mkdir -p "$work/memory-done"
  SLUICE_BENCH_JOB=bench-noop SLUICE_BENCH_LIMIT="$memory_triggers" \
    SLUICE_BENCH_DONE_DIR="$work/memory-done" wrk -t2 -c"$connections" -d600s \
    -s "$root/bench/trigger.lua" "$url/v1/executions" >"$work/memory.txt" 2>&1 &
  local driver=$!
  pids+=("$driver")
  while kill -0 "$driver" 2>/dev/null && [ "$(ls "$work/memory-done" | wc -l)" -lt 2 ]; do
    sleep 0.2
  done
  kill -INT "$driver" 2>/dev/null || true
  wait "$driver" || true
  sed 's/^/  /' "$work/memory.txt" >&2
  local accepted
  accepted="$(awk '/accepted\/sec/ {print $2}' "$work/memory.txt")"
  sleep 5  # the gateway's own view follows the results topic
  after="$(rss_kib "$gateway_pid")"
  log "  RSS $before KiB -> $after KiB after $accepted accepted triggers"
  memory_rss_per="$(calc "round(($after - $before) * 1024 / $accepted)")"
  memory_accepted="$accepted"
  memory_rss_after="$after"
  stop_all
  if [ -x "$build/bench/status_view_memory" ]; then
    out="$("$build/bench/status_view_memory" 100000 2>&1 || true)"
    echo "$out" | sed 's/^/  /' >&2
    # Columns by their header's names: the program's table gained columns over time.
    status_view_memory="$(echo "$out" | awk -F'|' '
      /heap B\/exec/ { for (i = 2; i <= NF; i++) { h = $i; gsub(/^ +| +$/, "", h); col[h] = i } }
      $2 + 0 == 100000 { gsub(/ /, "");
        printf "%s bytes of heap per execution (records of %s B)", $col["heap B/exec"], $col["JSON B"] }')"
  fi
  phase_end memory
}

catch_up() {
  local trig term t0 ready="" seconds
  phase_begin "catch-up: $catchup_executions executions in a results topic, then a gateway"
  if [ -z "$template_id" ]; then  # ROUNDS=0: run one execution to copy
    new_instance 8
    start_gateway
    bench_wait_ready "$url" "$gateway_pid" "$work/gateway-$instance.log" 60
    start_worker
    template_id="$(trigger bench-sandbox)"
    template_prefix="$prefix"
    wait_success "$template_id"
    stop_all
  fi
  "$work/catchup_fill" --dump "$bootstrap" "${template_prefix}results" "$template_id" \
    >"$work/template.jsonl"
  trig="$work/triggered.json"
  term="$work/terminal.json"
  grep '"job_status":"TRIGGERED"' "$work/template.jsonl" | head -n 1 >"$trig"
  grep '"job_status":"SUCCESS"' "$work/template.jsonl" | tail -n 1 >"$term"
  log "  templates: $(wc -c <"$trig") and $(wc -c <"$term") bytes, from $template_id"
  new_instance 8
  start_gateway  # creates the topics as an installation would have them
  bench_wait_ready "$url" "$gateway_pid" "$work/gateway-$instance.log" 60
  stop_all
  t0="$(now)"
  "$work/catchup_fill" "$bootstrap" "${prefix}results" "$catchup_executions" "$trig" "$term"
  catchup_fill_s="$(calc "round($(now) - $t0, 1)")"
  t0="$(now)"
  start_gateway
  for _ in $(seq $((catchup_timeout * 10))); do
    if curl -sf "$url/readyz" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$gateway_pid" 2>/dev/null || break
    sleep 0.1
  done
  seconds="$(calc "round($(now) - $t0, 1)")"
  if [ -n "$ready" ]; then
    catchup_ready="$seconds s"
  else
    catchup_ready="not ready after $seconds s"
    tail -n 20 "$work/gateway-$instance.log" >&2
  fi
  catchup_rss="$(calc "round($(rss_kib "$gateway_pid") / 1024)")"
  catchup_cpu="$(cpu "$gateway_pid")"
  log "  ready: $catchup_ready, RSS $catchup_rss MiB, $catchup_cpu CPU-s"
  stop_all
  phase_end catch-up
}

soak() {
  local extra="" rss60 rss_end
  phase_begin "soak: $soak_rate triggers/s for ${soak_seconds}s, one worker (32 slots)"
  [ -n "$soak_retention" ] && extra="results:
  retention: $soak_retention"
  new_instance 32 "$extra"
  start_gateway
  bench_wait_ready "$url" "$gateway_pid" "$work/gateway-$instance.log" 60
  start_worker
  fixed bench-noop "$soak_rate" "$soak_seconds" >"$work/soak.json" &
  local driver=$!
  pids+=("$driver")
  sleep 60
  rss60="$(rss_kib "$gateway_pid")"
  wait "$driver" || true
  rss_end="$(rss_kib "$gateway_pid")"
  log "  $(cat "$work/soak.json")"
  soak_result="$(calc "round($rss60 / 1024)") MiB at 60 s, $(calc "round($rss_end / 1024)") MiB at ${soak_seconds} s ($(calc "'%+.1f' % (100.0 * ($rss_end - $rss60) / $rss60)")%)"
  log "  $soak_result"
  stop_all
  phase_end soak
}

# --- the run ---------------------------------------------------------------------------------
run_start="$(now)"
load_start="$(uptime | sed 's/.*load average: //')"
start_nginx
for round in $(seq "$rounds"); do
  log "round $round of $rounds"
  for slots in "${drain_slots[@]}"; do
    xargs_ceiling "$slots"
    drain "$slots" bench-noop
  done
  [ "$drain_sandbox" = 1 ] && [ "$round" = 1 ] && drain "${drain_slots[0]}" bench-sandbox
  start_latency
  api
done
memory
catch_up
[ -n "$soak_seconds" ] && soak
stop "$nginx_pid"
nginx_pid=""
total="$(calc "round($(now) - $run_start)")"

ratio() {  # A B: A/B as a percentage
  python3 -c "import sys; a, b = sys.argv[1:]; print('-' if '-' in (a, b) or float(b) == 0 else '%.0f%%' % (100 * float(a) / float(b)))" "$1" "$2"
}

perf="$(median_of perf)"
perf_half="$([ "$perf" = - ] && echo - || calc "round($perf / 2)")"
cat <<TABLE

Sluice ($(cd "$root" && git describe --always --dirty 2>/dev/null || echo "?"), \`$sluice\`) on
Apache Kafka $kafka_version (1 broker, KRaft, loopback), $(nproc) cores; load average (1, 5, 15 min)
$load_start at the start, $(uptime | sed 's/.*load average: //') at the end;
medians of $rounds interleaved rounds; run took ${total} s.

| measure | Sluice | reference, same run | ratio |
|---|---|---|---|
TABLE
for slots in "${drain_slots[@]}"; do
  echo "| one worker draining $drain_jobs queued no-op jobs (\`true\`, executor process), max_concurrency $slots: jobs started/s | $(median_of "drain:bench-noop:$slots") (started $(median_of "drain-started:bench-noop:$slots"), worker $(median_of "drain-cpu:bench-noop:$slots") CPU-s) | \`xargs -P$slots -n1 sh -c true\`: $(median_of "xargs:$slots") processes/s | $(ratio "$(median_of "drain:bench-noop:$slots")" "$(median_of "xargs:$slots")") |"
done
if [ "$drain_sandbox" = 1 ]; then
  s="${drain_slots[0]}"
  echo "| the same, default executor (bubblewrap sandbox), max_concurrency $s | $(median_of "drain:bench-sandbox:$s") (started $(median_of "drain-started:bench-sandbox:$s"), worker $(median_of "drain-cpu:bench-sandbox:$s") CPU-s) | \`xargs -P$s\`: $(median_of "xargs:$s") processes/s | $(ratio "$(median_of "drain:bench-sandbox:$s")" "$(median_of "xargs:$s")") |"
fi
cat <<TABLE
| trigger → start at $latency_rate/s for ${latency_duration} s, one worker (32 slots), p50 / p99 | $(median_of start-p50) / $(median_of start-p99) ms (started $(median_of start-started)) | | |
| accepted \`POST /v1/executions\`/s (wrk -t2 -c$connections, 2xx only, no worker) | $(median_of post) (refused $(median_of post-refused)) | ProducerPerformance (acks=all, 300 B, 6 partitions): $perf records/s ÷ 2 = $perf_half | $(ratio "$(median_of post)" "$perf_half") |
| POST at $post_rate/s open loop, p50 / p99 from the due time | $(median_of post-p50) / $(median_of post-p99) ms (achieved $(median_of post-achieved)/s, driver's send lag p99 $(median_of post-lag) ms) | | |
| \`GET /v1/executions/{id}\`/s (wrk -t2 -c$connections) | $(median_of get) | nginx, worker_processes $gateway_threads, the same answer as a static file: $(median_of nginx) | $(ratio "$(median_of get)" "$(median_of nginx)") |
| status view: gateway RSS growth per execution after $memory_accepted triggers (TRIGGERED, no worker) | $memory_rss_per bytes (RSS $(calc "round($memory_rss_after / 1024)") MiB) | status_view_memory 100000: ${status_view_memory:-not run} | |
| catch-up: gateway on a results topic of $catchup_executions executions ($((2 * catchup_executions)) records, filled in $catchup_fill_s s): /readyz 200 after | $catchup_ready, RSS $catchup_rss MiB, $catchup_cpu CPU-s | | |
TABLE
[ -n "$soak_seconds" ] && echo "| soak: $soak_rate triggers/s for $soak_seconds s with a worker${soak_retention:+, results.retention $soak_retention}: gateway RSS | $soak_result | | |"
echo
echo "Time per phase (s, all rounds): drain $(median_of time:drain), trigger→start $(median_of time:start), POST $(median_of time:post), POST latency $(median_of time:post-lat), GET $(median_of time:get), memory $(median_of time:memory), catch-up $(median_of time:catch-up)${soak_seconds:+, soak $(median_of time:soak)}."
