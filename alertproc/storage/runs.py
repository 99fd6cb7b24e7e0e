"""A run of alertproc in the database: the file opened for writing under the run lock, the
``runs`` row that says what a command did, and the counts an import leaves on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import logging

import duckdb

from ..masking import mask
from . import lock, published, store

log = logging.getLogger(__name__)


@dataclass
class IngestStats:
    """What one import did; ``seen == new + known + duplicates + skipped`` always holds, and
    ``new == parsed + unparsed + suspicious + forwarded + ignored``.

    ``known``: the same bytes are stored already. ``duplicates``: other bytes, but a
    Message-ID that is stored already (archived and recorded, no events). ``forwarded``: a
    forwarded alert that is not trusted (recorded, no events). ``skipped``: SMS
    from a sender id that is not GSTN's (personal messages: counted, never stored).
    """

    seen: int = 0
    new: int = 0
    known: int = 0
    duplicates: int = 0
    parsed: int = 0
    unparsed: int = 0
    suspicious: int = 0
    forwarded: int = 0
    ignored: int = 0
    events_new: int = 0
    skipped: int = 0

    @property
    def not_alerts(self) -> int:
        """Mail and SMS that are no alert: stored as ``ignored``, or (SMS of others) skipped."""
        return self.ignored + self.skipped

    def add(self, other: "IngestStats") -> None:
        """Accumulate ``other`` into this."""
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


@contextmanager
def writing(db: str | Path, wait: float = 0, doing: str = "") -> Iterator[duckdb.DuckDBPyConnection]:
    """The database opened for writing, under the run lock (waiting up to ``wait`` seconds for
    it): its working file, published over ``db`` when the block ends (:mod:`.published`), so
    readers of ``db`` never stand in the way. What it creates meanwhile (the files, the WAL,
    archive files) is readable by the owner only."""
    in_memory = str(db) == ":memory:"
    with store.private_files(), lock.exclusive(str(db), wait, doing):
        con = store.connect(db if in_memory else published.working(db))
        try:
            yield con
        except BaseException:
            con.close()
            if not in_memory:
                _publish_after_failure(db)
            raise
        con.close()
        if not in_memory:
            published.publish(db)


def _publish_after_failure(db: str | Path) -> None:
    """What committed before a failure is published too; the failure stays the news."""
    try:
        published.publish(db)
    except Exception as exc:  # noqa: BLE001 - a second failure must not hide the first
        log.warning("the read copy %s was not refreshed: %s", db, exc)


@contextmanager
def tracked(con: duckdb.DuckDBPyConnection, command: str, source: str | None) -> Iterator[int]:
    """Record a row in ``runs``: ``running`` now, ``ok`` or ``failed`` (with the error) at the end."""
    run_id = store.scalar(con, "select nextval('run_ids')")
    con.execute("insert into runs (run_id, command, source, started_at, status) values (?, ?, ?, ?, 'running')",
                [run_id, command, source, store.now()])
    try:
        yield run_id
    except BaseException as exc:
        con.execute("update runs set status = 'failed', finished_at = ?, error = ? where run_id = ?",
                    [store.now(), mask(f"{type(exc).__name__}: {exc}")[:500], run_id])
        raise
    con.execute("update runs set status = 'ok', finished_at = ? where run_id = ?", [store.now(), run_id])


def record_stats(con: duckdb.DuckDBPyConnection, run_id: int, stats: IngestStats) -> None:
    """Store an import's counts on its ``runs`` row."""
    con.execute(
        "update runs set messages_seen = ?, messages_new = ?, messages_known = ?, duplicates = ?, parsed = ?, "
        "unparsed = ?, suspicious = ?, ignored = ?, events_new = ?, forwarded = ? where run_id = ?",
        [stats.seen, stats.new, stats.known, stats.duplicates, stats.parsed, stats.unparsed, stats.suspicious, stats.not_alerts,
         stats.events_new, stats.forwarded, run_id])


def record_rows(con: duckdb.DuckDBPyConnection, run_id: int, rows: int, events_new: int) -> None:
    """Store a table import's counts (rows read, events added) on its ``runs`` row."""
    con.execute("update runs set messages_seen = ?, events_new = ? where run_id = ?", [rows, events_new, run_id])


def record_findings(con: duckdb.DuckDBPyConnection, run_id: int, total: int) -> None:
    """Store how many findings a run's detect left."""
    con.execute("update runs set findings = ? where run_id = ?", [total, run_id])


def record_partial(con: duckdb.DuckDBPyConnection, run_id: int, failed: dict[str, str]) -> None:
    """Mark a finished run ``partial``: the sources in ``failed`` (name -> why) were not read."""
    con.execute("update runs set status = 'partial', error = ? where run_id = ?",
                ["; ".join(f"{name}: {why}" for name, why in failed.items())[:500], run_id])
