"""Import the portal's list of active tokens (Manage API Access → Active Tokens) saved as
CSV or XLSX: a snapshot of which ASPs hold a token for a GSTIN right now.

Each row becomes an ``active_token`` event on channel ``portal_tokens``, dated by when the
snapshot was taken (``--taken-at``, else a "Taken at" column, else the file's modification
time: when it was saved from the portal), with the token's "valid up to" as ``valid_until`` and ``status`` ``active``
or ``inactive``. The rules read them (docs/queries.md): an active token of an ASP not
approved for the GSTIN, an active token after a revocation, and an approved ASP whose token
is active although no refresh alert arrived for longer than a token lives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from ..domain import to_utc
from ..reading.extract import new_event
from ..storage.store import insert_events, now
from .accesslog import LogImport
from .tabular import parse_time, read_table, row_cell

ALIASES = {
    "asp_name": ("asp name", "asp", "application service provider", "asp details"),
    "gsp_name": ("gsp name", "gsp", "gst suvidha provider"),
    "valid_from": ("generated on", "generated", "token generated on", "generated at", "valid from", "created on",
                   "date of generation", "issued on"),
    "valid_until": ("valid up to", "valid upto", "valid till", "valid until", "expires on", "expiry", "token expiry",
                    "valid to"),
    "status": ("status", "token status", "state"),
    "gstin": ("gstin", "gstin uin", "gstin of taxpayer"),
    # Not on the portal's page: a column a user (or the sample) may add to say when the list was seen.
    "taken_at": ("taken at", "as of", "snapshot time", "seen at"),
}
REQUIRED = ("asp_name",)
ACTIVE = {"active", "valid", "live", "enabled", "yes", ""}  # no status column: the list shows active tokens
INACTIVE = {"inactive", "expired", "revoked", "disabled", "no"}


@dataclass
class TokenImport(LogImport):
    """What an active-token import did, and when the list was seen."""

    taken_at: datetime | None = None
    taken_from: str = ""  # where taken_at comes from: --taken-at, the list's column, or the file's time


def import_tokens(con: duckdb.DuckDBPyConnection, path: Path, gstin: str | None = None,
                  taken_at: datetime | None = None) -> TokenImport:
    """Load each row of an Active Tokens export as an ``active_token`` event."""
    rows, columns, _ = read_table(path, ALIASES, REQUIRED, gstin)
    when = to_utc(taken_at) if taken_at else datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    by_column = not taken_at and "taken_at" in columns
    result = TokenImport(taken_at=None if by_column else when,
                         taken_from="--taken-at" if taken_at else "its Taken At column" if by_column
                         else "the file's modification time (no Taken At column; --taken-at sets it)")
    events = []
    imported_at = now()

    def cell(row: list, name: str) -> object:
        return row_cell(row, columns, name)

    for number, row in rows:
        if not any(str(c or "").strip() for c in row):
            continue
        result.rows += 1
        asp = " ".join(str(cell(row, "asp_name") or "").split()) or None
        raw_status = " ".join(str(cell(row, "status") or "").lower().split())
        status = "active" if raw_status in ACTIVE else "inactive" if raw_status in INACTIVE else None
        row_gstin = str(cell(row, "gstin") or gstin or "").strip().upper() or None
        valid_from, valid_until = parse_time(cell(row, "valid_from")), parse_time(cell(row, "valid_until"))
        if asp is None or status is None:
            result.rejected += 1
            if len(result.problems) < 20:
                result.problems.append(f"{path.name}:{number}: unreadable {'ASP name' if asp is None else 'status'}")
            continue
        generated = valid_from.isoformat() if valid_from else ""
        seen = (parse_time(cell(row, "taken_at")) or when) if by_column else when
        if by_column:  # what the rows say, as the summary reports it
            result.taken_at = seen if result.taken_at is None else max(result.taken_at, seen)
        events.append(new_event(
            "active_token", row_gstin, asp, seen, "portal_tokens", status=status, extra=generated,
            gsp_name=(str(cell(row, "gsp_name") or "").strip() or None), valid_until=valid_until,
            source_ref=f"{path.name}:{number}" + (f" (generated {generated})" if generated else ""),
            imported_at=imported_at))
    result.events_new = insert_events(con, events)
    result.known = len(events) - result.events_new
    return result
