"""What stands between a request and the data: sessions, CSRF tokens, roles, the login
throttle and the security headers every response carries.

Sessions live in the server's memory (one process serves a team): a restart logs everyone
out, which is the safe failure. The cookie holds only a random token; the user's role is read
from the database on every request, so a removal or a new role takes effect at once.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..app.alertproc import Alertproc

ROLES = Alertproc.ROLES  # viewer, auditor, admin: each can do what the one before can, and more
SESSION_COOKIE = "alertproc_session"
LOGIN_COOKIE = "alertproc_login"  # the login form's own CSRF token, before there is a session
IDLE_SECONDS = 60 * 60  # a session unused this long ends
MAX_SECONDS = 12 * 60 * 60  # and any session ends after a working day
FREE_FAILURES = 5  # wrong passwords before the throttle starts
MAX_DELAY = 15 * 60

# No script at all, no framing, forms post only here; styles from the app's own file.
HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


def token() -> str:
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def allows(role: str | None, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may (each role can do what the ones before can)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


@dataclass
class Session:
    username: str
    csrf: str = field(default_factory=token)
    logged_in_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))  # to compare with the database
    started: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    """Session token -> :class:`Session`, expiring when idle or old."""

    def __init__(self) -> None:
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, username: str) -> tuple[str, Session]:
        key = token()
        with self._lock:
            self._by_token[key] = Session(username)
        return key, self._by_token[key]

    def get(self, key: str | None) -> Session | None:
        now = time.monotonic()
        with self._lock:
            found = self._by_token.get(key or "")
            if found and (now - found.seen > IDLE_SECONDS or now - found.started > MAX_SECONDS):
                del self._by_token[key]
                return None
            if found:
                found.seen = now
            return found

    def end(self, key: str | None) -> None:
        with self._lock:
            self._by_token.pop(key or "", None)


class Throttle:
    """Wrong passwords per user name and per address: after FREE_FAILURES, each further try must
    wait twice as long as the one before (1 s, 2 s, 4 s ... up to 15 minutes)."""

    def __init__(self) -> None:
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def wait(self, *keys: str) -> int:
        """Seconds until a login for ``keys`` may be tried again (0: now)."""
        now = time.monotonic()
        with self._lock:
            waits = [self._delay(count) - (now - last) for count, last in
                     (self._failures.get(key, (0, 0.0)) for key in keys)]
        return max(0, int(max(waits, default=0) + 0.999))

    def failed(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                count, _ = self._failures.get(key, (0, 0.0))
                self._failures[key] = (count + 1, time.monotonic())

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    @staticmethod
    def _delay(count: int) -> float:
        return 0 if count < FREE_FAILURES else min(2 ** (count - FREE_FAILURES), MAX_DELAY)
