"""PostgreSQL stopped and started again under load, the server left running.

Usage: pg_restart.py BINARY [--pg-bin DIR] [--outage SECONDS] [--threads N]

The test owns a private PostgreSQL cluster (initdb into a temporary directory, listening on
127.0.0.1 at a free port, its socket in that directory; as the `postgres` user when run as
root). It starts the server on it, sends a bounded load (GET /api/auth/me with a bearer
token, sign-ins, refresh rotations), then stops the cluster (`pg_ctl stop -m fast`) and
keeps the load going. It checks:

* during the outage every answer is 503 (`unavailable`, problem+json), never a 500 nor any
  other status, and every request ends within 10 s;
* `GET /health/ready` answers 503 and names the failed dependency (`database`);
* after `pg_ctl start` the same server process answers every kind of request with success
  again within a bounded time (30 s), without a restart of its own.

The cluster is removed at the end whatever happens.
"""

import argparse
import collections
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from common import (exit_on_sigterm, remove_unless_kept, Client, Server, Violations, free_port, log, rmtree, sign_in, sign_up,
                    tokens, REQUEST_TIMEOUT)

RECOVERY_LIMIT = 30.0


class Cluster:
    """A private PostgreSQL cluster: initdb, pg_ctl start/stop, removed by `destroy`."""

    def __init__(self, pg_bin, root):
        self.pg_bin = pg_bin
        self.root = root
        self.data = os.path.join(root, "pgdata")
        self.socket_dir = os.path.join(root, "socket")
        self.logfile = os.path.join(root, "postgres.log")
        self.port = free_port()
        self.as_user = []
        os.makedirs(root)
        # The postgres user must reach its directory inside the test's temporary one.
        os.chmod(os.path.dirname(root), 0o755)
        if os.geteuid() == 0:
            # initdb refuses to run as root.
            account = pwd.getpwnam("postgres")
            os.chown(root, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.run("mkdir", "-p", self.socket_dir)

    def run(self, program, *args, check=True, timeout=120):
        path = program if "/" in program or program in ("mkdir",) else os.path.join(self.pg_bin, program)
        done = subprocess.run(self.as_user + [path, *args], capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise SystemExit(f"{program} failed ({done.returncode}): {done.stderr.strip()}\n{self.tail()}")
        return done

    def tail(self):
        try:
            with open(self.logfile, encoding="utf-8", errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def init(self):
        self.run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--no-sync", "--no-instructions")

    def start(self):
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", self.data, "-l", self.logfile, "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode="fast"):
        self.run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def running(self):
        return self.run("pg_ctl", "-D", self.data, "status", check=False).returncode == 0

    def destroy(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "-t", "60", "stop", check=False)
        rmtree(self.root)

    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


class Load:
    """Threads that each loop over /me, a refresh and now and then a sign-in, recording the
    status of every answer by phase. Bounded by `max_requests` per thread and by `stop`."""

    def __init__(self, port, accounts, max_requests, violations):
        self.port = port
        self.accounts = accounts
        self.max_requests = max_requests
        self.violations = violations
        self.phase = "before"
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.statuses = collections.defaultdict(collections.Counter)
        self.codes = collections.defaultdict(collections.Counter)
        self.slowest = collections.defaultdict(float)
        self.last_failure = 0.0
        self.successes_after = collections.Counter()

    def note(self, kind, answer, client):
        phase = self.phase
        elapsed = answer.elapsed if answer is not None else client.last_elapsed
        status = answer.status if answer is not None else "no answer"
        with self.lock:
            self.statuses[phase][f"{kind} {status}"] += 1
            self.slowest[phase] = max(self.slowest[phase], elapsed)
            if answer is not None and answer.status >= 500:
                self.codes[phase][f"{answer.status} {answer.code()}"] += 1
            if answer is not None and answer.status < 300 and phase == "after":
                self.successes_after[kind] += 1
        if elapsed > REQUEST_TIMEOUT - 0.5:
            self.violations.add(f"{phase}: {kind} took {elapsed:.1f}s ({status})")
        if answer is None:
            self.violations.add(f"{phase}: {kind} got no answer: {client.last_error!r}")
            return
        if phase == "outage":
            if answer.status == 503:
                if answer.code() != "unavailable":
                    self.violations.add(f"outage: {kind} 503 with code {answer.code()!r}")
            elif answer.status >= 300:
                self.violations.add(f"outage: {kind} answered {answer.status} {answer.body[:200]}")
        elif answer.status >= 300:
            if phase == "before":
                self.violations.add(f"{phase}: {kind} answered {answer.status} {answer.body[:200]}")
            else:
                with self.lock:
                    self.last_failure = time.monotonic()

    def worker(self, n):
        client = Client(self.port)
        email = self.accounts[n]
        access = refresh = None
        for i in range(self.max_requests):
            if self.stop.is_set():
                break
            if refresh is None or i % 10 == 0:
                answer = sign_in(client, email)
                self.note("sign-in", answer, client)
                if answer is not None and answer.status == 200:
                    access, refresh = tokens(answer)
            elif i % 2:
                answer = client.request("GET", "/api/auth/me", token=access)
                self.note("me", answer, client)
            else:
                answer = client.request("POST", "/api/auth/refresh", {"refresh_token": refresh})
                self.note("refresh", answer, client)
                if answer is not None and answer.status == 200:
                    access, refresh = tokens(answer)
                elif answer is not None and answer.status == 401:
                    # A rotation whose commit the outage cut off may have landed; the next
                    # sign-in starts a new family.
                    refresh = None
            time.sleep(0.01)
        client.close()


def ready(client):
    answer = client.request("GET", "/health/ready")
    return answer, (answer.json() if answer is not None else None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--pg-bin", default=os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
    parser.add_argument("--outage", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--max-requests", type=int, default=5000, help="per thread")
    args = parser.parse_args()
    name = "PostgreSQL restart"
    violations = Violations()
    if not os.path.exists(os.path.join(args.pg_bin, "initdb")):
        raise SystemExit(f"no PostgreSQL binaries in {args.pg_bin} (set PG_BIN)")

    tmp = tempfile.mkdtemp(prefix="portcullis-pgrestart-")
    cluster = server = None
    threads = []
    load = None
    try:
        cluster = Cluster(args.pg_bin, os.path.join(tmp, "pg"))
        os.makedirs(os.path.join(tmp, "data"))
        server = Server(args.binary, os.path.join(tmp, "data"), cluster.url())
        cluster.init()
        cluster.start()
        log(f"== {name}: private cluster on 127.0.0.1:{cluster.port}, {args.threads} threads, outage {args.outage}s")
        server.start()
        setup = Client(server.port)
        accounts = []
        for n in range(args.threads):
            email = f"pg-{n}@example.com"
            answer = sign_up(setup, email)
            if answer is None or answer.status != 201:
                raise SystemExit(f"setup sign-up failed: {answer and answer.status}")
            accounts.append(email)
        answer, body = ready(setup)
        if answer is None or answer.status != 200:
            violations.add(f"/health/ready before the outage: {answer and answer.status} {body}")

        load = Load(server.port, accounts, args.max_requests, violations)
        threads = [threading.Thread(target=load.worker, args=(n,)) for n in range(args.threads)]
        for t in threads:
            t.start()
        time.sleep(2)

        started = time.monotonic()
        load.phase = "outage"
        cluster.stop("fast")
        log(f"   cluster stopped (pg_ctl stop -m fast) in {time.monotonic() - started:.2f}s")
        probe_started = time.monotonic()
        answer, body = ready(setup)
        probe = time.monotonic() - probe_started
        if answer is None or answer.status != 503:
            violations.add(f"/health/ready during the outage: {answer and answer.status} {body}")
        elif not (isinstance(body, dict) and body.get("database") == "unavailable" and body.get("status") == "unavailable"):
            violations.add(f"/health/ready during the outage does not name the database: {body}")
        log(f"   /health/ready during the outage: {answer and answer.status} {body} in {probe:.2f}s")
        time.sleep(max(0.0, args.outage - (time.monotonic() - started)))

        load.phase = "after"
        restarted = time.monotonic()
        cluster.start()
        log(f"   cluster started again in {time.monotonic() - restarted:.2f}s")
        ready_after = None
        deadline = restarted + RECOVERY_LIMIT
        while time.monotonic() < deadline:
            answer, body = ready(setup)
            if answer is not None and answer.status == 200:
                ready_after = time.monotonic() - restarted
                break
            time.sleep(0.1)
        if ready_after is None:
            violations.add(f"/health/ready not 200 within {RECOVERY_LIMIT}s of the cluster's start")
        # Recovered: each kind of request has succeeded since, and the last failure is
        # followed by three seconds of nothing but successes.
        recovered_after = None
        while time.monotonic() < deadline:
            with load.lock:
                kinds_ok = all(load.successes_after[k] > 0 for k in ("me", "refresh", "sign-in"))
                quiet = time.monotonic() - max(load.last_failure, restarted)
            if kinds_ok and quiet >= 3.0:
                recovered_after = max(load.last_failure, restarted) - restarted
                break
            time.sleep(0.1)
        if recovered_after is None:
            violations.add(f"requests did not all succeed again within {RECOVERY_LIMIT}s of the cluster's start")
        if server.proc.poll() is not None:
            violations.add("the server process exited")
        load.stop.set()
        for t in threads:
            t.join(REQUEST_TIMEOUT + 5)
        setup.close()

        sent = sum(sum(c.values()) for c in load.statuses.values())
        log(f"   requests: {sent} sent by {args.threads} threads")
        for phase in ("before", "outage", "after"):
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(load.statuses[phase].items()))
            codes = ", ".join(f"{k}: {v}" for k, v in sorted(load.codes[phase].items()))
            log(f"   {phase}: {counts}; 5xx codes {{{codes}}}; slowest {load.slowest[phase]:.2f}s")
        log(f"   recovery: /health/ready 200 after {ready_after and round(ready_after, 2)}s;"
            f" last failed request {recovered_after and round(recovered_after, 2)}s after the cluster's start;"
            f" server pid {server.pid} never restarted")
        for line in server.error_lines('"message":"internal error"')[:10]:
            violations.add(f"server logged an internal error: {line[:300]}")
    finally:
        if load is not None:
            load.stop.set()
        for t in threads:
            t.join(REQUEST_TIMEOUT + 5)
        if server is not None:
            server.stop()
        if cluster is not None:
            cluster.destroy()
        remove_unless_kept(tmp)
    return violations.report(name)


if __name__ == "__main__":
    exit_on_sigterm()
    sys.exit(main())
