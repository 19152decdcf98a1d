#!/usr/bin/env bash
# Apache Kafka in KRaft mode on loopback, for the real-Kafka test tiers and the benchmarks.
#
#   scripts/kafka.sh install                      fetch the broker's jars from Maven Central
#   scripts/kafka.sh start [--brokers N] [--port P] [--dir D]
#                                                 format storage and start N brokers (each also a
#                                                 controller) on 127.0.0.1:P, P+2, ...; prints the
#                                                 bootstrap list; state and logs live in D
#   scripts/kafka.sh stop    [--dir D]            stop every broker of the cluster in D
#   scripts/kafka.sh kill    I [--dir D]          kill -9 broker I (1-based)
#   scripts/kafka.sh restart I [--dir D]          start broker I again on its existing data
#
# The jars are cached in $SLUICE_CACHE (default ~/.cache/sluice), so a second install is offline.
# Defaults: 1 broker, port 19092, D = /tmp/sluice-kafka-P. Logs stay in D/broker-I.log.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="3.9.1"
cache="${SLUICE_CACHE:-$HOME/.cache/sluice}"
libs="$cache/kafka-$version/libs"

need_java() {
  if command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then return; fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "kafka: installing Java 17 and Maven from Debian's packages" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    openjdk-17-jre-headless maven >/dev/null
}

install() {
  if [ -f "$libs/.complete" ]; then return; fi
  need_java
  echo "kafka: fetching Apache Kafka $version from Maven Central into $libs" >&2
  rm -rf "$libs"
  mkdir -p "$libs"
  mvn -q -f "$root/scripts/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" >&2
  touch "$libs/.complete"
}

brokers=1
port=19092
dir=""
parse_flags() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --brokers) brokers="$2"; shift 2 ;;
      --port) port="$2"; shift 2 ;;
      --dir) dir="$2"; shift 2 ;;
      *) echo "kafka: unknown argument $1" >&2; exit 2 ;;
    esac
  done
  [ -n "$dir" ] || dir="/tmp/sluice-kafka-$port"
}

java_cmd() {  # java with the broker's classpath and quiet logging
  java -Xms128m -Xmx384m -cp "$libs/*" \
    "-Dlog4j.configuration=file:$root/scripts/kafka/log4j.properties" "$@"
}

client_port() { echo $(( $1 + 2 * ($2 - 1) )); }      # base, broker index
controller_port() { echo $(( $1 + 2 * ($2 - 1) + 1 )); }

write_properties() {  # index
  local i=$1 voters="" rf=$(( brokers < 3 ? brokers : 3 )) isr=1
  [ "$rf" -ge 3 ] && isr=2
  for j in $(seq "$brokers"); do
    voters="$voters${voters:+,}$j@127.0.0.1:$(controller_port "$port" "$j")"
  done
  cat >"$dir/broker-$i.properties" <<PROPS
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(client_port "$port" "$i"),CONTROLLER://127.0.0.1:$(controller_port "$port" "$i")
advertised.listeners=PLAINTEXT://127.0.0.1:$(client_port "$port" "$i")
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data-$i
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
log.segment.bytes=16777216
PROPS
}

launch() {  # index
  local i=$1
  nohup java -Xms256m -Xmx512m -cp "$libs/*" \
    "-Dlog4j.configuration=file:$root/scripts/kafka/log4j.properties" \
    kafka.Kafka "$dir/broker-$i.properties" >>"$dir/broker-$i.log" 2>&1 &
  echo $! >"$dir/broker-$i.pid"
}

wait_for() {  # index
  local p
  p=$(client_port "$port" "$1")
  for _ in $(seq 240); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then return 0; fi
    sleep 0.25
  done
  echo "kafka: broker $1 did not open 127.0.0.1:$p; its log:" >&2
  tail -n 40 "$dir/broker-$1.log" >&2
  return 1
}

load_cluster() {
  if [ ! -f "$dir/cluster.env" ]; then echo "kafka: no cluster in $dir" >&2; exit 1; fi
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
}

start() {
  install
  [ -f "$dir/cluster.env" ] && stop
  rm -rf "$dir"
  mkdir -p "$dir"
  local id
  id=$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  local bootstrap=""
  for i in $(seq "$brokers"); do
    write_properties "$i"
    java_cmd kafka.tools.StorageTool format -t "$id" -c "$dir/broker-$i.properties" >/dev/null
    bootstrap="$bootstrap${bootstrap:+,}127.0.0.1:$(client_port "$port" "$i")"
  done
  printf 'brokers=%s\nport=%s\nbootstrap=%s\n' "$brokers" "$port" "$bootstrap" >"$dir/cluster.env"
  for i in $(seq "$brokers"); do launch "$i"; done
  for i in $(seq "$brokers"); do wait_for "$i" || exit 1; done
  echo "kafka: Apache Kafka $version, $brokers broker(s) at $bootstrap, state in $dir" >&2
  echo "$bootstrap"
}

stop() {
  [ -f "$dir/cluster.env" ] || return 0
  load_cluster
  for i in $(seq "$brokers"); do
    local pidfile="$dir/broker-$i.pid"
    [ -f "$pidfile" ] || continue
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

kill_broker() {  # index
  load_cluster
  local pidfile="$dir/broker-$1.pid"
  [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
}

restart_broker() {  # index
  load_cluster
  launch "$1"
  wait_for "$1"
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
  install) install ;;
  start) parse_flags "$@"; start ;;
  stop) parse_flags "$@"; stop ;;
  kill) index="$1"; shift; parse_flags "$@"; kill_broker "$index" ;;
  restart) index="$1"; shift; parse_flags "$@"; restart_broker "$index" ;;
  *) echo "usage: $0 install | start [--brokers N] [--port P] [--dir D] | stop [--dir D] |" \
          "kill I [--dir D] | restart I [--dir D]" >&2; exit 2 ;;
esac
