"""Import the portal's access log (Manage API Access → View Logs) saved as CSV or XLSX."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .domain import asp_key, gstin_is_valid
from .errors import ConfigError
from .extract import event_id
from .store import insert_events, now
from .tabular import map_columns, parse_time, read_rows

ALIASES = {
    "occurred_at": ("date time", "datetime", "date and time", "access date time", "access time", "timestamp",
                    "date time of access", "time", "date"),
    "asp_name": ("asp name", "asp", "application service provider", "asp details"),
    "gsp_name": ("gsp name", "gsp", "gst suvidha provider"),
    "status": ("status", "access status", "result", "outcome"),
    "gstin": ("gstin", "gstin uin", "gstin of taxpayer"),
    "ip": ("ip", "ip address", "source ip", "client ip"),
    "api_name": ("api name", "api", "service", "api service"),
}
REQUIRED = ("occurred_at", "asp_name", "status")
STATUSES = {"successful": "successful", "success": "successful", "succeeded": "successful", "ok": "successful",
            "failed": "failed", "failure": "failed", "fail": "failed", "error": "failed",
            "revoked": "revoked", "token revoked": "revoked"}
BATCH = 50_000


@dataclass
class LogImport:
    """What an access-log import did. Rejected rows are counted with their line numbers."""

    rows: int = 0
    events_new: int = 0
    known: int = 0
    rejected: int = 0
    problems: list[str] = field(default_factory=list)


def import_access_log(con: duckdb.DuckDBPyConnection, path: Path, gstin: str | None = None,
                      progress: Callable[[int], None] | None = None) -> LogImport:
    """Load every row as an ``access_attempt`` event (channel ``portal_log``), in batches.

    A ``revoked`` row counts as a revocation for the rules. The GSTIN comes from a column
    or from ``gstin``. Rows with an unreadable time or status are rejected and reported.
    """
    if gstin is not None and not gstin_is_valid(gstin):
        raise ConfigError(f"--gstin {gstin} is not a valid GSTIN")
    rows = read_rows(path)
    header = next(rows, None)
    if header is None:
        raise ConfigError(f"{path}: the file is empty")
    columns = map_columns(header[1], ALIASES, REQUIRED, path)
    if "gstin" not in columns and gstin is None:
        raise ConfigError(f"{path}: no GSTIN column (one of: {', '.join(ALIASES['gstin'])}); pass --gstin")
    result = LogImport()
    batch: list[dict] = []
    imported_at = now()

    def cell(row: list, name: str) -> object:
        index = columns.get(name)
        return row[index] if index is not None and index < len(row) else None

    def flush() -> None:
        new = insert_events(con, batch)
        result.events_new += new
        result.known += len(batch) - new
        if progress:
            progress(len(batch))
        batch.clear()

    for number, row in rows:
        if not any(str(c or "").strip() for c in row):
            continue
        result.rows += 1
        at = parse_time(cell(row, "occurred_at"))
        status = STATUSES.get(" ".join(str(cell(row, "status") or "").lower().split()))
        row_gstin = str(cell(row, "gstin") or gstin or "").strip().upper() or None
        asp = " ".join(str(cell(row, "asp_name") or "").split()) or None
        if at is None or status is None or asp is None:
            result.rejected += 1
            what = "time" if at is None else "status" if status is None else "ASP name"
            if len(result.problems) < 20:
                result.problems.append(f"{path.name}:{number}: unreadable {what}")
            continue
        extra = " ".join(f"{k}={cell(row, k)}" for k in ("api_name", "ip") if cell(row, k))
        batch.append({
            "event_id": event_id("access_attempt", row_gstin, asp_key(asp), at, "portal_log", status, extra),
            "kind": "access_attempt", "gstin": row_gstin, "gstin_valid": gstin_is_valid(row_gstin),
            "asp_name": asp, "asp_key": asp_key(asp), "gsp_name": (str(cell(row, "gsp_name") or "").strip() or None),
            "occurred_at": at, "channel": "portal_log", "status": status,
            "source_ref": f"{path.name}:{number}" + (f" ({extra})" if extra else ""), "imported_at": imported_at,
        })
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return result
