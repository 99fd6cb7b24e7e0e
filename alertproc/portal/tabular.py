"""Rows from CSV and XLSX exports whose column names vary: header aliases and dates."""

from __future__ import annotations

import csv
import zipfile
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from ..domain import gstin_is_valid, to_utc
from ..errors import ConfigError, SourceError

DATE_FORMATS = (
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M",
    "%d/%m/%Y %I:%M:%S %p", "%d/%m/%Y %I:%M %p", "%d-%m-%Y %I:%M:%S %p", "%d-%m-%Y %I:%M %p",
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
    "%d %b %Y %H:%M:%S", "%d %b %Y %H:%M", "%d-%b-%Y %H:%M:%S", "%d-%b-%Y %H:%M", "%b %d, %Y %I:%M:%S %p",
)


def header_key(name: object) -> str:
    """Header names compared without case, punctuation or spacing: 'Date/Time' == 'date time'."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(name or "").lower()).split())


def map_columns(headers: list[object], aliases: dict[str, tuple[str, ...]], required: tuple[str, ...],
                source: Path) -> dict[str, int]:
    """Column index of each field found through its aliases; a clear error if required ones lack."""
    keys = [header_key(h) for h in headers]
    found: dict[str, int] = {}
    for field, names in aliases.items():
        for name in names:
            if name in keys:
                found[field] = keys.index(name)
                break
    missing = [f for f in required if f not in found]
    if missing:
        wanted = "; ".join(f"{f} (one of: {', '.join(aliases[f])})" for f in missing)
        shown = ", ".join(repr(str(h)) for h in headers if str(h or "").strip()) or "none"
        raise ConfigError(f"{source}: required column(s) missing: {wanted}. Columns found: {shown}")
    return found


def read_table(path: Path, aliases: dict[str, tuple[str, ...]], required: tuple[str, ...], gstin: str | None
               ) -> tuple[Iterator[tuple[int, list[object]]], dict[str, int], list[object]]:
    """The rows after the header, the column of each field, and the header, of a portal export
    whose GSTIN comes from a column or from ``gstin`` (a ConfigError names what is missing)."""
    if gstin is not None and not gstin_is_valid(gstin):
        raise ConfigError(f"--gstin {gstin} is not a valid GSTIN")
    rows = read_rows(path)
    header = next(rows, None)
    if header is None:
        raise ConfigError(f"{path}: the file is empty")
    columns = map_columns(header[1], aliases, required, path)
    if "gstin" not in columns and gstin is None:
        raise ConfigError(f"{path}: no GSTIN column (one of: {', '.join(aliases['gstin'])}); pass --gstin")
    return rows, columns, header[1]


def row_cell(row: list, columns: dict[str, int], name: str) -> object:
    """The cell of field ``name`` in ``row`` (None when the file has no such column or the row is short)."""
    index = columns.get(name)
    return row[index] if index is not None and index < len(row) else None


def parse_time(value: object) -> datetime | None:
    """A UTC datetime from epoch milliseconds or seconds (UTC) or a date-time text in IST."""
    if isinstance(value, datetime):  # XLSX cells: naive, written on the portal's clock
        return to_utc(value)
    text = " ".join(str(value or "").split()).removesuffix(" IST")
    if re.fullmatch(r"\d{12,14}", text):
        return datetime.fromtimestamp(int(text) / 1000, timezone.utc)
    if re.fullmatch(r"\d{9,11}", text):
        return datetime.fromtimestamp(int(text), timezone.utc)
    for fmt in DATE_FORMATS:
        try:
            return to_utc(datetime.strptime(text, fmt))
        except ValueError:
            continue
    return None


def csv_delimiter(path: Path) -> str:
    """The delimiter of a CSV file, guessed from its start (comma when unsure)."""
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
            return csv.Sniffer().sniff(handle.read(65536), delimiters=",;\t|").delimiter
    except (csv.Error, OSError):
        return ","


def read_rows(path: Path) -> Iterator[tuple[int, list[object]]]:
    """(row number, cells) of a CSV or XLSX file, header first, streamed."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        yield from _xlsx_rows(path)
        return
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
            sample = handle.read(65536)
            handle.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
            except csv.Error:
                dialect = csv.excel
            for number, row in enumerate(csv.reader(handle, dialect), start=1):
                yield number, row
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror}") from exc
    except csv.Error as exc:
        raise SourceError(f"{path}: not readable as CSV: {exc}") from exc


# An XLSX file is a zip: a 1.5 MB "bomb" unpacked to 3.2 GB in openpyxl. Real exports of a
# year of access logs unpack to tens of MB, and compress 5-20x.
XLSX_MAX_UNPACKED = 1 << 30
XLSX_MAX_RATIO = 200
XLSX_MAX_CELLS = 50_000_000
# openpyxl holds every shared string in memory, about seven times their XML's size (140 MB of
# them in a 4.5 MB file took 942 MB and 96 s). A portal export has a few MB.
XLSX_MAX_SHARED_STRINGS = 32 * 2**20


def check_xlsx(path: Path) -> None:
    """Refuse an XLSX file that would unpack to more than any real export does."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (OSError, zipfile.BadZipFile) as exc:
        raise SourceError(f"{path}: not readable as XLSX (not a zip file: {exc})") from exc
    unpacked = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members) or 1
    shared = sum(m.file_size for m in members if m.filename.lower().endswith("sharedstrings.xml"))
    if shared > XLSX_MAX_SHARED_STRINGS:
        raise SourceError(f"{path}: refused: its text table (sharedStrings.xml) unpacks to {shared / 2**20:,.0f} MB, "
                          f"over {XLSX_MAX_SHARED_STRINGS // 2**20} MB, which reading it would hold in memory "
                          "several times over; no portal export is that large — save it as CSV if it is genuine")
    if unpacked > XLSX_MAX_UNPACKED or (unpacked > 10_000_000 and unpacked / packed > XLSX_MAX_RATIO):
        raise SourceError(f"{path}: refused: it would unpack to {unpacked / 1e6:,.0f} MB "
                          f"({unpacked / packed:,.0f} times its size); no real export does — save it as CSV "
                          "if it is genuine")


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[object]]]:
    import openpyxl
    check_xlsx(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors on bad files
        raise SourceError(f"{path}: not readable as XLSX: {type(exc).__name__}: {exc}") from exc
    try:
        cells = 0
        for number, row in enumerate(book.active.iter_rows(values_only=True), start=1):
            cells += len(row)
            if cells > XLSX_MAX_CELLS:
                raise SourceError(f"{path}: refused after {number:,} rows: more than {XLSX_MAX_CELLS:,} cells")
            yield number, list(row)
    finally:
        book.close()
