#!/usr/bin/env bash
# Benchmarks, all on 127.0.0.1 against release builds:
#   1. the time of one Argon2id hash (and the sign-in ceiling it implies);
#   2. sign-in and GET /api/auth/me (bearer), driven by wrk: req/s, p50, p99;
#   3. portcullis-verify throughput on one core, for EdDSA, ES256 and RS256;
#   4. the example tasks API's authenticated GET, driven by wrk.
#
#   bench/run.sh                  # 20 s per wrk scenario
#   BENCH_SECONDS=5 bench/run.sh  # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${BENCH_SECONDS:-20}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
PORT="${BENCH_PORT:-18181}"
TASKS_PORT="${BENCH_TASKS_PORT:-18182}"
BASE="http://127.0.0.1:${PORT}"
ISSUER="http://localhost:8080"

if ! command -v wrk >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet -p portcullis -p tasks-api
cargo build --release --quiet -p portcullis-verify --example throughput
cargo build --release --quiet -p portcullis-core --example hash_time

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "${pid}" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "${work}"
}
trap cleanup EXIT

# Starts the server with signing algorithm $1 on a fresh data directory; waits until it answers.
start_server() {
    local data="${work}/$1"
    mkdir -p "${data}"
    PORTCULLIS_ADDR="127.0.0.1:${PORT}" PORTCULLIS_DATA_DIR="${data}" PORTCULLIS_JWT_ALG="$1" \
        PORTCULLIS_RATE_LIMIT=off RUST_LOG=warn target/release/portcullis >"${data}/server.log" 2>&1 &
    server=$!
    pids+=("${server}")
    for _ in $(seq 100); do
        curl -fs "${BASE}/health" >/dev/null && return 0
        sleep 0.1
    done
    echo "server did not start" >&2
    exit 1
}

stop_server() {
    kill "${server}"
    wait "${server}" 2>/dev/null || true
}

# Registers the benchmark user (once per server) and prints a fresh access token.
access_token() {
    curl -fs -X POST "${BASE}/api/auth/register" -H 'content-type: application/json' \
        -d "${BENCH_LOGIN_BODY}" >/dev/null || true
    curl -fs -X POST "${BASE}/api/auth/login" -H 'content-type: application/json' -d "${BENCH_LOGIN_BODY}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

summarise() {
    awk -v name="$1" '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 }
        /^ +99%/ { p99 = $2 }
        /Non-2xx/ { errors = $NF }
        END { printf "%-34s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n", name, rps, p50, p99, errors + 0 }'
}

load() {
    local name="$1"
    shift
    wrk -t2 -c"${CONNECTIONS}" -d"${SECONDS_PER_RUN}s" --latency "$@" | summarise "${name}"
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo "== one Argon2id hash"
target/release/examples/hash_time

export BENCH_LOGIN_BODY='{"email":"bench@example.com","password":"correct horse battery staple"}'
start_server EdDSA
token="$(access_token)"

echo "== HTTP, ${SECONDS_PER_RUN}s per scenario, 2 wrk threads, ${CONNECTIONS} connections"
load "POST /api/auth/login" -s bench/login.lua "${BASE}/api/auth/login"
load "GET /api/auth/me (bearer)" -H "Authorization: Bearer ${token}" "${BASE}/api/auth/me"

PORTCULLIS_ISSUER="${ISSUER}" PORTCULLIS_BASE_URL="${BASE}" TASKS_ADDR="127.0.0.1:${TASKS_PORT}" \
    TASKS_DATABASE_URL="sqlite://${work}/tasks.db" RUST_LOG=warn target/release/tasks-api >"${work}/tasks.log" 2>&1 &
pids+=($!)
user="$(python3 -c 'import base64,json,sys; p=sys.argv[1].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["sub"])' "${token}")"
for _ in $(seq 100); do
    curl -fs -o /dev/null -H "Authorization: Bearer ${token}" "http://127.0.0.1:${TASKS_PORT}/api/${user}/tasks" && break
    sleep 0.1
done
curl -fs -o /dev/null -X POST -H "Authorization: Bearer ${token}" -H 'content-type: application/json' \
    -d '{"title":"benchmark task"}' "http://127.0.0.1:${TASKS_PORT}/api/${user}/tasks"
load "GET tasks-api /api/{user}/tasks" -H "Authorization: Bearer ${token}" "http://127.0.0.1:${TASKS_PORT}/api/${user}/tasks"

echo "== portcullis-verify, one core"
target/release/examples/throughput "${BASE}" "${ISSUER}" EdDSA "${token}"
stop_server
for alg in ES256 RS256; do
    start_server "${alg}"
    target/release/examples/throughput "${BASE}" "${ISSUER}" "${alg}" "$(access_token)"
    stop_server
done
