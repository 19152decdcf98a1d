#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft) on loopback, for the real-Kafka test tier.
#   scripts/kafka.sh install   fetch the broker's jars from Maven Central (idempotent)
#   scripts/kafka.sh start     format a fresh data dir and start it on 127.0.0.1:$SLUICE_KAFKA_PORT
#   scripts/kafka.sh stop      stop it
# Everything lives under $SLUICE_CACHE (default .cache/ in the repository).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${SLUICE_CACHE:-$root/.cache}"
home="$cache/kafka"
port="${SLUICE_KAFKA_PORT:-19092}"
controller_port=$((port + 1))

need_java() {
  if command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then return; fi
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    openjdk-17-jre-headless maven >/dev/null
}

install() {
  if [ -f "$home/libs/.complete" ]; then return; fi
  need_java
  mkdir -p "$home"
  echo "kafka: fetching Apache Kafka from Maven Central into $home/libs" >&2
  rm -rf "$home/libs"
  mvn -q -f "$root/scripts/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$home/libs" >&2
  touch "$home/libs/.complete"
}

start() {
  install
  stop
  local data="$home/data-$port"
  rm -rf "$data"
  mkdir -p "$data"
  cat >"$home/server-$port.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
PROPS
  local cp="$home/libs/*"
  local log4j="-Dlog4j.configuration=file:$root/scripts/kafka/log4j.properties"
  local id
  id=$(java -cp "$cp" "$log4j" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  java -cp "$cp" "$log4j" kafka.tools.StorageTool format -t "$id" \
    -c "$home/server-$port.properties" >/dev/null
  nohup java -Xms256m -Xmx512m -cp "$cp" "$log4j" kafka.Kafka "$home/server-$port.properties" \
    >"$home/kafka-$port.log" 2>&1 &
  echo $! >"$home/kafka-$port.pid"
  for _ in $(seq 120); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "kafka: Apache Kafka 3.7.1 on 127.0.0.1:$port" >&2
      return
    fi
    sleep 0.5
  done
  echo "kafka: did not start; its log:" >&2
  tail -n 50 "$home/kafka-$port.log" >&2
  exit 1
}

stop() {
  local pidfile="$home/kafka-$port.pid"
  if [ -f "$pidfile" ]; then
    local pid
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
