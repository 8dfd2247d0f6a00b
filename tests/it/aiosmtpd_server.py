"""aiosmtpd on a port the kernel picks, for tests/it/smtp.rs.

`python3 -m aiosmtpd` needs its port up front, and a port probed free can be
taken before the server binds it; here the server binds port 0 and prints
`listening on 127.0.0.1:PORT` once it accepts connections. Messages go to a
Maildir, as with `-c aiosmtpd.handlers.Mailbox`.

Usage: aiosmtpd_server.py MAILDIR plain
       aiosmtpd_server.py MAILDIR starttls|implicit CERT KEY
       aiosmtpd_server.py MAILDIR xoauth2|xoauth2-challenge USER TOKEN_FILE AUTH_LOG

`xoauth2` is plain SMTP (loopback) that offers AUTH XOAUTH2 only and takes a
message only after it: the user must be USER and the bearer token the current
content of TOKEN_FILE (read at every AUTH, so a test can make the token it
accepts expire). Each attempt appends `accepted` or `refused` to AUTH_LOG. A
refusal is `535 5.7.3 Authentication unsuccessful`, as Exchange Online answers;
with `xoauth2-challenge` it is Gmail's: first an error challenge (`334` and a
base64 JSON status), then `535` once the client answers it.
A session whose token is no longer the accepted one answers NOOP (the pool's
check before it reuses a connection) with 421, so the client signs in again.
"""

import asyncio
import base64
import socket
import ssl
import sys
from functools import partial

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult


def tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.check_hostname = False
    context.load_cert_chain(cert, key)
    return context


class XOAuth2Mailbox(Mailbox):
    """A Maildir that takes mail only from a client signed in with XOAUTH2."""

    def __init__(self, maildir, user, token_file, auth_log, challenge):
        super().__init__(maildir)
        self.challenge = challenge
        self.user = user
        self.token_file = token_file
        # Not `auth_…`: aiosmtpd offers every `auth_*` member as a mechanism.
        self.attempts_log = auth_log

    def record(self, outcome):
        with open(self.attempts_log, "a") as log:
            log.write(outcome + "\n")

    async def auth_XOAUTH2(self, server, args):
        # RFC-less but documented: base64("user=U\x01auth=Bearer T\x01\x01").
        if len(args) < 2:
            self.record("refused")
            return AuthResult(success=False, handled=False)
        try:
            fields = base64.b64decode(args[1], validate=True).decode().split("\x01")
        except ValueError:
            self.record("refused")
            return AuthResult(success=False, handled=False)
        values = dict(field.split("=", 1) for field in fields if "=" in field)
        token = self.accepted_token()
        if values.get("user") == self.user and values.get("auth") == "Bearer " + token:
            self.record("accepted")
            return AuthResult(success=True, auth_data=token)
        self.record("refused")
        if self.challenge:
            status = b'{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}'
            await server.challenge_auth(base64.b64encode(status), encode_to_b64=False)
            return AuthResult(
                success=False, handled=False, message="535 5.7.8 Username and Password not accepted"
            )
        return AuthResult(
            success=False, handled=False, message="535 5.7.3 Authentication unsuccessful"
        )

    def accepted_token(self):
        with open(self.token_file) as current:
            return current.read().strip()

    async def handle_NOOP(self, server, session, envelope, arg):
        if session.authenticated and session.auth_data != self.accepted_token():
            return "421 4.7.0 The session's token has expired"
        return "250 OK"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


def main():
    modes = {"plain": 3, "starttls": 5, "implicit": 5, "xoauth2": 6, "xoauth2-challenge": 6}
    if len(sys.argv) < 3 or modes.get(sys.argv[2]) != len(sys.argv):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    maildir, mode = sys.argv[1], sys.argv[2]
    if mode.startswith("xoauth2"):
        user, token_file, auth_log = sys.argv[3:6]
        challenge = mode == "xoauth2-challenge"
        factory = partial(
            SMTP,
            XOAuth2Mailbox(maildir, user, token_file, auth_log, challenge),
            auth_require_tls=False,
            auth_exclude_mechanism=["PLAIN", "LOGIN"],
        )
        context = None
    else:
        context = tls_context(sys.argv[3], sys.argv[4]) if mode != "plain" else None
        # The same SMTP options as `python3 -m aiosmtpd` with --tlscert/--smtpscert.
        factory = partial(
            SMTP,
            Mailbox(maildir),
            tls_context=context if mode == "starttls" else None,
            require_starttls=mode == "starttls",
        )
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(
        loop.create_server(
            factory, sock=listener, ssl=context if mode == "implicit" else None
        )
    )
    print(f"listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
