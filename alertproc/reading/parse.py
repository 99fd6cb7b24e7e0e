"""Read one raw e-mail: who sent it, whether it is an alert, and the alert event it carries.

The steps, each undoing one thing mail transport does to an alert (docs/parsing.md): the
sender check (senders.py); the subject without gateway tags and reply/forward prefixes in
any language; the alert inside a forward (attached, or inline: the innermost GST block of
text or HTML, dated by its own Date/Sent line); the text normalised (text.py) for the formats.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import email.utils
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property, lru_cache

import re2

from ..config import DEFAULT_SUBJECT_PREFIXES
from ..errors import ConfigError
from ..storage.store import message_row
from .extract import extract, mask_otp, new_event
from .formats import FormatSet
from .forwards import innermost
from .mailview import MailView, read_mail
from .senders import GENUINE, OTHER, DnsLookup, SenderVerdict, from_addresses, sender_check, unfold, verify_dkim
from .text import html_to_text, normalise, unquote

log = logging.getLogger(__name__)

_GSTIN_IN_TEXT = re.compile(r"\b[0-9]{2}[A-Z0-9]{13}\b")
# A subject that names an API-access matter: GSTN's mail about it is kept as `unparsed` when no
# format knows its wording, so a new template is seen, never lost (never filed away either:
# it could be a notice that must stay in the inbox).
ALERT_LIKE = re.compile(r"\b(?:tokens?|consents?|revok\w*|revocation|api\s*access|otp|one[\s-]*time\s+password)\b",
                        re.IGNORECASE)
# Words the IMAP SEARCH adds to the formats' subject fragments, so that such mail is fetched.
ALERT_LIKE_SEARCH = ("token", "consent", "revok", "API access", "OTP")
# ``sender_check`` of a forwarded alert (the forwarder is no configured sender): trusted when the
# inner alert's GST DKIM signature verifies or a trusted forwarder's own mail passes aligned.
FORWARD_TRUSTED = "forward_trusted"
FORWARD_UNTRUSTED = "forward_untrusted"


@dataclass
class ParsedMail:
    """The outcome of reading one raw message."""

    message: dict
    events: list[dict] = field(default_factory=list)


@dataclass
class Located:
    """Where the alert in a mail is, before any format reads it (what ``explain`` shows)."""

    view: MailView
    message: dict
    sender: SenderVerdict
    subject: str  # the alert's subject, tags and prefixes removed
    body: str  # normalised, as the formats see it (after a first line "Subject: ...")
    reference: datetime | None  # the alert's own date: the forwarded block's, or the mail's
    untrusted_forward: bool = False  # read to say what it claims, then recorded without events
    html_too: bool = False  # the plain text is tried first, then the HTML (flattened only then)
    outcome: ParsedMail | None = None  # set when the mail is decided without a format
    other_bodies: Iterator[str] = iter(())  # a forward's block in its other parts, read on demand

    def texts(self) -> Iterator[str]:
        """What the formats are given, in the order they are tried (the HTML one made on demand:
        flattening HTML is the costliest step of reading an alert)."""
        yield f"Subject: {self.subject}\n{self.body}"
        if self.html_too:
            yield f"Subject: {self.subject}\n{normalise(self.view.text(with_html=True))}"
        for body in self.other_bodies:
            yield f"Subject: {self.subject}\n{body}"


@lru_cache(maxsize=4096)
def _address(value: str | None) -> str | None:
    """The lower-case address in a From or Return-Path header (cached: GSTN sends from a few)."""
    if not value:
        return None
    addr = email.utils.parseaddr(value)[1]
    return addr.strip().lower() or None


def _row(view: MailView, from_addr: str | None, subject: str, auth_headers: list[str]) -> dict:
    auth = [unfold(v).strip() for v in auth_headers]
    return message_row(
        message_id=(str(view.message.get("Message-ID") or "").strip() or None),
        received_at=view.sent_at,
        from_addr=from_addr,
        subject=unfold(subject).strip()[:1000],  # a folded Subject keeps no CRLF
        return_path=_address(unfold("\n".join(view.headers("Return-Path")))),
        auth_results="\n".join(auth) or None,
        forwarded=False,
        parse_status="ignored",
    )


def _inner_alert(msg: email.message.Message, senders: frozenset[str]) -> bytes | None:
    """Raw bytes of a GST alert attached as message/rfc822 inside a forward, if any.

    compat32 writes a parsed message back byte for byte (headers keep their folding), so the
    inner alert's DKIM signature can still be verified on these bytes.
    """
    for part in msg.walk():
        if part.get_content_type() != "message/rfc822":
            continue
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, email.message.Message) and _address(inner.get("From")) in senders:
            return inner.as_bytes(policy=email.policy.compat32)
    return None


def _claim(event: dict | None, kind: str | None) -> str:
    """What an untrusted alert says, in words for the report (``kind`` for GSTIN by ASP)."""
    if not event:
        return f"it claims {kind or 'an alert'} but no format could read it"
    return f"it claims {kind} for {event.get('gstin') or '?'} by {event.get('asp_name') or '?'}"


def suspicious_event(candidates: list, subject: str, text: str, sent_at: datetime | None, verdict: str) -> dict:
    """The evidence event of a spoof suspect: what it claims, under kind ``suspicious_alert``.

    Its own kind keeps it out of every rule but ``spoofed_alert``. The kind it claims is part
    of its id: a forged consent and a forged refresh at the same minute are two suspects.
    """
    claimed = extract(candidates, f"Subject: {subject}\n{text}", sent_at).event or {}
    in_subject = _GSTIN_IN_TEXT.search(subject)
    gstin = claimed.get("gstin") or (in_subject.group(0) if in_subject else None)
    occurred = claimed.get("occurred_at") or sent_at or datetime(1970, 1, 1, tzinfo=timezone.utc)
    claimed_kind = candidates[0].kind if candidates else "unknown"
    return new_event("suspicious_alert", gstin, claimed.get("asp_name"), occurred, "email", status=verdict,
                     extra=claimed_kind, gsp_name=claimed.get("gsp_name"), valid_until=claimed.get("valid_until"),
                     format_id=claimed.get("format_id"))


HEADER_BYTES = 256 * 1024  # what is read of a mail too large to parse: its header block, at most this


def too_large(raw: bytes, limit: int) -> ParsedMail:
    """The row of a mail over the size budget: its headers only, ``unparsed`` with the reason.

    Parsing a 40 MB mail costs several times its size in memory; no GST alert is that big.
    It is archived whole (the caller does that), feeds no rule, and with no sender verdict
    it is never filed away: a person looks at it.
    """
    head = raw[:HEADER_BYTES]
    end = min((i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0), default=len(head))
    view = read_mail(head[:end] + b"\r\n\r\n")
    row = _row(view, _address(unfold("\n".join(view.headers("From")))), view.subject,
               view.headers("Authentication-Results"))
    row.update(parse_status="unparsed", parse_error=(
        f"too large: {len(raw) / 2**20:.1f} MB, over max_mail_mb = {limit // 2**20}; archived whole, not read "
        "(open the archived copy, or raise max_mail_mb and run `alertproc reparse`)"))
    return ParsedMail(row)


@dataclass(frozen=True)
class MailReader:
    """Everything that decides how a mail is read: formats, trusted senders and servers, prefixes."""

    formats: FormatSet
    senders: frozenset[str]
    require_auth_results: bool = False
    trusted_authserv_ids: frozenset[str] = frozenset()
    subject_prefixes: tuple[str, ...] = DEFAULT_SUBJECT_PREFIXES
    dkim_dns: DnsLookup | None = None  # a TXT look-up for the DKIM check (tests pass their own)
    trusted_forwarders: frozenset[str] = frozenset()
    max_bytes: int = 25 * 2**20  # larger mail is archived whole but not read (max_mail_mb)

    @cached_property
    def _prefix_pattern(self) -> re2._Regexp:
        alternatives = "|".join(f"(?:{p})" for p in self.subject_prefixes)
        return re2.compile(rf"(?i)^(?:\s*(?:{alternatives}))+\s*")

    def __getstate__(self) -> dict:
        """What a worker process is sent with each chunk of mail: the settings, not this process's
        caches (the subject cache grew the pickle from 9 KB to 50 KB per chunk)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_cleaned", "_prefix_pattern")}

    def check(self) -> None:
        """Raise :class:`ConfigError` now for a subject prefix RE2 cannot compile (not at the first mail)."""
        if self.subject_prefixes:
            try:
                _ = self._prefix_pattern  # compiles it
            except re2.error as exc:
                reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
                raise ConfigError(f"subject_prefixes: not a regular expression RE2 can run: {reason}") from None

    @cached_property
    def _cleaned(self) -> dict[str, str]:
        return {}  # subjects repeat (one per GSTIN and kind): each is cleaned once per process

    def clean_subject(self, subject: str) -> str:
        """``subject`` without leading tags and reply/forward prefixes, white space folded."""
        subject = subject or ""
        cleaned = self._cleaned.get(subject)
        if cleaned is None:
            text = normalise(subject).replace("\n", " ")
            if self.subject_prefixes:
                text = self._prefix_pattern.sub("", text, count=1)
            if len(self._cleaned) >= 10_000:
                self._cleaned.clear()
            cleaned = self._cleaned[subject] = " ".join(text.split())
        return cleaned

    def parse(self, raw: bytes) -> ParsedMail:
        """Read ``raw`` into a ``messages`` row and its events; a parser bug costs one ``unparsed`` row, never the batch."""
        if len(raw) > self.max_bytes:
            return too_large(raw, self.max_bytes)
        try:
            return self.parse_strict(raw)
        except Exception as exc:  # defence in depth: the message is still archived and shown
            log.exception("parser error")
            return ParsedMail(message_row(subject="", forwarded=False, parse_status="unparsed",
                                          parse_error=f"parser error: {type(exc).__name__}: {str(exc)[:200]}"))

    def parse_strict(self, raw: bytes) -> ParsedMail:
        """:meth:`parse`, letting a parser bug raise (tests and ``explain``)."""
        located = self.locate(raw)
        if located.outcome is not None:
            return located.outcome
        message = located.message
        candidates = self.formats.for_subject(located.subject)
        for text in located.texts():
            result = extract(candidates, text, located.reference)
            if result.event is not None:
                break
        message.update(parse_status=result.status, format_id=result.format_id, parse_error=result.error)
        if located.untrusted_forward:  # recorded and shown, never an event a rule would trust
            message.update(parse_status="forwarded", parse_error=f"{message['sender_detail']}; "
                                                                 f"{_claim(result.event, message['kind'])}")
            return ParsedMail(message)
        return ParsedMail(message, [result.event] if result.event else [])

    def locate(self, raw: bytes) -> Located:
        """Read the mail's sender, subject and text; decide it outright where no format is needed.

        An alert is mail from one of ``senders`` (or forwarded from one) whose subject matches
        an e-mail format. Any other mail is ``ignored``; GST mail about an API-access matter
        in no known wording is ``unparsed``. An alert that fails its sender check is
        ``suspicious``: recorded, never turned into events that other rules would trust.
        """
        view = read_mail(raw)
        addresses = from_addresses(tuple(view.headers("From")))
        from_addr = addresses[0] if addresses else None
        auth_headers = view.headers("Authentication-Results")
        message = _row(view, from_addr, view.subject, auth_headers)
        sender = sender_check(from_addr, auth_headers, self.senders, raw, self.require_auth_results,
                              self.trusted_authserv_ids, self.dkim_dns, from_count=len(addresses))
        message.update(sender_check=sender.verdict, sender_detail=sender.reason)
        subject = self.clean_subject(view.subject)
        located = Located(view, message, sender, subject, "", view.sent_at)
        if sender.verdict == OTHER:
            return self._forwarded(located, raw, len(addresses))
        self._set_text(located, view.text(with_html=not view.plain), bool(view.plain and view.html))
        candidates = self.formats.for_subject(subject)
        if sender.verdict != GENUINE:
            if not candidates and not ALERT_LIKE.search(subject):
                message["parse_error"] = view.failure or "subject is not a known alert kind"
                located.outcome = ParsedMail(message)
                return located
            message.update(kind=candidates[0].kind if candidates else None, parse_status="suspicious",
                           parse_error=f"claims to be a GST alert but sender check says {sender.verdict}: {sender.reason}")
            located.outcome = ParsedMail(message, [suspicious_event(candidates, subject, located.body,
                                                                    view.sent_at, sender.verdict)])
            return located
        return self._alert(located)

    def _set_text(self, located: Located, text: str, html_too: bool) -> None:
        located.body = normalise(text)
        located.html_too = html_too

    def _alert(self, located: Located) -> Located:
        """A mail (or forwarded block) from a GST sender: which kind, or why it is none."""
        message, view = located.message, located.view
        candidates = self.formats.for_subject(located.subject)
        if not candidates:
            if ALERT_LIKE.search(located.subject):
                message.update(parse_status="unparsed", parse_error=(
                    f"GST mail about API access whose subject matches no format: {located.subject[:200]!r}; "
                    "add a format file (see `alertproc explain`)"))
            else:
                message["parse_error"] = view.failure or "subject is not a known alert kind"
            located.outcome = ParsedMail(message)
            return located
        message["kind"] = candidates[0].kind
        if message["kind"] == "otp_sent":
            message["subject"] = mask_otp(message["subject"])
        if view.failure:
            message.update(parse_status="unparsed", parse_error=view.failure)
            located.outcome = ParsedMail(message)
        return located

    def _forwarded(self, located: Located, raw: bytes, from_count: int) -> Located:
        """Mail from anyone else: the GST alert it forwards, attached or inline, if any.

        A forward is trusted only when the attached alert's own GST DKIM signature verifies
        (Authentication-Results inside it prove nothing: anyone can write them), or when the
        forwarder is a trusted forwarder whose own mail passes an aligned check. Any other
        forward is read to say what it claims, and recorded as ``forwarded`` without events.
        The outer row keeps the forwarder's address, Message-ID and subject: it is never filed.
        """
        view, message = located.view, located.message
        inner = _inner_alert(view.message, self.senders)
        if inner is not None:
            inner_view = read_mail(inner)
            inner_from = _address(unfold(str(inner_view.message.get("From") or ""))) or ""
            signed, why = verify_dkim(inner, inner_from.rpartition("@")[2], self.dkim_dns)
            trust = f"forwarded by {message['from_addr']}: inner alert's {why}" if signed == "pass" else \
                self._forwarder_trust(located, raw, from_count, f"inner alert: {why}")
            located.view = inner_view
            self._set_text(located, inner_view.text(with_html=not inner_view.plain),
                           bool(inner_view.plain and inner_view.html))
            located.subject = self.clean_subject(inner_view.subject)
            located.reference = inner_view.sent_at or view.sent_at
            return self._forward(located, trust)
        blocks = self._inline_blocks(view)
        block = next(blocks, None)
        if block is not None:
            located.subject = self.clean_subject(block.subject or view.subject)
            located.reference = block.sent_at or view.sent_at
            located.body = normalise(unquote(block.body))
            # Outlook's text part may put each table cell on a line of its own: the HTML part's
            # block is tried next (flattened only if the text's block gives no event).
            located.other_bodies = (normalise(unquote(other.body)) for other in blocks)
            trust = self._forwarder_trust(located, raw, from_count, "an inline forward carries no signature")
            return self._forward(located, trust)
        message["parse_error"] = view.failure or "not from a configured sender"
        located.outcome = ParsedMail(message)
        return located

    def _inline_blocks(self, view: MailView) -> Iterator:
        """The innermost forwarded GST block of the text part, then of the HTML part, where there is one."""
        texts = (view.text(with_html=False) if plain else "\n".join(html_to_text(h) for h in view.html)
                 for plain in ((True,) if view.plain else ()) + ((False,) if view.html else ()))
        for text in texts:
            if not any(sender in text.lower() for sender in self.senders):
                continue  # a forwarded block names its sender's address: no address, no block
            block = innermost(normalise(text), self.senders)
            if block is not None:
                yield block

    def _forwarder_trust(self, located: Located, raw: bytes, from_count: int, inner: str) -> str | None:
        """Why a forward is trusted through its forwarder (whose own mail must pass an aligned
        check, as ``require_auth_results`` would have it), or None, the reason in the row."""
        message = located.message
        forwarder = message["from_addr"]
        if forwarder not in self.trusted_forwarders:
            message["sender_detail"] = f"forwarded by {forwarder}, not a trusted forwarder; {inner}"
            return None
        verdict = sender_check(forwarder, located.view.headers("Authentication-Results"), self.trusted_forwarders,
                               raw, True, self.trusted_authserv_ids, self.dkim_dns, from_count=from_count)
        if verdict.verdict == GENUINE:
            return f"forwarded by trusted forwarder {forwarder}: {verdict.reason}"
        message["sender_detail"] = (f"forwarded by trusted forwarder {forwarder}, but its own mail fails the "
                                    f"aligned check ({verdict.verdict}: {verdict.reason}); {inner}")
        return None

    def _forward(self, located: Located, trust: str | None) -> Located:
        message = located.message
        message["forwarded"] = True
        if trust is None:
            message["sender_check"] = FORWARD_UNTRUSTED
            located.untrusted_forward = True
        else:
            message.update(sender_check=FORWARD_TRUSTED, sender_detail=trust)
        located.outcome = None
        self._alert(located)
        if located.untrusted_forward and located.outcome and located.outcome.message["parse_status"] == "unparsed":
            located.outcome.message.update(parse_status="forwarded", parse_error=(
                f"{message['sender_detail']}; {located.outcome.message.get('parse_error') or 'no alert format matches'}"))
        return located


def parse_mail(raw: bytes, formats: FormatSet, senders: frozenset[str], require_auth_results: bool = False) -> ParsedMail:
    """Read ``raw`` with default settings but these formats and senders (see :class:`MailReader`)."""
    return MailReader(formats, senders, require_auth_results).parse_strict(raw)
