"""Quiet sign-up's timing: alternates sign-ups of new addresses with sign-ups of one taken
address against a server at BASE (default http://127.0.0.1:18199) started with
PORTCULLIS_QUIET_SIGNUP=true, PORTCULLIS_REQUIRE_EMAIL_VERIFICATION=true and
PORTCULLIS_RATE_LIMIT=off; checks that both answer 202 with the same headers and prints the
latency of each kind.

    python3 bench/quiet_signup.py [COUNT]
"""
import json
import os
import statistics
import sys
import time
import urllib.request
import uuid

BASE = os.environ.get("BASE", "http://127.0.0.1:18199")


def sign_up(email):
    body = json.dumps({"email": email, "password": "correct horse battery staple"}).encode()
    request = urllib.request.Request(
        BASE + "/api/auth/register", data=body, headers={"content-type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        response.read()
        names = sorted(k.lower() for k in response.headers.keys())
        return time.perf_counter() - started, response.status, names


def summary(name, samples):
    ordered = sorted(samples)
    at = lambda q: ordered[int(len(ordered) * q)] * 1000
    print(f"{name:<15} p50 {at(.5):6.2f} ms   p90 {at(.9):6.2f} ms   mean {statistics.mean(samples) * 1000:6.2f} ms")


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    taken = f"taken-{uuid.uuid4().hex}@example.com"
    sign_up(taken)
    new, old = [], []
    for _ in range(count):
        fresh = sign_up(f"new-{uuid.uuid4().hex}@example.com")
        again = sign_up(taken)
        assert fresh[1] == again[1] == 202 and fresh[2] == again[2], (fresh, again)
        new.append(fresh[0])
        old.append(again[0])
    summary("new address", new)
    summary("taken address", old)


if __name__ == "__main__":
    main()
