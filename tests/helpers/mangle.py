"""What mail transport does to an alert, as functions: clean alert in, mangled raw mail out.

Every sample alert of every kind (``alerts()``) goes through every transform (``TRANSFORMS``)
in ``tests/reading/test_mangle.py``, which expects the same event as from the clean mail — or, for
the spoof transforms (``SPOOFS``), no trusted event. ``realistic_mix`` draws a mailbox from
the same transforms for the benchmarks. Nothing here knows the formats: it only imitates
gateways, mail clients and forwards.
"""

from __future__ import annotations

import random
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage, Message
from email.mime.text import MIMEText
from email.mime.multipart import MIMEMultipart
from email.utils import format_datetime
from html import escape

from . import make

IST = make.IST
# The OTP mail is dated by its Date header (WHEN + 7 s), which some forward styles give to the
# minute only: a WHEN 7 s before a whole minute keeps that date exact in every style.
WHEN = datetime(2026, 11, 21, 14, 31, 53, tzinfo=IST)
KAVERI = "Kaveri GST Solutions L.L.P."


@dataclass(frozen=True)
class Alert:
    """A clean sample alert: its headers, subject, and text and/or HTML body."""

    name: str
    headers: tuple[tuple[str, str], ...]
    subject: str
    plain: str | None
    html: str | None


def _alert(name: str, msg: EmailMessage) -> Alert:
    headers = tuple((k, str(v)) for k, v in msg.items() if k.lower() not in ("subject", "content-type",
                                                                        "content-transfer-encoding", "mime-version"))
    plain = html = None
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            plain = part.get_content()
        elif part.get_content_type() == "text/html":
            html = part.get_content()
    return Alert(name, headers, str(msg["Subject"]), plain, html)


def alerts() -> list[Alert]:
    """One clean alert of each shipped e-mail format (Appendix A: E1-E6, E5 both ways)."""
    return [
        _alert("E1-refresh-text", make.refresh_text(make.PUNE, make.ACME, make.EGSP, WHEN, "e1")),
        _alert("E1-refresh-text-llp", make.refresh_text(make.BLR, KAVERI, make.SUVIDHA, WHEN, "e1b")),
        _alert("E2-refresh-table", make.refresh_table(make.BLR, make.LEDGER, make.SUVIDHA, WHEN, "e2")),
        _alert("E3-consent", make.consent(make.PUNE, make.ACME, make.EGSP, WHEN, 30, "e3")),
        _alert("E4-revoked", make.revoked(make.BLR, make.LEDGER, make.SUVIDHA, WHEN, "e4")),
        _alert("E5-enabled", make.access_changed(make.DEL, WHEN, "e5", 30)),
        _alert("E5-disabled", make.access_changed(make.DEL, WHEN, "e5b", None)),
        _alert("E6-otp", make.otp(make.PUNE, WHEN, "e6", "493817")),
    ]


def header(alert: Alert, name: str) -> str | None:
    """The value of one header of ``alert``."""
    return next((v for k, v in alert.headers if k.lower() == name.lower()), None)


def build(alert: Alert, *, subject: str | None = None, plain: str | None = None, html: str | None = None,
          cte: str = "7bit", charset: str = "utf-8", flowed: str | None = None,
          headers: tuple[tuple[str, str], ...] | None = None, raw_headers: bytes = b"") -> bytes:
    """A raw mail with ``alert``'s headers (or ``headers``) and the given subject and bodies.

    ``raw_headers`` go on top verbatim (folded Authentication-Results as servers write them).
    """
    parts: list[Message] = []
    for subtype, text in (("plain", plain), ("html", html)):
        if text is None:
            continue
        if cte == "7bit" and not text.isascii():
            cte = "quoted-printable"  # as any sending client would
        part = MIMEText("", subtype, charset)
        del part["Content-Transfer-Encoding"]
        payload = text.encode(charset)
        if cte == "quoted-printable":
            import quopri
            part.set_payload(quopri.encodestring(payload).decode("ascii"))
        elif cte == "base64":
            import base64
            part.set_payload(base64.encodebytes(payload).decode("ascii"))
        else:
            part.set_payload(payload.decode(charset, errors="surrogateescape") if cte == "8bit" else text)
        part["Content-Transfer-Encoding"] = cte if cte in ("quoted-printable", "base64", "8bit") else "7bit"
        if flowed and subtype == "plain":
            part.set_param("format", "flowed")
            part.set_param("delsp", flowed)
        parts.append(part)
    if len(parts) == 1:
        msg = parts[0]
    else:
        msg = MIMEMultipart("alternative", boundary="=_mangled")
        for part in parts:
            msg.attach(part)
    for name, value in headers if headers is not None else alert.headers:
        msg[name] = value
    msg["Subject"] = subject if subject is not None else alert.subject
    raw = msg.as_bytes(policy=policy.compat32.clone(linesep="\r\n", max_line_length=0))
    return raw_headers + raw


def _plain(alert: Alert) -> str:
    """The alert's text: its plain part, or its HTML as a reader would copy it."""
    if alert.plain is not None:
        return alert.plain
    from alertproc.reading.text import html_to_text
    return html_to_text(alert.html or "")


# --- transforms: Alert -> raw bytes --------------------------------------------------------

def rewrap(text: str, width: int) -> str:
    """Hard-wrap every paragraph at ``width`` columns, as a client sending plain text does."""
    return "\n".join(textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False) if line else ""
                     for line in text.split("\n"))


def wrapped(width: int) -> Callable[[Alert], bytes]:
    def transform(alert: Alert) -> bytes:
        if alert.plain is None:
            return build(alert, html=alert.html)
        return build(alert, plain=rewrap(alert.plain, width))
    transform.__name__ = f"wrapped_{width}"
    return transform


def break_at(alert: Alert, index: int) -> bytes:
    """Replace the ``index``-th space of the text (or of the HTML source) with a line break."""
    text = alert.plain if alert.plain is not None else alert.html
    spaces = [i for i, c in enumerate(text) if c == " "]
    at = spaces[index % len(spaces)]
    broken = text[:at] + "\r\n" + text[at + 1:]
    if alert.plain is None:
        return build(alert, html=broken, cte="quoted-printable")
    return build(alert, plain=broken, cte="quoted-printable")


def flowed(delsp: str, width: int = 40) -> Callable[[Alert], bytes]:
    """format=flowed (RFC 3676) at ``width``: soft breaks keep a trailing space (DelSp=no) or add one."""
    def transform(alert: Alert) -> bytes:
        lines = []
        for paragraph in _plain(alert).split("\n"):
            if delsp == "yes":  # break inside words too: the added space marks where
                pieces = [paragraph[i:i + width] for i in range(0, len(paragraph), width)] or [""]
                lines += [p + " " for p in pieces[:-1]] + [pieces[-1]]
            else:
                pieces = textwrap.wrap(paragraph, width, break_long_words=False, drop_whitespace=False) or [""]
                lines += [p if p.endswith(" ") or p is pieces[-1] else p + " " for p in pieces]
                if pieces[-1].endswith(" "):
                    lines[-1] = lines[-1].rstrip()
        body = "\n".join((" " + line if line.startswith((" ", ">", "From ")) else line) for line in lines)
        return build(alert, plain=body, flowed=delsp)
    transform.__name__ = f"flowed_delsp_{delsp}"
    return transform


def quoted_printable(alert: Alert) -> bytes:
    return build(alert, plain=alert.plain, html=alert.html, cte="quoted-printable")


def base64_encoded(alert: Alert) -> bytes:
    return build(alert, plain=alert.plain, html=alert.html, cte="base64")


def _html_of(alert: Alert) -> str:
    if alert.html is not None:
        return alert.html
    return "".join(f"<p>{escape(line)}</p>" if line else "<br>" for line in (alert.plain or "").split("\n"))


def html_only(alert: Alert) -> bytes:
    """The text as HTML paragraphs, with no plain part (Outlook's default)."""
    return build(alert, html=f"<html><body>{_html_of(alert)}</body></html>")


def html_alternative(alert: Alert) -> bytes:
    """multipart/alternative whose plain part is a useless stub; the HTML carries the alert."""
    return build(alert, plain="This message is best viewed in an HTML mail client.",
                 html=f"<html><body>{_html_of(alert)}</body></html>")


def layout_tables(alert: Alert) -> bytes:
    """The alert inside three levels of layout tables, with a logo cell beside it."""
    inner = _html_of(alert)
    return build(alert, html=(
        "<html><body><table width='100%'><tr><td><table><tr><td><img src='cid:logo'></td>"
        f"<td><table><tr><td>{inner}</td></tr></table></td></tr></table></td></tr>"
        "<tr><td><small>Goods and Services Tax Network</small></td></tr></table></body></html>"))


def nested_value_cells(alert: Alert) -> bytes:
    """Each table value cell holds a table of its own (and the label a <p>)."""
    html = _html_of(alert)
    if "<td>" in html:
        html = html.replace('<td style="font-weight:bold">', '<td style="font-weight:bold"><p>').replace(
            "</td><td>", "</p></td><td><table><tr><td><span>").replace("</td></tr>", "</span></td></tr></table></td></tr>")
    return build(alert, html=f"<html><body><div><div>{html}</div></div></body></html>")


BANNER = ("CAUTION: This email originated from outside of the organization. Do not click links or open "
          "attachments unless you recognize the sender and know the content is safe.")
FOOTER = ("Disclaimer: This e-mail and any files transmitted with it are confidential and intended "
          "solely for the use of the individual to whom they are addressed.")


def banner_and_footer(alert: Alert) -> bytes:
    """A gateway's warning banner above the text and a disclaimer below it, in both parts."""
    plain = f"{BANNER}\n\n{_plain(alert)}\n\n{FOOTER}\n" if alert.plain is not None else None
    html = (f"<div style='background:#fc0'>{BANNER}</div>{alert.html}<p>{FOOTER}</p>" if alert.html else None)
    return build(alert, plain=plain, html=html)


SUBJECT_TAGS = ("[EXTERNAL] ", "EXT: ", "[SPAM?] ", "***SPAM*** ", "CAUTION: ", "[EXTERNAL] [SPAM?] ",
                "*EXTERNAL* EXT: ")
REPLY_PREFIXES = ("AW: ", "WG: ", "SV: ", "VS: ", "TR: ", "RV: ", "Doorst: ", "Fwd: RE: ", "WG: AW: Fw: ",
                  "Re[2]: ", "FW: [EXTERNAL] ")


def subject_tagged(prefix: str) -> Callable[[Alert], bytes]:
    def transform(alert: Alert) -> bytes:
        return build(alert, subject=prefix + alert.subject, plain=alert.plain, html=alert.html)
    transform.__name__ = f"subject_{prefix.strip()}"
    return transform


def folded_subject(alert: Alert) -> bytes:
    """A subject folded over two lines and encoded, as a gateway re-writes it."""
    words = alert.subject.split(" ")
    folded = " ".join(words[:3]) + "\r\n " + " ".join(words[3:])
    return build(alert, subject="[EXTERNAL] " + folded, plain=alert.plain, html=alert.html)


_PEOPLE = ("Rahul Mehta <rahul@pune-plant.example.in>", "Anita Rao <anita@delhi.example.in>")
FORWARDER = "rahul@pune-plant.example.in"  # the reader under test trusts him (trusted_forwarders)
# What the receiving server says of Rahul's own mail: an aligned pass for his domain.
FORWARDER_PASS = ("mx.example.in; dkim=pass header.d=pune-plant.example.in; spf=pass "
                  "smtp.mailfrom=rahul@pune-plant.example.in; dmarc=pass header.from=pune-plant.example.in")


def _forward_headers(alert: Alert, subject: str, days: int = 2) -> tuple[tuple[str, str], ...]:
    when = WHEN + timedelta(days=days)
    return (("Authentication-Results", FORWARDER_PASS), ("From", _PEOPLE[0]), ("To", make.TO),
            ("Date", format_datetime(when)), ("Message-ID", f"<fwd-{alert.name}-{subject}@pune-plant.example.in>"))


def _sent(alert: Alert) -> datetime:
    from email.utils import parsedate_to_datetime
    return parsedate_to_datetime(header(alert, "Date")).astimezone(IST)


def outlook_block(alert: Alert) -> str:
    sent = _sent(alert)
    return ("-----Original Message-----\n"
            "From: GSTN [mailto:donotreply@gst.gov.in]\n"
            f"Sent: {sent.strftime('%A, %B %d, %Y %I:%M %p')}\n"
            f"To: Accounts <{make.TO}>\n"
            f"Subject: {alert.subject}\n\n")


def outlook_new_block(alert: Alert) -> str:
    sent = _sent(alert)
    return ("________________________________\n"
            "From: GSTN <donotreply@gst.gov.in>\n"
            f"Sent: {sent.strftime('%A, %d %B %Y %H:%M')}\n"
            f"To: Accounts <{make.TO}>;\n Priya <priya@pune-plant.example.in>\n"
            f"Subject: {alert.subject}\n\n")


def gmail_block(alert: Alert) -> str:
    sent = _sent(alert)
    return ("---------- Forwarded message ---------\n"
            "From: GSTN <donotreply@gst.gov.in>\n"
            f"Date: {sent.strftime('%a, %d %b %Y at %H:%M')}\n"
            f"Subject: {alert.subject}\n"
            f"To: <{make.TO}>\n\n")


def thunderbird_block(alert: Alert) -> str:
    return ("-------- Forwarded Message --------\n"
            f"Subject: \t{alert.subject}\n"
            f"Date: \t{header(alert, 'Date')}\n"
            f"From: \tGSTN <donotreply@gst.gov.in>\n"
            f"To: \t{make.TO}\n\n")


def forwarded(style: Callable[[Alert], str], quoted: bool = False) -> Callable[[Alert], bytes]:
    """Forwarded inline by a colleague in ``style``; ``quoted`` puts "> " before each line."""
    def transform(alert: Alert) -> bytes:
        body = style(alert) + _plain(alert)
        if quoted:
            body = "\n".join("> " + line for line in body.split("\n"))
        text = f"Is this ours? Please check.\n\nRahul\n\n{body}"
        return build(alert, subject="Fwd: " + alert.subject, plain=text, headers=_forward_headers(alert, "fwd"))
    transform.__name__ = f"forward_{style.__name__}" + ("_quoted" if quoted else "")
    return transform


def forward_of_forward(alert: Alert) -> bytes:
    """Anita forwards Rahul's Outlook forward in Gmail: the innermost GST block is the alert."""
    rahul = ("---------- Forwarded message ---------\nFrom: Rahul Mehta <rahul@pune-plant.example.in>\n"
             f"Date: {format_datetime(WHEN + timedelta(days=1))}\nSubject: FW: {alert.subject}\nTo: <anita@delhi.example.in>\n\n"
             "Anita, one more of these.\n\n")
    text = f"See below.\n\n{rahul}{outlook_block(alert)}{_plain(alert)}"
    return build(alert, subject="Fwd: FW: " + alert.subject, plain=text, headers=_forward_headers(alert, "fwdfwd", 3))


def forward_html(alert: Alert) -> bytes:
    """An Outlook forward as multipart/alternative: a stub plain part, the alert in the HTML."""
    sent = _sent(alert)
    block = ("<div><hr><b>From:</b> GSTN &lt;donotreply@gst.gov.in&gt;<br><b>Sent:</b> "
             f"{sent.strftime('%A, %B %d, %Y %I:%M %p')}<br><b>To:</b> Accounts<br><b>Subject:</b> "
             f"{escape(alert.subject)}</div>")
    html = f"<html><body><p>FYI</p>{block}{_html_of(alert)}</body></html>"
    return build(alert, subject="FW: " + alert.subject, plain="FYI (HTML message)", html=html,
                 headers=_forward_headers(alert, "fwdhtml"))


def forward_outlook_multipart(alert: Alert) -> bytes:
    """Outlook's forward as multipart/alternative whose text part puts each table cell on a line of
    its own (as Outlook renders a table as text); the HTML part has the table."""
    sent = _sent(alert)
    text = _plain(alert).replace(" | ", "\n") if alert.html is not None else alert.plain
    block = ("<div><hr><b>From:</b> GSTN &lt;donotreply@gst.gov.in&gt;<br><b>Sent:</b> "
             f"{sent.strftime('%A, %B %d, %Y %I:%M %p')}<br><b>To:</b> Accounts<br><b>Subject:</b> "
             f"{escape(alert.subject)}</div>")
    return build(alert, subject="FW: " + alert.subject, plain="FYI\n\n" + outlook_block(alert) + text,
                 html=f"<html><body><p>FYI</p>{block}{_html_of(alert)}</body></html>",
                 headers=_forward_headers(alert, "fwdmulti"))


def forward_attached(alert: Alert) -> bytes:
    """Forwarded as an attachment (message/rfc822)."""
    outer = EmailMessage()
    for name, value in _forward_headers(alert, "attached"):
        outer[name] = value
    outer["Subject"] = "Fw: " + alert.subject
    outer.set_content("See attached.\n")
    from email import message_from_bytes
    outer.add_attachment(message_from_bytes(build(alert, plain=alert.plain, html=alert.html)))
    return outer.as_bytes()


def typographic_quotes(alert: Alert) -> bytes:
    """Curly quotes around names (a word processor's autocorrect), as text and as &ldquo; in HTML."""
    plain = _alternate_quotes(alert.plain) if alert.plain else None
    html = _alternate_quotes(alert.html, "&ldquo;", "&rdquo;") if alert.html else None
    return build(alert, plain=plain, html=html)


def _alternate_quotes(text: str, left: str = "\u201c", right: str = "\u201d") -> str:
    pieces = text.split('"')
    out = pieces[0]
    for number, piece in enumerate(pieces[1:]):
        out += (left if number % 2 == 0 else right) + piece
    return out


def windows_1252_quotes(label: str) -> Callable[[Alert], bytes]:
    """Curly quotes as Windows-1252 bytes 0x93/0x94, the charset declared as ``label``."""
    def transform(alert: Alert) -> bytes:
        if alert.plain is None:
            return build(alert, html=alert.html)
        text = _alternate_quotes(alert.plain, "{LQ}", "{RQ}")
        raw = build(alert, plain=text, charset="us-ascii")
        return raw.replace(b"{LQ}", b"\x93").replace(b"{RQ}", b"\x94").replace(
            b'charset="us-ascii"', f'charset="{label}"'.encode()).replace(
            b"Content-Transfer-Encoding: 7bit", b"Content-Transfer-Encoding: 8bit")
    transform.__name__ = f"cp1252_quotes_as_{label}"
    return transform


def invisible_characters(alert: Alert) -> bytes:
    """No-break spaces for spaces, zero-width spaces and soft hyphens inside words (web copies)."""
    def spoil(text: str) -> str:
        text = text.replace("refreshed on", "refreshed\u00a0on").replace("valid till", "valid\u202ftill")
        text = text.replace("Authentication", "Authen\u00adtication").replace("revoked", "re\u200bvoked")
        text = text.replace("ASP ", "ASP\u00a0").replace("GSTIN", "\u200bGSTIN")
        return text.replace("granted", "gran\u200dted").replace("enabled", "en\ufeffabled")
    return build(alert, plain=spoil(alert.plain) if alert.plain else None,
                 html=spoil(alert.html) if alert.html else None, cte="quoted-printable")


def _auth(alert: Alert) -> str:
    return header(alert, "Authentication-Results") or ""


def folded_auth_pass(alert: Alert) -> bytes:
    """The receiving server's Authentication-Results folded over four lines: still genuine."""
    raw = ("Authentication-Results: mx.example.in;\r\n\tdkim=pass header.i=@gst.gov.in header.s=gstn;\r\n"
           "\tspf=pass (domain of donotreply@gst.gov.in designates 203.0.113.5 as permitted sender)\r\n"
           "\t smtp.mailfrom=donotreply@gst.gov.in;\r\n\tdmarc=pass (p=REJECT) header.from=gst.gov.in\r\n")
    headers = tuple((k, v) for k, v in alert.headers if k.lower() != "authentication-results")
    return build(alert, plain=alert.plain, html=alert.html, headers=headers, raw_headers=raw.encode())


def gmail_style_pass(alert: Alert) -> bytes:
    """Google's own header style (comments, folding); a sender-added header below says fail: ignored."""
    raw = ("Authentication-Results: mx.google.com;\r\n       dkim=pass header.i=@gst.gov.in header.s=s1 header.b=AbCdEf;\r\n"
           "       spf=pass (google.com: domain of donotreply@gst.gov.in designates 203.0.113.5 as permitted sender)"
           " smtp.mailfrom=donotreply@gst.gov.in;\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=gst.gov.in\r\n")
    headers = tuple((k, v) for k, v in alert.headers if k.lower() != "authentication-results")
    headers += (("Authentication-Results", "relay.example.net; spf=fail smtp.mailfrom=gst.gov.in"),)
    return build(alert, plain=alert.plain, html=alert.html, headers=headers, raw_headers=raw.encode())


TRANSFORMS: list[Callable[[Alert], bytes]] = [
    wrapped(72), wrapped(76), wrapped(78), wrapped(30), flowed("no"), flowed("yes"),
    quoted_printable, base64_encoded, html_only, html_alternative, layout_tables, nested_value_cells,
    banner_and_footer, folded_subject, *[subject_tagged(p) for p in SUBJECT_TAGS + REPLY_PREFIXES],
    forwarded(outlook_block), forwarded(outlook_new_block), forwarded(gmail_block), forwarded(thunderbird_block),
    forwarded(gmail_block, quoted=True), forward_of_forward, forward_html, forward_outlook_multipart, forward_attached,
    typographic_quotes, windows_1252_quotes("windows-1252"), windows_1252_quotes("iso-8859-1"),
    invisible_characters, folded_auth_pass, gmail_style_pass,
]


# --- spoofs: must never give a trusted event ------------------------------------------------

def _spoof(alert: Alert, raw_headers: str, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    headers = tuple((k, v) for k, v in alert.headers if k.lower() != "authentication-results") + extra
    return build(alert, plain=alert.plain, html=alert.html, headers=headers, raw_headers=raw_headers.encode())


def folded_spf_fail(alert: Alert) -> bytes:
    """spf/dkim/dmarc fail on the continuation lines of a folded header."""
    return _spoof(alert, "Authentication-Results: mx.example.in;\r\n\tspf=fail smtp.mailfrom=gst.gov.in;\r\n"
                         "\tdkim=none;\r\n\tdmarc=fail (p=REJECT) header.from=gst.gov.in\r\n")


def forged_pass_below_fail(alert: Alert) -> bytes:
    """The receiver says fail on top; a "pass" the sender wrote sits below it."""
    return _spoof(alert, "Authentication-Results: mx.example.in; dmarc=fail header.from=gst.gov.in\r\n",
                  (("Authentication-Results", "mx.example.in; spf=pass; dkim=pass; dmarc=pass"),))


def microsoft_365_fail(alert: Alert) -> bytes:
    """Exchange Online's style: no authserv-id, folded, compauth."""
    return _spoof(alert, "Authentication-Results: spf=fail (sender IP is 198.51.100.7)\r\n smtp.mailfrom=gst.gov.in; "
                         "dkim=none (message not signed)\r\n header.d=none;dmarc=fail action=oreject\r\n "
                         "header.from=gst.gov.in;compauth=fail reason=000\r\n")


def unreadable_results(alert: Alert) -> bytes:
    """A header that is there but says nothing readable: never a silent pass."""
    return _spoof(alert, "Authentication-Results: mx.example.in; spf\r\n")


def lookalike_sender(alert: Alert) -> bytes:
    headers = tuple((k, v.replace("gst.gov.in", "gst-gov.in")) for k, v in alert.headers)
    return build(alert, plain=alert.plain, html=alert.html, headers=headers)


SPOOFS: list[Callable[[Alert], bytes]] = [folded_spf_fail, forged_pass_below_fail, microsoft_365_fail,
                                           unreadable_results, lookalike_sender]


def realistic_mix(count: int, seed: int = 7, other_share: float = 0.1, start: datetime | None = None,
                  step: timedelta = timedelta(minutes=87)) -> list[bytes]:
    """``count`` raw mails (CRLF) as a real mailbox holds them: alerts of every kind, most as sent,
    the rest through a gateway, a client or a forward (``_MIX``), and a share of other mail."""
    rng = random.Random(seed)
    first = start or WHEN
    mails = []
    for number in range(count):
        when = first + step * number
        msgid = f"mix{number}"
        gstin = (make.PUNE, make.BLR, make.DEL)[number % 3]
        pick = rng.random()
        if pick < other_share:
            msg = make.other(rng.choice(_PEOPLE), f"Minutes of the meeting {number}", when, msgid,
                             "Please find the minutes below.\n" * 20)
            raw = msg.as_bytes()
        else:
            pick = rng.random()
            if pick < 0.45:
                msg = make.refresh_text(gstin, make.ACME, make.EGSP, when, msgid)
            elif pick < 0.8:
                msg = make.refresh_table(gstin, make.LEDGER, make.SUVIDHA, when, msgid)
            elif pick < 0.88:
                msg = make.consent(gstin, make.ACME, make.EGSP, when, 30, msgid)
            elif pick < 0.95:
                msg = make.otp(gstin, when, msgid, "493817")
            else:
                msg = make.revoked(gstin, make.LEDGER, make.SUVIDHA, when, msgid)
            raw = rng.choice(_MIX)(_alert(msgid, msg))
        mails.append(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    return mails


def _unchanged(alert: Alert) -> bytes:
    return build(alert, plain=alert.plain, html=alert.html)


# Real mailboxes: most alerts arrive as sent; the rest through a gateway, a client or a forward.
_MIX = [_unchanged] * 8 + [quoted_printable, base64_encoded, html_alternative, folded_auth_pass,
                           banner_and_footer, subject_tagged("[EXTERNAL] "), forwarded(outlook_block), wrapped(76),
                           layout_tables, forward_attached]

