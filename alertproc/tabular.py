"""Rows from CSV and XLSX exports whose column names vary: header aliases and dates."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from .domain import to_utc
from .errors import ConfigError, SourceError

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


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[object]]]:
    import openpyxl
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors on bad files
        raise SourceError(f"{path}: not readable as XLSX: {type(exc).__name__}: {exc}") from exc
    try:
        for number, row in enumerate(book.active.iter_rows(values_only=True), start=1):
            yield number, list(row)
    finally:
        book.close()
