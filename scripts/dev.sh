#!/usr/bin/env bash
# The README's first command: install what is missing, build, and start `sluice dev`.
# Arguments go to `sluice dev` (e.g. --listen 127.0.0.1:9090 --data-dir /tmp/sluice).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Only what `sluice dev` needs: the test command installs and builds the rest.
"$root/scripts/install-deps.sh" --dev
SLUICE_BUILD_TARGETS=sluice "$root/scripts/build.sh"
cd "$root"
exec "${SLUICE_BUILD_DIR:-$root/build}/sluice" dev "$@"
