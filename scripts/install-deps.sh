#!/usr/bin/env bash
# Installs what Sluice needs to build, run and test on Debian 12, from Debian's packages.
# Idempotent: when everything is installed it changes nothing and needs no network.
#   install-deps.sh         everything: building, running and the whole test suite
#   install-deps.sh --dev   only what building `sluice` and running `sluice dev` need (the
#                           README's first command): a newcomer's first minutes
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git curl ca-certificates
  libpistache-dev librdkafka-dev rapidjson-dev libyaml-cpp-dev libssl-dev zlib1g-dev
  libgtest-dev libcurl4-openssl-dev openssl libhttp-parser-dev libcli11-dev
  # The sandbox executor, every job's default: bubblewrap (unprivileged user namespaces).
  bubblewrap
)
if [ "${1:-}" != "--dev" ]; then
  packages+=(
    # The libFuzzer targets (scripts/fuzz.sh).
    clang libclang-rt-14-dev
    # The container executor: podman, runc (crun 1.8 refuses cgroup v1 hybrid hosts), catatonit
    # (podman run --init), and busybox-static for scripts/container-image.sh's test image.
    podman runc catatonit busybox-static
    # promtool, with which the tests check what GET /metrics answers (`promtool check metrics`).
    prometheus
  )
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
