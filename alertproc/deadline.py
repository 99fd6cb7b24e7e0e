"""An overall deadline for a network conversation, whatever pace the peer keeps.

A socket timeout bounds one read; a server that trickles a byte every few seconds never
trips it and can hold a run (and its lock) for hours. :class:`Deadline` shuts the socket
down when the whole exchange outlives its budget: the blocked read returns at once with an
error, which the caller turns into "did not answer within N s" for that mailbox or channel.
"""

from __future__ import annotations

import socket
import threading


class Deadline:
    """Use as ``with Deadline(seconds) as deadline: deadline.watch(sock); ...``.

    :meth:`watch` may be called before the socket exists (it is armed when it does, even if
    the time is already up); :attr:`expired` says afterwards whether the deadline cut it.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def watch(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has passed)."""
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> "Deadline":
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


# The deadline of the connect in progress in this thread: the IMAP and SMTP classes create
# their socket inside their constructors, so they hand it over here as soon as it exists.
_current = threading.local()


def connecting(deadline: Deadline | None) -> None:
    """Make ``deadline`` the one sockets created in this thread from now on report to."""
    _current.deadline = deadline


def created(sock: socket.socket) -> socket.socket:
    """Called by a connection class as it creates ``sock``; returns it."""
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)
    return sock
