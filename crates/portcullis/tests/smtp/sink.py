"""A real SMTP server for the integration tests (aiosmtpd), on 127.0.0.1.

Usage: sink.py PORT DIR [--starttls CERT KEY | --tls CERT KEY] [--auth USER:PASSWORD]

Every message it accepts is written to DIR as NNNN.json with its envelope, its decoded parts
and whether it came over TLS from an authenticated client, atomically (written aside, then
renamed). With --starttls it requires STARTTLS before mail; with --tls it speaks TLS from the
first byte; with --auth it requires AUTH with those credentials. It prints "ready" once it
listens and serves until it is terminated.
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import warnings
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = len([n for n in os.listdir(directory) if n.endswith(".json")])

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        part = lambda kind: message.get_body((kind,))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"] or ""),
            "text": part("plain").get_content() if part("plain") else "",
            "html": part("html").get_content() if part("html") else "",
            "tls": server.transport.get_extra_info("sslcontext") is not None,
            "authenticated": bool(session.authenticated),
        }
        self.count += 1
        path = os.path.join(self.directory, f"{self.count:04}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.rename(path + ".tmp", path)
        return "250 OK"


class Credentials:
    def __init__(self, pair):
        self.login, self.password = (part.encode() for part in pair.split(":", 1))

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.login
            and auth_data.password == self.password
        )
        return AuthResult(success=ok, handled=False)


def main():
    # The tests' output is for the tests: aiosmtpd's advice and deprecations stay out of it.
    warnings.simplefilter("ignore")
    for name in ("mail.log", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("directory")
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth", metavar="USER:PASSWORD")
    args = parser.parse_args()
    os.makedirs(args.directory, exist_ok=True)

    options = {}
    for flag, key in ((args.starttls, "tls_context"), (args.tls, "ssl_context")):
        if flag:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*flag)
            options[key] = context
    if args.starttls:
        options["require_starttls"] = True
    if args.auth:
        # aiosmtpd counts only STARTTLS as TLS for this check; implicit TLS is TLS anyway.
        options.update(
            authenticator=Credentials(args.auth),
            auth_required=True,
            auth_require_tls=bool(args.starttls),
        )
    controller = Controller(Sink(args.directory), hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    print("ready", flush=True)
    asyncio.run(until_terminated())
    controller.stop()


async def until_terminated():
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()


if __name__ == "__main__":
    main()
