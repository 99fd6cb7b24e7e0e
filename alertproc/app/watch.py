"""``alertproc watch``: stay connected, process alerts as they arrive, notify at once.

One listening connection per account: IMAP IDLE (RFC 2177) where the server has it, and in
any case a STATUS check every ``poll_seconds`` (IDLE is re-issued after each check): some
servers announce IDLE but never notify (GNU imap4d), some give no UIDNEXT in SELECT
(Courier), and neither may make watch deaf or busy. A listener compares what its own STATUS
says with what it said last, never with another command's answer, and marks its account due
at most once per ``poll_seconds`` unless IDLE itself announced mail. A listener that sees new
mail marks its account due; the main
loop then asks the application object for one cycle (:meth:`Alertproc.cycle`: fetch, archive,
load, file away, detect, notify) of the due accounts under the run lock, so `alertproc sql` and reports work between batches. An
account whose server is down is retried with backoff while the others go on. SIGTERM or
SIGINT stops after the batch in hand is committed. Each listener's last answer and problem go
to a heartbeat file beside the database (:mod:`alertproc.mail.heartbeat`), which `alertproc status`
reads to name an account not heard from.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from imapclient.exceptions import IMAPClientError

from ..config import ImapSettings, Settings
from ..domain import backoff
from ..errors import ConfigError, FetchError, LockedError
from ..mail.heartbeat import Heartbeat
from ..mail.imap import ImapMailbox
from ..masking import mask



class Alertproc(Protocol):
    """What the loop needs of the application object (alertproc.app.alertproc imports this module)."""

    settings: Settings
    environ: dict[str, str]

    def cycle(self, accounts: tuple[ImapSettings, ...], detect_anyway: bool = False, progress=None, after=None): ...

log = logging.getLogger("alertproc.watch")


class StopRequested(Exception):
    """Raised between batches when SIGTERM/SIGINT asked the watcher to stop."""


@dataclass
class Listener:
    """One account's listening connection, on a thread of its own."""

    imap: ImapSettings
    watcher: "Watcher"
    processed: threading.Event = field(default_factory=threading.Event)
    failures: int = 0
    idler: ImapMailbox | None = None
    seen: tuple | None = None  # (UIDNEXT, MESSAGES) as this listener's STATUS last said (None: one
    # fetch after the first check, for mail that came between the first cycle and the listener)
    due_at: float = float("-inf")  # when this listener last marked its account due
    silent_idle: bool = False  # the server announces IDLE but new mail came without a word

    def run(self) -> None:
        """Mark the account due whenever its folder changes, until the watcher stops."""
        stop = self.watcher.stop
        while not stop.is_set():
            try:
                mail = self.wait_for_mail()
                self.watcher.heartbeat.heard(self.imap.label)
                if mail:
                    self.processed.clear()
                    self.due_at = time.monotonic()
                    self.watcher.mark_due(self)
                    self.processed.wait()  # the main loop fetched it
                    self.seen = self.status() if self.idler else None  # the folder as it is now is done
                self.failures = 0
            except (FetchError, ConfigError, OSError, IMAPClientError) as exc:
                # imaplib's abort on a dropped IDLE is an IMAPClientError too: never let it end the thread
                self.failures += 1
                delay = max(backoff(self.failures, 300), min(self.imap.poll_seconds, 300))
                log.warning("%s: %s; listening again in %ss", self.imap.label, mask(str(exc)), delay)
                self.watcher.heartbeat.trouble(self.imap.label, mask(str(exc)))
                self.close(polite=False)
                stop.wait(delay)
        self.close()

    def close(self, polite: bool = True) -> None:
        """Drop the listening connection (after a failure without LOGOUT, which could hang)."""
        if self.idler:
            self.idler.close() if polite else self.idler.drop()
        self.idler = None

    def status(self) -> tuple:
        """(UIDNEXT, MESSAGES) of the folder by STATUS: either changes when mail arrives."""
        folder = self.imap.folder
        found = self.idler.call(lambda c: c.folder_status(folder, [b"UIDNEXT", b"MESSAGES"]), "status")
        return found.get(b"UIDNEXT"), found.get(b"MESSAGES")

    def wait_for_mail(self) -> bool:
        """True when the folder has new mail; False when the check period ended or a stop was asked."""
        if self.idler is None:
            self.idler = ImapMailbox(self.imap, self.watcher.environ, sleep=self.watcher.stop.wait)
            self.idler.connect()
            self.idler.select(self.imap.folder)
        announced = self.idle() if self.idler.has("IDLE") else self._pause()
        if self.watcher.stop.is_set():
            return False
        if self.idler is None:  # dropped after the server announced mail oddly: fetch, then listen anew
            return True
        now = self.status()
        if now == self.seen:
            return False
        if not announced:
            if self.idler.has("IDLE") and not self.silent_idle:
                self.silent_idle = True
                log.warning("%s: the server announces IDLE but sent no word of new mail; polling every %ss",
                            self.imap.label, self.imap.poll_seconds)
            wait = self.due_at + self.imap.poll_seconds - time.monotonic()
            if wait > 0:  # never due more often than poll_seconds on a STATUS change alone
                self.watcher.stop.wait(wait)
        self.seen = now
        return not self.watcher.stop.is_set()

    def _pause(self) -> bool:
        self.watcher.stop.wait(self.imap.poll_seconds)
        return False

    def idle(self) -> bool:
        """IDLE until the server announces mail (True) or ``poll_seconds`` pass (False)."""
        client = self.idler.client
        try:
            client.idle()
        except IMAPClientError as exc:
            if "EXISTS" not in str(exc):
                raise
            # GNU imap4d sends pending news before IDLE's continuation, which imapclient refuses:
            # the server announced mail, and this connection's state is unknown, so it is dropped.
            self.close(polite=False)
            return True
        try:
            deadline = time.monotonic() + min(self.imap.idle_seconds, self.imap.poll_seconds)
            while not self.watcher.stop.is_set() and time.monotonic() < deadline:
                responses = client.idle_check(timeout=1)
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    return True
        finally:
            client.idle_done()
        return False


@dataclass
class Watcher:
    """Every account, watched until :attr:`stop` is set."""

    app: Alertproc
    accounts: tuple[ImapSettings, ...]

    def __post_init__(self) -> None:
        self.environ = self.app.environ
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.listeners = [Listener(imap, self) for imap in self.accounts]
        self.due: list[Listener] = list(self.listeners)  # the first cycle fetches every account
        self.retry_at: dict[str, float] = {}  # accounts whose fetch failed: when to try again
        self.failures: dict[str, int] = {}
        self.cycles = 0
        self._lock = threading.Lock()
        self.heartbeat = Heartbeat(self.app.settings.db, {imap.label: imap.poll_seconds for imap in self.accounts})

    def mark_due(self, listener: Listener) -> None:
        """Called by a listener: its account has new mail."""
        with self._lock:
            if listener not in self.due and listener.imap.label not in self.retry_at:  # failing: backoff decides
                self.due.append(listener)
        self.wake.set()

    def _between_batches(self, count: int) -> None:
        log.info("batch of %d processed", count)
        if self.stop.is_set():
            raise StopRequested

    def _fetched(self, imap: ImapSettings, fetched, exc: Exception | None) -> None:
        """One due account is done: its listener listens again at once, and a failure waits its backoff."""
        if exc is None:
            self.failures.pop(imap.label, None)
            self.heartbeat.heard(imap.label)
            log.info("cycle: %d new, %d filed, %d suspicious in %s", fetched.imported.new,
                     fetched.filed, fetched.suspicious, imap.label)
        else:
            failures = self.failures[imap.label] = self.failures.get(imap.label, 0) + 1
            delay = backoff(failures, 300)
            self.retry_at[imap.label] = time.monotonic() + delay
            log.warning("%s: %s; retrying in %ss", imap.label, mask(str(exc)), delay)
            self.heartbeat.trouble(imap.label, mask(str(exc)))
        for listener in self.listeners:
            if listener.imap is imap:
                listener.processed.set()

    def cycle(self, due: list[Listener]) -> None:
        """Fetch what is new in the due accounts; if anything was, detect and notify. One log
        line per account and cycle."""
        done = self.app.cycle(tuple(one.imap for one in due), detect_anyway=self.cycles == 0,
                              progress=self._between_batches, after=self._fetched)
        if done.found is not None:
            told = done.told
            new = sum(fetched.imported.new for fetched in done.fetched.results)
            log.info("cycle: %d new; %d findings%s", new, done.found.total,
                     f"; notified {told.sent or 'nobody'}{', failed ' + str(told.failed) if told.failed else ''}"
                     if told else "")
        self.cycles += 1

    def _take_due(self) -> list[Listener]:
        now = time.monotonic()
        with self._lock:
            retry = [one for one in self.listeners if self.retry_at.get(one.imap.label, now + 1) <= now and one not in self.due]
            for listener in retry:
                self.retry_at.pop(listener.imap.label)
            due, self.due = self.due + retry, []
            self.wake.clear()
        return due

    def run(self) -> int:
        """Watch until stopped. Returns an exit code."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: (self.stop.set(), self.wake.set()))
        for imap in self.accounts:
            log.info("watching %s %s", imap.account, imap.folder)
        threads = []
        try:
            while not self.stop.is_set():
                due = self._take_due()
                if due:
                    try:
                        self.cycle(due)
                    except StopRequested:
                        break
                    except LockedError as exc:
                        log.info("%s", exc)
                        for listener in due:
                            self.mark_due(listener)
                        self.stop.wait(30)
                        continue
                if not threads:  # after the first cycle, so each listener starts from a known UIDNEXT
                    threads = [threading.Thread(target=one.run, name=f"listen {one.imap.label}", daemon=True)
                               for one in self.listeners]
                    for thread in threads:
                        thread.start()
                self.wake.wait(1)
        finally:
            self.stop.set()
            for listener in self.listeners:
                listener.processed.set()
            for thread in threads:
                thread.join(timeout=5)
            self.heartbeat.stopped()
        log.info("stopped")
        return 0
