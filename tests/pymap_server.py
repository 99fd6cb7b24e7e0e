"""A throwaway pymap IMAP server on 127.0.0.1: a second, independent IMAP implementation
(pure Python, from PyPI, installed beside Dovecot by the 'test' extra) for the core scenario.

Its in-memory ``dict`` backend serves one user; unlike Dovecot it uses '/' as the hierarchy
delimiter, announces no NAMESPACE, and starts UIDs at 101.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from imapclient import IMAPClient

from dovecot import PASSWORD, USER, free_port


# pymap offers PLAIN and LOGIN only; this launcher adds XOAUTH2, checking the bearer token as the
# user's password (pysasl reads the XOAUTH2 string; PlainCredentials compares the secret).
LAUNCH = """
import sys
import pymap.config
import pysasl
from pysasl.creds.plain import PlainCredentials
from pysasl.mechanism.oauth import OAuth2Mechanism
from pymap.main import main


class TokenAsPassword(OAuth2Mechanism):
    def server_attempt(self, responses):
        external, _ = super().server_attempt(responses)
        return PlainCredentials(external.authzid, external._token or ""), None  # pysasl keeps it private


if "--xoauth2" in sys.argv:
    sys.argv.remove("--xoauth2")
    mechanisms = pysasl.SASLAuth.defaults().server_mechanisms + [TokenAsPassword()]
    pymap.config.IMAPConfig.tls_auth = property(lambda self: pysasl.SASLAuth(mechanisms))
main()
"""


class Pymap:
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager).

    ``token``: log in by XOAUTH2 with this bearer token instead of the test password."""

    name = "pymap"
    delimiter = "/"

    def __init__(self, user: str = USER, token: str | None = None) -> None:
        self.port = free_port()
        self.user, self.token = user, token
        self.process: subprocess.Popen | None = None

    def start(self) -> "Pymap":
        secret = self.token or PASSWORD
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *(["--xoauth2"] if self.token else []), "--host", "127.0.0.1", "--port",
             str(self.port), "dict", "--demo-user", self.user, "--demo-password", secret],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pymap exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("pymap did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> "Pymap":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, user: str | None = None) -> IMAPClient:
        """A logged-in client, for setting up and inspecting the mailbox (its one user's)."""
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False)
        client.login(self.user, self.token or PASSWORD)
        return client
