"""One writer at a time: an advisory lock file beside the database, naming its holder."""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError, LockedError
from ..domain import IST

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


@contextmanager
def exclusive(db_path: str, wait: float = 0, doing: str = "") -> Iterator[None]:
    """Hold ``<db>.lock`` for the duration. When another process holds it, wait up to ``wait``
    seconds for it, then raise :class:`LockedError` naming that process and what it is doing.

    The kernel drops the lock when the holder dies, even by ``kill -9``, so a crash never
    leaves a stale lock behind.
    """
    if db_path == ":memory:":
        yield
        return
    lock_path = Path(f"{db_path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:  # never through a link: truncating the "lock" would truncate whatever it points at
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(f"{lock_path} is a symbolic link; alertproc refuses to write through it: "
                              "remove it (alertproc makes its own lock file)") from None
        raise
    handle = os.fdopen(descriptor, "a+")
    try:
        _take(handle, db_path, wait)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "doing": doing,
                                 "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}))
        handle.flush()
        yield
    finally:
        handle.close()


def _take(handle, db_path: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = _holder(handle)
            if time.monotonic() >= deadline:
                waited = f"waited {wait:g} s; " if wait else ""
                raise LockedError(
                    f"{db_path} is being changed by another alertproc process ({holder}); {waited}this command "
                    "changed nothing. Try again when it has finished (`alertproc status` shows the runs); a "
                    "scheduled run catches up at its next start. To wait longer, set lock_wait (seconds) in the "
                    "config or $ALERTPROC_LOCK_WAIT") from None
            if not told:
                log.warning("waiting up to %g s for another alertproc process (%s)", wait, holder)
                told = True
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def _holder(handle) -> str:
    """Who holds the lock, as the lock file says: "pid 123, `alertproc run`, since 07-12-2026 16:10 IST"."""
    handle.seek(0)
    text = handle.read().strip()
    try:
        found = json.loads(text)
        since = datetime.fromisoformat(found["since"]).astimezone(IST)
        doing = f", `alertproc {found['doing']}`" if found.get("doing") else ""
        return f"pid {int(found['pid'])}{doing}, since {since:%d-%m-%Y %H:%M} IST"
    except (ValueError, KeyError, TypeError):
        return f"pid {text}" if text.isdigit() else "pid unknown"
