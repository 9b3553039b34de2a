#!/usr/bin/env bash
# Benchmarks, all on 127.0.0.1 against release builds:
#   1. the time of one Argon2id hash (and the sign-in ceiling it implies);
#   2. sign-in and GET /api/auth/me (bearer), driven by wrk: req/s, p50, p99;
#   3. portcullis-verify throughput on one core, for EdDSA, ES256 and RS256;
#   4. the example tasks API's authenticated GET, driven by wrk;
#   5. GET /api/admin/users?q= over BENCH_USERS users (default 1,000,000), seeded once into
#      bench/out by bench/users.py and `portcullis users import` (progress bar on a terminal),
#      on SQLite and, with BENCH_DATABASE_URL=postgres://…, also on PostgreSQL.
#
#   bench/run.sh                  # 20 s per wrk scenario
#   bench/run.sh search           # only the admin search scenarios
#   bench/run.sh memory           # only the server's RSS: idle, during and after floods
#   bench/run.sh limiter          # what a rate-limit check costs, in memory and in Redis
#   BENCH_DATABASE_URL=postgres://… bench/run.sh nodes
#                                 # sign-in and /me through one node and through three
#                                 # sharing PostgreSQL and Redis (BENCH_REDIS_URL)
#   bench/run.sh growth           # sign-in and /me at 10,000 and at 1,000,000 users (SQLite)
#   BENCH_SECONDS=5 BENCH_USERS=100000 bench/run.sh  # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${BENCH_SECONDS:-20}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
PORT="${BENCH_PORT:-18181}"
TASKS_PORT="${BENCH_TASKS_PORT:-18182}"
# The server under test; another build (an earlier commit's, say) can be measured the same way.
SERVER_BIN="${BENCH_SERVER_BIN:-target/release/portcullis}"
BASE="http://127.0.0.1:${PORT}"
ISSUER="http://localhost:8080"

if ! command -v wrk >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet -p portcullis
if [ "${1:-all}" = limiter ]; then
    cargo run --release --quiet -p portcullis --example limiter "${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"
    exit 0
fi
if [ "${1:-all}" != memory ] && [ "${1:-all}" != nodes ] && [ "${1:-all}" != growth ]; then
    cargo build --release --quiet -p tasks-api
    cargo build --release --quiet -p portcullis-verify --example throughput
    cargo build --release --quiet -p portcullis-core --example hash_time
fi

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "${pid}" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "${work}"
}
trap cleanup EXIT

# Starts the server with signing algorithm $1 on data directory $2 (default: a fresh one)
# and, when given, database $3; waits until it answers.
start_server() {
    local data="${2:-${work}/$1}"
    mkdir -p "${data}"
    PORTCULLIS_ADDR="127.0.0.1:${PORT}" PORTCULLIS_DATA_DIR="${data}" PORTCULLIS_JWT_ALG="$1" \
        DATABASE_URL="${3:-sqlite://${data}/portcullis.db}" \
        PORTCULLIS_RATE_LIMIT=off RUST_LOG=warn "${SERVER_BIN}" >"${work}/server.log" 2>&1 &
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
    sign_in "${BENCH_LOGIN_BODY}"
}

# Prints the access token of the sign-in with body $1.
sign_in() {
    curl -fs -X POST "${BASE}/api/auth/login" -H 'content-type: application/json' -d "$1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

summarise() {
    awk -v name="$1" '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 }
        /^ +99%/ { p99 = $2 }
        /Non-2xx/ { errors = $NF }
        /Socket errors/ { timeouts = $NF }
        END { printf "%-40s %9s req/s   p50 %8s   p99 %8s   non-2xx %s   timeouts %s\n", name, rps, p50, p99, errors + 0, timeouts + 0 }'
}

load() {
    local name="$1"
    shift
    wrk -t"$((CONNECTIONS < 2 ? 1 : 2))" -c"${CONNECTIONS}" -d"${SECONDS_PER_RUN}s" --timeout 30s --latency "$@" |
        summarise "${name}"
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"

# Everything but the admin search; skipped by `bench/run.sh search`.
core_scenarios() {
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
}

# Searches: a user or a handful (the usual admin search), and thousands to a quarter of all.
SELECTIVE="hopper.4242,lovelace.12345,turing.777,knuth.31337,radia99,nobody-at-all"
BROAD="knuth,Grace%20Hopper,example.org"
ADMIN_BODY='{"email":"bench-admin@example.com","password":"correct horse battery staple admin"}'

# Seeds BENCH_USERS users and an admin into data directory $1 and database $2, once.
seed_users() {
    local data="$1" database="$2" users="${BENCH_USERS:-1000000}"
    [ -f "${data}/seeded-${users}" ] && return 0
    rm -rf "${data}" && mkdir -p "${data}"
    echo "== seeding ${users} users into ${database%%:*} (bench/users.py | portcullis users import)"
    python3 bench/users.py "${users}" >"${data}/users.jsonl"
    local start="${SECONDS}"
    DATABASE_URL="${database}" PORTCULLIS_DATA_DIR="${data}" RUST_LOG=warn \
        target/release/portcullis users import "${data}/users.jsonl"
    echo "seeded in $((SECONDS - start)) s"
    python3 -c 'import json,sys; print(json.loads(sys.argv[1])["password"])' "${ADMIN_BODY}" |
        DATABASE_URL="${database}" PORTCULLIS_DATA_DIR="${data}" RUST_LOG=warn \
            target/release/portcullis admin create --email bench-admin@example.com >/dev/null
    rm "${data}/users.jsonl"
    touch "${data}/seeded-${users}"
}

# The admin search scenarios on database $1 (label $2), seeded under bench/out/$2.
admin_search() {
    local data="bench/out/search-$2"
    seed_users "${data}" "$1"
    start_server EdDSA "${data}" "$1"
    local admin
    admin="$(sign_in "${ADMIN_BODY}")"
    local auth="Authorization: Bearer ${admin}"
    echo "== GET /api/admin/users over ${BENCH_USERS:-1000000} users, $2; one connection (an admin at a time), then ${CONNECTIONS}"
    CONNECTIONS=1 load "no q (first page and total)" -H "${auth}" "${BASE}/api/admin/users"
    SEARCHES="${SELECTIVE}" CONNECTIONS=1 load "q= a user or a handful" \
        -s bench/admin_search.lua -H "${auth}" "${BASE}"
    SEARCHES="${BROAD}" CONNECTIONS=1 load "q= 3k to 250k matches" \
        -s bench/admin_search.lua -H "${auth}" "${BASE}"
    SEARCHES="${SELECTIVE}" load "q= a user or a handful, ${CONNECTIONS} conn." \
        -s bench/admin_search.lua -H "${auth}" "${BASE}"
    stop_server
}

# The server's resident memory in MiB.
rss() {
    awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/${server}/status"
}

# Drives wrk with arguments $2… for BENCH_MEMORY_SECONDS (default 8) while sampling the
# server's RSS every 0.25 s; prints it before, at its peak, and 5 s after the flood.
memory_flood() {
    local name="$1" before peak now driver
    shift
    before="$(rss)"
    peak="${before}"
    wrk -t2 -c"${CONNECTIONS}" -d"${BENCH_MEMORY_SECONDS:-8}s" --timeout 30s "$@" >/dev/null &
    driver=$!
    while kill -0 "${driver}" 2>/dev/null; do
        now="$(rss)"
        peak="$(awk -v a="${peak}" -v b="${now}" 'BEGIN { print (b > a) ? b : a }')"
        sleep 0.25
    done
    sleep 5
    printf "%-40s before %7s MiB   peak %7s MiB   after %7s MiB\n" "${name}" "${before}" "${peak}" "$(rss)"
}

memory_scenarios() {
    export BENCH_LOGIN_BODY='{"email":"bench@example.com","password":"correct horse battery staple"}'
    start_server EdDSA
    sleep 2
    echo "== RSS of ${SERVER_BIN}, ${CONNECTIONS} connections, ${BENCH_MEMORY_SECONDS:-8} s per flood"
    echo "started, no request yet: $(rss) MiB"
    local token
    token="$(access_token)"
    sleep 2
    echo "idle after one sign-up and one sign-in: $(rss) MiB"
    memory_flood "POST /api/auth/login" -s bench/login.lua "${BASE}/api/auth/login"
    memory_flood "GET /api/auth/me (bearer)" -H "Authorization: Bearer ${token}" "${BASE}/api/auth/me"
    memory_flood "POST /api/auth/login, again" -s bench/login.lua "${BASE}/api/auth/login"
    stop_server
}

# Node $1 of the cluster on port $2: the shared database, Redis and secret; limits on (so
# every sign-in asks Redis) but too high to refuse the benchmark's one user.
start_node() {
    local data="${work}/node$1"
    mkdir -p "${data}"
    PORTCULLIS_ADDR="127.0.0.1:$2" PORTCULLIS_DATA_DIR="${data}" DATABASE_URL="${BENCH_DATABASE_URL}" \
        PORTCULLIS_SECRET="${cluster_secret}" REDIS_URL="${redis_url}" PORTCULLIS_REDIS_PREFIX="bench-$$" \
        PORTCULLIS_RATE_LIMITS="login=1000000/1m" PORTCULLIS_LOCKOUT_THRESHOLD=1000000 \
        RUST_LOG=warn "${SERVER_BIN}" >"${work}/node$1.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$2/health" >/dev/null && return 0
        sleep 0.1
    done
    echo "node $1 did not start" >&2
    exit 1
}

# wrk arguments $2… (with NODE for the node's base URL) against each of $1 nodes at once,
# CONNECTIONS spread over them; prints the sum of their rates and the worst p99.
load_nodes() {
    local count="$1" name="$2"
    shift 2
    local per=$(( (CONNECTIONS + count - 1) / count )) drivers=()
    for n in $(seq 0 $((count - 1))); do
        local base="http://127.0.0.1:$((PORT + n))"
        wrk -t1 -c"${per}" -d"${SECONDS_PER_RUN}s" --timeout 30s --latency "${@/NODE/${base}}" \
            >"${work}/wrk-${n}.txt" &
        drivers+=($!)
    done
    wait "${drivers[@]}"
    cat "${work}"/wrk-*.txt | awk -v name="${name}" -v nodes="${count}" '
        /Requests\/sec/ { rps += $2 }
        /^ +99%/ { p = $2; ms = (p ~ /us$/) ? p / 1000 : (p ~ /ms$/) ? p + 0 : p * 1000; if (ms > worst) worst = ms }
        /Non-2xx/ { errors += $NF }
        END { printf "%-40s %9.1f req/s   worst p99 %8.2fms   non-2xx %d   (%d node%s)\n", name, rps, worst, errors, nodes, (nodes > 1 ? "s" : "") }'
    rm -f "${work}"/wrk-*.txt
}

nodes_scenarios() {
    [ -n "${BENCH_DATABASE_URL:-}" ] || { echo "bench/run.sh nodes needs BENCH_DATABASE_URL=postgres://…" >&2; exit 1; }
    redis_url="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"
    cluster_secret="$(head -c 32 /dev/urandom | base64)"
    DATABASE_URL="${BENCH_DATABASE_URL}" PORTCULLIS_SECRET="${cluster_secret}" \
        PORTCULLIS_DATA_DIR="${work}" RUST_LOG=warn "${SERVER_BIN}" migrate >/dev/null
    for n in 0 1 2; do start_node "${n}" "$((PORT + n))"; done
    export BENCH_LOGIN_BODY='{"email":"bench-nodes@example.com","password":"correct horse battery staple"}'
    local token
    token="$(access_token)"
    echo "== one node and three, PostgreSQL and Redis shared, ${SECONDS_PER_RUN}s, ${CONNECTIONS} connections in all, limits on"
    for count in 1 3; do
        load_nodes "${count}" "POST /api/auth/login" -s bench/login.lua NODE/api/auth/login
        load_nodes "${count}" "GET /api/auth/me (bearer)" -H "Authorization: Bearer ${token}" NODE/api/auth/me
    done
}

# Sign-in and GET /api/auth/me (bearer) at 10,000 and at 1,000,000 users on SQLite, each
# population seeded once under bench/out: what the number of accounts costs the hot paths.
growth_scenarios() {
    local users data database token
    for users in 10000 1000000; do
        data="bench/out/growth-${users}"
        database="sqlite://$(pwd)/${data}/portcullis.db"
        BENCH_USERS="${users}" seed_users "${data}" "${database}"
        start_server EdDSA "${data}" "${database}"
        token="$(sign_in "${ADMIN_BODY}")"
        echo "== ${users} users, ${SECONDS_PER_RUN}s per scenario, ${CONNECTIONS} connections"
        BENCH_LOGIN_BODY="${ADMIN_BODY}" load "POST /api/auth/login" -s bench/login.lua "${BASE}/api/auth/login"
        load "GET /api/auth/me (bearer)" -H "Authorization: Bearer ${token}" "${BASE}/api/auth/me"
        stop_server
    done
}

if [ "${1:-all}" = growth ]; then
    growth_scenarios
    exit 0
fi
if [ "${1:-all}" = memory ]; then
    memory_scenarios
    exit 0
fi
if [ "${1:-all}" = nodes ]; then
    nodes_scenarios
    exit 0
fi
[ "${1:-all}" = search ] || core_scenarios
admin_search "sqlite://$(pwd)/bench/out/search-sqlite/portcullis.db" sqlite
if [ -n "${BENCH_DATABASE_URL:-}" ]; then
    admin_search "${BENCH_DATABASE_URL}" postgres
fi
