"""Import the portal's access log (Manage API Access → View Logs) saved as CSV or XLSX."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from .domain import asp_key, gstin_is_valid
from .errors import ConfigError
from .extract import event_id
from .store import insert_events, now
from .tabular import DATE_FORMATS, csv_delimiter, map_columns, parse_time, read_rows

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
    """Load every row as an ``access_attempt`` event (channel ``portal_log``).

    A ``revoked`` row counts as a revocation for the rules. The GSTIN comes from a column
    or from ``gstin``. Rows with an unreadable time or status are rejected and reported.
    CSV is read and transformed by DuckDB itself (a million rows in seconds); XLSX row by row.
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
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        try:
            return _import_csv(con, path, columns, len(header[1]), csv_delimiter(path), gstin)
        except duckdb.Error:
            # DuckDB's strict reader refused the file (ragged rows, odd quoting): read it row by row.
            rows = read_rows(path)
            next(rows, None)
    return _import_rows(con, path, rows, columns, gstin, progress)


def _import_rows(con: duckdb.DuckDBPyConnection, path: Path, rows, columns: dict[str, int], gstin: str | None,
                 progress: Callable[[int], None] | None) -> LogImport:
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


_ASP_KEY_SQL = ("nullif(replace(regexp_replace(trim(regexp_replace(upper({v}), '[^0-9A-Z]+', ' ', 'g')), "
                "'( (PVT|PRIVATE|LTD|LIMITED|LLP|INC|CORP|CORPORATION|OPC|PLC))+$', ''), ' ', ''), '')")


def _import_csv(con: duckdb.DuckDBPyConnection, path: Path, columns: dict[str, int], width: int, delimiter: str,
                gstin: str | None) -> LogImport:
    """The same rows, fields, ids and rejections as the row-by-row path, computed by DuckDB.

    Only generated column names (``column<N>``) and constant expressions are put into the
    SQL text; the path, formats, statuses and GSTIN are bound parameters.
    """
    def col(field: str) -> str:
        return f"column{columns[field]}" if field in columns else "null"

    def clean(field: str) -> str:
        return f"nullif(trim(regexp_replace(coalesce({col(field)}, ''), '\\s+', ' ', 'g')), '')"

    non_empty = " || ".join(f"coalesce(column{i}, '')" for i in range(width))
    statuses = list(STATUSES.items())
    con.execute(f"""
        create or replace temp table log_rows as
        with raw as (
            select row_number() over () as row_no, *
            from read_csv($path, header = false, skip = 1, all_varchar = true, delim = $delim, quote = '"',
                          null_padding = true, columns = {{{", ".join(f"'column{i}': 'VARCHAR'" for i in range(width))}}})
        ),
        cells as (
            select row_no, regexp_replace({clean("occurred_at")}, ' IST$', '') as at_text,
                   lower({clean("status")}) as status_text,
                   {clean("asp_name")} as asp_name, nullif(trim({col("gsp_name")}), '') as gsp_name,
                   upper(coalesce(nullif(trim({col("gstin")}), ''), $gstin)) as gstin,
                   concat_ws(' ', 'api_name=' || nullif({col("api_name")}, ''), 'ip=' || nullif({col("ip")}, '')) as extra
            from raw where trim({non_empty}) <> ''
        )
        select c.*, s.status,
               case when length(c.at_text) between 12 and 14 and try_cast(c.at_text as ubigint) is not null
                        then to_timestamp(cast(c.at_text as bigint) / 1000)  -- epoch milliseconds (UTC)
                    when length(c.at_text) between 9 and 11 and try_cast(c.at_text as ubigint) is not null
                        then to_timestamp(cast(c.at_text as bigint))  -- epoch seconds (UTC)
                    else timezone('Asia/Kolkata', try_strptime(c.at_text, $formats))
               end as occurred_at
        from cells c
        left join (select unnest($status_keys) as key, unnest($status_values) as status) s on s.key = c.status_text
    """, {"path": str(path), "delim": delimiter, "gstin": gstin, "formats": list(DATE_FORMATS),
          "status_keys": [k for k, _ in statuses], "status_values": [v for _, v in statuses]})
    result = LogImport()
    result.rows = con.execute("select count(*) from log_rows").fetchall()[0][0]
    bad = con.execute("select row_no, case when occurred_at is null then 'time' when status is null then 'status' "
                      "else 'ASP name' end from log_rows where occurred_at is null or status is null or asp_name is null "
                      "order by row_no").fetchall()
    result.rejected = len(bad)
    result.problems = [f"{path.name}: row {row_no}: unreadable {what}" for row_no, what in bad[:20]]
    valid = [(g, gstin_is_valid(g)) for (g,) in con.execute("select distinct gstin from log_rows").fetchall()]
    gstin_checks = pa.table({"gstin": pa.array([g for g, _ in valid], pa.string()),  # noqa: F841 (read by name)
                             "valid": pa.array([v for _, v in valid], pa.bool_())})
    name = path.name
    before = con.execute("select count(*) from events").fetchall()[0][0]
    con.execute(f"""
        insert or ignore into events  -- the primary key drops events stored already (or twice in the file)
        select * from (
            select sha256('access_attempt|' || coalesce(r.gstin, '') || '|' || coalesce(r.asp_key, '') || '|'
                          || strftime(r.occurred_at, case when microsecond(r.occurred_at) % 1000000 = 0
                                                          then '%Y-%m-%dT%H:%M:%S' else '%Y-%m-%dT%H:%M:%S.%f' end)
                          || '+00:00|portal_log|' || r.status || case when r.extra = '' then '' else '|' || r.extra end)[:32]
                       as event_id,
                   'access_attempt' as kind, r.gstin, coalesce(g.valid, false) as gstin_valid, r.asp_name, r.asp_key,
                   r.gsp_name, r.occurred_at, null::timestamptz as valid_until, 'portal_log' as channel, r.status,
                   null as format_id, null as source_sha256,
                   $name || ':' || (r.row_no + 1) || case when r.extra = '' then '' else ' (' || r.extra || ')' end as source_ref,
                   $now as imported_at
            from (select *, {_ASP_KEY_SQL.format(v="asp_name")} as asp_key from log_rows) r
            left join gstin_checks g on g.gstin = r.gstin
            where r.occurred_at is not null and r.status is not null and r.asp_name is not null
        ) t
    """, {"name": name, "now": now()})
    result.events_new = con.execute("select count(*) from events").fetchall()[0][0] - before
    result.known = result.rows - result.rejected - result.events_new
    con.execute("drop table log_rows")
    return result
