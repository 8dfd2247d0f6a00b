"""aiosmtpd on a port the kernel picks, for tests/it/smtp.rs.

`python3 -m aiosmtpd` needs its port up front, and a port probed free can be
taken before the server binds it; here the server binds port 0 and prints
`listening on 127.0.0.1:PORT` once it accepts connections. Messages go to a
Maildir, as with `-c aiosmtpd.handlers.Mailbox`.

Usage: aiosmtpd_server.py MAILDIR plain
       aiosmtpd_server.py MAILDIR starttls|implicit CERT KEY
"""

import asyncio
import socket
import ssl
import sys
from functools import partial

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP


def tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.check_hostname = False
    context.load_cert_chain(cert, key)
    return context


def main():
    if len(sys.argv) not in (3, 5) or sys.argv[2] not in ("plain", "starttls", "implicit"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    maildir, mode = sys.argv[1], sys.argv[2]
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
