"""Crash points for the crash-injection tests.

``ALERTPROC_TEST_CRASH_AT=<name>`` makes the process kill itself with SIGKILL when it reaches
that point, exactly like a power cut or ``kill -9`` there. Unset (always, in real use) it
does nothing. The names are listed in docs/reliability.md.
"""

from __future__ import annotations

import os
import signal

_ENV = "ALERTPROC_TEST_CRASH_AT"


def crash_point(name: str) -> None:
    """Die here, at once and without cleanup, if the test asked for it."""
    if os.environ.get(_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
