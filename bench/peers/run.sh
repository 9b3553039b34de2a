#!/usr/bin/env bash
# Portcullis side by side with Better-Auth, fastapi-users and a bare axum ceiling: the same
# HTTP scenarios under wrk against each, on 127.0.0.1 (see bench/peers/README.md).
#
#   bench/peers/run.sh            # install what is missing, then every target, every scenario
#   bench/peers/run.sh install    # only install (npm ci, the venv, wrk, the ceiling's build)
#
#   BENCH_SECONDS=3                                   whole seconds per scenario (default 10)
#   BENCH_TARGETS=portcullis-sqlite,ceiling           a subset of portcullis-sqlite,
#                                                     portcullis-postgres, better-auth,
#                                                     fastapi-users, ceiling
#   BENCH_SERVER_BIN=/path/to/portcullis              default: target/release/portcullis of the
#                                                     repository (built beforehand)
#   BENCH_WARMUP=2                                    seconds of unrecorded load before a target's
#                                                     scenarios (0: none)
#   BENCH_REFRESH_SESSIONS=64                         sessions pre-created for the refresh scenario
#   BENCH_PG_BASE=postgres://postgres@127.0.0.1:5432  the PostgreSQL server (trust auth)
#   BENCH_PORT=18310                                  first of the ports used (+0, +10, +20, +30)
#   CARGO_TARGET_DIR                                  where the ceiling is built (default
#                                                     bench/peers/ceiling/target)
#   BENCH_KEEP=1                                      keep the scratch directory (logs, raw wrk output)
#
# Results: bench/peers/results/<run id>.{json,md,svg}; the markdown is also printed.
set -euo pipefail

invoked_from="$(pwd)"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
HELPER=(python3 "${HERE}/bench.py")

SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
WARMUP="${BENCH_WARMUP:-2}"
SESSIONS="${BENCH_REFRESH_SESSIONS:-64}"
TARGETS="${BENCH_TARGETS:-portcullis-sqlite,portcullis-postgres,better-auth,fastapi-users,ceiling}"
PG_BASE="${BENCH_PG_BASE:-postgres://postgres@127.0.0.1:5432}"
PORT_BASE="${BENCH_PORT:-18310}"
PORT_PORTCULLIS="${PORT_BASE}"
PORT_BETTER_AUTH="$((PORT_BASE + 10))"
PORT_FASTAPI_USERS="$((PORT_BASE + 20))"
PORT_CEILING="$((PORT_BASE + 30))"
CONNECTIONS=16
FLOOD_CONNECTIONS=64
CEILING_TARGET_DIR="${CARGO_TARGET_DIR:-${HERE}/ceiling/target}"
CEILING_BIN="${CEILING_TARGET_DIR}/release/bench-ceiling"
VENV="${HERE}/.venv"
if [ -n "${BENCH_SERVER_BIN:-}" ]; then
    case "${BENCH_SERVER_BIN}" in
        /*) SERVER_BIN="${BENCH_SERVER_BIN}" ;;
        *) SERVER_BIN="${invoked_from}/${BENCH_SERVER_BIN}" ;;
    esac
else
    SERVER_BIN="${ROOT}/target/release/portcullis"
fi
MODE="${1:-all}"
case "${MODE}" in
    all | install) ;;
    *)
        echo "usage: $0 [all|install]" >&2
        exit 2
        ;;
esac

ALL_TARGETS=" portcullis-sqlite portcullis-postgres better-auth fastapi-users ceiling "
IFS=',' read -r -a SELECTED <<<"${TARGETS}"
for target in "${SELECTED[@]}"; do
    if [[ "${ALL_TARGETS}" != *" ${target} "* ]]; then
        echo "unknown target '${target}'; known:${ALL_TARGETS}" >&2
        exit 2
    fi
done
selected() { [[ ",${TARGETS}," == *",$1,"* ]]; }

log() { printf '== %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------
# Installation: each step is skipped when its lock file's hash matches the last install.

install_wrk() {
    command -v wrk >/dev/null 2>&1 && return 0
    log "installing wrk (apt)"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
}

install_better_auth() {
    local dir="${HERE}/better-auth" stamp want
    stamp="${dir}/node_modules/.bench-installed"
    want="$(sha256sum "${dir}/package-lock.json" | cut -d' ' -f1)"
    if [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${want}" ]; then return 0; fi
    log "installing Better-Auth (npm ci from better-auth/package-lock.json)"
    (cd "${dir}" && npm ci --no-audit --no-fund --loglevel=error)
    echo "${want}" >"${stamp}"
}

install_fastapi_users() {
    local requirements="${HERE}/fastapi-users/requirements.txt" stamp want
    stamp="${VENV}/.bench-installed"
    want="$(sha256sum "${requirements}" | cut -d' ' -f1)"
    if [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${want}" ]; then return 0; fi
    log "installing fastapi-users into ${VENV} (pip, fastapi-users/requirements.txt)"
    [ -x "${VENV}/bin/python" ] || python3 -m venv "${VENV}"
    # Every package is pinned there, dependencies included, so pip resolves nothing itself.
    "${VENV}/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "${requirements}"
    "${VENV}/bin/pip" check --disable-pip-version-check >/dev/null
    echo "${want}" >"${stamp}"
}

# The bare Argon2id baseline: portcullis-core's hash_time example, the same parameters as the
# server's, verifying on as many threads as there are cores.
build_hash_baseline() {
    log "building the Argon2id baseline (cargo --release --locked, portcullis-core's hash_time)"
    (cd "${ROOT}" && cargo build --release --locked --quiet -p portcullis-core --example hash_time)
}

build_ceiling() {
    log "building the ceiling (cargo --release --locked, into ${CEILING_TARGET_DIR})"
    CARGO_TARGET_DIR="${CEILING_TARGET_DIR}" cargo build --release --locked --quiet \
        --manifest-path "${HERE}/ceiling/Cargo.toml"
}

install_all() {
    install_wrk
    if selected better-auth; then install_better_auth; fi
    if selected fastapi-users; then install_fastapi_users; fi
    if selected ceiling; then build_ceiling; fi
    if selected portcullis-sqlite || selected portcullis-postgres; then
        build_hash_baseline
        if [ ! -x "${SERVER_BIN}" ]; then
            echo "no Portcullis binary at ${SERVER_BIN}: build it (cargo build --release -p portcullis)" \
                "or point BENCH_SERVER_BIN at one" >&2
            [ "${MODE}" = install ] || exit 1
        fi
    fi
    if ! selected ceiling || [ "${#SELECTED[@]}" -gt 1 ]; then
        command -v psql >/dev/null 2>&1 || {
            echo "psql is needed (apt-get install postgresql-client)" >&2
            exit 1
        }
    fi
}

install_all
[ "${MODE}" = install ] && exit 0

# ---------------------------------------------------------------------------------------
# Processes: every server is started here, in the background, and stopped by its PID (and
# those of the workers it forked, remembered with their start times) at the end, however
# the script ends.

WORK="$(mktemp -d /tmp/bench-peers.XXXXXX)"
ROOTS=() # PIDs of the processes this script started

# The start time of process $1 (clock ticks since boot), or nothing if it is gone.
start_time() { { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null || true; } | cut -d' ' -f20; }

# Stops process $1 (started by this script) and the processes of its tree.
stop_tree() {
    local root="$1" tree
    tree="$("${HELPER[@]}" pids "${root}" 2>/dev/null || true)"
    kill -TERM "${root}" 2>/dev/null || true
    for _ in $(seq 100); do
        local state
        state="$({ sed 's/.*) //' "/proc/${root}/stat" 2>/dev/null || true; } | cut -d' ' -f1)"
        [ -z "${state}" ] || [ "${state}" = Z ] && break
        sleep 0.1
    done
    kill -KILL "${root}" 2>/dev/null || true
    wait "${root}" 2>/dev/null || true
    # Workers that outlived it: only those still carrying the start time seen above.
    local pid started
    while read -r pid started; do
        [ -n "${pid}" ] || continue
        if [ "$(start_time "${pid}")" = "${started}" ]; then
            kill -KILL "${pid}" 2>/dev/null || true
        fi
    done <<<"${tree}"
}

cleanup() {
    local status=$?
    local i
    for ((i = ${#ROOTS[@]} - 1; i >= 0; i--)); do
        stop_tree "${ROOTS[i]}"
    done
    if [ "${BENCH_KEEP:-0}" = 1 ] || [ "${status}" -ne 0 ]; then
        echo "scratch directory kept: ${WORK}" >&2
    else
        rm -rf "${WORK}"
    fi
    exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SERVER_PID=""
SERVER_DB=""

# Fails if something already listens on port $1: the numbers would be someone else's.
port_free() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        echo "port $1 is already in use; set BENCH_PORT to another range" >&2
        exit 1
    fi
}

# Starts "$@" in the background with output to log $1 ... as the server under test.
start_server() {
    local logfile="$1"
    shift
    "$@" >"${logfile}" 2>&1 &
    SERVER_PID=$!
    ROOTS+=("${SERVER_PID}")
}

# Waits until URL $1 answers anything over HTTP (60 s at most).
wait_ready() {
    local url="$1" logfile="$2"
    for _ in $(seq 600); do
        if ! kill -0 "${SERVER_PID}" 2>/dev/null; then
            echo "the server exited; its log (${logfile}):" >&2
            tail -n 30 "${logfile}" >&2
            exit 1
        fi
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${url}" || true)" != 000 ] && return 0
        sleep 0.1
    done
    echo "no answer from ${url} within 60 s; log (${logfile}):" >&2
    tail -n 30 "${logfile}" >&2
    exit 1
}

stop_server() {
    stop_tree "${SERVER_PID}"
    local kept=() pid
    for pid in "${ROOTS[@]}"; do [ "${pid}" = "${SERVER_PID}" ] || kept+=("${pid}"); done
    ROOTS=("${kept[@]+"${kept[@]}"}")
    SERVER_PID=""
}

recreate_database() {
    psql "${PG_BASE}/postgres" -v ON_ERROR_STOP=1 -qX \
        -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null 2>"${WORK}/psql.err" || {
        echo "could not recreate database $1 (another session connected to it?):" >&2
        cat "${WORK}/psql.err" >&2
        exit 1
    }
}

# ---------------------------------------------------------------------------------------
# Measurement

RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)"
RUN_DIR="${WORK}/run"
mkdir -p "${RUN_DIR}" "${HERE}/results"
RECORDS="${RUN_DIR}/records.jsonl"
MEMORY="${RUN_DIR}/memory.jsonl"

# One wrk process: output JSON $1, connections $2, script $3 (in lua/), URL $4, then more
# wrk arguments. The script reads its settings from BENCH_* variables set by the caller.
# wrk bounds itself to SECONDS_PER_RUN; timeout(1) bounds it again in case it hangs.
run_wrk() {
    local out="$1" connections="$2" script="$3" url="$4"
    shift 4
    BENCH_WRK_OUT="${out}" BENCH_LUA_DIR="${HERE}/lua" BENCH_THREADS=1 BENCH_RUN_ID="${RUN_ID}" \
        timeout --foreground --kill-after=5 "$((${SECONDS_PER_RUN%.*} + 60))" \
        wrk -t1 -c"${connections}" -d"${SECONDS_PER_RUN}s" --timeout 30s \
        -s "${HERE}/lua/${script}" "$@" "${url}" >"${out%.json}.txt" 2>&1 || {
        echo "wrk failed; its output:" >&2
        cat "${out%.json}.txt" >&2
        exit 1
    }
}

sample() { "${HELPER[@]}" sample "${SERVER_PID}" ${SERVER_DB:+--postgres} >"$1"; }

# scenario TARGET NAME CONNECTIONS SCRIPT URL [wrk arguments…]: one recorded wrk run, with
# the server tree's CPU time read before and after.
scenario() {
    local target="$1" name="$2" connections="$3" script="$4" url="$5"
    shift 5
    local dir="${RUN_DIR}/${target}/${name}"
    mkdir -p "${dir}"
    printf '   %-24s' "${name}" >&2
    sample "${dir}/before.json"
    run_wrk "${dir}/main.json" "${connections}" "${script}" "${url}" "$@"
    sample "${dir}/after.json"
    "${HELPER[@]}" record "${RECORDS}" --target "${target}" --scenario "${name}" \
        --connections "${connections}" --seconds "${SECONDS_PER_RUN}" \
        --before "${dir}/before.json" --after "${dir}/after.json" --wrk "main=${dir}/main.json"
    { grep -E 'Requests/sec|Non-2xx|Socket errors' "${dir}/main.txt" || true; } | tr -s ' ' | paste -sd ';' >&2
}

# A sign-in flood (64 connections) and GET me with a bearer token (16 connections) at once.
flood() {
    local target="$1" base="$2" bearer="$3"
    local dir="${RUN_DIR}/${target}/flood"
    mkdir -p "${dir}"
    printf '   %-24s' flood >&2
    sample "${dir}/before.json"
    BENCH_BODY="${SIGNIN_BODY}" BENCH_CONTENT_TYPE="${SIGNIN_TYPE}" \
        run_wrk "${dir}/signin.json" "${FLOOD_CONNECTIONS}" post.lua "${base}${SIGNIN_PATH}" &
    local signin=$!
    run_wrk "${dir}/me.json" "${CONNECTIONS}" get.lua "${base}${ME_PATH}" -H "${bearer}" &
    local me=$!
    wait "${signin}"
    wait "${me}"
    sample "${dir}/after.json"
    "${HELPER[@]}" record "${RECORDS}" --target "${target}" --scenario flood \
        --connections "${FLOOD_CONNECTIONS}+${CONNECTIONS}" --seconds "${SECONDS_PER_RUN}" \
        --before "${dir}/before.json" --after "${dir}/after.json" \
        --wrk "signin=${dir}/signin.json" --wrk "me=${dir}/me.json"
    echo "sign-in $(grep -hE 'Requests/sec' "${dir}/signin.txt" || true);" \
        "me $(grep -hE 'Requests/sec' "${dir}/me.txt" || true)" | tr -s ' ' >&2
}

warm_up() {
    [ "${WARMUP%.*}" -gt 0 ] 2>/dev/null || return 0
    local saved="${SECONDS_PER_RUN}"
    SECONDS_PER_RUN="${WARMUP}"
    mkdir -p "${WORK}/warmup"
    run_wrk "${WORK}/warmup/$1-$2.json" "${CONNECTIONS}" "${@:2}"
    SECONDS_PER_RUN="${saved}"
}

# Everything but the ceiling: target $1 of kind $2 answering at $3.
auth_scenarios() {
    local target="$1" kind="$2" base="$3"
    eval "$("${HELPER[@]}" env "${kind}")"
    local creds="${WORK}/${target}-credentials"
    local sessions=0
    [ -n "${REFRESH_PATH}" ] && sessions="${SESSIONS}"
    "${HELPER[@]}" prepare "${kind}" "${base}" "${creds}" "${sessions}"
    local bearer cookie
    bearer="$(cat "${creds}/bearer_header")"
    cookie="$(cat "${creds}/cookie_header")"

    BENCH_BODY="${SIGNIN_BODY}" BENCH_CONTENT_TYPE="${SIGNIN_TYPE}" \
        warm_up "${target}" post.lua "${base}${SIGNIN_PATH}"
    warm_up "${target}" get.lua "${base}${ME_PATH}" -H "${bearer}"

    BENCH_BODY="${REGISTER_BODY}" BENCH_CONTENT_TYPE="${REGISTER_TYPE}" \
        scenario "${target}" register "${CONNECTIONS}" register.lua "${base}${REGISTER_PATH}"
    BENCH_BODY="${SIGNIN_BODY}" BENCH_CONTENT_TYPE="${SIGNIN_TYPE}" \
        scenario "${target}" signin "${CONNECTIONS}" post.lua "${base}${SIGNIN_PATH}"
    scenario "${target}" me-bearer "${CONNECTIONS}" get.lua "${base}${ME_PATH}" -H "${bearer}"
    scenario "${target}" me-cookie "${CONNECTIONS}" get.lua "${base}${ME_PATH}" -H "${cookie}"
    if [ -n "${REFRESH_PATH}" ]; then
        BENCH_TOKENS="${creds}/refresh_tokens" \
            scenario "${target}" refresh "${CONNECTIONS}" refresh.lua "${base}${REFRESH_PATH}"
    fi
    BENCH_BODY="${WRONG_PASSWORD_BODY}" BENCH_CONTENT_TYPE="${SIGNIN_TYPE}" \
        scenario "${target}" signin-wrong-password "${CONNECTIONS}" post.lua "${base}${SIGNIN_PATH}"
    BENCH_BODY="${UNKNOWN_ACCOUNT_BODY}" BENCH_CONTENT_TYPE="${SIGNIN_TYPE}" \
        scenario "${target}" signin-unknown-account "${CONNECTIONS}" post.lua "${base}${SIGNIN_PATH}"
    flood "${target}" "${base}" "${bearer}"
}

# Idle RSS once the server has settled after start (before any request but the readiness
# probe), and again when its scenarios are done.
idle_memory() {
    sleep 2
    "${HELPER[@]}" memory "${MEMORY}" "$1" idle_rss_kib "${SERVER_PID}"
}
after_memory() {
    sleep 2
    "${HELPER[@]}" memory "${MEMORY}" "$1" after_rss_kib "${SERVER_PID}"
}

run_portcullis() {
    local target="$1" base="http://127.0.0.1:${PORT_PORTCULLIS}"
    local data="${WORK}/${target}-data" database
    mkdir -p "${data}"
    if [ "${target}" = portcullis-postgres ]; then
        recreate_database bench_portcullis
        database="${PG_BASE}/bench_portcullis"
        SERVER_DB=bench_portcullis
        DATABASE_URL="${database}" PORTCULLIS_DATA_DIR="${data}" RUST_LOG=warn \
            "${SERVER_BIN}" migrate >"${WORK}/${target}-migrate.log" 2>&1 || {
            cat "${WORK}/${target}-migrate.log" >&2
            exit 1
        }
    else
        database="sqlite://${data}/portcullis.db"
        SERVER_DB=""
    fi
    port_free "${PORT_PORTCULLIS}"
    start_server "${WORK}/${target}.log" env PORTCULLIS_ADDR="127.0.0.1:${PORT_PORTCULLIS}" \
        PORTCULLIS_DATA_DIR="${data}" DATABASE_URL="${database}" PORTCULLIS_RATE_LIMIT=off \
        RUST_LOG=warn "${SERVER_BIN}" serve
    wait_ready "${base}/health" "${WORK}/${target}.log"
    idle_memory "${target}"
    auth_scenarios "${target}" portcullis "${base}"
    after_memory "${target}"
    stop_server
}

run_better_auth() {
    local base="http://127.0.0.1:${PORT_BETTER_AUTH}" dir="${HERE}/better-auth"
    recreate_database bench_better_auth
    SERVER_DB=bench_better_auth
    export BA_PORT="${PORT_BETTER_AUTH}" BA_DATABASE_URL="${PG_BASE}/bench_better_auth" BA_WORKERS=2
    export BETTER_AUTH_SECRET="bench-peers-better-auth-secret-not-for-production"
    export BETTER_AUTH_TELEMETRY=0 NODE_ENV=production
    (cd "${dir}" && node migrate.mjs) >"${WORK}/better-auth-migrate.log" 2>&1 || {
        cat "${WORK}/better-auth-migrate.log" >&2
        exit 1
    }
    port_free "${PORT_BETTER_AUTH}"
    start_server "${WORK}/better-auth.log" node "${dir}/server.mjs"
    wait_ready "${base}/api/auth/ok" "${WORK}/better-auth.log"
    idle_memory better-auth
    auth_scenarios better-auth better-auth "${base}"
    after_memory better-auth
    stop_server
}

run_fastapi_users() {
    local base="http://127.0.0.1:${PORT_FASTAPI_USERS}" dir="${HERE}/fastapi-users"
    recreate_database bench_fastapi_users
    SERVER_DB=bench_fastapi_users
    export FU_DATABASE_URL="postgresql+asyncpg://${PG_BASE#postgres://}/bench_fastapi_users"
    export FU_SECRET="bench-peers-fastapi-users-secret-not-for-production"
    (cd "${dir}" && "${VENV}/bin/python" create_tables.py) >"${WORK}/fastapi-users-tables.log" 2>&1 || {
        cat "${WORK}/fastapi-users-tables.log" >&2
        exit 1
    }
    port_free "${PORT_FASTAPI_USERS}"
    start_server "${WORK}/fastapi-users.log" "${VENV}/bin/uvicorn" app.app:app --app-dir "${dir}" \
        --host 127.0.0.1 --port "${PORT_FASTAPI_USERS}" --workers 2 --loop uvloop --http httptools \
        --log-level warning --no-access-log
    wait_ready "${base}/openapi.json" "${WORK}/fastapi-users.log"
    idle_memory fastapi-users
    auth_scenarios fastapi-users fastapi-users "${base}"
    after_memory fastapi-users
    stop_server
}

run_ceiling() {
    local base="http://127.0.0.1:${PORT_CEILING}"
    SERVER_DB=""
    port_free "${PORT_CEILING}"
    start_server "${WORK}/ceiling.log" env BENCH_CEILING_ADDR="127.0.0.1:${PORT_CEILING}" "${CEILING_BIN}"
    wait_ready "${base}/ceiling" "${WORK}/ceiling.log"
    idle_memory ceiling
    warm_up ceiling get.lua "${base}/ceiling"
    scenario ceiling ceiling "${CONNECTIONS}" get.lua "${base}/ceiling"
    after_memory ceiling
    stop_server
}

pg_version=""
if ! selected ceiling || [ "${#SELECTED[@]}" -gt 1 ]; then
    pg_version="$(psql "${PG_BASE}/postgres" -tAXc 'show server_version' 2>/dev/null || echo unknown)"
fi
portcullis_bin=""
hash_ceiling=""
if selected portcullis-sqlite || selected portcullis-postgres; then
    portcullis_bin="${SERVER_BIN}"
    log "the bare Argon2id hash on every core (the sign-in ceiling)"
    hash_ceiling="$("${ROOT}/target/release/examples/hash_time" |
        sed -n 's/^hashing ceiling: .* = \([0-9.]*\) sign-ins\/s$/\1/p')"
fi
"${HELPER[@]}" meta "${RUN_DIR}/meta.json" --run-id "${RUN_ID}" --seconds "${SECONDS_PER_RUN}" \
    --warmup "${WARMUP}" --sessions "${SESSIONS}" --targets "${TARGETS}" \
    ${portcullis_bin:+--server-bin "${portcullis_bin}"} ${hash_ceiling:+--hash-ceiling "${hash_ceiling}"} \
    --git-head "$(git -C "${ROOT}" rev-parse HEAD 2>/dev/null || echo unknown)" \
    --postgres-version "${pg_version:-unknown}"

log "run ${RUN_ID}: ${SECONDS_PER_RUN} s per scenario, targets ${TARGETS}"
for target in "${SELECTED[@]}"; do
    log "${target}"
    case "${target}" in
        portcullis-sqlite | portcullis-postgres) run_portcullis "${target}" ;;
        better-auth) run_better_auth ;;
        fastapi-users) run_fastapi_users ;;
        ceiling) run_ceiling ;;
    esac
done

"${HELPER[@]}" report "${RUN_DIR}" --out "${HERE}/results"
