"""Crash and pause points for the crash-injection and concurrency tests.

``ALERTPROC_TEST_CRASH_AT=<name>`` makes the process kill itself with SIGKILL when it reaches
that point, exactly like a power cut or ``kill -9`` there. ``ALERTPROC_TEST_PAUSE_AT=<name>``
with ``ALERTPROC_TEST_PAUSE_FILE=<path>`` creates the file there and waits (at most a minute)
until the test removes it, so a second process can be started mid-run. Unset (always, in
real use) they do nothing. The names are listed in docs/reliability.md.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

_ENV = "ALERTPROC_TEST_CRASH_AT"


def crash_point(name: str) -> None:
    """Die (or pause) here, at once and without cleanup, if the test asked for it."""
    if os.environ.get(_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("ALERTPROC_TEST_PAUSE_AT") == name:
        os.environ.pop("ALERTPROC_TEST_PAUSE_AT")  # once per process
        flag = Path(os.environ["ALERTPROC_TEST_PAUSE_FILE"])
        flag.touch()
        deadline = time.monotonic() + 60
        while flag.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
