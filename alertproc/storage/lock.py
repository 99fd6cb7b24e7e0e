"""One writer at a time: an advisory lock file beside the database."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError, LockedError


@contextmanager
def exclusive(db_path: str) -> Iterator[None]:
    """Hold ``<db>.lock`` for the duration; fail at once if another run holds it.

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
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise LockedError(
                f"another alertproc run (pid {holder}) is using {db_path}; "
                "this run exits without changing anything, the next scheduled run will catch up"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()
