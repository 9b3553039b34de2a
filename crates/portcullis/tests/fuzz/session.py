#!/usr/bin/env python3
"""Credentials for the fuzz run (tests/fuzz/run.sh), with the standard library only.

    session.py BASE_URL register EMAIL    # sign up (bearer); the password is read from stdin
    session.py BASE_URL bearer EMAIL      # sign in, bearer transport; prints ACCESS=...
    session.py BASE_URL cookie EMAIL      # sign in, cookie transport; prints COOKIE=... CSRF=...
    session.py BASE_URL alive KIND VALUE  # exit 0 when GET /api/auth/me still answers 200

Only loopback base URLs are accepted: the fuzz run never talks to anything else.
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 30


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def request(base, method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with OPENER.open(req, timeout=TIMEOUT) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def expect(status, wanted, what, payload):
    if status != wanted:
        sys.exit(f"session.py: {what} answered {status}, expected {wanted}: {payload[:500]!r}")


def cookies(headers):
    """The name=value pairs of every Set-Cookie header."""
    jar = {}
    for line in headers.get_all("Set-Cookie") or []:
        pair = line.split(";", 1)[0]
        name, _, value = pair.partition("=")
        jar[name.strip()] = value.strip()
    return jar


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    base, command = argv[1].rstrip("/"), argv[2]
    host = urllib.parse.urlsplit(base).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"session.py: refusing a non-loopback base URL {base}")

    if command == "alive":
        kind, value = argv[3], argv[4]
        header = {"bearer": ("Authorization", f"Bearer {value}"), "cookie": ("Cookie", value)}[kind]
        status, _, _ = request(base, "GET", "/api/auth/me", headers=dict([header]))
        return 0 if status == 200 else 1

    email = argv[3]
    password = sys.stdin.readline().rstrip("\n")
    if command == "register":
        status, _, payload = request(
            base, "POST", "/api/auth/register", {"email": email, "password": password}
        )
        expect(status, 201, "register", payload)
        print(f"USER_ID={json.loads(payload)['user']['id']}")
    elif command == "bearer":
        status, _, payload = request(
            base, "POST", "/api/auth/login", {"email": email, "password": password}
        )
        expect(status, 200, "bearer sign-in", payload)
        print(f"ACCESS={json.loads(payload)['access_token']}")
    elif command == "cookie":
        status, headers, payload = request(
            base,
            "POST",
            "/api/auth/login",
            {"email": email, "password": password, "transport": "cookie"},
        )
        expect(status, 200, "cookie sign-in", payload)
        jar = cookies(headers)
        session = next(v for k, v in jar.items() if k.endswith("portcullis_session"))
        csrf_name, csrf = next((k, v) for k, v in jar.items() if k.endswith("portcullis_csrf"))
        session_name = csrf_name.replace("_csrf", "_session")
        print(f"COOKIE={session_name}={session}; {csrf_name}={csrf}")
        print(f"CSRF={csrf}")
    else:
        sys.exit(f"session.py: unknown command {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
