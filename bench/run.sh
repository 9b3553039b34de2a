#!/usr/bin/env bash
# Benchmarks: one Argon2id hash, then sign-in and GET /api/auth/me (bearer) against the
# release server on 127.0.0.1, driven by wrk. Prints requests/s and p50/p99 for each.
#   bench/run.sh               # 20 s per scenario
#   BENCH_SECONDS=5 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${BENCH_SECONDS:-20}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
PORT="${BENCH_PORT:-18181}"
BASE="http://127.0.0.1:${PORT}"

if ! command -v wrk >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet -p portcullis
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo "== one Argon2id hash"
cargo run --release --quiet -p portcullis-core --example hash_time

data="$(mktemp -d)"
PORTCULLIS_ADDR="127.0.0.1:${PORT}" PORTCULLIS_DATA_DIR="${data}" PORTCULLIS_RATE_LIMIT=off RUST_LOG=warn \
    target/release/portcullis >"${data}/server.log" 2>&1 &
server=$!
trap 'kill "${server}" 2>/dev/null || true; wait "${server}" 2>/dev/null || true; rm -rf "${data}"' EXIT
for _ in $(seq 50); do
    curl -fs "${BASE}/health" >/dev/null && break
    sleep 0.2
done

email="bench-$(date +%s)@example.com"
password="correct horse battery staple"
export BENCH_LOGIN_BODY="{\"email\":\"${email}\",\"password\":\"${password}\"}"
curl -fs -X POST "${BASE}/api/auth/register" -H 'content-type: application/json' \
    -d "${BENCH_LOGIN_BODY}" >/dev/null
access="$(curl -fs -X POST "${BASE}/api/auth/login" -H 'content-type: application/json' -d "${BENCH_LOGIN_BODY}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

summarise() {
    awk -v name="$1" '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 }
        /^ +99%/ { p99 = $2 }
        /Non-2xx/ { errors = $NF }
        END { printf "%-28s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n", name, rps, p50, p99, errors + 0 }'
}

echo "== ${SECONDS_PER_RUN}s per scenario, 2 wrk threads, ${CONNECTIONS} connections"
wrk -t2 -c"${CONNECTIONS}" -d"${SECONDS_PER_RUN}s" --latency -s bench/login.lua "${BASE}/api/auth/login" |
    summarise "POST /api/auth/login"
wrk -t2 -c"${CONNECTIONS}" -d"${SECONDS_PER_RUN}s" --latency -H "Authorization: Bearer ${access}" \
    "${BASE}/api/auth/me" | summarise "GET /api/auth/me (bearer)"
