#!/usr/bin/env bash
# Builds the container image with no registry (deploy/build-local.sh: FROM scratch, the
# binary, the libraries it links, a static busybox) and checks it runs: /health and
# /health/ready answer on the published port, the image's own HEALTHCHECK passes, the server
# runs as uid 65532, and it stops cleanly on SIGTERM. Installs podman, runc and
# busybox-static when missing (Debian).
#
#   deploy/check-image.sh [BINARY]     default target/release/portcullis
#
# The machines this runs on have no systemd as PID 1 and restricted cgroups, hence
# `--runtime runc`, explicit ulimits and no health-check timer (the check is run by hand).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../target/release/portcullis}
tag=localhost/portcullis:check
name="portcullis-check-$$"
port=${CHECK_IMAGE_PORT:-18580}

if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 || [ ! -x /bin/busybox ]; then
    echo "== installing podman, runc, busybox-static"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc busybox-static >/dev/null
fi

echo "== building ${tag} from ${bin}"
"$here/build-local.sh" "$bin" "$tag" >/dev/null

cleanup() { podman rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "== running it on 127.0.0.1:${port}"
podman run -d --name "$name" --runtime runc \
    --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
    --health-interval disable \
    -p "127.0.0.1:${port}:8080" "$tag" >/dev/null

health=""
for _ in $(seq 1 60); do
    if health=$(curl -fsS "http://127.0.0.1:${port}/health" 2>/dev/null); then
        break
    fi
    sleep 0.5
done
[ -n "$health" ] || { podman logs "$name" >&2; echo "FAIL: /health never answered" >&2; exit 1; }
echo "/health: ${health}"
ready=$(curl -fsS "http://127.0.0.1:${port}/health/ready")
echo "/health/ready: ${ready}"
echo "$ready" | grep -q '"status":"ok"' || { echo "FAIL: not ready" >&2; exit 1; }

podman healthcheck run "$name" >/dev/null || { echo "FAIL: the image's HEALTHCHECK fails" >&2; exit 1; }
echo "HEALTHCHECK: healthy"

uid=$(podman exec "$name" /usr/local/bin/busybox id -u)
[ "$uid" = "65532" ] || { echo "FAIL: runs as uid ${uid}, not 65532" >&2; exit 1; }
echo "user: uid ${uid}"

podman stop -t 10 "$name" >/dev/null
status=$(podman inspect "$name" --format '{{.State.ExitCode}}')
[ "$status" = "0" ] || { podman logs "$name" >&2; echo "FAIL: exit code ${status} after SIGTERM" >&2; exit 1; }
echo "stopped cleanly (exit code 0)"
echo "image checks passed"
