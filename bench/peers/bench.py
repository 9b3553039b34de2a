#!/usr/bin/env python3
"""Helpers of bench/peers/run.sh; the Python standard library only.

  bench.py env KIND                 shell assignments describing a target's endpoints
  bench.py prepare KIND BASE DIR N  sign-up and sign-ins for the scenarios, checked
  bench.py sample PID [--postgres]  CPU seconds and RSS of PID's process tree (JSON)
  bench.py pids PID                 "pid starttime" of PID's process tree, for clean-up
  bench.py memory FILE TARGET KEY PID   RSS of PID's process tree appended to FILE
  bench.py meta FILE ...            machine, settings and versions of a run
  bench.py record FILE ...          one scenario's measurements appended to a JSON Lines file
  bench.py report RUN_DIR --out D   the results JSON, the markdown tables and the SVG chart
                                    (RUN_DIR may also be an earlier results JSON, to re-render)
"""

import argparse
import html
import json
import math
import os
import shlex
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

PASSWORD = "correct horse battery staple"
WRONG_PASSWORD = "wrong horse battery staple!"
USER_EMAIL = "bench-user@bench.example.com"
UNKNOWN_EMAIL = "nobody-here@bench.example.com"

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _json_body(email: str, password: str, **extra: str) -> str:
    return json.dumps({"email": email, "password": password, **extra}, separators=(",", ":"))


def _form_body(email: str, password: str) -> str:
    return urllib.parse.urlencode({"username": email, "password": password})


# What each kind of target calls its endpoints. {EMAIL} in a register body is replaced per
# request by bench/peers/lua/register.lua. None: the target has no such feature.
KINDS = {
    "portcullis": {
        "health": "/health",
        "register_path": "/api/auth/register",
        "register_body": _json_body("{EMAIL}", PASSWORD),
        "register_type": JSON,
        "signin_path": "/api/auth/login",
        "signin_type": JSON,
        "signin": lambda email, password: _json_body(email, password, transport="bearer"),
        "cookie_signin": lambda email, password: _json_body(email, password, transport="cookie"),
        "cookie_signin_path": "/api/auth/login",
        "cookie_name": "__Host-portcullis_session",
        "me_path": "/api/auth/me",
        "refresh_path": "/api/auth/refresh",
    },
    "better-auth": {
        "health": "/api/auth/ok",
        "register_path": "/api/auth/sign-up/email",
        "register_body": _json_body("{EMAIL}", PASSWORD, name="Bench User"),
        "register_type": JSON,
        "signin_path": "/api/auth/sign-in/email",
        "signin_type": JSON,
        "signin": lambda email, password: _json_body(email, password),
        "cookie_signin": lambda email, password: _json_body(email, password),
        "cookie_signin_path": "/api/auth/sign-in/email",
        "cookie_name": "better-auth.session_token",
        "me_path": "/api/auth/get-session",
        "refresh_path": None,
    },
    "fastapi-users": {
        "health": "/openapi.json",
        "register_path": "/auth/register",
        "register_body": _json_body("{EMAIL}", PASSWORD),
        "register_type": JSON,
        "signin_path": "/auth/jwt/login",
        "signin_type": FORM,
        "signin": _form_body,
        "cookie_signin": _form_body,
        "cookie_signin_path": "/auth/cookie/login",
        "cookie_name": "fastapiusersauth",
        "me_path": "/users/me",
        "refresh_path": None,
    },
    "ceiling": {"health": "/ceiling", "ceiling_path": "/ceiling"},
}


def kind_of(target: str) -> str:
    return "portcullis" if target.startswith("portcullis") else target


def cmd_env(args: argparse.Namespace) -> None:
    kind = KINDS[args.kind]
    out = {"HEALTH_PATH": kind["health"]}
    if args.kind != "ceiling":
        out.update(
            REGISTER_PATH=kind["register_path"],
            REGISTER_BODY=kind["register_body"],
            REGISTER_TYPE=kind["register_type"],
            SIGNIN_PATH=kind["signin_path"],
            SIGNIN_TYPE=kind["signin_type"],
            SIGNIN_BODY=kind["signin"](USER_EMAIL, PASSWORD),
            WRONG_PASSWORD_BODY=kind["signin"](USER_EMAIL, WRONG_PASSWORD),
            UNKNOWN_ACCOUNT_BODY=kind["signin"](UNKNOWN_EMAIL, WRONG_PASSWORD),
            ME_PATH=kind["me_path"],
            REFRESH_PATH=kind["refresh_path"] or "",
        )
    else:
        out["CEILING_PATH"] = kind["ceiling_path"]
    for key, value in out.items():
        print(f"{key}={shlex.quote(value)}")


# ---------------------------------------------------------------------------------------
# prepare: the benchmark user, a bearer credential, a cookie, refresh tokens


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http(method: str, url: str, body: str | None = None, ctype: str | None = None,
         headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, method=method, data=body.encode() if body else None)
    if ctype:
        request.add_header("Content-Type", ctype)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with _opener.open(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _cookie_value(headers, name: str) -> str | None:
    for line in headers.get_all("Set-Cookie") or []:
        first = line.split(";", 1)[0]
        key, _, value = first.partition("=")
        if key.strip() == name and value:
            return value
    return None


def _bearer(kind_name: str, status: int, headers, body: bytes) -> str:
    if status != 200:
        raise SystemExit(f"{kind_name}: sign-in answered {status}: {body[:300]!r}")
    if kind_name == "better-auth":
        # The bearer plugin hands out the signed session token in this header.
        token = headers.get("set-auth-token")
        if not token:
            raise SystemExit("better-auth: no set-auth-token header (bearer plugin missing?)")
        return token
    return json.loads(body)["access_token"]


def cmd_prepare(args: argparse.Namespace) -> None:
    kind = KINDS[args.kind]
    base = args.base.rstrip("/")
    os.makedirs(args.dir, exist_ok=True)

    status, _, body = http("POST", base + kind["register_path"],
                           kind["register_body"].replace("{EMAIL}", USER_EMAIL),
                           kind["register_type"])
    if status not in (200, 201):
        raise SystemExit(f"{args.kind}: sign-up of the benchmark user answered {status}: {body[:300]!r}")

    status, headers, body = http("POST", base + kind["signin_path"],
                                 kind["signin"](USER_EMAIL, PASSWORD), kind["signin_type"])
    bearer = _bearer(args.kind, status, headers, body)

    status, headers, body = http("POST", base + kind["cookie_signin_path"],
                                 kind["cookie_signin"](USER_EMAIL, PASSWORD), kind["signin_type"])
    cookie = _cookie_value(headers, kind["cookie_name"])
    if status not in (200, 204) or not cookie:
        raise SystemExit(f"{args.kind}: cookie sign-in answered {status} without {kind['cookie_name']}")

    # Both credentials must really read the user (Better-Auth answers 200 `null` without one).
    for label, header in (("bearer", ("Authorization", f"Bearer {bearer}")),
                          ("cookie", ("Cookie", f"{kind['cookie_name']}={cookie}"))):
        status, _, body = http("GET", base + kind["me_path"], headers=dict([header]))
        if status != 200 or USER_EMAIL.encode() not in body:
            raise SystemExit(f"{args.kind}: GET {kind['me_path']} with the {label} credential "
                             f"answered {status}: {body[:300]!r}")
        with open(os.path.join(args.dir, f"{label}_header"), "w") as f:
            f.write(f"{header[0]}: {header[1]}\n")

    # Refresh tokens, one per session, each unused.
    if kind.get("refresh_path") and args.sessions > 0:
        def one(_: int) -> str:
            status, _, body = http("POST", base + kind["signin_path"],
                                   kind["signin"](USER_EMAIL, PASSWORD), kind["signin_type"])
            if status != 200:
                raise SystemExit(f"{args.kind}: sign-in for a refresh token answered {status}")
            return json.loads(body)["refresh_token"]

        with ThreadPoolExecutor(max_workers=4) as pool:
            tokens = list(pool.map(one, range(args.sessions)))
        if len(set(tokens)) != len(tokens):
            raise SystemExit(f"{args.kind}: duplicate refresh tokens")
        # One check that the endpoint works, on a session of its own (its token is then used).
        status, _, body = http("POST", base + kind["signin_path"],
                               kind["signin"](USER_EMAIL, PASSWORD), kind["signin_type"])
        check = json.loads(body)["refresh_token"]
        status, _, body = http("POST", base + kind["refresh_path"],
                               json.dumps({"refresh_token": check}), JSON)
        if status != 200 or b"refresh_token" not in body:
            raise SystemExit(f"{args.kind}: refresh answered {status}: {body[:300]!r}")
        with open(os.path.join(args.dir, "refresh_tokens"), "w") as f:
            f.write("\n".join(tokens) + "\n")


# ---------------------------------------------------------------------------------------
# /proc: CPU time and resident memory of a process tree

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, int, int, int]]:
    """pid -> (ppid, utime + stime, cutime + cstime, starttime), in clock ticks."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
        table[int(name)] = (
            int(fields[1]),
            int(fields[11]) + int(fields[12]),
            int(fields[13]) + int(fields[14]),
            int(fields[19]),
        )
    return table


def _tree(root: int, table: dict) -> list[int]:
    if root not in table:
        return []
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _postgres_cpu(table: dict) -> tuple[float, int] | None:
    """CPU seconds of the whole PostgreSQL server on this machine (read from /proc only):
    its postmaster, every live backend and auxiliary process, and the backends that have
    already exited (their time is in the postmaster's reaped-children counters). Anything
    else that uses the same server meanwhile is counted too."""
    parents: dict[int, int] = {}
    for pid, (ppid, *_rest) in table.items():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                title = f.read(64)
        except OSError:
            continue
        # Backends and auxiliary processes retitle themselves "postgres: …".
        if title.startswith(b"postgres: "):
            parents[ppid] = parents.get(ppid, 0) + 1
    if not parents:
        return None
    postmaster = max(parents, key=parents.get)
    pids = _tree(postmaster, table)
    return sum(table[p][1] + table[p][2] for p in pids) / CLK_TCK, len(pids)


def cmd_sample(args: argparse.Namespace) -> None:
    table = _proc_table()
    pids = _tree(args.pid, table)
    # utime + stime of every live process of the tree, plus what its reaped children spent,
    # so that a worker that exits between two samples is still counted.
    cpu = sum(table[p][1] + table[p][2] for p in pids) / CLK_TCK
    sample = {
        "time": time.time(),
        "cpu_s": cpu,
        "rss_kib": sum(_rss_kib(p) for p in pids),
        "processes": len(pids),
    }
    if args.postgres:
        postgres = _postgres_cpu(table)
        if postgres:
            sample["pg_cpu_s"], sample["pg_processes"] = postgres
    print(json.dumps(sample))


def cmd_pids(args: argparse.Namespace) -> None:
    table = _proc_table()
    for pid in _tree(args.pid, table):
        print(pid, table[pid][3])


def cmd_memory(args: argparse.Namespace) -> None:
    pids = _tree(args.pid, _proc_table())
    with open(args.file, "a") as f:
        f.write(json.dumps({"target": args.target, args.key: sum(_rss_kib(p) for p in pids),
                            "processes": len(pids)}) + "\n")


# ---------------------------------------------------------------------------------------
# meta: what the run ran on


def _output(*command: str) -> str:
    import subprocess

    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (done.stdout.strip() or done.stderr.strip()).splitlines()[0] if (done.stdout or done.stderr) else "unknown"


def _cargo_lock_versions(path: str, names: tuple[str, ...]) -> dict:
    versions, name = {}, None
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("name = "):
                    name = line.split('"')[1]
                elif line.startswith("version = ") and name in names:
                    versions[name] = line.split('"')[1]
    except OSError:
        pass
    return versions


def cmd_meta(args: argparse.Namespace) -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    versions: dict = {"wrk": _output("wrk", "-v"), "postgresql": args.postgres_version}
    if args.server_bin:
        versions["portcullis"] = {
            "binary": args.server_bin,
            "version": _output(args.server_bin, "--version"),
            "binary_modified": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                             time.gmtime(os.path.getmtime(args.server_bin)))
            if os.path.exists(args.server_bin) else None,
            "repository_head": args.git_head,
        }
    ba = os.path.join(here, "better-auth", "node_modules")
    if os.path.isdir(ba):
        versions["node"] = _output("node", "--version")
        for package in ("better-auth", "pg", "kysely"):
            try:
                with open(os.path.join(ba, package, "package.json")) as f:
                    versions[package] = json.load(f)["version"]
            except OSError:
                pass
    venv_python = os.path.join(here, ".venv", "bin", "python")
    if os.path.exists(venv_python):
        versions["python"] = _output(venv_python, "--version")
        with open(os.path.join(here, "fastapi-users", "requirements.txt")) as f:
            pins = dict(line.strip().split("==", 1) for line in f if "==" in line)
        for package in ("fastapi-users", "fastapi-users-db-sqlalchemy", "fastapi", "SQLAlchemy",
                        "asyncpg", "uvicorn", "uvloop", "httptools", "pwdlib", "argon2-cffi",
                        "PyJWT"):
            if package in pins:
                versions[package] = pins[package]
    versions["ceiling"] = _cargo_lock_versions(os.path.join(here, "ceiling", "Cargo.lock"),
                                               ("axum", "hyper", "tokio"))
    meta = {
        "run_id": args.run_id,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {
            "cpu": cpu,
            "cores": os.cpu_count(),
            "memory_gib": round(mem_kib / 1024 / 1024, 1),
            "kernel": os.uname().release,
        },
        "settings": {
            "seconds": args.seconds,
            "warmup_seconds": args.warmup,
            "wrk_threads": 1,
            "connections": 16,
            "flood_connections": 64,
            "refresh_sessions": args.sessions,
            "targets": args.targets.split(","),
        },
        "versions": versions,
        "argon2id_ceiling_per_s": args.hash_ceiling,
    }
    with open(args.file, "w") as f:
        json.dump(meta, f, indent=1)


# ---------------------------------------------------------------------------------------
# record: one scenario


def cmd_record(args: argparse.Namespace) -> None:
    def load(path: str) -> dict:
        with open(path) as f:
            return json.load(f)

    before, after = load(args.before), load(args.after)
    runs = {}
    for spec in args.wrk:
        name, _, path = spec.partition("=")
        runs[name] = load(path) if os.path.exists(path) and os.path.getsize(path) else None
    requests = sum((run or {}).get("requests", 0) for run in runs.values())
    cpu = after["cpu_s"] - before["cpu_s"]
    record = {
        "target": args.target,
        "scenario": args.scenario,
        "connections": args.connections,
        "seconds": args.seconds,
        "runs": runs,
        "server_cpu_s": round(cpu, 3),
        "server_cpu_ms_per_request": round(1000 * cpu / requests, 4) if requests else None,
        "rss_kib_after": after["rss_kib"],
    }
    if "pg_cpu_s" in before and "pg_cpu_s" in after:
        pg = after["pg_cpu_s"] - before["pg_cpu_s"]
        record["postgres_cpu_s"] = round(pg, 3)
        record["postgres_cpu_ms_per_request"] = round(1000 * pg / requests, 4) if requests else None
    with open(args.file, "a") as f:
        f.write(json.dumps(record) + "\n")


# ---------------------------------------------------------------------------------------
# report

TARGET_ORDER = ["portcullis-sqlite", "portcullis-postgres", "better-auth", "fastapi-users", "ceiling"]
TARGET_LABELS = {
    "portcullis-sqlite": "Portcullis (SQLite)",
    "portcullis-postgres": "Portcullis (PostgreSQL)",
    "better-auth": "Better-Auth",
    "fastapi-users": "fastapi-users",
    "ceiling": "ceiling (axum)",
}
# (scenario key, wrk run inside it, label)
ROWS = [
    ("register", "main", "register (distinct emails)"),
    ("signin", "main", "sign-in"),
    ("me-bearer", "main", "GET me, bearer"),
    ("me-cookie", "main", "GET me, cookie"),
    ("refresh", "main", "refresh (rotating)"),
    ("signin-wrong-password", "main", "sign-in, wrong password"),
    ("signin-unknown-account", "main", "sign-in, unknown account"),
    ("flood", "signin", "flood: sign-in, 64 conn."),
    ("flood", "me", "flood: GET me bearer, 16 conn."),
    ("ceiling", "main", "GET /ceiling (constant JSON)"),
]
# Scenarios whose every answer is a refusal by design.
EXPECTED_REFUSALS = {"signin-wrong-password", "signin-unknown-account"}


def _rps(run: dict | None) -> float | None:
    if not run or not run.get("duration_us"):
        return None
    return run["requests"] / (run["duration_us"] / 1e6)


def _ms(us) -> str:
    if us is None:
        return "—"
    ms = us / 1000
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def _num(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def _sig(x: float) -> str:
    """Three significant digits, never in exponent form."""
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) >= 0.001 else f"{x:.4f}"


def _errors(run: dict) -> dict:
    e = run.get("errors", {})
    return {
        "non_2xx_3xx": e.get("status", 0),
        "socket": sum(e.get(k, 0) for k in ("connect", "read", "write", "timeout")),
    }


def _status_text(run: dict) -> str:
    statuses = run.get("statuses") or {}
    if not statuses:
        return ""
    return " ".join(f"{k}×{v}" for k, v in sorted(statuses.items()))


def _good_rps(scenario: str, run: dict) -> float | None:
    """Answers per second of the kind the scenario is after: the 4xx refusal (but not 429)
    for a wrong password or an unknown account, a 2xx otherwise. Where wrk did not count
    answers by status, every answer but its non-2xx/3xx ones."""
    if not run.get("duration_us"):
        return None
    statuses = {int(k): v for k, v in (run.get("statuses") or {}).items()}
    if scenario in EXPECTED_REFUSALS:
        good = sum(v for k, v in statuses.items() if 400 <= k < 500 and k != 429)
    elif statuses:
        good = sum(v for k, v in statuses.items() if 200 <= k < 300)
    else:
        good = run.get("requests", 0) - run.get("errors", {}).get("status", 0)
    return good / (run["duration_us"] / 1e6)


def _summarise(records: list[dict]) -> dict:
    """target -> scenario/run -> figures."""
    out: dict = {}
    for rec in records:
        for run_name, run in rec["runs"].items():
            key = rec["scenario"] if run_name == "main" else f"{rec['scenario']}/{run_name}"
            cell = {"requests": 0, "rps": None, "p50_ms": None, "p99_ms": None}
            if run:
                lat = run.get("latency_us", {})
                has = run.get("requests", 0) > 0
                cell = {
                    "requests": run.get("requests", 0),
                    "rps": round(_rps(run) or 0, 1),
                    "good_rps": round(_good_rps(rec["scenario"], run) or 0, 1),
                    "p50_ms": round(lat["p50"] / 1000, 3) if has else None,
                    "p99_ms": round(lat["p99"] / 1000, 3) if has else None,
                    **_errors(run),
                    "statuses": run.get("statuses") or {},
                    "counters": run.get("counters") or {},
                }
            cell["server_cpu_ms_per_request"] = rec.get("server_cpu_ms_per_request")
            if "postgres_cpu_ms_per_request" in rec:
                cell["postgres_cpu_ms_per_request"] = rec["postgres_cpu_ms_per_request"]
            out.setdefault(rec["target"], {})[key] = cell
    return out


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "—"
    r = a / b
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.2g}×"


def _scenario_table(summary: dict, targets: list, cell, align: str) -> list:
    """A markdown table: a row per scenario any target ran, `cell(c, scenario, run)` per
    target that ran it, "—" for those that did not."""
    rows = ["| scenario | " + " | ".join(TARGET_LABELS[t] for t in targets) + " |",
            "|---|" + align * len(targets)]
    for scenario, run, label in ROWS:
        key = scenario if run == "main" else f"{scenario}/{run}"
        if not any(key in summary[t] for t in targets):
            continue
        cells = []
        for t in targets:
            c = summary[t].get(key)
            cells.append("—" if not c or c.get("rps") is None else cell(c, scenario, run))
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return rows


def _markdown(meta: dict, summary: dict) -> str:
    targets = [t for t in TARGET_ORDER if t in summary]
    lines = []
    add = lines.append
    add(f"## Portcullis and peers — {meta['date']}, {meta['machine']['cpu']}, "
        f"{meta['machine']['cores']} cores")
    add("")
    add(f"wrk, {meta['settings']['seconds']} s per scenario, {meta['settings']['wrk_threads']} thread, "
        f"{meta['settings']['connections']} connections unless stated; all on 127.0.0.1, "
        "client and servers sharing the cores. Cells: requests/s · p50 · p99 (ms); "
        "\"ok\" is the rate of the answers the scenario is after (2xx; the 4xx refusal for "
        "the wrong password and the unknown account) where it differs from all answers by "
        "more than 5 %.")
    add("")
    def speed(c, scenario, run):
        text = f"{_num(c['rps'])}"
        if c.get("good_rps") is not None and abs(c["good_rps"] - c["rps"]) > 0.05 * c["rps"]:
            text += f" (ok {_num(c['good_rps'])})"
        return (f"{text} · {_ms(c['p50_ms'] and c['p50_ms'] * 1000)} · "
                f"{_ms(c['p99_ms'] and c['p99_ms'] * 1000)}")

    def cost(c, scenario, run):
        errs = f"non-2xx {c['non_2xx_3xx']}, socket {c['socket']}"
        if c.get("statuses"):
            errs = _status_text(c) + (f", socket {c['socket']}" if c["socket"] else "")
        if c.get("counters"):
            errs += ", " + ", ".join(f"{k} {v}" for k, v in c["counters"].items())
        cpu = c.get("server_cpu_ms_per_request")
        cpu_text = "cpu —" if cpu is None else f"cpu {_sig(cpu)}"
        if c.get("postgres_cpu_ms_per_request") is not None:
            cpu_text += f" +pg {_sig(c['postgres_cpu_ms_per_request'])}"
        if run == "signin" and scenario == "flood":
            cpu_text = "cpu: see next row"
        elif scenario == "flood":
            cpu_text += " (both wrk runs)"
        return f"{errs}; {cpu_text}"

    lines.extend(_scenario_table(summary, targets, speed, "---:|"))
    add("")
    add("Refusals and errors (wrk's non-2xx/3xx and socket errors; answers by status where "
        "counted); server CPU per request in ms, summed over the server's process tree, and "
        "with +pg the whole local PostgreSQL server's CPU per request:")
    add("")
    lines.extend(_scenario_table(summary, targets, cost, "---|"))

    # Ratios of Portcullis to each peer and to the ceiling (requests/s).
    pcs = [t for t in ("portcullis-sqlite", "portcullis-postgres") if t in summary]
    peers = [t for t in ("better-auth", "fastapi-users") if t in summary]
    ceiling = summary.get("ceiling", {}).get("ceiling", {}).get("good_rps")
    if pcs and (peers or ceiling):
        add("")
        add("Ratios of ok answers/s (Portcullis ÷ other; above 1× Portcullis serves more; "
            "the ceiling columns divide by the ceiling's GET /ceiling):")
        add("")
        columns = [(p, o) for p in pcs for o in peers] + [(p, "ceiling") for p in pcs if ceiling]
        short = {"portcullis-sqlite": "PC-SQLite", "portcullis-postgres": "PC-PG",
                 "better-auth": "Better-Auth", "fastapi-users": "fastapi-users", "ceiling": "ceiling"}
        add("| scenario | " + " | ".join(f"{short[p]} ÷ {short[o]}" for p, o in columns) + " |")
        add("|---|" + "---:|" * len(columns))
        for scenario, run, label in ROWS:
            if scenario == "ceiling":
                continue
            key = scenario if run == "main" else f"{scenario}/{run}"
            if not any(key in summary[p] for p in pcs):
                continue
            cells = []
            for p, o in columns:
                mine = summary[p].get(key, {}).get("good_rps")
                other = ceiling if o == "ceiling" else summary[o].get(key, {}).get("good_rps")
                cells.append(_ratio(mine, other))
            add(f"| {label} | " + " | ".join(cells) + " |")

    # Sign-in against the bare hash on every core, measured in this run.
    hashing = meta.get("argon2id_ceiling_per_s")
    if hashing and pcs:
        add("")
        add(f"Sign-in against the bare Argon2id hash (m = 19 MiB, t = 2, p = 1) verifying on "
            f"{meta['machine']['cores']} threads in this run: {hashing:.1f}/s.")
        add("")
        add("| target | sign-in ok/s | of the bare hash |")
        add("|---|---:|---:|")
        for p in pcs:
            mine = summary[p].get("signin", {}).get("good_rps")
            if mine:
                add(f"| {TARGET_LABELS[p]} | {mine:.1f} | {100 * mine / hashing:.1f} % |")

    # Timing equality of the two refusals.
    rows = []
    for t in targets:
        w = summary[t].get("signin-wrong-password", {}).get("p50_ms")
        u = summary[t].get("signin-unknown-account", {}).get("p50_ms")
        if w and u:
            rows.append(f"| {TARGET_LABELS[t]} | {w:.2f} | {u:.2f} | {100 * (u - w) / w:+.1f} % |")
    if rows:
        add("")
        add("Timing of refusals (p50, ms): a wrong password against an unknown account.")
        add("")
        add("| target | wrong password | unknown account | difference |")
        add("|---|---:|---:|---:|")
        lines.extend(rows)

    rows = []
    for t in targets:
        alone = summary[t].get("me-bearer", {}).get("p99_ms")
        cell = summary[t].get("flood/me")
        if cell is None:
            continue
        flood = cell.get("p99_ms")
        rows.append(f"| {TARGET_LABELS[t]} | {_ms(alone and alone * 1000)} | "
                    f"{_ms(flood * 1000) if flood is not None else 'none completed'} | "
                    f"{_num(cell.get('rps'))} |")
    if rows:
        add("")
        add("GET me (bearer, 16 connections) while 64 connections sign in: p99, ms.")
        add("")
        add("| target | p99 alone | p99 during the flood | requests/s during the flood |")
        add("|---|---:|---:|---:|")
        lines.extend(rows)

    add("")
    add("Resident memory of the server's process tree (MiB): idle after start, after the run.")
    add("")
    add("| target | processes | idle | after the run |")
    add("|---|---:|---:|---:|")
    for t in targets:
        mem = meta["memory"].get(t, {})
        idle, after = mem.get("idle_rss_kib"), mem.get("after_rss_kib")
        add(f"| {TARGET_LABELS[t]} | {mem.get('processes', '—')} | "
            f"{idle / 1024:.1f} | {after / 1024:.1f} |" if idle and after else
            f"| {TARGET_LABELS[t]} | — | — | — |")
    return "\n".join(lines) + "\n"


COLOURS = {
    "portcullis-sqlite": "#1f5fa8",
    "portcullis-postgres": "#6fa8dc",
    "better-auth": "#d9822b",
    "fastapi-users": "#3c9a5f",
}


def _svg(meta: dict, summary: dict) -> str:
    """Grouped bars of requests/s per scenario, one bar per target, log scale; the ceiling
    as a dashed line across the chart."""
    targets = [t for t in TARGET_ORDER if t in summary and t != "ceiling"]
    rows = [(s, r, label) for s, r, label in ROWS if s != "ceiling"
            and any((summary[t].get(s if r == "main" else f"{s}/{r}") or {}).get("good_rps") for t in targets)]
    ceiling = summary.get("ceiling", {}).get("ceiling", {}).get("good_rps")
    values = [summary[t].get(s if r == "main" else f"{s}/{r}", {}).get("good_rps") or 0
              for s, r, _ in rows for t in targets]
    values = [v for v in values if v > 0] + ([ceiling] if ceiling else [])
    if not values:
        values = [1.0]
    lo = 10 ** math.floor(math.log10(max(min(values), 0.1)))
    hi = 10 ** math.ceil(math.log10(max(values) * 1.05))
    if hi <= lo:
        hi = lo * 10

    left, right, top, bottom = 70, 150, 60, 150
    group_w = max(24 * max(len(targets), 1) + 24, 90)
    width = left + right + group_w * max(len(rows), 1)
    height = 460
    plot_h = height - top - bottom

    def y(v: float) -> float:
        v = max(v, lo)
        return top + plot_h * (1 - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))

    esc = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14" font-weight="bold">'
           f'Ok answers/s per scenario (log scale)</text>',
           f'<text x="{left}" y="38" fill="#555">{esc(meta["date"])}, {esc(meta["machine"]["cpu"])}, '
           f'{meta["machine"]["cores"]} cores, wrk {meta["settings"]["seconds"]} s per scenario</text>']
    decade = lo
    while decade <= hi * 1.0001:
        yy = y(decade)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{decade:,.0f}</text>'
                   if decade >= 1 else
                   f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{decade:g}</text>')
        decade *= 10
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#333"/>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#333"/>')
    bar_w = (group_w - 24) / max(len(targets), 1)
    for i, (scenario, run, label) in enumerate(rows):
        key = scenario if run == "main" else f"{scenario}/{run}"
        x0 = left + i * group_w + 12
        for j, t in enumerate(targets):
            cell = summary[t].get(key)
            rps = (cell or {}).get("good_rps")
            x = x0 + j * bar_w
            if not rps:
                # No such feature ("—"), or nothing answered within the run ("0").
                out.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - 4}" text-anchor="middle" '
                           f'fill="#999">{"—" if cell is None else "0"}</text>')
                continue
            yy = y(rps)
            out.append(f'<rect x="{x:.1f}" y="{yy:.1f}" width="{bar_w - 2:.1f}" '
                       f'height="{top + plot_h - yy:.1f}" fill="{COLOURS[t]}">'
                       f'<title>{esc(TARGET_LABELS[t])}, {esc(label)}: {rps:,.1f} ok answers/s</title></rect>')
            tx, ty = x + (bar_w - 2) / 2 + 3, yy - 3
            out.append(f'<text transform="translate({tx:.1f},{ty:.1f}) rotate(-90)" font-size="9" '
                       f'fill="#333">{_num(rps)}</text>')
        cx = left + i * group_w + group_w / 2
        ly = top + plot_h + 12
        out.append(f'<text transform="translate({cx:.1f},{ly}) rotate(35)" text-anchor="start">'
                   f'{esc(label)}</text>')
    if ceiling:
        yy = y(ceiling)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" '
                   f'stroke="#c00" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{width - right + 4}" y="{yy - 4:.1f}" fill="#c00">ceiling (axum,</text>')
        out.append(f'<text x="{width - right + 4}" y="{yy + 10:.1f}" fill="#c00">constant JSON):</text>')
        out.append(f'<text x="{width - right + 4}" y="{yy + 24:.1f}" fill="#c00">{ceiling:,.0f} req/s</text>')
    lx = left
    for t in targets:
        out.append(f'<rect x="{lx}" y="{height - 22}" width="12" height="12" fill="{COLOURS[t]}"/>')
        out.append(f'<text x="{lx + 16}" y="{height - 12}">{esc(TARGET_LABELS[t])}</text>')
        lx += 30 + 7 * len(TARGET_LABELS[t])
    out.append("</svg>")
    return "\n".join(out) + "\n"


def cmd_report(args: argparse.Namespace) -> None:
    run_dir = args.run_dir
    if os.path.isfile(run_dir):
        # Render an earlier results file again.
        with open(run_dir) as f:
            earlier = json.load(f)
        meta, records = earlier["meta"], earlier["records"]
    else:
        with open(os.path.join(run_dir, "meta.json")) as f:
            meta = json.load(f)
        records = []
        path = os.path.join(run_dir, "records.jsonl")
        if os.path.exists(path):
            with open(path) as f:
                records = [json.loads(line) for line in f if line.strip()]
        memory = {}
        mem_path = os.path.join(run_dir, "memory.jsonl")
        if os.path.exists(mem_path):
            with open(mem_path) as f:
                for line in f:
                    if line.strip():
                        m = json.loads(line)
                        memory.setdefault(m["target"], {}).update(m)
        meta["memory"] = memory
    summary = _summarise(records)
    results = {"meta": meta, "summary": summary, "records": records}
    stem = os.path.join(args.out, meta["run_id"])
    with open(stem + ".json", "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    markdown = _markdown(meta, summary)
    with open(stem + ".md", "w") as f:
        f.write(markdown)
    with open(stem + ".svg", "w") as f:
        f.write(_svg(meta, summary))
    print(markdown)
    print(f"results: {stem}.json, {stem}.md, {stem}.svg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("env")
    p.add_argument("kind", choices=sorted(KINDS))
    p.set_defaults(func=cmd_env)
    p = sub.add_parser("prepare")
    p.add_argument("kind", choices=sorted(k for k in KINDS if k != "ceiling"))
    p.add_argument("base")
    p.add_argument("dir")
    p.add_argument("sessions", type=int)
    p.set_defaults(func=cmd_prepare)
    p = sub.add_parser("sample")
    p.add_argument("pid", type=int)
    p.add_argument("--postgres", action="store_true",
                   help="also the CPU time of the local PostgreSQL server")
    p.set_defaults(func=cmd_sample)
    p = sub.add_parser("pids")
    p.add_argument("pid", type=int)
    p.set_defaults(func=cmd_pids)
    p = sub.add_parser("memory")
    p.add_argument("file")
    p.add_argument("target")
    p.add_argument("key", choices=["idle_rss_kib", "after_rss_kib"])
    p.add_argument("pid", type=int)
    p.set_defaults(func=cmd_memory)
    p = sub.add_parser("meta")
    p.add_argument("file")
    p.add_argument("--run-id", required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--warmup", type=float, required=True)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--targets", required=True)
    p.add_argument("--server-bin")
    p.add_argument("--git-head")
    p.add_argument("--postgres-version")
    p.add_argument("--hash-ceiling", type=float,
                   help="sign-ins/s of the bare Argon2id hash on every core")
    p.set_defaults(func=cmd_meta)
    p = sub.add_parser("record")
    p.add_argument("file")
    p.add_argument("--target", required=True)
    p.add_argument("--scenario", required=True)
    p.add_argument("--connections", required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--before", required=True)
    p.add_argument("--after", required=True)
    p.add_argument("--wrk", action="append", required=True, help="NAME=FILE")
    p.set_defaults(func=cmd_record)
    p = sub.add_parser("report")
    p.add_argument("run_dir", help="a run's scratch directory, or an earlier results JSON")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_report)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
