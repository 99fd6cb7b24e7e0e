"""Export findings or events to CSV, JSON, Parquet (DuckDB COPY) or XLSX (streamed), and a
query's result as a table, CSV, JSON or Markdown (:func:`tabulate`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import duckdb
import pandas

from ..errors import ConfigError
from ..masking import printable
from .files import FORMULA_SQL, neutralised, replacing, xlsx_cell
from ..period import Period
from ..storage.store import scalar

FORMATS = ("csv", "json", "parquet", "xlsx")
XLSX_MAX_ROWS = 1_048_575  # Excel's limit, less the header row
# Each export: its rows ({where} is the period's filter on occurred_at) in the order a reader wants.
_QUERIES = {
    "events": "select event_id, kind, gstin, gstin_valid, asp_name, asp_key, gsp_name, occurred_at, "
              "timezone('Asia/Kolkata', occurred_at) as occurred_at_ist, valid_until, "
              "timezone('Asia/Kolkata', valid_until) as valid_until_ist, channel, status, format_id, "
              "source_sha256, source_ref from events {where} order by occurred_at",
    # What an auditor reconciles: every finding with its triage state, note, who and when;
    # times in IST (the *_ist columns), worst first, then newest first, like the report.
    "findings": "select finding_id, severity, rule_id, gstin, asp_name, occurred_at_ist, title, detail, "
                "triage_status, triage_note, triage_by, timezone('Asia/Kolkata', triage_at) as triage_at_ist, "
                "suppressed_until, array_to_string(event_ids, ' ') as event_ids, "
                "timezone('Asia/Kolkata', first_detected_at) as first_detected_at_ist from findings_triaged {where} "
                "order by case severity when 'high' then 0 when 'medium' then 1 when 'low' then 2 else 3 end, "
                "occurred_at desc, rule_id, finding_id",
}


def tabulate(frame: pandas.DataFrame, fmt: str, keep_formulas: bool = False) -> str:
    """A query's result as text: an aligned table, CSV (formulas neutralised unless
    ``keep_formulas``), Markdown or JSON records. Table and Markdown show control characters."""
    if fmt == "table" and frame.empty:
        return printable(f"(no rows; columns: {', '.join(map(str, frame.columns))})\n")
    if fmt in ("table", "markdown"):
        frame = _for_people(frame)
    if fmt == "table":
        return printable(frame.to_string(index=False, max_colwidth=80) + "\n")
    if fmt == "csv":
        if not keep_formulas:  # column names too: `select 1 as "=cmd|..."` names a header cell
            frame = frame.map(neutralised).rename(columns=lambda name: neutralised(str(name)))
        return frame.to_csv(index=False)
    if fmt == "markdown":
        return printable(frame.to_markdown(index=False) + "\n")
    return frame.to_json(orient="records", date_format="iso") + "\n"


def _for_people(frame: pandas.DataFrame) -> pandas.DataFrame:
    """What people read: NULL as NULL (pandas says NaN, None or NaT), and whole numbers without
    the ".0" pandas gives a column that has a NULL or came from a sum."""
    frame = frame.convert_dtypes()
    return frame.astype(object).where(frame.notna(), "NULL")


def _selection(what: str, period: Period | None) -> tuple[str, list]:
    if what not in _QUERIES:
        raise ConfigError(f"cannot export '{what}' (use one of: {', '.join(_QUERIES)})")
    if period is None:
        return _QUERIES[what].format(where=""), []
    return _QUERIES[what].format(where="where occurred_at >= ? and occurred_at < ?"), [period.since, period.until]


def export(con: duckdb.DuckDBPyConnection, what: str, fmt: str, out: Path, period: Period | None = None, *,
           protected: list[Path] = (), keep_formulas: bool = False) -> int:
    """Write ``what`` (events or findings) to ``out``; return the number of rows.

    CSV, JSON (one object per line) and Parquet are written by DuckDB itself, straight from
    the database; XLSX is streamed row by row, so memory stays flat for a million rows. The
    file is written beside ``out`` and renamed over it when complete (never over one of
    ``protected``: see :mod:`alertproc.outputs.files`). In CSV and XLSX, text that a spreadsheet
    would run as a formula is neutralised unless ``keep_formulas``.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format '{fmt}' (use one of: {', '.join(FORMATS)})")
    sql, params = _selection(what, period)
    with replacing(out, list(protected)) as temporary:
        if fmt == "xlsx":
            return _xlsx(con, sql, params, temporary, keep_formulas)
        if fmt == "csv" and not keep_formulas:
            sql = _neutralising(con, sql, params)
        options = {"csv": "format csv, header true", "json": "format json", "parquet": "format parquet"}[fmt]
        target = str(temporary).replace("'", "''")  # our own temporary path; COPY takes no parameter for it
        con.execute(f"copy ({sql}) to '{target}' ({options})", params)
        return scalar(con, f"select count(*) from ({sql})", params)


def _neutralising(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> str:
    """``sql`` with each text column's formula-like values given a leading quote (OWASP)."""
    columns = con.execute(f"select * from ({sql}) limit 0", params).description
    parts = []
    for name, kind, *_ in columns:
        quoted = '"' + name.replace('"', '""') + '"'
        if str(kind) == "VARCHAR":
            parts.append(f"case when regexp_matches({quoted}, '{FORMULA_SQL}') then chr(39) || {quoted} "
                         f"else {quoted} end as {quoted}")
        else:
            parts.append(quoted)
    return f"select {', '.join(parts)} from ({sql})"


def _xlsx(con: duckdb.DuckDBPyConnection, sql: str, params: list, out: Path, keep_formulas: bool) -> int:
    count = scalar(con, f"select count(*) from ({sql})", params)
    if count > XLSX_MAX_ROWS:  # said before any row is written
        raise ConfigError(f"{count} rows do not fit in one Excel sheet ({XLSX_MAX_ROWS}); "
                          "use --since/--until, or --format csv or parquet")
    cursor = con.execute(sql, params)

    def batches():
        while rows := cursor.fetchmany(1000):
            yield from rows
    return xlsx_sheet(cursor.description, batches(), out, keep_formulas)


def xlsx_sheet(description: list, rows: Iterable[tuple], out: Path, keep_formulas: bool = False) -> int:
    """Stream ``rows`` (with DuckDB's ``description`` of their columns) into a one-sheet XLSX
    file at ``out``; return the number of rows. Text a spreadsheet would run as a formula is
    neutralised unless ``keep_formulas``; memory stays flat (openpyxl's write-only mode)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter
    book = Workbook(write_only=True)
    sheet = book.create_sheet("export")
    # Excel has no time zones: a UTC column says so in its name; *_ist columns are IST already.
    names = [f"{c[0]} (UTC)" if str(c[1]).startswith("TIMESTAMP WITH TIME ZONE") else c[0] for c in description]
    for index, name in enumerate(names):
        sheet.column_dimensions[get_column_letter(index + 1)].width = max(12, len(name) + 2)
    sheet.append([xlsx_cell(name, keep_formulas) for name in names])
    count = 0
    for row in rows:
        count += 1
        if count > XLSX_MAX_ROWS:
            raise ConfigError(f"more rows than fit in one Excel sheet ({XLSX_MAX_ROWS}); narrow the query "
                              "or write CSV")
        # UTC columns are written as naive UTC, *_ist as naive IST.
        sheet.append([v.replace(tzinfo=None) if isinstance(v, datetime) else xlsx_cell(v, keep_formulas)
                      for v in row])
    with open(out, "wb") as handle:  # a file object: openpyxl would judge a path by its .tmp ending
        book.save(handle)
    return count
