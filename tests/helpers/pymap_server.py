"""A throwaway pymap IMAP server on 127.0.0.1: a second, independent IMAP implementation
(pure Python, from PyPI, installed beside Dovecot by the 'test' extra) for the core scenario.

Its in-memory ``dict`` backend serves one user; unlike Dovecot it uses '/' as the hierarchy
delimiter, announces no NAMESPACE, and starts UIDs at 101.
"""

from __future__ import annotations

import subprocess
import sys

from .dovecot import PASSWORD, USER, free_port
from .local_server import LocalServer


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


class Pymap(LocalServer):
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager).

    ``token``: log in by XOAUTH2 with this bearer token instead of the test password."""

    name = "pymap"
    delimiter = "/"

    def __init__(self, user: str = USER, token: str | None = None) -> None:
        self.port = free_port()
        self.user, self.token = user, token
        self.secret = token or PASSWORD
        self.process: subprocess.Popen | None = None

    def start(self) -> "Pymap":
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *(["--xoauth2"] if self.token else []), "--host", "127.0.0.1", "--port",
             str(self.port), "dict", "--demo-user", self.user, "--demo-password", self.secret],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.wait_until_listening(20, lambda: self.process.stderr.read().decode()[-2000:]
                                  if self.process.poll() is not None else "")
        return self
