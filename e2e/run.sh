#!/usr/bin/env bash
# End-to-end browser tests of the hosted pages: a real SMTP sink, the test OpenID provider and
# the portcullis binary on a fresh SQLite data directory, all on 127.0.0.1 on free ports, then
# Debian's Chromium driven by playwright-core (e2e/tests/*.test.mjs, node:test).
#
#   e2e/run.sh PATH_TO_PORTCULLIS_BINARY
#
# Needs python3 with aiosmtpd, Node 20 and /usr/bin/chromium (apt-get install chromium); no
# tool ever downloads a browser. Writes the pages' screenshots to docs/screenshots/ (another
# folder with E2E_SCREENSHOT_DIR, none with E2E_SCREENSHOT_DIR=off). The whole run is bounded
# (E2E_TIMEOUT seconds, 600 by default); every child is bounded too and killed at exit by its
# PID.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 PATH_TO_PORTCULLIS_BINARY" >&2
    exit 2
fi

# The whole run under one bound: the script runs itself again under timeout(1). When time is
# up its TERM reaches this script, whose EXIT trap stops every child by PID (below); KILL
# follows 30 s later if anything still stands.
if [[ -z "${E2E_BOUNDED:-}" ]]; then
    export E2E_BOUNDED=1
    exec timeout --kill-after=30 "${E2E_TIMEOUT:-600}" "$0" "$@"
fi

started_at=$(date +%s)
BIN="$(realpath "$1")"
E2E="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "${E2E}")"
OIDC="${ROOT}/crates/portcullis/tests/oidc"
SINK="${ROOT}/crates/portcullis/tests/smtp/sink.py"
CHROMIUM="${E2E_CHROMIUM:-/usr/bin/chromium}"
# Each child lives at most this long, whatever happens to this script.
CHILD_LIFETIME=$(( ${E2E_TIMEOUT:-600} + 30 ))

[[ -x "${BIN}" ]] || { echo "e2e: no executable at ${BIN}" >&2; exit 2; }
[[ -x "${CHROMIUM}" ]] || { echo "e2e: no Chromium at ${CHROMIUM} (apt-get install chromium)" >&2; exit 2; }
python3 -c 'import aiosmtpd' 2>/dev/null || { echo "e2e: python3 cannot import aiosmtpd (pip install aiosmtpd)" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-e2e.XXXXXX")"
PIDS=()

# Every child runs under timeout(1), which passes a TERM on to its whole process group (the
# test runner's browsers included), and is stopped here by its PID: TERM, at most 10 s for
# all of them to go, then KILL.
cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP PIPE
    for pid in "${PIDS[@]}"; do
        kill -TERM "${pid}" 2>/dev/null || true
    done
    for _ in $(seq 100); do
        local alive=0
        for pid in "${PIDS[@]}"; do
            if kill -0 "${pid}" 2>/dev/null; then alive=1; fi
        done
        (( alive )) || break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do
        kill -KILL "${pid}" 2>/dev/null || true
        wait "${pid}" 2>/dev/null || true
    done
    if [[ ${status} -ne 0 ]]; then
        for log in server smtp oidc; do
            if [[ -s "${WORK}/${log}.log" ]]; then
                echo "---- last lines of ${log}.log" >&2
                tail -n 40 "${WORK}/${log}.log" >&2
            fi
        done
    fi
    rm -rf "${WORK}"
    exit "${status}"
}
trap cleanup EXIT
# On a signal too (timeout's TERM, ^C, a closed terminal or pipe), through the EXIT trap.
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
trap 'exit 141' PIPE

# A port nobody listens on now (the OS's choice, released at once).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# bounded SECONDS COMMAND...: COMMAND in the background under timeout(1), waited for, so that
# a signal to this script is handled at once (bash runs traps only between commands, and
# `wait` is one it interrupts) and the child is stopped with the rest.
bounded() {
    local seconds=$1
    shift
    timeout "${seconds}" "$@" &
    local pid=$!
    PIDS+=("${pid}")
    wait "${pid}"
}

# wait_for WHAT SECONDS COMMAND...: COMMAND until it succeeds, at most SECONDS.
wait_for() {
    local what=$1 seconds=$2
    shift 2
    local deadline=$(( $(date +%s) + seconds ))
    until "$@" >/dev/null 2>&1; do
        if (( $(date +%s) >= deadline )); then
            echo "e2e: ${what} not ready after ${seconds} s" >&2
            return 1
        fi
        sleep 0.2
    done
}

# The SMTP sink: every accepted message becomes ${WORK}/mail/NNNN.json.
SMTP_PORT=$(free_port)
mkdir -p "${WORK}/mail"
timeout "${CHILD_LIFETIME}" python3 "${SINK}" "${SMTP_PORT}" "${WORK}/mail" >"${WORK}/smtp.log" 2>&1 &
PIDS+=($!)
wait_for "the SMTP sink" 15 grep -q '^ready' "${WORK}/smtp.log"

# The test OpenID provider, with one client whose redirect URI is Portcullis's callback.
if [[ ! -d "${OIDC}/node_modules/oidc-provider" ]]; then
    # shellcheck disable=SC2016 # $1 is bash -c's own argument
    bounded 300 bash -c 'cd "$1" && npm ci --no-audit --no-fund --loglevel=error' _ "${OIDC}"
fi
PORT=$(free_port)
PUBLIC_URL="http://127.0.0.1:${PORT}"
OP_CLIENT_SECRET="e2e-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
clients=$(printf '[{"client_id":"portcullis-e2e","client_secret":"%s","redirect_uris":["%s/api/auth/oauth/corp/callback"]}]' \
    "${OP_CLIENT_SECRET}" "${PUBLIC_URL}")
accounts='{"katherine":{"email":"katherine.johnson@corp.example.com","email_verified":true,"name":"Katherine Johnson"}}'
timeout "${CHILD_LIFETIME}" node "${OIDC}/provider.mjs" --port 0 --keys 1 --quiet \
    --max-lifetime "${CHILD_LIFETIME}" --clients "${clients}" --accounts "${accounts}" \
    >"${WORK}/oidc.out" 2>"${WORK}/oidc.log" &
PIDS+=($!)
wait_for "the OpenID provider" 20 grep -q '^listening ' "${WORK}/oidc.out"
ISSUER=$(sed -n 's/^listening //p' "${WORK}/oidc.out" | head -n 1)

# Portcullis, configured by its environment only, on a fresh data directory.
#
# Cookies: PORTCULLIS_COOKIE_SECURE keeps its default (true), so the session, CSRF and form
# cookies are `__Host-…; Secure` as in production. Chromium treats http://127.0.0.1 as a
# potentially trustworthy origin (a secure context), so it stores and sends Secure and
# `__Host-` cookies over plain http on loopback (checked: all three cookies come back after a
# sign-in). This is why every URL here is 127.0.0.1 (a name such as localhost.example would
# not qualify). Other browsers may differ: with those, PORTCULLIS_COOKIE_SECURE=false.
# Nothing from the calling environment (a PORTCULLIS_SECRET, a DATABASE_URL) leaks in.
while read -r name; do unset "${name}"; done < <(compgen -e | grep '^PORTCULLIS_' || true)
unset DATABASE_URL REDIS_URL
export PORTCULLIS_ENV=development
export PORTCULLIS_ADDR="127.0.0.1:${PORT}"
export PORTCULLIS_PUBLIC_URL="${PUBLIC_URL}"
export PORTCULLIS_DATA_DIR="${WORK}/data"
export PORTCULLIS_SMTP_URL="smtp://127.0.0.1:${SMTP_PORT}"
export PORTCULLIS_MAIL_FROM="Portcullis <no-reply@example.com>"
# Sign-up then asks for the emailed link before the first sign-in, as in production.
export PORTCULLIS_REQUIRE_EMAIL_VERIFICATION=true
# One browser on one address signs in a dozen times a minute here; the limits stay on.
export PORTCULLIS_MAIL_COOLDOWN=1s
export PORTCULLIS_RATE_LIMITS="login=200/1m,register=100/1m,mail=100/1m,link=100/1m,refresh=200/1m,oauth=100/1m"
export PORTCULLIS_OAUTH_PROVIDERS=corp
export PORTCULLIS_OAUTH_CORP_ISSUER="${ISSUER}"
export PORTCULLIS_OAUTH_CORP_CLIENT_ID=portcullis-e2e
export PORTCULLIS_OAUTH_CORP_CLIENT_SECRET="${OP_CLIENT_SECRET}"
export PORTCULLIS_OAUTH_CORP_DISPLAY_NAME="Corp SSO"
export PORTCULLIS_LOG_FORMAT=json
export RUST_LOG="${RUST_LOG:-info}"
(cd "${WORK}" && exec timeout "${CHILD_LIFETIME}" "${BIN}" serve >"${WORK}/server.log" 2>&1) &
PIDS+=($!)
wait_for "portcullis" 30 curl -sf --max-time 2 "${PUBLIC_URL}/health/ready"

# The first admin, as an operator makes one: the password on standard input.
ADMIN_EMAIL="ops@example.com"
ADMIN_PASSWORD="the operator's own long passphrase"
printf '%s\n' "${ADMIN_PASSWORD}" >"${WORK}/admin-password"
# shellcheck disable=SC2016 # $0..$2 are sh -c's own arguments
bounded 60 sh -c 'exec "$0" admin create --email "$1" <"$2"' "${BIN}" "${ADMIN_EMAIL}" "${WORK}/admin-password" \
    >>"${WORK}/server.log" 2>&1

if [[ -n "${E2E_SCREENSHOT_DIR:-}" && "${E2E_SCREENSHOT_DIR}" != off ]]; then
    E2E_SCREENSHOT_DIR="$(realpath -m "${E2E_SCREENSHOT_DIR}")"
fi
cd "${E2E}"
# Installed from the lock file when missing or older than it; playwright-core downloads no
# browser on install, and the variable makes sure of it.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    bounded 300 npm ci --no-audit --no-fund --loglevel=error
fi

export E2E_BASE_URL="${PUBLIC_URL}"
export E2E_MAIL_DIR="${WORK}/mail"
export E2E_ADMIN_EMAIL="${ADMIN_EMAIL}"
export E2E_ADMIN_PASSWORD="${ADMIN_PASSWORD}"
export E2E_CHROMIUM="${CHROMIUM}"
export E2E_SCREENSHOT_DIR="${E2E_SCREENSHOT_DIR:-${ROOT}/docs/screenshots}"
export E2E_WORK="${WORK}"
echo "e2e: portcullis ${PUBLIC_URL}, OpenID provider ${ISSUER}, SMTP 127.0.0.1:${SMTP_PORT}"
# One file at a time: the flows change server-wide settings (sign-up closed and reopened).
# E2E_TESTS picks files (e.g. E2E_TESTS=tests/flows.test.mjs); all of them by default.
# shellcheck disable=SC2086
bounded 420 node --test --test-concurrency=1 --test-reporter=spec ${E2E_TESTS:-tests/*.test.mjs}
echo "e2e: done in $(( $(date +%s) - started_at )) s"
