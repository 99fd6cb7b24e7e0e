"""Cleanup: remove old filed alerts from the IMAP server, each only after its archived copy verifies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import duckdb

from ..errors import ConfigError, FetchError
from ..faults import crash_point
from ..period import DAY_EXAMPLE, parse_day
from ..storage.archive import Archive, sha256_hex
from ..storage.store import first_row
from .fetch import filing_action
from .imap import ImapMailbox

Progress = Callable[[int], None]


def retention_cutoff(older_than: str, today: date) -> date:
    """The first day kept for ``--older-than`` written as ``90d``, ``12w`` or a date (``01-08-2026``)."""
    text = older_than.strip().lower()
    units = {"d": 1, "w": 7}
    if text[:-1].isdigit() and text[-1:] in units:
        return today - timedelta(days=int(text[:-1]) * units[text[-1]])
    try:
        return parse_day(text)
    except ConfigError:
        raise ConfigError(f"--older-than '{older_than}': use a number of days or weeks (90d, 12w) or a date, "
                          f"e.g. {DAY_EXAMPLE}") from None


@dataclass
class CleanupResult:
    """What cleanup deleted (or would delete) and what it kept because it could not verify."""

    folder: str
    older_than: date
    candidates: int = 0
    verified: int = 0
    deleted: int = 0
    kept_unverified: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """A JSON-ready summary."""
        return {**asdict(self), "older_than": self.older_than.isoformat()}


def cleanup(con: duckdb.DuckDBPyConnection, mailbox: ImapMailbox, archive: Archive, older_than: date,
            senders: frozenset[str], apply: bool = False, progress: Progress | None = None) -> CleanupResult:
    """Delete filed alerts that arrived before ``older_than`` — each only if it is GSTN's own
    genuine alert as stored (a colleague's forward or any other mail a user put into the folder
    is kept), and its archived copy exists and its sha256 matches the server's bytes. Without
    ``apply`` only count."""
    cfg = mailbox.cfg
    folder = mailbox.server_name(cfg.filed_folder)
    result = CleanupResult(folder, older_than)
    if apply and not mailbox.has("UIDPLUS"):
        raise FetchError(f"{cfg.host} has no UIDPLUS: deleting would expunge every message flagged \\Deleted in "
                         f"{folder}, not only alertproc's; nothing was deleted (without --apply the plan is shown)")
    mailbox.select(folder)
    uids = mailbox.search(["BEFORE", older_than])
    result.candidates = len(uids)
    for start in range(0, len(uids), cfg.batch_size):
        batch = uids[start:start + cfg.batch_size]
        fetched = mailbox.fetch(batch, ["BODY.PEEK[]"])
        verified = []
        for uid in batch:
            raw = fetched.get(uid, {}).get(b"BODY[]")
            sha = sha256_hex(raw) if raw is not None else None
            row = first_row(con, "select archive_path, kind, parse_status, sender_check, from_addr, forwarded "
                                 "from messages where sha256 = ?", [sha]) if sha else None
            if row and filing_action(dict(zip(("kind", "parse_status", "sender_check", "from_addr", "forwarded"),
                                              row[1:])), senders) != "filed":
                result.kept_unverified.append({"uid": uid, "sha256": sha, "reason": "not GSTN's own alert: never deleted"})
            elif row and row[0] and archive.verify(row[0], sha):
                verified.append(uid)
            else:
                reason = "not in the database" if row is None else "archive copy missing or altered"
                result.kept_unverified.append({"uid": uid, "sha256": sha, "reason": reason})
        result.verified += len(verified)
        if apply and verified:
            mailbox.delete(verified)
            crash_point("after_cleanup_delete")
            result.deleted += len(verified)
        if progress:
            progress(len(batch))
    return result
