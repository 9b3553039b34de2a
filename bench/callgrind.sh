#!/usr/bin/env bash
# Instructions the server executes per request, counted by valgrind's callgrind: unlike
# wall-clock figures they repeat run to run on a shared, noisy machine, so they compare two
# builds of the hot paths exactly. On 127.0.0.1, SQLite, limits off.
#
#   bench/callgrind.sh                       # target/release/portcullis (built first)
#   bench/callgrind.sh /tmp/old/portcullis   # another build, e.g. an earlier commit's
#   CALLGRIND_REQUESTS=500 bench/callgrind.sh
#   CALLGRIND_KEEP=/tmp/cg bench/callgrind.sh   # keep each scenario's profile there, for
#                                               # callgrind_annotate --inclusive=yes FILE
#
# For each scenario: warm up, zero the counters, send the requests one at a time on one
# keep-alive connection, dump, and divide the server's instruction count (every thread) by
# the number of requests. Prints one line per scenario: name, requests, instructions each.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${1:-target/release/portcullis}"
REQUESTS="${CALLGRIND_REQUESTS:-1000}"
PORT="${CALLGRIND_PORT:-18191}"
if ! command -v valgrind >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi
[ -x "${BIN}" ] || cargo build --release --quiet -p portcullis

work="$(mktemp -d)"
server=""
cleanup() {
    [ -n "${server}" ] && kill "${server}" 2>/dev/null && wait "${server}" 2>/dev/null
    rm -rf "${work}"
}
trap cleanup EXIT

PORTCULLIS_ADDR="127.0.0.1:${PORT}" PORTCULLIS_DATA_DIR="${work}" PORTCULLIS_RATE_LIMIT=off \
    RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="${work}/cg.out" \
    "${BIN}" >"${work}/server.log" 2>&1 &
server=$!
for _ in $(seq 600); do
    curl -fs "http://127.0.0.1:${PORT}/health" >/dev/null && break
    sleep 0.1
done

# Drives the scenarios; between warm-up and measurement it asks this script (by a line on
# stdout, answered on stdin) to zero and then to dump the counters.
cat >"${work}/driver.py" <<'EOF'
import http.client, json, sys

port, requests = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

def call(method, path, body=None, headers=None):
    headers = dict(headers or {})
    if body is not None:
        body = json.dumps(body)
        headers["content-type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    answer = conn.getresponse()
    return answer.status, answer.getheaders(), answer.read()

password = "a long enough benchmark passphrase"
status, _, body = call("POST", "/api/auth/register",
                       {"email": "cg@example.com", "password": password, "transport": "bearer"})
assert status == 201, (status, body)
tokens = json.loads(body)
status, headers, _ = call("POST", "/api/auth/login",
                          {"email": "cg@example.com", "password": password, "transport": "cookie"},
                          {"origin": "http://localhost:8080"})
assert status == 200, status
cookie = "; ".join(v.split(";")[0] for k, v in headers if k.lower() == "set-cookie")
refresh = [tokens["refresh_token"]]

def me_bearer():
    assert call("GET", "/api/auth/me", headers={"authorization": "Bearer " + tokens["access_token"]})[0] == 200

def me_cookie():
    assert call("GET", "/api/auth/me", headers={"cookie": cookie})[0] == 200

def rotate():
    status, _, body = call("POST", "/api/auth/refresh", {"refresh_token": refresh[0]})
    assert status == 200, (status, body)
    refresh[0] = json.loads(body)["refresh_token"]

def health():
    assert call("GET", "/health")[0] == 200

for name, step in [("health", health), ("me-bearer", me_bearer), ("me-cookie", me_cookie),
                   ("refresh", rotate)]:
    for _ in range(20):
        step()
    print("zero", name, flush=True)
    sys.stdin.readline()
    for _ in range(requests):
        step()
    print("dump", name, flush=True)
    sys.stdin.readline()
EOF
coproc DRIVER { python3 "${work}/driver.py" "${PORT}" "${REQUESTS}"; }
driver="${DRIVER_PID}"
while read -r verb scenario <&"${DRIVER[0]}"; do
    case "${verb}" in
        zero) callgrind_control -z "${server}" >/dev/null 2>&1 ;;
        dump)
            callgrind_control -d "${scenario}" "${server}" >/dev/null 2>&1
            file="$(ls -t "${work}"/cg.out.* | head -1)"
            total="$(awk '/^summary:|^totals:/ {print $2; exit}' "${file}")"
            printf '%-10s %6d requests  %10d instructions each\n' \
                "${scenario}" "${REQUESTS}" "$((total / REQUESTS))"
            if [ -n "${CALLGRIND_KEEP:-}" ]; then
                mkdir -p "${CALLGRIND_KEEP}"
                mv "${file}" "${CALLGRIND_KEEP}/${scenario}.callgrind"
            else
                rm -f "${file}"
            fi
            ;;
    esac
    echo ok >&"${DRIVER[1]}"
done
wait "${driver}"
