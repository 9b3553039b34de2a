#!/bin/sh
# Build the Portcullis image with no registry access: assemble a root filesystem from an
# existing release binary and build deploy/Containerfile.local (FROM scratch) with podman.
#
#   deploy/build-local.sh [BINARY] [TAG]
#     BINARY  default target/release/portcullis (does not run cargo)
#     TAG     default localhost/portcullis:local
#
# Needs: podman, ldd, and a static busybox (Debian: apt-get install busybox-static).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../target/release/portcullis}
tag=${2:-localhost/portcullis:local}
busybox=${BUSYBOX:-/bin/busybox}

[ -x "$bin" ] || { echo "no executable at $bin (build it with cargo build --release -p portcullis)" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' \
  || { echo "$busybox is not a static busybox (apt-get install busybox-static)" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp" "$ctx/datadir"

install -m 0755 "$bin" "$root/usr/local/bin/portcullis"
# Symbols and debug information have no use in the image (a debug build's are most of it).
strip --strip-unneeded "$root/usr/local/bin/portcullis"
install -m 0755 "$busybox" "$root/usr/local/bin/busybox"

# Every library the binary links, and the dynamic loader, at their own paths.
ldd "$bin" | awk '/=> \// { print $3 } /^[[:space:]]*\// { print $1 }' | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# /lib64 -> usr/lib64 style links are not needed: the loader is copied to its own path.

cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/var/lib/portcullis:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$root/etc/group"
chmod 0700 "$ctx/datadir"   # copied with --chown=65532:65532 (see Containerfile.local)
chmod 1777 "$root/tmp"

cp "$here/Containerfile.local" "$ctx/Containerfile"
# --format docker keeps HEALTHCHECK (the OCI image format has no field for it).
podman build --format docker -t "$tag" "$ctx"
echo "built $tag"
