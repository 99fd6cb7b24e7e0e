"""Alerts forwarded inline: find the forwarded header block and the alert text below it.

Mail clients write a forwarded message's headers into the text, each its own way: Outlook
(``-----Original Message-----``, ``From: GSTN [mailto:donotreply@gst.gov.in]``, ``Sent:``),
Gmail (``---------- Forwarded message ---------``, ``Date: Fri, 21 Nov 2026 at 14:32``),
Thunderbird (``-------- Forwarded Message --------`` with Subject and Date *before* From),
Apple Mail, and translations of them. A block is a run of such header lines holding a From;
in a forward of a forward the innermost block from a GST sender is the alert.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from ..domain import IST

_NAMES = {
    "from": ("from", "von", "de", "da", "van", "från", "fra", "od", "lähettäjä", "feladó"),
    "sent": ("sent", "date", "gesendet", "datum", "envoyé", "enviado", "fecha", "inviato", "data",
             "verzonden", "skickat", "sendt", "wysłano", "lähetetty"),
    "subject": ("subject", "betreff", "objet", "asunto", "oggetto", "onderwerp", "ämne", "emne", "temat",
                "aihe", "assunto", "tárgy"),
    "to": ("to", "cc", "an", "à", "a", "para", "aan", "till", "til", "do", "vastaanottaja", "kopie", "reply-to"),
}
_KIND = {name: kind for kind, names in _NAMES.items() for name in names}
_FIELD = re.compile(r"^[ \t>]*\**[ \t]*(" + "|".join(sorted(map(re.escape, _KIND), key=len, reverse=True)) +
                    r")[ \t]*\**[ \t]*:[ \t]*\**[ \t]*(.*?)[ \t]*$", re.IGNORECASE)
_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_WEEKDAY = re.compile(r"^\s*(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+", re.IGNORECASE)
_DATE_FORMATS = ("%B %d, %Y %I:%M:%S %p", "%B %d, %Y %I:%M %p", "%B %d, %Y %H:%M:%S", "%B %d, %Y %H:%M",
                 "%d %B %Y %H:%M:%S", "%d %B %Y %H:%M", "%d %B %Y %I:%M:%S %p", "%d %B %Y %I:%M %p",
                 "%b %d, %Y %I:%M:%S %p", "%b %d, %Y %I:%M %p", "%d %b %Y %H:%M:%S", "%d %b %Y %H:%M",
                 "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M",
                 "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M")


@dataclass(frozen=True)
class Forwarded:
    """One forwarded header block and the text that follows it."""

    sender: str | None  # the From address, lower-case
    subject: str | None
    sent_at: datetime | None  # tz-aware; a time without a zone is taken as IST
    body: str


def parse_sent(value: str) -> datetime | None:
    """A forward's Date/Sent line: RFC 5322, Gmail's ``... at 14:32``, Outlook's long forms."""
    value = " ".join(value.replace(" at ", " ").split())
    parsed = None
    bare = _WEEKDAY.sub("", value)
    for fmt in _DATE_FORMATS:  # before RFC 5322: its lenient parser reads "2:40 PM" as 02:40
        try:
            parsed = datetime.strptime(bare, fmt)
            break
        except ValueError:
            continue
    if parsed is None:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is None:
        return None
    return parsed.replace(tzinfo=IST) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _blocks(lines: list[str]) -> list[tuple[int, int, dict[str, str]]]:
    """(first line, line after, fields) of every run of forwarded-header lines with a From."""
    blocks = []
    index = 0
    while index < len(lines):
        found = _FIELD.match(lines[index])
        if not found:
            index += 1
            continue
        start, fields, last_kind, last_line = index, {}, None, ""
        while index < len(lines):
            line = lines[index]
            found = _FIELD.match(line)
            if found:
                last_kind = _KIND[found.group(1).lower()]
                fields.setdefault(last_kind, found.group(2))
            elif not (last_kind == "to" and (_ADDRESS.search(line) or last_line.rstrip().endswith((";", ",")))):
                break  # not a long To/Cc list wrapped onto the next line: the block ends
            last_line = line
            index += 1
        if "from" in fields and len(fields) >= 2:
            blocks.append((start, index, fields))
    return blocks


def innermost(text: str, senders: frozenset[str]) -> Forwarded | None:
    """The innermost forwarded block from one of ``senders`` in ``text``, or None."""
    if ":" not in text:
        return None
    lines = text.split("\n")
    blocks = _blocks(lines)
    for number, (_start, end, fields) in reversed(list(enumerate(blocks))):
        address = _ADDRESS.search(fields["from"])
        sender = address.group(0).lower() if address else None
        if sender not in senders:
            continue
        stop = blocks[number + 1][0] if number + 1 < len(blocks) else len(lines)
        sent = fields.get("sent")
        return Forwarded(sender, fields.get("subject"), parse_sent(sent) if sent else None,
                         "\n".join(lines[end:stop]))
    return None
