#!/usr/bin/env bash
# The README's first command as a newcomer runs it (issue 14's "newcomer" row): clones this
# repository's committed HEAD into a temporary directory and times
#   SLUICE_DEV_TOKEN=dev-token ./scripts/dev.sh --listen 127.0.0.1:PORT --data-dir DIR
# from its start until `sluice dev` prints its banner ("Sluice dev is running."), then stops it.
# The build is cold: ccache is disabled (CCACHE_DISABLE=1) and the clone has no build/, so the
# figure is what a fresh checkout costs on this machine; Debian packages already installed are
# not installed again (install-deps.sh skips them), so on a machine that has them it measures
# the build and the start. A long full build: run it once, not in a loop.
# Knobs: NEWCOMER_TIMEOUT (s, default 1800), PORT_FROM (default 32100). Prints one Markdown row
# to stdout; the command's own output goes to stderr.
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
root="$bench_root"
timeout="${NEWCOMER_TIMEOUT:-1800}"
port="$(bench_free_ports "${PORT_FROM:-32100}" 39000 1)"

work="$(mktemp -d /tmp/sluice-newcomer.XXXXXX)"
dev=""
cleanup() {
  if [ -n "$dev" ]; then
    kill -- -"$dev" 2>/dev/null || kill "$dev" 2>/dev/null || true
    wait "$dev" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

git clone -q "$root" "$work/sluice"
echo "newcomer: cloned $(git -C "$work/sluice" rev-parse --short HEAD) into $work/sluice" >&2
t0="$(date +%s.%N)"
# A process group of its own (set -m), so that stopping it stops the build or the server.
set -m
(cd "$work/sluice" && CCACHE_DISABLE=1 SLUICE_DEV_TOKEN=dev-token exec \
  ./scripts/dev.sh --listen "127.0.0.1:$port" --data-dir "$work/data") >"$work/dev.log" 2>&1 &
dev=$!
set +m
seen=""
for _ in $(seq $((timeout * 10))); do
  if grep -q "Sluice dev is running" "$work/dev.log"; then seen=1; break; fi
  kill -0 "$dev" 2>/dev/null || break
  sleep 0.1
done
seconds="$(python3 -c "import sys; print(round(float(sys.argv[1]) - float(sys.argv[2])))" \
  "$(date +%s.%N)" "$t0")"
tail -n 40 "$work/dev.log" >&2
targets="$(grep -c 'Building\|Linking' "$work/dev.log" || true)"
if [ -z "$seen" ]; then
  echo "| README's first command, fresh clone, to the banner | no banner after $seconds s | |"
  exit 1
fi
echo "| README's first command, fresh clone, cold build, to the banner | $((seconds / 60)) min $((seconds % 60)) s ($targets build steps; $(nproc) cores) | |"
