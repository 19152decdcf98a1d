#!/usr/bin/env bash
# Installs the tools the test tiers drive Sluice with: the Python ones (the clients tier's real
# client libraries, the browser tier's Selenium) into a virtualenv of their own,
# ~/.cache/sluice/venv (SLUICE_VENV overrides), from PyPI with pip; and the browser tier's npm
# packages (axe-core, pinned by tests/browser/package-lock.json) with `npm ci` into
# ~/.cache/sluice/browser (SLUICE_BROWSER_TOOLS overrides), outside the repository.
# Idempotent: when every pinned package is there it changes nothing and needs no network.
# Prints nothing on success; the venv's python is "$venv/bin/python".
set -euo pipefail

# One pinned requirement a line; append yours.
packages=(
  python-gitlab==8.6.0
  schemathesis==4.32.5  # scripts/api-contract.sh
  selenium==4.51.0      # tests/browser (drives Debian's chromium through chromedriver)
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
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-tools: installing ${missing[*]} into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${missing[@]}"
fi

# The browser tier's npm packages: npm ci of the committed lockfile in a directory of their own.
# A copy of the lockfile beside node_modules says what is installed there: when it is the
# repository's, there is nothing to do (and no network is needed).
browser_src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/browser"
browser_tools="${SLUICE_BROWSER_TOOLS:-$HOME/.cache/sluice/browser}"
if ! cmp -s "$browser_src/package-lock.json" "$browser_tools/installed-lock.json" ||
  [ ! -d "$browser_tools/node_modules" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    # Debian's npm (and its Node.js) when the machine has none of its own.
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
      sudo="sudo"
    fi
    echo "install-test-tools: installing npm" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq npm >/dev/null
  fi
  echo "install-test-tools: installing tests/browser's npm packages into $browser_tools" >&2
  mkdir -p "$browser_tools"
  rm -f "$browser_tools/installed-lock.json"
  cp "$browser_src/package.json" "$browser_src/package-lock.json" "$browser_tools/"
  (cd "$browser_tools" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$browser_src/package-lock.json" "$browser_tools/installed-lock.json"
fi
