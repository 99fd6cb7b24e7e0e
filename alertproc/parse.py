"""Read one raw e-mail: its metadata, its text, and the alert event it carries (if any)."""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import email.utils
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from html.parser import HTMLParser

import mailparser

from .domain import gstin_is_valid
from .extract import event_id, extract, mask_otp
from .formats import FormatSet
from .senders import GENUINE, OTHER, sender_check

log = logging.getLogger(__name__)
# mail-parser logs a warning per multipart/alternative mail; a batch of thousands floods logs.
logging.getLogger("mailparser").setLevel(logging.ERROR)

_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|fw|aw|wg)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_GSTIN_IN_TEXT = re.compile(r"\b[0-9]{2}[A-Z0-9]{13}\b")
_INLINE_FORWARD = re.compile(
    r"^[>\s]*From:\s*(?P<from>.+)$(?:.*\n)*?^[>\s]*Subject:\s*(?P<subject>.+)$",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass
class ParsedMail:
    """The outcome of reading one raw message."""

    message: dict
    events: list[dict] = field(default_factory=list)


class _TextFromHTML(HTMLParser):
    """HTML to text where each table row becomes one line of cells joined by `` | ``."""

    _BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.row: list[str] | None = None
        self.cell: list[str] = []
        self.text: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "tr":
            self._flush_text()
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self._close_cell()
        elif tag in self._BLOCKS:
            self._flush_text()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag == "tr" and self.row is not None:
            self._close_cell()
            self.lines.append(" | ".join(c for c in self.row if c))
            self.row = None
        elif tag in ("td", "th") and self.row is not None:
            self._close_cell()
        elif tag in self._BLOCKS:
            self._flush_text()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        (self.cell if self.row is not None else self.text).append(data)

    def _close_cell(self) -> None:
        if self.row is not None and self.cell:
            self.row.append(" ".join("".join(self.cell).split()))
        self.cell = []

    def _flush_text(self) -> None:
        line = " ".join("".join(self.text).split())
        if line:
            self.lines.append(line)
        self.text = []

    def result(self) -> str:
        self._flush_text()
        return "\n".join(self.lines)


def html_to_text(html: str) -> str:
    """Flatten HTML to text; table rows become ``cell | cell`` lines."""
    parser = _TextFromHTML()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient; anything left is hostile input, keep what we have
        pass
    return parser.result()


def clean_subject(subject: str) -> str:
    """Drop ``Re:``/``Fwd:`` prefixes and fold white space."""
    return " ".join(_REPLY_PREFIX.sub("", subject or "").split())


@lru_cache(maxsize=4096)
def _address(value: str | None) -> str | None:
    """The lower-case address in a From or Return-Path header (cached: GSTN sends from a few)."""
    if not value:
        return None
    addr = email.utils.parseaddr(value)[1]
    return addr.strip().lower() or None


def _header(msg: email.message.Message, name: str) -> str | None:
    values = msg.get_all(name) or []
    text = "\n".join(str(v) for v in values).strip()
    return text or None


def _date(value: object) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(str(value or ""))
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


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
            text = (payload or b"").decode(part.get_content_charset() or "us-ascii")
        except (LookupError, UnicodeDecodeError):
            return None
        (html if content_type == "text/html" else plain).append(text)
    raw_subject = str(message.get("Subject") or "")
    try:
        subject = raw_subject if "=?" not in raw_subject and "\n" not in raw_subject else \
            str(email.header.make_header(email.header.decode_header(raw_subject)))
    except (email.errors.HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return None
    return MailView(message, subject, _date(message.get("Date")), plain, html)


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
    sent_at = mail.date if isinstance(mail.date, datetime) else _date(mail.message.get("Date"))
    if sent_at is not None and sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=timezone.utc)
    return MailView(mail.message, str(mail.subject or ""), sent_at, list(mail.text_plain or []), list(mail.text_html or []))


def _inner_alert(msg: email.message.Message, senders: frozenset[str]) -> bytes | None:
    """Raw bytes of a GST alert attached as message/rfc822 inside a forward, if any."""
    for part in msg.walk():
        if part.get_content_type() != "message/rfc822":
            continue
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, email.message.Message) and _address(inner.get("From")) in senders:
            return inner.as_bytes(policy=email.policy.compat32)
    return None


def suspicious_event(candidates: list, subject: str, text: str, sent_at: datetime | None, verdict: str) -> dict:
    """The evidence event of a spoof suspect: what it claims, under kind ``suspicious_alert``.

    Its own kind keeps it out of every rule but ``spoofed_alert``.
    """
    claimed = extract(candidates, f"Subject: {subject}\n{text}", sent_at).event or {}
    gstin = claimed.get("gstin") or (_GSTIN_IN_TEXT.search(subject).group(0) if _GSTIN_IN_TEXT.search(subject) else None)
    occurred = claimed.get("occurred_at") or sent_at or datetime(1970, 1, 1, tzinfo=timezone.utc)
    return {
        **claimed,
        "event_id": event_id("suspicious_alert", gstin, claimed.get("asp_key"), occurred, "email", verdict),
        "kind": "suspicious_alert", "gstin": gstin, "gstin_valid": gstin_is_valid(gstin),
        "occurred_at": occurred, "channel": "email", "status": verdict,
        "format_id": claimed.get("format_id"),
    }


def parse_mail(raw: bytes, formats: FormatSet, senders: frozenset[str],
               require_auth_results: bool = False) -> ParsedMail:
    """Read ``raw`` into a ``messages`` row and the events it carries.

    An alert is mail from one of ``senders`` (or forwarded from one) whose subject matches
    an e-mail format. Any other mail is ``ignored``. An alert whose body matches no format
    is ``unparsed`` with the reason; it is never dropped. An alert that fails its
    Authentication-Results or comes from a look-alike domain is ``suspicious``: recorded,
    never turned into events that other rules would trust.
    """
    view = read_mail(raw)
    msg, failure, subject, sent_at = view.message, view.failure, view.subject, view.sent_at
    from_addr = _address(str(msg.get("From") or ""))
    message = {
        "message_id": (str(msg.get("Message-ID") or "").strip() or None),
        "received_at": sent_at,
        "from_addr": from_addr,
        "subject": subject[:1000],
        "return_path": _address(_header(msg, "Return-Path")),
        "auth_results": _header(msg, "Authentication-Results"),
        "forwarded": False,
        "sender_check": None,
        "kind": None,
        "format_id": None,
        "parse_status": "ignored",
        "parse_error": None,
    }
    text = view.text(with_html=not view.plain)
    alert_subject = clean_subject(subject)
    verdict = sender_check(from_addr, message["auth_results"], senders, require_auth_results)
    message["sender_check"] = verdict
    if verdict not in (GENUINE, OTHER):
        candidates = formats.for_subject(alert_subject)
        if not candidates:
            message["parse_error"] = failure or "subject is not a known alert kind"
            return ParsedMail(message)
        message.update(kind=candidates[0].kind, parse_status="suspicious",
                       parse_error=f"claims to be a GST alert but sender check says {verdict}")
        return ParsedMail(message, [suspicious_event(candidates, alert_subject, text, sent_at, verdict)])
    if verdict == OTHER:
        inner = _inner_alert(msg, senders)
        forward = None if inner else _INLINE_FORWARD.search(text)
        if inner is not None:
            inner_mail = parse_mail(inner, formats, senders, require_auth_results)
            inner_mail.message.update({k: message[k] for k in ("message_id", "received_at", "from_addr",
                                                               "subject", "return_path", "auth_results")})
            inner_mail.message["forwarded"] = True
            return inner_mail
        if forward and _address(forward.group("from")) in senders:
            message["forwarded"] = True
            alert_subject = clean_subject(forward.group("subject"))
            text = text[forward.end():]
        else:
            message["parse_error"] = failure or "not from a configured sender"
            return ParsedMail(message)
    candidates = formats.for_subject(alert_subject)
    if not candidates:
        message["parse_error"] = failure or "subject is not a known alert kind"
        return ParsedMail(message)
    message["kind"] = candidates[0].kind
    if message["kind"] == "otp_sent":
        message["subject"] = mask_otp(message["subject"])
    if failure:
        message.update(parse_status="unparsed", parse_error=failure)
        return ParsedMail(message)
    result = extract(candidates, f"Subject: {alert_subject}\n{text}", sent_at)
    if result.event is None and view.plain and view.html and not message["forwarded"]:
        result = extract(candidates, f"Subject: {alert_subject}\n{view.text(with_html=True)}", sent_at)
    message.update(parse_status=result.status, format_id=result.format_id, parse_error=result.error)
    return ParsedMail(message, [result.event] if result.event else [])


@dataclass(frozen=True)
class MailReader:
    """Everything that decides how a mail is read: formats, trusted senders, strictness."""

    formats: FormatSet
    senders: frozenset[str]
    require_auth_results: bool = False

    def parse(self, raw: bytes) -> ParsedMail:
        """:func:`parse_mail` with these settings; a parser bug costs one ``unparsed`` row, never the batch."""
        try:
            return parse_mail(raw, self.formats, self.senders, self.require_auth_results)
        except Exception as exc:  # defence in depth: the message is still archived and shown
            log.exception("parser error")
            return ParsedMail({"message_id": None, "received_at": None, "from_addr": None, "subject": "",
                               "return_path": None, "auth_results": None, "forwarded": False,
                               "sender_check": None, "kind": None, "format_id": None, "parse_status": "unparsed",
                               "parse_error": f"parser error: {type(exc).__name__}: {str(exc)[:200]}"})
