# Shared by the bench/ scripts (sourced, not run): building, tools, ports, readiness, medians.
# shellcheck shell=bash

bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Builds build/sluice; on failure prints the tail of the build log.
bench_build() {
  local log
  log="$(mktemp)"
  if ! "$bench_root/scripts/build.sh" >"$log" 2>&1; then
    echo "bench: build failed:" >&2
    tail -n 30 "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

# bench_need COMMAND PACKAGE: installs PACKAGE from Debian's packages when COMMAND is missing.
bench_need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "bench: installing $2 from Debian's packages" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$2" >/dev/null
  command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 still missing after installing $2" >&2; return 1; }
}

# bench_port_free PORT: true when nothing listens on 127.0.0.1:PORT.
bench_port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# bench_free_ports FROM TO COUNT: prints the first P in [FROM, TO) with P..P+COUNT-1 all free.
bench_free_ports() {
  local p i ok
  for ((p = $1; p + $3 <= $2; p += $3)); do
    ok=1
    for ((i = 0; i < $3; i++)); do bench_port_free $((p + i)) || { ok=0; break; }; done
    [ "$ok" = 1 ] && { echo "$p"; return 0; }
  done
  echo "bench: no $3 free ports in [$1, $2)" >&2
  return 1
}

# bench_wait_ready URL PID LOG [SECONDS]: waits for URL/readyz to answer 200 while PID lives.
bench_wait_ready() {
  local tries=$(( ${4:-60} * 10 ))
  for _ in $(seq "$tries"); do
    curl -sf "$1/readyz" >/dev/null 2>&1 && return 0
    if ! kill -0 "$2" 2>/dev/null; then
      echo "bench: process $2 exited before $1/readyz answered; its log:" >&2
      tail -n 30 "$3" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "bench: $1/readyz not ready after ${4:-60} s; log:" >&2
  tail -n 30 "$3" >&2
  return 1
}

# bench_median VALUE...: the median (the lower one for an even count), numeric sort.
bench_median() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
