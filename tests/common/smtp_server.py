"""The SMTP server of the email alert tests: aiosmtpd (from PyPI, `make smtpd`) on a loopback
port, run as a process of its own by tests/common/smtp.rs.

    smtp_server.py RECORD [--tls-cert PEM --tls-key PEM] [--login USER]

Listens on 127.0.0.1 on a port the system picks, then prints `ready on 127.0.0.1:PORT`.
With --tls-cert and --tls-key it offers STARTTLS with that certificate and requires it before
anything else (a login included). With --login it requires a login before a mail and accepts
only USER with the password in the environment variable SMTP_TEST_PASSWORD (never on the
command line). Every mail and every login attempt is appended to RECORD as one JSON line:

    {"mail": {"to": ["a@example.com"], "content": "..."}}
    {"login": {"user": "u", "password": "p", "encrypted": true}}

`encrypted` says whether the connection was under TLS (after STARTTLS) when the login came.
"""

import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

PASSWORD_VARIABLE = "SMTP_TEST_PASSWORD"


class Recorder:
    """Appends what the server was sent to the record file, one JSON line each, flushed at
    once so that the tests read it as soon as the client has its answer."""

    def __init__(self, path, login):
        self.file = open(path, "a", encoding="utf-8")
        self.login = login

    def write(self, kind, value):
        self.file.write(json.dumps({kind: value}) + "\n")
        self.file.flush()

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        """aiosmtpd's authenticator: records the attempt, accepts only the configured
        login."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        self.write(
            "login",
            {"user": user, "password": password, "encrypted": session.ssl is not None},
        )
        return AuthResult(success=(user, password) == self.login, handled=False)

    async def handle_DATA(self, server, session, envelope):
        content = envelope.content
        if isinstance(content, bytes):
            content = content.decode("utf-8", "replace")
        self.write("mail", {"to": list(envelope.rcpt_tos), "content": content})
        return "250 OK: queued"


def tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def serve(args):
    login = None
    if args.login is not None:
        password = os.environ.get(PASSWORD_VARIABLE)
        if password is None:
            sys.exit(f"--login {args.login} needs its password in {PASSWORD_VARIABLE}")
        login = (args.login, password)
    recorder = Recorder(args.record, login)
    tls = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None

    def protocol():
        return SMTP(
            recorder,
            hostname="smtp.test",
            tls_context=tls,
            require_starttls=tls is not None,
            # Over TLS only when TLS is offered: a login before STARTTLS is refused.
            auth_require_tls=tls is not None,
            auth_required=login is not None,
            authenticator=recorder.authenticate if login is not None else None,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, host="127.0.0.1", port=0)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"ready on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", help="the file every mail and login is appended to")
    parser.add_argument("--tls-cert", help="offer STARTTLS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the certificate's private key (PEM)")
    parser.add_argument("--login", help=f"the one user accepted ({PASSWORD_VARIABLE})")
    args = parser.parse_args()
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
