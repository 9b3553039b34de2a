"""Shared pieces of the crash and restart tests: the server and the SMTP sink as child
processes, a bounded HTTP client, and the checks of a database file.

Standard library only. Every request goes to 127.0.0.1 and has a timeout; every loop that
sends them is bounded in count and in time by its caller.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SINK = os.path.join(HERE, "..", "smtp", "sink.py")
PASSWORD = "correct horse battery staple"
# A request that takes longer than this is a violation: the server must answer, even when
# its database is gone, within its pool's acquire timeout (5 s) and some slack.
REQUEST_TIMEOUT = 10.0


def exit_on_sigterm():
    """A terminated test still runs its `finally` blocks: servers stopped, cluster removed."""

    def handler(signum, frame):
        raise SystemExit(f"terminated by signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def log(message):
    print(message, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Violations:
    """Collects every broken rule; the test fails at the end if any was recorded."""

    def __init__(self):
        self.items = []
        self.lock = threading.Lock()

    def add(self, message):
        with self.lock:
            if len(self.items) < 1000:
                self.items.append(message)

    def report(self, name):
        if self.items:
            log(f"FAIL {name}: {len(self.items)} violation(s)")
            for item in self.items[:40]:
                log(f"  - {item}")
            return 1
        log(f"PASS {name}")
        return 0


class Answer:
    def __init__(self, status, body, elapsed):
        self.status = status
        self.body = body
        self.elapsed = elapsed

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def code(self):
        body = self.json()
        return body.get("code") if isinstance(body, dict) else None


class Client:
    """One keep-alive connection to the server; reconnects after any failure. `request`
    returns an Answer, or None when no answer came (refused, reset, timed out), and records
    the time it took either way."""

    def __init__(self, port, timeout=REQUEST_TIMEOUT):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, token=None):
        headers = {"Origin": f"http://127.0.0.1:{self.port}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        started = time.monotonic()
        self.last_error = None
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
            answer = Answer(response.status, payload.decode("utf-8", "replace"), time.monotonic() - started)
            if response.getheader("connection", "").lower() == "close":
                self.close()
            return answer
        except (OSError, http.client.HTTPException) as err:
            self.last_error = err
            self.last_elapsed = time.monotonic() - started
            self.close()
            return None


class Sink:
    """The real SMTP server of the mail tests (tests/smtp/sink.py, aiosmtpd)."""

    def __init__(self, directory):
        self.directory = directory
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, SINK, str(self.port), directory],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.stop()
            raise SystemExit(f"the SMTP sink did not start ({line!r}); is aiosmtpd installed?")

    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def messages(self):
        out = []
        for name in sorted(os.listdir(self.directory)):
            if name.endswith(".json"):
                with open(os.path.join(self.directory, name), encoding="utf-8") as f:
                    out.append(json.load(f))
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Server:
    """The portcullis binary as a child process, on a port of its own, with its log in a
    file. `kill9` is a crash; `stop` a normal shutdown."""

    def __init__(self, binary, data_dir, database_url, smtp_url=None, extra_env=None):
        self.binary = binary
        self.data_dir = data_dir
        self.database_url = database_url
        self.smtp_url = smtp_url
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.proc = None
        self.starts = 0

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
        env.pop("DATABASE_URL", None)
        env.update(
            PORTCULLIS_ENV="development",
            PORTCULLIS_ADDR=f"127.0.0.1:{self.port}",
            PORTCULLIS_PUBLIC_URL=f"http://127.0.0.1:{self.port}",
            PORTCULLIS_DATA_DIR=self.data_dir,
            PORTCULLIS_COOKIE_SECURE="false",
            # The load comes from one address, far above the per-client limits.
            PORTCULLIS_RATE_LIMIT="off",
            PORTCULLIS_LOG_FORMAT="json",
            # Mail queued before a crash is found by the next process at once.
            PORTCULLIS_MAIL_POLL_INTERVAL="1s",
            DATABASE_URL=self.database_url,
            RUST_LOG=env.get("RUST_LOG", "warn"),
        )
        if self.smtp_url:
            env["PORTCULLIS_SMTP_URL"] = self.smtp_url
        env.update(self.extra_env)
        return env

    def start(self, timeout=60):
        self.starts += 1
        log_path = os.path.join(self.data_dir, f"server-{self.starts}.log")
        self.log = open(log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [self.binary, "serve"], env=self.env(), stdout=self.log, stderr=subprocess.STDOUT
        )
        client = Client(self.port, timeout=2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}; log in {log_path}:\n"
                                 + open(log_path, encoding="utf-8").read()[-4000:])
            answer = client.request("GET", "/health")
            if answer is not None and answer.status == 200:
                client.close()
                return
            time.sleep(0.1)
        self.kill9()
        raise SystemExit(f"the server did not answer /health within {timeout}s; log in {log_path}")

    @property
    def pid(self):
        return self.proc.pid

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc is not None:
            self.log.close()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill9()
        if self.proc is not None:
            self.log.close()

    def error_lines(self, needle=None):
        """Lines of every log so far at ERROR level (or containing `needle`)."""
        out = []
        for n in range(1, self.starts + 1):
            path = os.path.join(self.data_dir, f"server-{n}.log")
            if os.path.exists(path):
                for line in open(path, encoding="utf-8", errors="replace"):
                    if (needle or '"level":"ERROR"') in line:
                        out.append(line.strip())
        return out


def sign_up(client, email):
    return client.request("POST", "/api/auth/register",
                          {"email": email, "password": PASSWORD, "transport": "bearer"})


def sign_in(client, email):
    return client.request("POST", "/api/auth/login",
                          {"email": email, "password": PASSWORD, "transport": "bearer"})


def tokens(answer):
    body = answer.json() or {}
    return body.get("access_token"), body.get("refresh_token")


# --- checks on the database, run while no server is running or alongside one -------------

# Each session is one refresh-token family: its first token is issued at sign-in, each
# rotation marks the presented token used and adds one child. At most one token of a family
# that is not revoked may be unused; and no token may have two children.
LIVE_CHILDREN_SQL = """
SELECT r.session_id, COUNT(*) FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
 WHERE r.used_at IS NULL AND s.revoked_at IS NULL
 GROUP BY r.session_id HAVING COUNT(*) > 1
"""
FORKS_SQL = """
SELECT parent_id, COUNT(*) FROM refresh_tokens WHERE parent_id IS NOT NULL
 GROUP BY parent_id HAVING COUNT(*) > 1
"""


def sqlite_checks(path, violations, label):
    """integrity_check and the refresh-token families of a SQLite file; returns counts."""
    db = sqlite3.connect(path, timeout=30)
    try:
        result = [row[0] for row in db.execute("PRAGMA integrity_check")]
        if result != ["ok"]:
            violations.add(f"{label}: PRAGMA integrity_check = {result[:5]}")
        fk = db.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            violations.add(f"{label}: PRAGMA foreign_key_check found {len(fk)} rows, e.g. {fk[:3]}")
        for session, count in db.execute(LIVE_CHILDREN_SQL):
            violations.add(f"{label}: session {session} has {count} live refresh tokens")
        for parent, count in db.execute(FORKS_SQL):
            violations.add(f"{label}: refresh token {parent} has {count} children")
        tokens_n = db.execute("SELECT COUNT(*) FROM refresh_tokens").fetchone()[0]
        sessions_n = db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        return {"integrity": result[0] if result else "?", "refresh_tokens": tokens_n, "sessions": sessions_n}
    finally:
        db.close()


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)


def remove_unless_kept(tmp):
    """Removes a test's temporary directory, unless FAULTS_KEEP asks to keep it."""
    if os.environ.get("FAULTS_KEEP"):
        log(f"   kept {tmp}")
    else:
        rmtree(tmp)
