#!/usr/bin/env bash
# Crash and restart tests (docs/reliability.md, "Crash and restart"):
#
#   kill9.py       the server killed with SIGKILL under a load of sign-ups and refresh
#                  rotations, three times, then restarted on the same SQLite file (and on a
#                  PostgreSQL database when FAULTS_PG_BASE is set, e.g.
#                  postgres://postgres@127.0.0.1:5432): every 201 is an account, the database
#                  is sound, every verification message is delivered once.
#   pg_restart.py  a private PostgreSQL cluster stopped and started under load: 503
#                  `unavailable` within a bounded time during the outage, never 500;
#                  /health/ready names the database; recovery without a server restart.
#
# The binary is built with `cargo build -p portcullis --locked` (CARGO_TARGET_DIR honoured)
# unless PORTCULLIS_BIN names one. Needs python3 with aiosmtpd (`pip install aiosmtpd`) and,
# for pg_restart.py, PostgreSQL's server binaries (PG_BIN, default
# /usr/lib/postgresql/15/bin); without them that test skips, unless FAULTS_REQUIRE_POSTGRES=1
# (CI) makes it a failure. Every load goes to 127.0.0.1 only and is bounded in requests and
# time. Exits non-zero if any test found a violation.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "${here}/../../../.." && pwd)"
cd "${root}"

if [[ -n "${PORTCULLIS_BIN:-}" ]]; then
    bin="${PORTCULLIS_BIN}"
else
    echo "== cargo build -p portcullis --locked"
    cargo build -p portcullis --locked
    target="${CARGO_TARGET_DIR:-target}"
    [[ "${target}" = /* ]] || target="${root}/${target}"
    bin="${target}/debug/portcullis"
fi
[[ -x "${bin}" ]] || { echo "no portcullis binary at ${bin}" >&2; exit 1; }
python3 -c 'import aiosmtpd' 2>/dev/null || {
    echo "python3 cannot import aiosmtpd: pip install aiosmtpd" >&2
    exit 1
}

# Everything the tests make lives here, and goes at the end whatever happens: a cluster
# left running by a test that was killed is stopped first.
work="$(mktemp -d -t portcullis-faults.XXXXXX)"
chmod 755 "${work}" # the postgres user must reach its cluster inside
pg_bin="${PG_BIN:-/usr/lib/postgresql/15/bin}"
pg_db=""
cleanup() {
    local pid_file data
    while IFS= read -r pid_file; do
        data="$(dirname "${pid_file}")"
        if [[ "$(id -u)" = 0 ]]; then
            runuser -u postgres -- "${pg_bin}/pg_ctl" -D "${data}" -m immediate -w stop >/dev/null 2>&1 || true
        else
            "${pg_bin}/pg_ctl" -D "${data}" -m immediate -w stop >/dev/null 2>&1 || true
        fi
    done < <(find "${work}" -name postmaster.pid -path '*/pgdata/*' 2>/dev/null)
    if [[ -n "${pg_db}" ]]; then
        psql "${FAULTS_PG_BASE}/postgres" -qc "DROP DATABASE IF EXISTS ${pg_db} WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "${work}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export TMPDIR="${work}"

failed=()
run() {
    local name="$1"
    shift
    if ! python3 "$@"; then
        failed+=("${name}")
    fi
}

echo "== kill -9 under load, SQLite"
run "kill9 sqlite" "${here}/kill9.py" "${bin}"

if [[ -n "${FAULTS_PG_BASE:-}" ]]; then
    pg_db="portcullis_faults_$(date +%s)_$$"
    psql "${FAULTS_PG_BASE}/postgres" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE ${pg_db}"
    echo "== kill -9 under load, PostgreSQL (${pg_db})"
    run "kill9 postgres" "${here}/kill9.py" "${bin}" --postgres "${FAULTS_PG_BASE}/${pg_db}"
fi

if [[ -x "${pg_bin}/initdb" ]]; then
    echo "== PostgreSQL stopped and started under load"
    run "pg_restart" "${here}/pg_restart.py" "${bin}" --pg-bin "${pg_bin}"
elif [[ "${FAULTS_REQUIRE_POSTGRES:-}" = 1 ]]; then
    echo "FAULTS_REQUIRE_POSTGRES=1 but there is no initdb in ${pg_bin}" >&2
    failed+=("pg_restart (no PostgreSQL)")
else
    echo "== PostgreSQL restart: skipped, no initdb in ${pg_bin} (set PG_BIN)"
fi

if ((${#failed[@]})); then
    echo "crash and restart tests FAILED: ${failed[*]}"
    exit 1
fi
echo "crash and restart tests passed"
