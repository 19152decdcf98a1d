#!/usr/bin/env bash
# Builds localhost/sluice-test:1, the small local image the container executor's tests run, and
# prints its name. No registry and no network: the image is Debian's busybox-static (/bin/busybox)
# and a symlink per applet, imported from a tarball. Idempotent: an existing image is kept.
#
#   scripts/container-image.sh [--podman-args ARG...]
#
# ARGs are podman's global flags, as in worker.podman_args (e.g. --runtime runc, or --root DIR
# --runroot DIR for a private store). Needs podman and busybox-static (scripts/install-deps.sh).
set -euo pipefail

image="localhost/sluice-test:1"
podman_args=()
if [ $# -gt 0 ]; then
  if [ "$1" != "--podman-args" ]; then
    echo "usage: $0 [--podman-args ARG...]" >&2
    exit 2
  fi
  shift
  podman_args=("$@")
fi

busybox=/bin/busybox
if ! "$busybox" --list >/dev/null 2>&1 || ldd "$busybox" >/dev/null 2>&1; then
  echo "container-image: $busybox is missing or not static: apt-get install busybox-static" >&2
  exit 1
fi

# Tests build the image concurrently: one builds, the others wait and find it.
exec 9>"${TMPDIR:-/tmp}/sluice-container-image.lock"
flock 9

if podman "${podman_args[@]}" image exists "$image"; then
  echo "$image"
  exit 0
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/rootfs/bin" "$root/rootfs/tmp" "$root/rootfs/etc" "$root/rootfs/proc" \
  "$root/rootfs/sys" "$root/rootfs/dev" "$root/rootfs/usr"
chmod 1777 "$root/rootfs/tmp"
cp "$busybox" "$root/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/rootfs/bin/$applet"
done
ln -s ../bin "$root/rootfs/usr/bin"
ln -s bin "$root/rootfs/sbin"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' \
  >"$root/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/rootfs/etc/group"
tar -C "$root/rootfs" --numeric-owner --owner=0 --group=0 -cf "$root/rootfs.tar" .
podman "${podman_args[@]}" import --quiet --change 'CMD ["/bin/sh"]' "$root/rootfs.tar" "$image" \
  >/dev/null
echo "$image"
