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


class Pymap:
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    name = "pymap"
    delimiter = "/"

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> "Pymap":
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from pymap.main import main; main()", "--host", "127.0.0.1", "--port",
             str(self.port), "dict", "--demo-user", USER, "--demo-password", PASSWORD],
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

    def client(self, user: str = USER) -> IMAPClient:
        """A logged-in client, for setting up and inspecting the mailbox."""
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False)
        client.login(user, PASSWORD)
        return client
