"""Whether `alertproc watch` still hears from each account, for `alertproc status`.

A listener whose server went away never gets as far as the database (and the database has
one writer at a time, which is not the listener), so a deaf account would look exactly like
a quiet one. The watch process therefore keeps a small JSON file beside the database,
``<db>.watch.json``: when it last heard from each account (any answer to its STATUS check or
a fetch) and the last problem. `alertproc status` reads it and names every account not heard
from within three check periods (plus a margin), and a watch that is no longer running.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

SUFFIX = ".watch.json"
MARGIN_SECONDS = 5  # a check takes a moment; a file written a second late is no silence


def heartbeat_path(db: str | Path) -> Path:
    """The heartbeat file of the database ``db``."""
    return Path(f"{db}{SUFFIX}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Heartbeat:
    """Written by the watch process: ``heard`` and ``trouble`` per account label."""

    def __init__(self, db: str | Path, accounts: dict[str, int]) -> None:
        """``accounts``: label → poll_seconds (how often its listener checks)."""
        self.path = heartbeat_path(db)
        self._lock = threading.Lock()
        self._written = 0.0
        self.state = {"pid": os.getpid(), "started_at": _now(), "stopped_at": None,
                      "accounts": {label: {"heard_at": None, "problem": None,
                                           "silent_after": 3 * poll + MARGIN_SECONDS}
                                   for label, poll in accounts.items()}}
        self._write(force=True)

    def heard(self, label: str) -> None:
        """The account's server answered."""
        with self._lock:
            account = self.state["accounts"][label]
            changed = account["problem"] is not None or account["heard_at"] is None
            account["heard_at"], account["problem"] = _now(), None
            self._write(force=changed)

    def trouble(self, label: str, problem: str) -> None:
        """The account's listener or fetch failed with ``problem`` (already masked)."""
        with self._lock:
            self.state["accounts"][label]["problem"] = problem[:300]
            self._write(force=True)

    def stopped(self) -> None:
        """The watch ended on purpose."""
        with self._lock:
            self.state["stopped_at"] = _now()
            self._write(force=True)

    def _write(self, force: bool) -> None:
        if not force and time.monotonic() - self._written < 1:  # at most once a second when nothing changed
            return
        partial = self.path.with_name(self.path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self.state, out)
        os.replace(partial, self.path)
        self._written = time.monotonic()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def listening(db: str | Path, now: datetime | None = None) -> dict | None:
    """What `status` says about watch: None when no watch ever ran on ``db``; else whether it
    runs and, per account, ``heard_at``, ``problem`` and ``silent`` (not heard from in time)."""
    path = heartbeat_path(db)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"running": False, "unreadable": f"{path}: {exc}", "accounts": {}}
    now = now or datetime.now(timezone.utc)
    running = state.get("stopped_at") is None and _running(int(state.get("pid", 0)))
    started = datetime.fromisoformat(state["started_at"])
    accounts = {}
    for label, account in state.get("accounts", {}).items():
        last = datetime.fromisoformat(account["heard_at"]) if account.get("heard_at") else None
        quiet_for = (now - (last or started)).total_seconds()
        accounts[label] = {"heard_at": last, "problem": account.get("problem"),
                           "silent": running and quiet_for > account.get("silent_after", 60)}
    return {"running": running, "pid": state.get("pid"), "started_at": started, "stopped_at": state.get("stopped_at"),
            "accounts": accounts}
