"""A run of alertproc in the database: the file opened for writing under the run lock, the
``runs`` row that says what a command did, and the counts an import leaves on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from ..masking import mask
from . import lock, store


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
def writing(db: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The database opened for writing, under the run lock; what it creates meanwhile (the
    WAL, archive files) is readable by the owner only."""
    with store.private_files(), lock.exclusive(db):
        con = store.connect(db)
        try:
            yield con
        finally:
            con.close()


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
