#!/usr/bin/env bash
# Installs the Python tools the test tiers drive Sluice with (the clients tier's real client
# libraries) into a virtualenv of their own, ~/.cache/sluice/venv (SLUICE_VENV overrides), from
# PyPI with pip. Idempotent: when every pinned package is there it changes nothing and needs no
# network. Prints nothing on success; the venv's python is "$venv/bin/python".
set -euo pipefail

# One pinned requirement a line; append yours.
packages=(
  python-gitlab==8.6.0
  schemathesis==4.32.5  # scripts/api-contract.sh
)

venv="${SLUICE_VENV:-$HOME/.cache/sluice/venv}"

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  echo "install-test-tools: installing python3-venv" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    python3-venv >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
fi

# pip freeze names every installed distribution as name==version: install only what is missing.
installed="$("$venv/bin/python" -m pip freeze 2>/dev/null | tr '[:upper:]_' '[:lower:]-')"
missing=()
for p in "${packages[@]}"; do
  wanted="$(printf '%s' "$p" | tr '[:upper:]_' '[:lower:]-')"
  if ! grep -qxF "$wanted" <<<"$installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-test-tools: installing ${missing[*]} into $venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${missing[@]}"
