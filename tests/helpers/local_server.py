"""What every throwaway IMAP server of the tests shares: wait until it listens, stop it with
every process it started, a logged-in client, and the context-manager protocol."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from imapclient import IMAPClient

from .dovecot import PASSWORD

# What tests/setup-system.sh unpacks and fetches (Cyrus, peer test vectors). As root, Cyrus drops to
# 'nobody', who must reach its binaries: not under /root.
TEST_CACHE = Path(os.environ.get("ALERTPROC_TEST_CACHE") or ("/var/cache/alertproc-tests" if os.geteuid() == 0 else
                                                             Path.home() / ".cache" / "alertproc-tests"))


class LocalServer:
    """A server process on 127.0.0.1:``port`` for ``user``; subclasses define :meth:`start`."""

    name = "server"
    port: int
    user: str
    process: subprocess.Popen | None = None
    root: Path | None = None  # its files, removed on stop
    secret = PASSWORD

    def wait_until_listening(self, seconds: float = 15, why=lambda: "") -> None:
        """Return once the port accepts connections; raise with ``why()`` if the process exits first."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {why()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start: {why()}")

    def stop(self) -> None:
        """Kill the server and every process it started (it was started in a session of its own)."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=10)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def start(self) -> "LocalServer":
        raise NotImplementedError

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, user: str | None = None) -> IMAPClient:
        """A logged-in client, for setting up and inspecting the mailbox (its one user's)."""
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False)
        client.login(self.user, self.secret)
        return client
