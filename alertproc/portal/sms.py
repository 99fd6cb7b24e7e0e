"""Import SMS exports: SMS Backup & Restore XML, or CSV with date, sender and body columns.

Exports are streamed: memory does not grow with the file. SMS from GST sender ids are
stored in ``messages`` (source ``sms``) and read with the ``channel: sms`` formats; any other
SMS is only counted, never stored (they are people's private messages).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from xml.etree.ElementTree import ParseError

import duckdb
import re2
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from ..errors import ConfigError, SourceError
from ..reading.extract import extract, mask_otp
from ..reading.text import normalise
from ..reading.formats import FormatSet
from ..storage.runs import IngestStats
from ..storage.store import insert_batch, message_row, now, stored_messages
from .tabular import map_columns, parse_time, read_rows

ALIASES = {
    "date": ("date", "date time", "datetime", "time", "timestamp", "received", "received at", "sent date", "date sent"),
    "address": ("address", "sender", "sender id", "from", "number", "phone", "originator"),
    "body": ("body", "message", "message body", "text", "sms", "content"),
}
BATCH = 5000


@dataclass(frozen=True)
class Sms:
    """One SMS as exported."""

    address: str
    at: datetime | None
    body: str
    ref: str


def read_xml(path: Path) -> Iterator[Sms]:
    """SMS Backup & Restore XML (``<smses><sms address= date= body=/>``), streamed and defused.

    Every top-level element is dropped once read — MMS too (``<mms>`` with its base64 parts,
    often most of an export's bytes), which are skipped: memory holds one element at a time.
    """
    try:
        events = iterparse(str(path), events=("start", "end"), forbid_dtd=True)
        root = None
        depth = 0
        for number, (event, element) in enumerate(events):
            if event == "start":
                root = root if root is not None else element
                depth += 1
                continue
            depth -= 1
            if depth != 1:  # the root's children are the records; their parts are dropped with them
                continue
            if element.tag == "sms":
                yield Sms(element.get("address", ""), parse_time(element.get("date")), element.get("body", ""),
                          f"{path.name}#{number}")
            element.clear()
            root.clear()  # keep memory flat on exports of any size
    except DefusedXmlException as exc:
        raise SourceError(f"{path}: refused: the XML uses a DTD or entities ({type(exc).__name__}); "
                          "SMS Backup & Restore never writes those") from None
    except (ParseError, OSError, LookupError) as exc:  # LookupError: an encoding Python does not know
        raise SourceError(f"{path}: not readable as SMS Backup & Restore XML: {exc}") from None


def read_csv(path: Path) -> Iterator[Sms]:
    """A CSV or XLSX export with date, sender and body columns (header names vary)."""
    rows = read_rows(path)
    header = next(rows, None)
    if header is None:
        raise ConfigError(f"{path}: the file is empty")
    columns = map_columns(header[1], ALIASES, ("date", "address", "body"), path)
    for number, row in rows:
        cells = [row[columns[k]] if columns[k] < len(row) else None for k in ("address", "date", "body")]
        yield Sms(str(cells[0] or "").strip(), parse_time(cells[1]), str(cells[2] or ""), f"{path.name}:{number}")


def read_sms(path: Path) -> Iterator[Sms]:
    """Pick the reader by content: XML when the file starts with '<'."""
    with open(path, "rb") as handle:
        start = handle.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    return read_xml(path) if start.startswith(b"<") else read_csv(path)


def _sha(sms: Sms) -> str:
    stamp = sms.at.isoformat() if sms.at else ""
    return hashlib.sha256(f"sms\n{sms.address}\n{stamp}\n{sms.body}".encode()).hexdigest()


def _read_one(sms: Sms, sha: str, formats: FormatSet, run_id: int | None, imported_at: datetime) -> tuple[dict, list[dict]]:
    text = " ".join(normalise(sms.body).split())
    candidates = [f for f in formats.for_channel("sms") if f.body is not None and f.matches_body(text)]
    row = message_row(
        sha256=sha, source="sms", source_ref=sms.ref, received_at=sms.at, from_addr=sms.address,
        subject=(mask_otp(text) if "otp" in text.lower() else text)[:1000], size_bytes=len(sms.body.encode()),
        kind=candidates[0].kind if candidates else None, parse_status="ignored",
        parse_error=None if candidates else "not an alert wording", imported_at=imported_at, run_id=run_id,
        sender_check="genuine",
    )
    if not candidates:
        return row, []
    if sms.at is None:
        row.update(parse_status="unparsed", parse_error="the SMS has no readable date")
        return row, []
    result = extract(candidates, text, sms.at)
    row.update(parse_status=result.status, format_id=result.format_id, parse_error=result.error)
    if result.event is None:
        return row, []
    event = {**result.event, "source_sha256": sha, "source_ref": sms.ref, "imported_at": imported_at}
    return row, [event]


def import_sms(con: duckdb.DuckDBPyConnection, records: Iterator[Sms], formats: FormatSet, senders: str,
               run_id: int | None = None, progress: Callable[[int], None] | None = None) -> IngestStats:
    """Store GST SMS and their events batch by batch; re-importing adds nothing."""
    try:  # RE2: linear time, so no pattern can hang an import on a long sender id
        pattern = re2.compile(f"(?i){senders}")
    except re2.error as exc:
        raise ConfigError(f"sms_senders '{senders}' is not a regular expression RE2 can run: {exc}") from None
    stats = IngestStats()
    while batch := list(islice(records, BATCH)):
        stats.seen += len(batch)
        gst = [s for s in batch if pattern.search(s.address)]
        stats.skipped += len(batch) - len(gst)
        by_sha = {_sha(s): s for s in gst}
        stored = stored_messages(con, list(by_sha))
        stats.known += len(gst) - len(by_sha) + len(stored)
        rows, events = [], []
        imported_at = now()
        for sha, sms in by_sha.items():
            if sha in stored:
                continue
            row, found = _read_one(sms, sha, formats, run_id, imported_at)
            rows.append(row)
            events.extend(found)
            setattr(stats, row["parse_status"], getattr(stats, row["parse_status"]) + 1)
        stats.new += len(rows)
        if rows:
            stats.events_new += insert_batch(con, rows, events)
        if progress:
            progress(len(batch))
    return stats
