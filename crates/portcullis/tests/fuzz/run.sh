#!/usr/bin/env bash
# API fuzzing: schemathesis against the live /api/openapi.json of a fresh server on loopback.
#
# Every documented operation is fuzzed anonymously, with a user's bearer token, with the same
# user's cookie session (cookies plus X-CSRF-Token), and with an admin's bearer token; then
# introspection with its secret. The checks: no 5xx, every response in the documented schema,
# with a documented status code and a documented content type. Any failure, or a run with
# fewer than FUZZ_MIN_CASES generated cases, fails the script.
#
#   crates/portcullis/tests/fuzz/run.sh          # builds the binary, or PORTCULLIS_BIN=path
#
# Settings (environment): FUZZ_EXAMPLES (max examples per operation and phase, default 200),
# FUZZ_MIN_CASES (default 5000), FUZZ_SEED (default fixed, so runs repeat), FUZZ_WORKERS
# (default 1), FUZZ_RUN_TIMEOUT (seconds per schemathesis run, default 180), FUZZ_KEEP=1 keeps
# the temporary directory (server log, reports).
#
# Sessions that end mid-run. Some operations end the very session a run authenticates with,
# after which every later request of that run would only get 401: sign-out, "revoke all my
# sessions", and revoking one session by id (schemathesis reuses ids it has seen in responses,
# so it does find the current session's id in GET /api/auth/sessions); for the admin also
# ban, delete, role change and session revocation of a user, who may be the admin (the
# last-admin guard holds only while there is one admin, and the fuzzer can promote the user).
# Each authenticated run therefore fuzzes every other operation first, then those last, in a run
# of their own with the same credentials: they are fuzzed authenticated until one ends the
# session, and get the (documented) 401 after that. A password or email change cannot succeed
# (the fuzzer does not know the password), so nothing else ends a session; the script checks
# that each session was still alive after its main run, so a run that silently fuzzed
# unauthenticated fails.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
here=crates/portcullis/tests/fuzz

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES="${FUZZ_EXAMPLES:-200}"
MIN_CASES="${FUZZ_MIN_CASES:-5000}"
SEED="${FUZZ_SEED:-20261201}"
# One worker: with several, Hypothesis parses source in threads at once and trips CPython
# 3.11's "AST constructor recursion depth mismatch" (python/cpython#106905), an error of the
# run rather than a finding. The server is not the bottleneck either way.
WORKERS="${FUZZ_WORKERS:-1}"
RUN_TIMEOUT="${FUZZ_RUN_TIMEOUT:-180}"
PASSWORD='fuzzing horse battery staple'
INTROSPECTION_SECRET='fuzz-introspection-secret-0123456789abcdef'

# Schemathesis of the python3 on PATH (its `st` script may sit elsewhere, or nowhere on PATH).
st=(python3 -c 'import sys; from schemathesis.cli import schemathesis; sys.argv[0] = "st"; schemathesis()')
installed="$(python3 -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true)"
if [[ "${installed}" != "${SCHEMATHESIS_VERSION}" ]]; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        "schemathesis==${SCHEMATHESIS_VERSION}"
fi

if [[ -z "${PORTCULLIS_BIN:-}" ]]; then
    cargo build -p portcullis --locked --quiet
    PORTCULLIS_BIN="${CARGO_TARGET_DIR:-target}/debug/portcullis"
fi
[[ -x "${PORTCULLIS_BIN}" ]] || { echo "fuzz: no binary at ${PORTCULLIS_BIN}" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-fuzz.XXXXXX")"
server_pid=""
cleanup() {
    if [[ -n "${server_pid}" ]] && kill -0 "${server_pid}" 2>/dev/null; then
        kill "${server_pid}" 2>/dev/null || true
        wait "${server_pid}" 2>/dev/null || true
    fi
    if [[ "${FUZZ_KEEP:-0}" == 1 ]]; then
        echo "fuzz: kept ${work}"
    else
        rm -rf "${work}"
    fi
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:${port}"

# A fresh development server on loopback: its own SQLite file and secret in the temp dir; sign-in
# without a verified address (so a sign-up can sign in); introspection switched on so that it is
# fuzzed past its 404. Mail goes to the (discarded) log.
server_env=(
    env -i PATH="${PATH}" HOME="${work}"
    PORTCULLIS_ENV=development
    PORTCULLIS_ADDR="127.0.0.1:${port}"
    PORTCULLIS_PUBLIC_URL="${base}"
    PORTCULLIS_DATA_DIR="${work}/data"
    DATABASE_URL="sqlite://${work}/data/portcullis.db"
    PORTCULLIS_REQUIRE_EMAIL_VERIFICATION=false
    PORTCULLIS_REGISTRATION_OPEN=true
    PORTCULLIS_INTROSPECTION_SECRET="${INTROSPECTION_SECRET}"
    PORTCULLIS_LOG_FORMAT=json
    RUST_LOG=warn
)
mkdir -p "${work}/data"
"${server_env[@]}" "${PORTCULLIS_BIN}" serve >"${work}/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 300); do
    if curl -fsS --max-time 2 "${base}/health/ready" >/dev/null 2>&1; then
        break
    fi
    kill -0 "${server_pid}" 2>/dev/null || { cat "${work}/server.log" >&2; exit 1; }
    sleep 0.1
done
curl -fsS --max-time 2 "${base}/health/ready" >/dev/null || {
    echo "fuzz: the server did not become ready" >&2
    cat "${work}/server.log" >&2
    exit 1
}
echo "== fuzz: server on ${base} (pid ${server_pid})"

session() { python3 "${here}/session.py" "${base}" "$@"; }
# KEY=VALUE lines from session.py into shell variables.
read_vars() {
    local line
    while IFS= read -r line; do
        printf -v "${line%%=*}" '%s' "${line#*=}"
    done
}

# sign COMMAND EMAIL: session.py with the password on its standard input; a failure stops here.
sign() {
    local out
    out="$(echo "${PASSWORD}" | session "$@")"
    read_vars <<<"${out}"
}

user_email="fuzz-user@example.com"
admin_email="fuzz-admin@example.com"
sign register "${user_email}"
sign bearer "${user_email}"
user_access="${ACCESS}"
sign cookie "${user_email}"
user_cookie="${COOKIE}" user_csrf="${CSRF}"
echo "${PASSWORD}" | "${server_env[@]}" "${PORTCULLIS_BIN}" admin create --email "${admin_email}" \
    >"${work}/admin.log" 2>&1 || { cat "${work}/admin.log" >&2; exit 1; }
sign bearer "${admin_email}"
admin_access="${ACCESS}"

# The operations that end the session they are called with (see the top of this file).
user_ending=(logout revoke_sessions revoke_session)
admin_ending=("${user_ending[@]}" ban_user delete_user set_role admin_revoke_sessions admin_revoke_session)
# only OPERATION_ID... / except OPERATION_ID...: schemathesis filter arguments.
only() { for id in "$@"; do printf -- '--include-operation-id\n%s\n' "${id}"; done; }
except() { for id in "$@"; do printf -- '--exclude-operation-id\n%s\n' "${id}"; done; }
mapfile -t user_main < <(except "${user_ending[@]}")
mapfile -t admin_main < <(except "${admin_ending[@]}")
mapfile -t user_last < <(only "${user_ending[@]}")
mapfile -t admin_last < <(only "${admin_ending[@]}")
bearer_user=(-H "Authorization: Bearer ${user_access}")
cookie_user=(-H "Cookie: ${user_cookie}" -H "X-CSRF-Token: ${user_csrf}")
bearer_admin=(-H "Authorization: Bearer ${admin_access}")

failed=0
summary=""

# fuzz NAME MIN_CASES [schemathesis arguments...]: one schemathesis run, bounded in time; its
# generated-case count is read from its JSON report.
fuzz() {
    local name="$1" min="$2" examples="${EXAMPLES}"
    shift 2
    # The admin's main run leaves out more operations; it gets more examples of the rest.
    if [[ "${name}" == admin-bearer ]]; then
        examples=$((EXAMPLES * 3 / 2))
    fi
    local dir="${work}/${name}"
    mkdir -p "${dir}"
    echo "== fuzz: ${name}"
    local status=0
    # From the temp dir: schemathesis keeps a cache in ./.schemathesis.
    (cd "${dir}" && timeout --kill-after=10 "${RUN_TIMEOUT}" "${st[@]}" run "${base}/api/openapi.json" \
        --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
        --phases examples,coverage,fuzzing \
        --max-examples "${examples}" \
        --seed "${SEED}" \
        --workers "${WORKERS}" \
        --request-timeout 10 \
        --max-redirects 0 \
        --continue-on-failure \
        --generation-database none \
        --suppress-health-check all \
        --no-color \
        --report ndjson --report-ndjson-path "${dir}/events.ndjson" \
        "$@") >"${dir}/output.txt" 2>&1 || status=$?
    tail -n 40 "${dir}/output.txt"
    local cases
    cases="$(python3 - "${dir}/events.ndjson" <<'EOF'
import json, sys
total = 0
try:
    with open(sys.argv[1]) as f:
        for line in f:
            event = json.loads(line)
            for kind, body in event.items():
                if kind == "ScenarioFinished" and isinstance(body, dict):
                    recorder = body.get("recorder") or {}
                    total += len(recorder.get("cases") or {})
except FileNotFoundError:
    pass
print(total)
EOF
)"
    summary+="$(printf '%-22s %6s cases, exit %s' "${name}" "${cases}" "${status}")"$'\n'
    if [[ "${status}" != 0 ]]; then
        echo "fuzz: ${name} failed (exit ${status}); server log: ${work}/server.log" >&2
        failed=1
    fi
    if (( cases < min )); then
        echo "fuzz: ${name} generated ${cases} cases, fewer than ${min}" >&2
        failed=1
    fi
}

alive() {
    session alive "$1" "$2" || { echo "fuzz: the $3 session died during its main run" >&2; failed=1; }
}
fuzz anonymous "${MIN_CASES}"
fuzz user-bearer "${MIN_CASES}" "${user_main[@]}" "${bearer_user[@]}"
alive bearer "${user_access}" user-bearer
fuzz user-cookie "${MIN_CASES}" "${user_main[@]}" "${cookie_user[@]}"
alive cookie "${user_cookie}" user-cookie
fuzz admin-bearer "${MIN_CASES}" "${admin_main[@]}" "${bearer_admin[@]}"
alive bearer "${admin_access}" admin-bearer
fuzz introspection 1 --include-operation-id introspect -H "Authorization: Bearer ${INTROSPECTION_SECRET}"
# Last, the operations that end sessions, authenticated until they do.
fuzz user-bearer-ending 1 "${user_last[@]}" "${bearer_user[@]}"
fuzz user-cookie-ending 1 "${user_last[@]}" "${cookie_user[@]}"
fuzz admin-bearer-ending 1 "${admin_last[@]}" "${bearer_admin[@]}"

if grep -q '"level":"ERROR"' "${work}/server.log"; then
    echo "fuzz: the server logged errors:" >&2
    grep '"level":"ERROR"' "${work}/server.log" | head -n 20 >&2
    failed=1
fi
kill -0 "${server_pid}" 2>/dev/null || { echo "fuzz: the server died" >&2; failed=1; }

echo "== fuzz: summary (seed ${SEED}, max examples ${EXAMPLES})"
printf '%s' "${summary}"
if (( failed )); then
    FUZZ_KEEP=1
    echo "fuzz: FAILED" >&2
    exit 1
fi
echo "fuzz: passed"
