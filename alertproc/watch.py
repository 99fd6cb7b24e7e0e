"""``alertproc watch``: stay connected, process alerts as they arrive, notify at once.

IMAP IDLE (RFC 2177) on a connection of its own, re-issued every ``idle_seconds`` (under the
29 minutes servers allow); polling every ``poll_seconds`` when the server has no IDLE. Each
wake-up runs the ordinary pipeline (fetch, archive, load, file away, detect, notify) under
the run lock, so `alertproc sql` and reports work between batches. SIGTERM or SIGINT stops
after the batch in hand is committed.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass

from . import pipeline
from .domain import backoff
from .config import ImapSettings, NotifySettings, Settings, SmtpSettings
from .errors import AlertprocError, FetchError, LockedError
from .imap import ImapMailbox
from .notify import notify

log = logging.getLogger("alertproc.watch")


class StopRequested(Exception):
    """Raised between batches when SIGTERM/SIGINT asked the watcher to stop."""


@dataclass
class Watcher:
    """One account and folder, watched until :attr:`stop` is set."""

    settings: Settings
    imap: ImapSettings
    notify_cfg: NotifySettings | None
    smtp: SmtpSettings | None
    environ: dict[str, str]

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self.idler: ImapMailbox | None = None
        self.cycles = 0
        self.uidnext = 0  # UIDNEXT as the last cycle's fetch saw it

    def _between_batches(self, count: int) -> None:
        log.info("batch of %d processed", count)
        if self.stop.is_set():
            raise StopRequested

    def cycle(self) -> None:
        """Fetch what is new; if anything was, detect and notify. One log line per cycle."""
        with pipeline.writing(self.settings) as con, pipeline.tracked(con, "watch", self.imap.account) as run_id:
            fetched = pipeline.fetch_imap(con, self.settings, self.imap, run_id, progress=self._between_batches,
                                          environ=self.environ)
            self.uidnext = fetched.uidnext
            found, told = None, None
            if fetched.imported.new or self.cycles == 0:
                found = pipeline.detect(con, self.settings)
                if self.notify_cfg:
                    told = notify(con, self.notify_cfg, self.smtp, self.environ)
        self.cycles += 1
        log.info("cycle: %d new, %d filed, %d suspicious%s%s", fetched.imported.new, fetched.filed, fetched.suspicious,
                 f"; {found.total} findings" if found else "",
                 f"; notified {told.sent or 'nobody'}{', failed ' + str(told.failed) if told.failed else ''}" if told else "")

    def _sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def wait_for_mail(self) -> None:
        """Return when the folder changed, the IDLE period ended, or a stop was asked."""
        if self.idler is None:
            self.idler = ImapMailbox(self.imap, self.environ, sleep=self._sleep)
            self.idler.connect()
            self.idler.select(self.imap.folder)
        folder = self.imap.folder
        status = self.idler.call(lambda c: c.folder_status(folder, [b"UIDNEXT"]), "status")
        if int(status[b"UIDNEXT"]) > self.uidnext:
            return  # mail arrived while the last cycle ran: no IDLE, fetch it now
        if not self.idler.has("IDLE"):
            self._sleep(self.imap.poll_seconds)
            return
        client = self.idler.client
        client.idle()
        try:
            deadline = time.monotonic() + self.imap.idle_seconds
            while not self.stop.is_set() and time.monotonic() < deadline:
                responses = client.idle_check(timeout=1)
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    return
        finally:
            client.idle_done()

    def run(self) -> int:
        """Watch until stopped; reconnect with backoff on errors. Returns an exit code."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop.set())
        failures = 0
        log.info("watching %s %s", self.imap.account, self.imap.folder)
        while not self.stop.is_set():
            try:
                self.cycle()
                self.wait_for_mail()
                failures = 0
            except StopRequested:
                break
            except LockedError as exc:
                log.info("%s", exc)
                self._sleep(30)
            except (FetchError, OSError) as exc:
                failures += 1
                delay = backoff(failures, 300)
                log.warning("%s; retrying in %ss", exc, delay)
                if self.idler:
                    self.idler.close()
                self.idler = None
                self._sleep(delay)
            except AlertprocError:
                raise
        if self.idler:
            self.idler.close()
        log.info("stopped")
        return 0
