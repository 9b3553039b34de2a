"""kill -9 under load, then restart on the same database.

Usage: kill9.py BINARY [--postgres URL] [--kills N] [--signup-threads N] [--refresh-threads N]

Each round starts the server (SQLite file in a temporary directory, or the PostgreSQL
database at URL, which must be empty), sends a bounded load of sign-ups (a unique address
each) and refresh-token rotations (bearer transport: sign in, then rotate, keeping the
latest token), and kills the server with SIGKILL while that load runs. After the last round
the server is started once more and the test checks:

* every address whose sign-up was answered 201 is in the database and can sign in;
* the database is sound: SQLite's `PRAGMA integrity_check` (and foreign keys) after every
  crash, and no refresh-token family with two live tokens, nor a token with two children;
* the outbox delivers exactly one verification message per account to the real SMTP sink:
  none missing, none twice, none for an address that has no account.

A message a worker had claimed when the process died stays claimed for its lease (five
minutes) and is then taken by another worker. Rather than wait, the test ends those leases
while the server is down, as that time passing would; it reports how many there were.
"""

import argparse
import collections
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from common import (exit_on_sigterm, remove_unless_kept, Client, Server, Sink, Violations, log, sign_in, sign_up,
                    sqlite_checks, tokens, LIVE_CHILDREN_SQL, FORKS_SQL, REQUEST_TIMEOUT)

# Statuses a request may get from a live server under this load without breaking a rule:
# 503 `overloaded` when the hash queue is full (sign-up and sign-in hash).
HASHING_BUSY = 503


class Database:
    """The test's own view of the database: python's sqlite3, or psql for PostgreSQL."""

    def __init__(self, sqlite_path=None, postgres_url=None):
        self.sqlite_path = sqlite_path
        self.postgres_url = postgres_url

    def url(self):
        return self.postgres_url or f"sqlite://{self.sqlite_path}"

    def rows(self, sql):
        if self.sqlite_path:
            import sqlite3

            db = sqlite3.connect(self.sqlite_path, timeout=30)
            try:
                out = db.execute(sql).fetchall()
                db.commit()
                return out
            finally:
                db.close()
        done = subprocess.run(["psql", self.postgres_url, "-v", "ON_ERROR_STOP=1", "-AtqF", "\t", "-c", sql],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise SystemExit(f"psql failed: {done.stderr.strip()}")
        return [tuple(line.split("\t")) for line in done.stdout.splitlines() if line]

    def check(self, violations, label):
        if self.sqlite_path:
            return sqlite_checks(self.sqlite_path, violations, label)
        for session, count in self.rows(LIVE_CHILDREN_SQL):
            violations.add(f"{label}: session {session} has {count} live refresh tokens")
        for parent, count in self.rows(FORKS_SQL):
            violations.add(f"{label}: refresh token {parent} has {count} children")
        return {"refresh_tokens": int(self.rows("SELECT COUNT(*) FROM refresh_tokens")[0][0])}


class Load:
    """One round of load against a live server, bounded by `max_requests` per thread and by
    the round's end, which the test signals when it kills the server."""

    def __init__(self, port, round_no, refreshers, args, violations):
        self.port = port
        self.round_no = round_no
        self.refreshers = refreshers
        self.args = args
        self.violations = violations
        self.stop = threading.Event()
        self.killed = threading.Event()
        self.lock = threading.Lock()
        self.created = []  # 201
        self.unanswered = []  # sent, no answer: may or may not exist
        self.statuses = collections.Counter()
        self.rotations = 0
        self.slowest = 0.0

    def note(self, kind, answer, client):
        with self.lock:
            if answer is None:
                self.statuses[f"{kind} no answer"] += 1
                self.slowest = max(self.slowest, client.last_elapsed)
            else:
                self.statuses[f"{kind} {answer.status}"] += 1
                self.slowest = max(self.slowest, answer.elapsed)
        if answer is None and not self.killed.is_set():
            self.violations.add(f"round {self.round_no}: {kind} got no answer from a live server: {client.last_error!r}")
        elif answer is not None and answer.elapsed > REQUEST_TIMEOUT:
            self.violations.add(f"round {self.round_no}: {kind} took {answer.elapsed:.1f}s")

    def signups(self, thread_no):
        client = Client(self.port)
        for i in range(self.args.max_requests):
            if self.stop.is_set():
                break
            email = f"k{self.round_no}-t{thread_no}-{i}-{uuid.uuid4().hex[:8]}@example.com"
            answer = sign_up(client, email)
            self.note("sign-up", answer, client)
            if answer is None:
                with self.lock:
                    self.unanswered.append(email)
                if self.killed.is_set():
                    break
            elif answer.status == 201:
                with self.lock:
                    self.created.append(email)
            elif answer.status != HASHING_BUSY:
                self.violations.add(f"round {self.round_no}: sign-up answered {answer.status} {answer.body[:200]}")
        client.close()

    def refreshes(self, thread_no):
        client = Client(self.port)
        email = self.refreshers[thread_no]
        refresh = None
        sent = 0
        while sent < self.args.max_requests and not self.stop.is_set():
            sent += 1
            if refresh is None:
                answer = sign_in(client, email)
                self.note("sign-in", answer, client)
                if answer is not None and answer.status == 200:
                    refresh = tokens(answer)[1]
                elif answer is not None and answer.status != HASHING_BUSY:
                    self.violations.add(f"round {self.round_no}: sign-in answered {answer.status} {answer.body[:200]}")
            else:
                answer = client.request("POST", "/api/auth/refresh", {"refresh_token": refresh})
                self.note("refresh", answer, client)
                if answer is not None and answer.status == 200:
                    refresh = tokens(answer)[1]
                    with self.lock:
                        self.rotations += 1
                elif answer is not None:
                    # One client, one request at a time: its latest token is always good.
                    self.violations.add(f"round {self.round_no}: refresh answered {answer.status} {answer.body[:200]}")
                    refresh = None
            if answer is None and self.killed.is_set():
                break
        client.close()

    def run_until_killed(self, server, after):
        threads = [threading.Thread(target=self.signups, args=(n,)) for n in range(self.args.signup_threads)]
        threads += [threading.Thread(target=self.refreshes, args=(n,)) for n in range(len(self.refreshers))]
        for t in threads:
            t.start()
        time.sleep(after)
        alive = sum(t.is_alive() for t in threads)
        self.killed.set()
        server.kill9()
        self.stop.set()
        for t in threads:
            t.join(REQUEST_TIMEOUT + 5)
            if t.is_alive():
                self.violations.add(f"round {self.round_no}: a load thread did not finish")
        return alive


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database instead of SQLite")
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--signup-threads", type=int, default=3)
    parser.add_argument("--refresh-threads", type=int, default=3)
    parser.add_argument("--max-requests", type=int, default=2000, help="per thread and round")
    parser.add_argument("--min-run", type=float, default=2.0, help="seconds of load before a kill, at least")
    parser.add_argument("--max-run", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    name = "kill9 on " + ("PostgreSQL" if args.postgres else "SQLite")
    violations = Violations()

    tmp = tempfile.mkdtemp(prefix="portcullis-kill9-")
    sink = Sink(os.path.join(tmp, "mail"))
    db = Database(postgres_url=args.postgres) if args.postgres else Database(sqlite_path=os.path.join(tmp, "portcullis.db"))
    server = Server(args.binary, os.path.join(tmp, "data"), db.url(), smtp_url=sink.url())
    os.makedirs(server.data_dir)
    log(f"== {name}: {args.kills} kills, {args.signup_threads} sign-up and {args.refresh_threads} refresh threads, seed {seed}")
    created, unanswered, statuses = [], [], collections.Counter()
    rotations, lease_ended, slowest = 0, 0, 0.0
    dead_claims = set()
    try:
        server.start()
        setup = Client(server.port)
        refreshers = []
        for n in range(args.refresh_threads):
            email = f"refresher-{n}@example.com"
            answer = sign_up(setup, email)
            if answer is None or answer.status != 201:
                raise SystemExit(f"setup sign-up failed: {answer and answer.status}")
            refreshers.append(email)
            created.append(email)
        setup.close()

        for round_no in range(1, args.kills + 1):
            if round_no > 1:
                started = time.monotonic()
                server.start()
                log(f"   restart {round_no - 1}: answering after {time.monotonic() - started:.2f}s")
            load = Load(server.port, round_no, refreshers, args, violations)
            after = rng.uniform(args.min_run, args.max_run)
            busy = load.run_until_killed(server, after)
            figures = db.check(violations, f"after kill {round_no}")
            # Claims of the dead process, ended as the lease running out would.
            claimed = db.rows("SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL"
                              " AND claimed_by IS NOT NULL")
            dead_claims.update(row[0] for row in claimed)
            if claimed:
                db.rows("UPDATE mail_outbox SET claimed_until = 0 WHERE sent_at IS NULL AND failed_at IS NULL"
                        " AND claimed_by IS NOT NULL")
            lease_ended += len(claimed)
            created += load.created
            unanswered += load.unanswered
            statuses.update(load.statuses)
            rotations += load.rotations
            slowest = max(slowest, load.slowest)
            log(f"   kill {round_no}: SIGKILL to pid {server.pid} after {after:.1f}s with {busy} threads busy;"
                f" {len(load.created)} sign-ups 201, {len(load.unanswered)} unanswered, {load.rotations} rotations;"
                f" db {figures}; {len(claimed)} mail claims of the dead process")

        started = time.monotonic()
        server.start()
        log(f"   final restart: answering after {time.monotonic() - started:.2f}s")

        # Every 201 is an account: in the table, and able to sign in (a sample: each one hashes).
        users = {row[0] for row in db.rows("SELECT lower(email) FROM users")}
        missing = [e for e in created if e not in users]
        for email in missing[:20]:
            violations.add(f"sign-up {email} was answered 201 but the account is gone")
        client = Client(server.port)
        sample = rng.sample(created, min(len(created), 40))
        signed_in = 0
        for email in sample:
            for _ in range(20):
                answer = sign_in(client, email)
                if answer is None or answer.status != HASHING_BUSY:
                    break
                time.sleep(0.2)
            if answer is not None and answer.status == 200:
                signed_in += 1
            else:
                violations.add(f"{email} (201) cannot sign in after the restarts: {answer and answer.status}")
        client.close()
        unanswered_exist = sum(e in users for e in unanswered)

        # The outbox drains, then: one verification message per account, no more.
        deadline = time.monotonic() + 120
        drained_after = None
        started = time.monotonic()
        while time.monotonic() < deadline:
            pending = int(db.rows("SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL")[0][0])
            if pending == 0:
                drained_after = time.monotonic() - started
                break
            time.sleep(0.5)
        if drained_after is None:
            violations.add(f"the outbox still holds {pending} undelivered messages after 120s")
        failed = int(db.rows("SELECT COUNT(*) FROM mail_outbox WHERE failed_at IS NOT NULL")[0][0])
        if failed:
            violations.add(f"{failed} messages were given up")
        time.sleep(0.5)
        # A message is known by its Message-ID, which is its outbox row's. Each account gets
        # exactly one message. The same message may arrive a second time only if its delivery
        # was in flight when the process died (claimed, not recorded): SMTP has no way to
        # make that window exactly-once, and the copy is recognisably the same message.
        received = collections.defaultdict(collections.Counter)  # address -> Message-ID -> copies
        for message in sink.messages():
            if message["subject"].startswith("Verify your email"):
                for rcpt in message["rcpt_tos"]:
                    received[rcpt.lower()][message.get("message_id", "")] += 1
            else:
                violations.add(f"unexpected message {message['subject']!r} to {message['rcpt_tos']}")
        def outbox_id(message_id):
            return message_id.strip("<>").split("@", 1)[0]
        duplicates = {e: ids for e, ids in received.items() if len(ids) > 1}
        redelivered = {e: ids for e, ids in received.items()
                       if len(ids) == 1 and max(ids.values()) > 1}
        not_delivered = [e for e in users if not received.get(e)]
        strangers = [e for e in received if e not in users]
        for email, ids in list(duplicates.items())[:20]:
            violations.add(f"{email} received {len(ids)} different verification messages: {dict(ids)}")
        in_flight_copies = 0
        for email, ids in redelivered.items():
            (message_id, copies), = ids.items()
            if outbox_id(message_id) in dead_claims and copies == 2:
                in_flight_copies += 1
            else:
                violations.add(f"{email} received message {message_id} {copies} times"
                               " (not a delivery in flight at a kill)")
        for email in not_delivered[:20]:
            violations.add(f"{email} has an account but received no verification message")
        for email in strangers[:20]:
            violations.add(f"{email} received a message but has no account")
        for line in server.error_lines('"message":"internal error"')[:10]:
            violations.add(f"server logged an error: {line[:300]}")

        log(f"   requests: {sum(statuses.values())} sent; " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
        log(f"   sign-ups: {len(created)} answered 201 (setup included), all {len(created) - len(missing)} present,"
            f" {signed_in}/{len(sample)} sampled signed in; {len(unanswered)} unanswered at a kill, {unanswered_exist} of them exist")
        log(f"   refresh rotations: {rotations}; slowest answer {slowest:.2f}s")
        copies = sum(sum(ids.values()) for ids in received.values())
        log(f"   mail: {copies} verification messages for {len(users)} accounts: {len(not_delivered)} missing,"
            f" {len(duplicates)} accounts with two different messages, {len(strangers)} to strangers;"
            f" {lease_ended} claims of a killed process ended, {in_flight_copies} of them delivered a second time"
            f" (same Message-ID); drained {drained_after and round(drained_after, 1)}s after the checks began")
        final = db.check(violations, "after the final restart")
        log(f"   database after the final restart: {final}")
    finally:
        server.stop()
        sink.stop()
        remove_unless_kept(tmp)
    return violations.report(name)


if __name__ == "__main__":
    exit_on_sigterm()
    sys.exit(main())
