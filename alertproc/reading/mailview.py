"""One raw e-mail as parsing needs it: headers, decoded subject and date, text and HTML parts."""

from __future__ import annotations

import email
import email.errors
import email.header
import email.message
import email.utils
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

import mailparser

from .text import html_to_text, unflow

# mail-parser logs a warning per multipart/alternative mail; a batch of thousands floods logs.
logging.getLogger("mailparser").setLevel(logging.ERROR)

# What browsers do (WHATWG Encoding): mail labelled US-ASCII or Latin-1 is read as
# Windows-1252, a superset, so Outlook's curly quotes (0x93/0x94) are quotes, not errors.
_AS_CP1252 = {"us-ascii", "ascii", "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "windows-1252", "cp1252"}


@dataclass
class MailView:
    """What parsing needs of a mail: headers, decoded subject and date, and its text parts."""

    message: email.message.Message
    subject: str
    sent_at: datetime | None
    plain: list[str]
    html: list[str]
    failure: str | None = None

    def text(self, with_html: bool) -> str:
        """The plain-text parts, and the HTML parts flattened (tables as ``cell | cell`` lines).

        Flattening HTML is the costliest step of reading an alert, so callers first try the
        plain text alone when there is some.
        """
        plain = "\n".join(self.plain)
        if not with_html:
            return plain.strip()
        return (plain + "\n" + "\n".join(html_to_text(h) for h in self.html)).strip()

    def headers(self, name: str) -> list[str]:
        """Every value of header ``name``, topmost first, as received (folding kept)."""
        return [str(v) for v in self.message.get_all(name) or []]


def header_date(value: object) -> datetime | None:
    """A Date header as a tz-aware datetime (UTC when it names no zone), or None."""
    try:
        parsed = email.utils.parsedate_to_datetime(str(value or ""))
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _decode(part: email.message.Message, payload: bytes) -> str:
    charset = (part.get_content_charset() or "us-ascii").lower()
    if charset in _AS_CP1252:
        try:
            return payload.decode("cp1252")
        except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
            return payload.decode("latin-1")
    return payload.decode(charset)


def _stdlib_view(raw: bytes) -> MailView | None:
    """The stdlib's compat32 reading, or None as soon as anything about the mail is off.

    Well-formed mail (nearly every GSTN alert) is read about eight times faster this way
    than by mail-parser, which is kept for mail with defects, where its recovery pays.
    """
    message = email.message_from_bytes(raw)
    if message.defects:
        return None
    plain: list[str] = []
    html: list[str] = []
    for part in message.walk():
        content_type = part.get_content_type()  # each header lookup scans the headers: ask once
        if not content_type.startswith("text/") or str(part.get("Content-Disposition") or "").lower().startswith("attachment"):
            continue
        payload = part.get_payload(decode=True)
        if part.defects:
            return None
        try:
            text = _decode(part, payload or b"")
        except (LookupError, UnicodeDecodeError):
            return None
        if content_type == "text/html":
            html.append(text)
            continue
        if "flowed" in str(part.get("Content-Type", "")).lower():  # cheap test first: get_param parses
            if str(part.get_param("format") or "").lower() == "flowed":
                text = unflow(text, str(part.get_param("delsp") or "").lower() == "yes")
        plain.append(text)
    raw_subject = str(message.get("Subject") or "")
    try:
        subject = raw_subject if "=?" not in raw_subject and "\n" not in raw_subject else \
            str(email.header.make_header(email.header.decode_header(raw_subject)))
    except (email.errors.HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return None
    return MailView(message, subject, header_date(message.get("Date")), plain, html)


def read_mail(raw: bytes) -> MailView:
    """Read ``raw`` with the stdlib when it is clean, with mail-parser otherwise.

    If mail-parser fails too, the stdlib's view is kept with the reason in ``failure``.
    """
    try:
        view = _stdlib_view(raw)
    except Exception:  # anything odd: let mail-parser's recovery have a go
        view = None
    if view is not None:
        return view
    try:
        mail = mailparser.parse_from_bytes(raw)
    except Exception as exc:  # mail-parser raises many types on hostile input
        message = email.message_from_bytes(raw)
        return MailView(message, str(message.get("Subject") or ""), None, [], [],
                        f"mail-parser failed: {type(exc).__name__}: {exc}")
    sent_at = mail.date if isinstance(mail.date, datetime) else header_date(mail.message.get("Date"))
    if sent_at is not None and sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=timezone.utc)
    return MailView(mail.message, str(mail.subject or ""), sent_at, list(mail.text_plain or []), list(mail.text_html or []))
